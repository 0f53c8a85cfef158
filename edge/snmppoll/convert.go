package snmppoll

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gosnmp/gosnmp"
	"github.com/rackwatch/rackwatch/edge/sample"
)

// errWrongType is wrapped by every conversion that rejects a PDU's type.
var errWrongType = errors.New("wrong type")

// value converts one PDU according to m.
func (m *compiledMetric) value(pdu *gosnmp.SnmpPDU) (sample.Value, error) {
	switch m.Conv {
	case Counter:
		return counterValue(pdu)
	case Gauge:
		return m.gaugeValue(pdu)
	case Status:
		if pdu.Type != gosnmp.Integer {
			return sample.Value{}, fmt.Errorf("%w: want Integer, got %v", errWrongType, pdu.Type)
		}
		i, ok := asInt64(pdu.Value)
		if !ok {
			return sample.Value{}, fmt.Errorf("integer value %T", pdu.Value)
		}
		return sample.Bool(i == m.True), nil
	}
	return sample.Value{}, fmt.Errorf("conversion %v", m.Conv)
}

// counterValue keeps the counter as an integer: a Counter64 above 2^53 would
// lose its low bits in a float64.
func counterValue(pdu *gosnmp.SnmpPDU) (sample.Value, error) {
	var limit uint64
	switch pdu.Type {
	case gosnmp.Counter32:
		limit = math.MaxUint32
	case gosnmp.Counter64:
		limit = math.MaxUint64
	default:
		return sample.Value{}, fmt.Errorf("%w: want Counter32 or Counter64, got %v", errWrongType, pdu.Type)
	}
	u, ok := asUint64(pdu.Value)
	if !ok || u > limit {
		return sample.Value{}, fmt.Errorf("%v value %v out of range", pdu.Type, pdu.Value)
	}
	return sample.Uint(u), nil
}

func (m *compiledMetric) gaugeValue(pdu *gosnmp.SnmpPDU) (sample.Value, error) {
	var raw float64
	switch pdu.Type {
	case gosnmp.Integer:
		i, ok := asInt64(pdu.Value)
		if !ok {
			return sample.Value{}, fmt.Errorf("integer value %T", pdu.Value)
		}
		raw = float64(i)
	case gosnmp.Gauge32, gosnmp.Uinteger32:
		u, ok := asUint64(pdu.Value)
		if !ok || u > math.MaxUint32 {
			return sample.Value{}, fmt.Errorf("%v value %v out of range", pdu.Type, pdu.Value)
		}
		if m.Signed32 {
			raw = float64(int32(uint32(u)))
		} else {
			raw = float64(u)
		}
	case gosnmp.OctetString:
		if !m.Text {
			return sample.Value{}, fmt.Errorf("%w: want Integer or Gauge32, got OctetString", errWrongType)
		}
		b, _ := pdu.Value.([]byte)
		f, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return sample.Value{}, fmt.Errorf("reading %q is not a number", b)
		}
		raw = f
	default:
		return sample.Value{}, fmt.Errorf("%w: want Integer or Gauge32, got %v", errWrongType, pdu.Type)
	}
	switch {
	case m.div != 0:
		// Dividing by an exact power of ten rounds once, so 253 tenths
		// become the float64 nearest 25.3; multiplying by 0.1 would not.
		raw /= m.div
	case m.mul != 0:
		raw *= m.mul
	}
	return sample.Float(raw), nil
}

// asUint64 accepts the unsigned types gosnmp decodes into (uint for Counter32
// and Gauge32, uint32, uint64 for Counter64) and non-negative ints.
func asUint64(v any) (uint64, bool) {
	switch v := v.(type) {
	case uint:
		return uint64(v), true
	case uint64:
		return v, true
	case uint32:
		return uint64(v), true
	case int:
		return uint64(v), v >= 0
	case int64:
		return uint64(v), v >= 0
	}
	return 0, false
}

// asInt64 accepts gosnmp's INTEGER (int) and other integer forms that fit.
func asInt64(v any) (int64, bool) {
	switch v := v.(type) {
	case int:
		return int64(v), true
	case int64:
		return v, true
	case int32:
		return int64(v), true
	case uint32:
		return int64(v), true
	case uint:
		return int64(v), uint64(v) <= math.MaxInt64
	case uint64:
		return int64(v), v <= math.MaxInt64
	}
	return 0, false
}
