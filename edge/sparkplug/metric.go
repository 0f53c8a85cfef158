package sparkplug

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/rackwatch/rackwatch/edge/sample"
	pb "github.com/rackwatch/rackwatch/edge/sparkplug/sparkplugpb"
	"google.golang.org/protobuf/proto"
)

// Names of the metrics the session itself publishes.
const (
	// MetricBdSeq is the birth/death sequence (spec §6.4.19 tck-id-payloads-nbirth-bdseq).
	MetricBdSeq = "bdSeq"
	// MetricRebirth is the node control metric a host sets to true in an NCMD
	// to ask for new births (spec §6.4.20).
	MetricRebirth = "Node Control/Rebirth"
	// MetricSampleSeq numbers samples across the edge's lifetime. In a data
	// message it is the number of the payload's first sample; in a birth it is
	// the number the next sample will get.
	MetricSampleSeq = "rackwatch/sample_seq"
	// MetricClockUnsynced is true in every data message built while the
	// edge's clock was not synchronised: its timestamps may be wrong by
	// anything from seconds to years. A device's births declare it from the
	// first time it is needed on.
	MetricClockUnsynced = "rackwatch/clock_unsynced"
)

// Property keys of the PropertySet attached to each sample metric in a birth.
// engUnit is the key Sparkplug hosts such as Ignition read as the
// engineering unit; labels are kept structured so no host parses names.
const (
	propMetric      = "metric"
	propUnit        = "engUnit"
	propLabelPrefix = "label:"
)

// dataType maps a sample kind to its Sparkplug datatype.
func dataType(k sample.Kind) pb.DataType {
	switch k {
	case sample.KindUint:
		return pb.DataType_UInt64
	case sample.KindInt:
		return pb.DataType_Int64
	case sample.KindBool:
		return pb.DataType_Boolean
	}
	return pb.DataType_Double
}

// setValue stores v in m, with the value field the spec assigns to its
// datatype (spec §6.4.16: 64-bit integers in long_value, Int64 as two's
// complement, Double in double_value).
func setValue(m *pb.Payload_Metric, v sample.Value) {
	m.Datatype = proto.Uint32(uint32(dataType(v.Kind())))
	switch v.Kind() {
	case sample.KindUint, sample.KindInt:
		m.Value = &pb.Payload_Metric_LongValue{LongValue: v.Uint()}
	case sample.KindBool:
		m.Value = &pb.Payload_Metric_BooleanValue{BooleanValue: v.Bool()}
	default:
		f := v.Float()
		if math.IsNaN(f) {
			m.IsNull = proto.Bool(true)
			return
		}
		m.Value = &pb.Payload_Metric_DoubleValue{DoubleValue: f}
	}
}

// value reads a metric's value as a sample.Value according to its datatype.
func value(m *pb.Payload_Metric, dt pb.DataType) (sample.Value, error) {
	return wireOf(m).value(dt)
}

func msec(t time.Time) *uint64 {
	if t.IsZero() {
		return nil
	}
	return proto.Uint64(uint64(t.UnixMilli()))
}

// birthProperties describes a series so a host can rebuild the sample's
// metric name, labels and unit from a birth without parsing the name.
func birthProperties(s sample.Sample) *pb.Payload_PropertySet {
	ps := &pb.Payload_PropertySet{}
	add := func(k, v string) {
		ps.Keys = append(ps.Keys, k)
		ps.Values = append(ps.Values, &pb.Payload_PropertyValue{
			Type:  proto.Uint32(uint32(pb.DataType_String)),
			Value: &pb.Payload_PropertyValue_StringValue{StringValue: v},
		})
	}
	add(propMetric, s.Metric)
	if s.Unit != "" {
		add(propUnit, s.Unit)
	}
	for _, l := range s.Labels {
		add(propLabelPrefix+l.Name, l.Value)
	}
	return ps
}

// seriesFromBirth recovers metric, labels and unit from a born metric. A
// metric without rackwatch properties (another vendor's edge) becomes a
// series named after the Sparkplug metric name, without labels.
func seriesFromBirth(m *pb.Payload_Metric) (metric string, ls sample.Labels, unit string) {
	metric = m.GetName()
	ps := m.GetProperties()
	if ps == nil {
		return metric, nil, ""
	}
	for i, k := range ps.GetKeys() {
		if i >= len(ps.GetValues()) {
			break
		}
		v := ps.GetValues()[i].GetStringValue()
		switch {
		case k == propMetric && v != "":
			metric = v
		case k == propUnit:
			unit = v
		case strings.HasPrefix(k, propLabelPrefix):
			ls = append(ls, sample.Label{Name: strings.TrimPrefix(k, propLabelPrefix), Value: v})
		}
	}
	ls.Sort()
	return metric, ls, unit
}

// marshal encodes p deterministically, so equal payloads give equal bytes
// (the golden files rely on it).
func marshal(p *pb.Payload) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("sparkplug: marshal payload: %w", err)
	}
	return b, nil
}
