package sparkplug

import (
	"fmt"
	"math"

	"github.com/rackwatch/rackwatch/edge/sample"
	pb "github.com/rackwatch/rackwatch/edge/sparkplug/sparkplugpb"
	"google.golang.org/protobuf/encoding/protowire"
)

// A data message is decoded straight from its wire encoding into a
// payload the Host reuses: the generated code allocates a struct per
// metric, a box per value and a pointer per optional field, several
// allocations per sample on the collector's hottest path. Anything but the
// plain shape of a data message (nested messages, unknown fields, a field
// with another wire type, a truncated encoding) goes through the generated
// code instead, so both the semantics and the errors stay those of
// proto.Unmarshal.

// Protobuf field numbers of Payload and Payload.Metric (sparkplug_b.proto,
// spec §6.4).
const (
	fieldPayloadTimestamp = 1
	fieldPayloadMetrics   = 2
	fieldPayloadSeq       = 3
	fieldPayloadUUID      = 4
	fieldPayloadBody      = 5

	fieldMetricName         = 1
	fieldMetricAlias        = 2
	fieldMetricTimestamp    = 3
	fieldMetricDatatype     = 4
	fieldMetricIsHistorical = 5
	fieldMetricIsTransient  = 6
	fieldMetricIsNull       = 7
	fieldMetricIntValue     = 10
	fieldMetricLongValue    = 11
	fieldMetricFloatValue   = 12
	fieldMetricDoubleValue  = 13
	fieldMetricBooleanValue = 14
	fieldMetricStringValue  = 15
	fieldMetricBytesValue   = 16
)

// wireKind is which member of a metric's value oneof was set.
type wireKind uint8

const (
	wireNone   wireKind = iota
	wireInt             // int_value (uint32)
	wireLong            // long_value
	wireFloat           // float_value, bits holds the float32 bits
	wireDouble          // double_value
	wireBool            // boolean_value
	wireOther           // string, bytes, dataset, template or extension: no sample holds them
)

// wireMetric is what the host reads of a metric in a data message.
type wireMetric struct {
	alias, ts       uint64
	hasAlias, hasTS bool
	isNull          bool
	kind            wireKind
	bits            uint64
}

// wirePayload is what the host reads of a data message.
type wirePayload struct {
	ts      uint64
	seq     uint64
	hasSeq  bool
	metrics []wireMetric
}

// decode reads b if it has the plain shape of a data message; false sends
// the caller to proto.Unmarshal. p is overwritten either way.
func (p *wirePayload) decode(b []byte) bool {
	p.ts, p.seq, p.hasSeq = 0, 0, false
	p.metrics = p.metrics[:0]
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch {
		case typ == protowire.VarintType && (num == fieldPayloadTimestamp || num == fieldPayloadSeq):
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return false
			}
			b = b[n:]
			if num == fieldPayloadSeq {
				p.seq, p.hasSeq = v, true
			} else {
				p.ts = v
			}
		case typ == protowire.BytesType && num == fieldPayloadMetrics:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return false
			}
			b = b[n:]
			var m wireMetric
			if !m.decode(v) {
				return false
			}
			p.metrics = append(p.metrics, m)
		case typ == protowire.BytesType && (num == fieldPayloadUUID || num == fieldPayloadBody):
			_, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return false
			}
			b = b[n:]
		default:
			return false
		}
	}
	return true
}

func (m *wireMetric) decode(b []byte) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch typ {
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return false
			}
			b = b[n:]
			switch num {
			case fieldMetricAlias:
				m.alias, m.hasAlias = v, true
			case fieldMetricTimestamp:
				m.ts, m.hasTS = v, true
			case fieldMetricDatatype, fieldMetricIsHistorical, fieldMetricIsTransient:
				// The birth's datatype is the one that counts; history
				// and transience do not change what a sample is.
			case fieldMetricIsNull:
				m.isNull = protowire.DecodeBool(v)
			case fieldMetricIntValue:
				m.kind, m.bits = wireInt, uint64(uint32(v))
			case fieldMetricLongValue:
				m.kind, m.bits = wireLong, v
			case fieldMetricBooleanValue:
				m.kind, m.bits = wireBool, 0
				if protowire.DecodeBool(v) {
					m.bits = 1
				}
			default:
				return false
			}
		case protowire.Fixed32Type:
			if num != fieldMetricFloatValue {
				return false
			}
			v, n := protowire.ConsumeFixed32(b)
			if n < 0 {
				return false
			}
			b = b[n:]
			m.kind, m.bits = wireFloat, uint64(v)
		case protowire.Fixed64Type:
			if num != fieldMetricDoubleValue {
				return false
			}
			v, n := protowire.ConsumeFixed64(b)
			if n < 0 {
				return false
			}
			b = b[n:]
			m.kind, m.bits = wireDouble, v
		case protowire.BytesType:
			if num != fieldMetricName && num != fieldMetricStringValue && num != fieldMetricBytesValue {
				return false
			}
			_, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return false
			}
			b = b[n:]
			if num != fieldMetricName {
				m.kind, m.bits = wireOther, 0
			}
		default:
			return false
		}
	}
	return true
}

// fromPB takes a payload decoded by the generated code.
func (p *wirePayload) fromPB(q *pb.Payload) {
	p.ts, p.seq, p.hasSeq = q.GetTimestamp(), q.GetSeq(), q.Seq != nil
	p.metrics = p.metrics[:0]
	for _, m := range q.GetMetrics() {
		p.metrics = append(p.metrics, wireOf(m))
	}
}

// wireOf reads a metric decoded by the generated code.
func wireOf(m *pb.Payload_Metric) wireMetric {
	w := wireMetric{alias: m.GetAlias(), hasAlias: m.Alias != nil, ts: m.GetTimestamp(), hasTS: m.Timestamp != nil, isNull: m.GetIsNull()}
	switch v := m.Value.(type) {
	case nil:
	case *pb.Payload_Metric_IntValue:
		w.kind, w.bits = wireInt, uint64(v.IntValue)
	case *pb.Payload_Metric_LongValue:
		w.kind, w.bits = wireLong, v.LongValue
	case *pb.Payload_Metric_FloatValue:
		w.kind, w.bits = wireFloat, uint64(math.Float32bits(v.FloatValue))
	case *pb.Payload_Metric_DoubleValue:
		w.kind, w.bits = wireDouble, math.Float64bits(v.DoubleValue)
	case *pb.Payload_Metric_BooleanValue:
		w.kind = wireBool
		if v.BooleanValue {
			w.bits = 1
		}
	default:
		w.kind = wireOther
	}
	return w
}

// value reads the metric as a sample.Value according to the datatype it
// was born with (spec §6.4.16: 8- to 32-bit integers in int_value, Int64
// as two's complement in long_value).
func (m wireMetric) value(dt pb.DataType) (sample.Value, error) {
	if m.isNull {
		return sample.Float(math.NaN()), nil
	}
	want := wireNone
	switch dt {
	case pb.DataType_Int8, pb.DataType_Int16, pb.DataType_Int32, pb.DataType_UInt8, pb.DataType_UInt16, pb.DataType_UInt32:
		want = wireInt
	case pb.DataType_Int64, pb.DataType_UInt64, pb.DataType_DateTime:
		want = wireLong
	case pb.DataType_Float:
		want = wireFloat
	case pb.DataType_Double:
		want = wireDouble
	case pb.DataType_Boolean:
		want = wireBool
	default:
		return sample.Value{}, fmt.Errorf("unsupported datatype %v", dt)
	}
	if m.kind != want {
		return sample.Value{}, fmt.Errorf("datatype %v without a matching value field", dt)
	}
	switch dt {
	case pb.DataType_Int8, pb.DataType_Int16, pb.DataType_Int32:
		return sample.Int(int64(int32(uint32(m.bits)))), nil
	case pb.DataType_UInt8, pb.DataType_UInt16, pb.DataType_UInt32:
		return sample.Uint(uint64(uint32(m.bits))), nil
	case pb.DataType_Int64:
		return sample.Int(int64(m.bits)), nil
	case pb.DataType_UInt64, pb.DataType_DateTime:
		return sample.Uint(m.bits), nil
	case pb.DataType_Float:
		return sample.Float(float64(math.Float32frombits(uint32(m.bits)))), nil
	case pb.DataType_Double:
		return sample.Float(math.Float64frombits(m.bits)), nil
	}
	return sample.Bool(m.bits != 0), nil
}
