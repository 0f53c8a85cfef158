package snmppoll

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/gosnmp/gosnmp"
	"github.com/rackwatch/rackwatch/edge/sample"
)

// errWrongType is wrapped by every conversion that rejects a PDU's type.
var errWrongType = errors.New("wrong type")

// value converts one PDU. It reports ok false, without an error, for a
// value the profile says carries no reading (Skip, an enum value without
// a mapping). extraExp is added to the gauge exponent (ENTITY-SENSOR-MIB
// scale and precision).
func (cv *compiledConv) value(pdu *gosnmp.SnmpPDU, extraExp int) (v sample.Value, ok bool, err error) {
	switch cv.typ {
	case convCounter:
		u, err := counterValue(pdu)
		if err != nil {
			return sample.Value{}, false, err
		}
		return sample.Uint(u), true, nil
	case convGauge:
		return cv.gaugeValue(pdu, extraExp)
	case convStatus, convEnum:
		if pdu.Type != gosnmp.Integer {
			return sample.Value{}, false, fmt.Errorf("%w: want Integer, got %v", errWrongType, pdu.Type)
		}
		i, ok := asInt64(pdu.Value)
		if !ok {
			return sample.Value{}, false, fmt.Errorf("integer value %T", pdu.Value)
		}
		if cv.typ == convStatus {
			return sample.Bool(slices.Contains(cv.truth, i)), true, nil
		}
		u, ok := cv.enum[i]
		return sample.Uint(u), ok, nil
	case convInfo:
		return sample.Uint(1), true, nil
	}
	return sample.Value{}, false, fmt.Errorf("conversion %v", cv.typ)
}

// counterValue keeps the counter as an integer: a Counter64 above 2^53 would
// lose its low bits in a float64. An INTEGER here (a negative "counter")
// is a wrong type, not a value.
func counterValue(pdu *gosnmp.SnmpPDU) (uint64, error) {
	var limit uint64
	switch pdu.Type {
	case gosnmp.Counter32:
		limit = math.MaxUint32
	case gosnmp.Counter64:
		limit = math.MaxUint64
	default:
		return 0, fmt.Errorf("%w: want Counter32 or Counter64, got %v %v", errWrongType, pdu.Type, pdu.Value)
	}
	u, ok := asUint64(pdu.Value)
	if !ok || u > limit {
		return 0, fmt.Errorf("%v value %v out of range", pdu.Type, pdu.Value)
	}
	return u, nil
}

func (cv *compiledConv) gaugeValue(pdu *gosnmp.SnmpPDU, extraExp int) (sample.Value, bool, error) {
	var raw float64
	switch pdu.Type {
	case gosnmp.Integer:
		i, ok := asInt64(pdu.Value)
		if !ok {
			return sample.Value{}, false, fmt.Errorf("integer value %T", pdu.Value)
		}
		raw = float64(i)
	case gosnmp.Gauge32, gosnmp.Uinteger32, gosnmp.TimeTicks:
		u, ok := asUint64(pdu.Value)
		if !ok || u > math.MaxUint32 {
			return sample.Value{}, false, fmt.Errorf("%v value %v out of range", pdu.Type, pdu.Value)
		}
		if cv.signed32 {
			raw = float64(int32(uint32(u)))
		} else {
			raw = float64(u)
		}
	case gosnmp.OctetString:
		if !cv.text {
			return sample.Value{}, false, fmt.Errorf("%w: want Integer or Gauge32, got OctetString", errWrongType)
		}
		f, ok := parseDecimal(pdu.Value)
		if !ok {
			return sample.Value{}, false, fmt.Errorf("reading %q is not a number", pdu.Value)
		}
		raw = f
	default:
		return sample.Value{}, false, fmt.Errorf("%w: want Integer or Gauge32, got %v", errWrongType, pdu.Type)
	}
	if slices.Contains(cv.skip, raw) {
		return sample.Value{}, false, nil
	}
	e := cv.exp + extraExp
	switch {
	case e < -maxExp || e > maxExp:
		return sample.Value{}, false, fmt.Errorf("exponent %d out of range", e)
	case e < 0:
		// Dividing by an exact power of ten rounds once, so 253 tenths
		// become the float64 nearest 25.3; multiplying by 0.1 would not.
		raw /= math.Pow10(-e)
	case e > 0:
		raw *= math.Pow10(e)
	}
	return sample.Float(raw), true, nil
}

// parseDecimal reads an OCTET STRING holding a decimal number, such as
// " 32.000 ", without allocating.
func parseDecimal(v any) (float64, bool) {
	b, _ := v.([]byte)
	b = bytes.TrimSpace(bytes.TrimRight(b, "\x00"))
	if len(b) == 0 || len(b) > 32 {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// numeric returns a value as a number: integers of any SNMP type, and
// decimal text.
func numeric(pdu *gosnmp.SnmpPDU) (float64, bool) {
	switch pdu.Type {
	case gosnmp.Integer:
		i, ok := asInt64(pdu.Value)
		return float64(i), ok
	case gosnmp.Gauge32, gosnmp.Uinteger32, gosnmp.TimeTicks, gosnmp.Counter32, gosnmp.Counter64:
		u, ok := asUint64(pdu.Value)
		return float64(u), ok
	case gosnmp.OctetString:
		return parseDecimal(pdu.Value)
	}
	return 0, false
}

// integer returns an INTEGER or unsigned value as an int64.
func integer(pdu *gosnmp.SnmpPDU) (int64, bool) {
	switch pdu.Type {
	case gosnmp.Integer, gosnmp.Gauge32, gosnmp.Uinteger32, gosnmp.TimeTicks, gosnmp.Counter32, gosnmp.Counter64:
		return asInt64(pdu.Value)
	}
	return 0, false
}

// holds tests a condition against the row's cells.
func (cd *compiledCond) holds(cells []cell) bool {
	if cd.any != nil {
		for i := range cd.any {
			if cd.any[i].holds(cells) {
				return true
			}
		}
		return false
	}
	c := &cells[cd.col]
	if !c.set {
		return cd.orAbsent
	}
	switch {
	case cd.re != nil:
		b, ok := c.pdu.Value.([]byte)
		return c.pdu.Type == gosnmp.OctetString && ok && cd.re.Match(b)
	case cd.nonZero:
		f, ok := numeric(&c.pdu)
		return ok && f != 0
	}
	i, ok := integer(&c.pdu)
	if !ok {
		return false
	}
	if len(cd.in) > 0 && !slices.Contains(cd.in, i) {
		return false
	}
	return !slices.Contains(cd.notIn, i)
}

// asUint64 accepts the unsigned types gosnmp decodes into (uint for Counter32
// and Gauge32, uint32 for TimeTicks, uint64 for Counter64) and non-negative
// ints.
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
