package sparkplug

import (
	"math"
	"testing"

	"github.com/rackwatch/rackwatch/edge/sample"
	pb "github.com/rackwatch/rackwatch/edge/sparkplug/sparkplugpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// decodeCorpus holds data payloads of every shape the wire decoder must
// take or hand over to proto.Unmarshal.
func decodeCorpus(t testing.TB) map[string][]byte {
	s, _ := bornSession(t)
	msgs, err := s.Data("tor1", testSamples(), 0, false)
	if err != nil {
		t.Fatal(err)
	}
	hist, err := s.Data("tor1", append(testSamples(), sample.Sample{Metric: sample.TemperatureCelsius, Labels: sample.L("sensor", "dead"), Value: sample.Float(math.NaN()), TS: t0}), 3, true)
	if err != nil {
		t.Fatal(err)
	}
	marshal := func(p *pb.Payload) []byte {
		b, err := proto.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	allKinds := &pb.Payload{Timestamp: proto.Uint64(1), Seq: proto.Uint64(3), Uuid: proto.String("u"), Body: []byte{1}, Metrics: []*pb.Payload_Metric{
		{Alias: proto.Uint64(1), Value: &pb.Payload_Metric_IntValue{IntValue: math.MaxUint32}},
		{Alias: proto.Uint64(2), Timestamp: proto.Uint64(5), Value: &pb.Payload_Metric_LongValue{LongValue: math.MaxUint64}},
		{Alias: proto.Uint64(3), Datatype: proto.Uint32(9), Value: &pb.Payload_Metric_FloatValue{FloatValue: -1.5}},
		{Alias: proto.Uint64(4), IsTransient: proto.Bool(true), Value: &pb.Payload_Metric_DoubleValue{DoubleValue: 2.25}},
		{Alias: proto.Uint64(5), Value: &pb.Payload_Metric_BooleanValue{BooleanValue: true}},
		{Alias: proto.Uint64(6), Value: &pb.Payload_Metric_StringValue{StringValue: "x"}},
		{Alias: proto.Uint64(7), Value: &pb.Payload_Metric_BytesValue{BytesValue: []byte{0}}},
		{Name: proto.String("named"), IsNull: proto.Bool(true)},
	}}
	withProps := &pb.Payload{Metrics: []*pb.Payload_Metric{{Alias: proto.Uint64(1), Properties: birthProperties(testSamples()[0])}}}
	unknown := protowire.AppendVarint(protowire.AppendTag(marshal(allKinds), 99, protowire.VarintType), 7)
	wrongType := protowire.AppendBytes(protowire.AppendTag(nil, fieldPayloadSeq, protowire.BytesType), []byte("seq"))
	return map[string][]byte{
		"session ddata":        msgs[len(msgs)-1].Payload,
		"historical with null": hist[len(hist)-1].Payload,
		"every value kind":     marshal(allKinds),
		"properties":           marshal(withProps),
		"unknown field":        unknown,
		"wrong wire type":      wrongType,
		"truncated":            msgs[len(msgs)-1].Payload[:len(msgs[len(msgs)-1].Payload)-1],
		"empty":                {},
	}
}

// sameAsProto checks the wire decoder against proto.Unmarshal: whatever it
// accepts, the generated code reads the same.
func sameAsProto(t *testing.T, b []byte) bool {
	t.Helper()
	var w wirePayload
	if !w.decode(b) {
		return false
	}
	var q pb.Payload
	if err := proto.Unmarshal(b, &q); err != nil {
		t.Fatalf("the wire decoder accepted what proto.Unmarshal rejects (%v): %x", err, b)
	}
	var want wirePayload
	want.fromPB(&q)
	if w.ts != want.ts || w.seq != want.seq || w.hasSeq != want.hasSeq || len(w.metrics) != len(want.metrics) {
		t.Fatalf("payload %+v, proto.Unmarshal reads %+v", w, want)
	}
	for i := range w.metrics {
		if w.metrics[i] != want.metrics[i] {
			t.Fatalf("metric %d = %+v, proto.Unmarshal reads %+v", i, w.metrics[i], want.metrics[i])
		}
	}
	return true
}

func TestWireDecodeMatchesProto(t *testing.T) {
	fast := map[string]bool{
		"session ddata": true, "historical with null": true, "every value kind": true, "empty": true,
		"properties": false, "unknown field": false, "wrong wire type": false, "truncated": false,
	}
	for name, b := range decodeCorpus(t) {
		t.Run(name, func(t *testing.T) {
			if got := sameAsProto(t, b); got != fast[name] {
				t.Errorf("decoded without proto.Unmarshal: %v, want %v", got, fast[name])
			}
		})
	}
}

func TestWireValueMatchesDatatype(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    *pb.Payload_Metric
		dt   pb.DataType
		want sample.Value
		err  bool
	}{
		{"int8 negative", &pb.Payload_Metric{Value: &pb.Payload_Metric_IntValue{IntValue: math.MaxUint32}}, pb.DataType_Int8, sample.Int(-1), false},
		{"uint32", &pb.Payload_Metric{Value: &pb.Payload_Metric_IntValue{IntValue: math.MaxUint32}}, pb.DataType_UInt32, sample.Uint(math.MaxUint32), false},
		{"int64", &pb.Payload_Metric{Value: &pb.Payload_Metric_LongValue{LongValue: math.MaxUint64}}, pb.DataType_Int64, sample.Int(-1), false},
		{"counter64", &pb.Payload_Metric{Value: &pb.Payload_Metric_LongValue{LongValue: math.MaxUint64}}, pb.DataType_UInt64, sample.Uint(math.MaxUint64), false},
		{"float", &pb.Payload_Metric{Value: &pb.Payload_Metric_FloatValue{FloatValue: 0.5}}, pb.DataType_Float, sample.Float(0.5), false},
		{"double", &pb.Payload_Metric{Value: &pb.Payload_Metric_DoubleValue{DoubleValue: 25.0625}}, pb.DataType_Double, sample.Float(25.0625), false},
		{"bool", &pb.Payload_Metric{Value: &pb.Payload_Metric_BooleanValue{BooleanValue: true}}, pb.DataType_Boolean, sample.Bool(true), false},
		{"double in long_value", &pb.Payload_Metric{Value: &pb.Payload_Metric_LongValue{LongValue: 1}}, pb.DataType_Double, sample.Value{}, true},
		{"no value", &pb.Payload_Metric{}, pb.DataType_UInt64, sample.Value{}, true},
		{"string datatype", &pb.Payload_Metric{Value: &pb.Payload_Metric_StringValue{StringValue: "x"}}, pb.DataType_String, sample.Value{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := wireOf(tc.m).value(tc.dt)
			if (err != nil) != tc.err || got != tc.want {
				t.Errorf("value = %v, %v; want %v, error %v", got, err, tc.want, tc.err)
			}
		})
	}
	null, err := wireOf(&pb.Payload_Metric{IsNull: proto.Bool(true)}).value(pb.DataType_Double)
	if err != nil || !math.IsNaN(null.Float()) {
		t.Errorf("null = %v, %v; want NaN", null, err)
	}
}

func FuzzWireDecode(f *testing.F) {
	for _, b := range decodeCorpus(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { sameAsProto(t, b) })
}

func BenchmarkHostData(b *testing.B) {
	s, births := bornSession(b)
	h := NewHost(HostOpts{})
	for _, m := range births {
		if _, err := h.Handle(m.Topic.String(), m.Payload, t0); err != nil {
			b.Fatal(err)
		}
	}
	// The sample numbers stay the same, so every message after the first
	// is decoded in full and then dropped as a redelivery.
	ss := switchPoll()
	msgs, err := s.Data("tor1", ss, 0, false)
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range msgs {
		if _, err := h.Handle(m.Topic.String(), m.Payload, t0); err != nil {
			b.Fatal(err)
		}
	}
	data := msgs[len(msgs)-1]
	topic := data.Topic.String()
	b.ReportAllocs()
	for b.Loop() {
		u, err := h.Handle(topic, data.Payload, t0)
		if err != nil || u.Duplicates != uint64(len(ss)) {
			b.Fatalf("duplicates %d, err %v", u.Duplicates, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ss)), "ns/sample")
}

// switchPoll is a switch's poll: 48 ports × 6 counters, one DDATA.
func switchPoll() []sample.Sample {
	var ss []sample.Sample
	for p := range 48 {
		for _, m := range []string{"if_in_octets_total", "if_out_octets_total", sample.IfInErrors, sample.IfOutErrors, sample.IfInDiscards, sample.IfFCSErrors} {
			ss = append(ss, sample.Sample{Metric: m, Labels: sample.L("ifname", "swp"+string(rune('a'+p%26))+string(rune('a'+p/26))), Value: sample.Uint(uint64(p)), TS: t0})
		}
	}
	return ss
}

// BenchmarkSessionData encodes a switch's poll as the edge does on every
// cycle, once its series are born.
func BenchmarkSessionData(b *testing.B) {
	s, _ := bornSession(b)
	ss := switchPoll()
	if _, err := s.Data("tor1", ss, 0, false); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	first := uint64(len(ss))
	for b.Loop() {
		msgs, err := s.Data("tor1", ss, first, false)
		if err != nil || len(msgs) != 1 {
			b.Fatalf("%d messages, err %v", len(msgs), err)
		}
		first += uint64(len(ss))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ss)), "ns/sample")
}

// bornSession returns a session of edge site1/rack1 that has made its
// births, and those births.
func bornSession(t testing.TB) (*Session, []Message) {
	t.Helper()
	s, err := NewSession(SessionOpts{Group: "site1", EdgeNode: "rack1", Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	births, err := s.Births(0)
	if err != nil {
		t.Fatal(err)
	}
	return s, births
}
