package sparkplug

import (
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	goldenfile "github.com/rackwatch/rackwatch/deploy/testrig/golden"
	"github.com/rackwatch/rackwatch/edge/sample"
	pb "github.com/rackwatch/rackwatch/edge/sparkplug/sparkplugpb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return t0 }

func testSamples() []sample.Sample {
	return []sample.Sample{
		{Metric: sample.TemperatureCelsius, Labels: sample.L("sensor", "inlet"), Value: sample.Float(25.0625), Unit: "celsius", TS: t0},
		{Metric: sample.IfInErrors, Labels: sample.L("ifname", "swp1"), Value: sample.Uint(math.MaxUint64), Unit: "packets", TS: t0},
		{Metric: sample.IfOperUp, Labels: sample.L("ifname", "swp1"), Value: sample.Bool(true), Unit: "bool", TS: t0},
	}
}

func newSession(t *testing.T) *Session {
	t.Helper()
	s, err := NewSession(SessionOpts{Group: "site1", EdgeNode: "rack1", BdSeq: 7, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// golden compares got with testdata/name, as hex for binary payloads.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, name, []byte(hex.Dump(got)))
}

func TestGoldenPayloads(t *testing.T) {
	s := newSession(t)
	will, err := s.Will()
	if err != nil {
		t.Fatal(err)
	}
	if got := will.Topic.String(); got != "spBv1.0/site1/NDEATH/rack1" {
		t.Errorf("will topic = %s", got)
	}
	golden(t, "ndeath.golden", will.Payload)
	births, err := s.Births(100)
	if err != nil {
		t.Fatal(err)
	}
	if len(births) != 1 {
		t.Fatalf("births before any device = %d messages, want the NBIRTH alone", len(births))
	}
	golden(t, "nbirth.golden", births[0].Payload)
	msgs, err := s.Data("tor1", testSamples(), 100, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].Topic.Type != DBIRTH || msgs[1].Topic.Type != DDATA {
		t.Fatalf("first data = %v, want DBIRTH then DDATA", msgs)
	}
	golden(t, "dbirth.golden", msgs[0].Payload)
	golden(t, "ddata.golden", msgs[1].Payload)
	rb, err := RebirthRequest("site1", "rack1", t0)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "ncmd_rebirth.golden", rb.Payload)
}

// TestWireFieldNumbers pins the field numbers the specification assigns, so
// a change to sparkplug_b.proto that breaks interoperability fails here.
func TestWireFieldNumbers(t *testing.T) {
	fields := map[string]int32{
		"timestamp": 1, "metrics": 2, "seq": 3, "uuid": 4, "body": 5,
	}
	md := (&pb.Payload{}).ProtoReflect().Descriptor()
	for name, num := range fields {
		if f := md.Fields().ByName(protoreflect.Name(name)); f == nil || int32(f.Number()) != num {
			t.Errorf("Payload.%s: want field %d", name, num)
		}
	}
	metric := map[string]int32{
		"name": 1, "alias": 2, "timestamp": 3, "datatype": 4, "is_historical": 5, "is_transient": 6,
		"is_null": 7, "metadata": 8, "properties": 9, "int_value": 10, "long_value": 11, "float_value": 12,
		"double_value": 13, "boolean_value": 14, "string_value": 15, "bytes_value": 16, "dataset_value": 17,
		"template_value": 18, "extension_value": 19,
	}
	md = (&pb.Payload_Metric{}).ProtoReflect().Descriptor()
	for name, num := range metric {
		if f := md.Fields().ByName(protoreflect.Name(name)); f == nil || int32(f.Number()) != num {
			t.Errorf("Metric.%s: want field %d", name, num)
		}
	}
	if pb.DataType_UInt64 != 8 || pb.DataType_Double != 10 || pb.DataType_Boolean != 11 || pb.DataType_DateTimeArray != 34 {
		t.Error("DataType values differ from spec §6.4.16")
	}
}

func TestSessionHostRoundTrip(t *testing.T) {
	s := newSession(t)
	h := NewHost(HostOpts{})
	deliver := func(msgs []Message) []Update {
		t.Helper()
		var us []Update
		for _, m := range msgs {
			u, err := h.Handle(m.Topic.String(), m.Payload, t0)
			if err != nil {
				t.Fatalf("%s: %v", m.Topic, err)
			}
			us = append(us, u)
		}
		return us
	}
	births, err := s.Births(0)
	if err != nil {
		t.Fatal(err)
	}
	deliver(births)
	msgs, err := s.Data("tor1", testSamples(), 0, false)
	if err != nil {
		t.Fatal(err)
	}
	us := deliver(msgs)
	data := us[len(us)-1]
	if len(data.Samples) != 3 {
		t.Fatalf("got %d samples, want 3", len(data.Samples))
	}
	for i, want := range testSamples() {
		got := data.Samples[i]
		if got.Series() != want.Series() || got.Unit != want.Unit || got.Value != want.Value || !got.TS.Equal(want.TS) {
			t.Errorf("sample %d = %+v, want %+v", i, got, want)
		}
	}
	if got := data.Samples[1].Value.Uint(); got != math.MaxUint64 {
		t.Errorf("Counter64 = %d, want exactly 2^64-1", got)
	}

	// A redelivered message is a duplicate; skipping one is a loss.
	dup := deliver(msgs[1:])[0]
	if dup.Duplicates != 3 || len(dup.Samples) != 0 {
		t.Errorf("redelivery: %d duplicates, %d samples; want 3, 0", dup.Duplicates, len(dup.Samples))
	}
	if _, err := s.Data("tor1", testSamples(), 3, false); err != nil { // published, never delivered
		t.Fatal(err)
	}
	next, err := s.Data("tor1", testSamples()[:1], 6, false)
	if err != nil {
		t.Fatal(err)
	}
	u := deliver(next)[0]
	if u.Lost != 3 || u.SeqGap != 1 {
		t.Errorf("after a lost message: lost %d, seq gap %d; want 3, 1", u.Lost, u.SeqGap)
	}
	st, _ := h.Stats("site1", "rack1")
	want := EdgeStats{Births: 1, SeqGaps: 1, Samples: 4, SamplesLost: 3, SamplesDuplicate: 3, Online: true, LastSeen: t0}
	if st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}

	// A new series on a born device forces a DBIRTH first.
	extra := sample.Sample{Metric: sample.IfFCSErrors, Labels: sample.L("ifname", "swp2"), Value: sample.Uint(5), Unit: "frames", TS: t0}
	msgs, err = s.Data("tor1", []sample.Sample{extra}, 7, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].Topic.Type != DBIRTH {
		t.Fatalf("new series: got %d messages, want DBIRTH + DDATA", len(msgs))
	}
	us = deliver(msgs)
	if got := us[1].Samples; len(got) != 1 || got[0].Labels.Get("ifname") != "swp2" {
		t.Errorf("new series samples = %+v", got)
	}

	// Reconnect: the old NDEATH no longer matches, the new births reset aliases.
	will, _ := s.Will()
	s.Reconnected(8)
	births, err = s.Births(8)
	if err != nil {
		t.Fatal(err)
	}
	if len(births) != 2 {
		t.Fatalf("rebirth: %d messages, want NBIRTH + DBIRTH(tor1)", len(births))
	}
	deliver(births)
	deliver([]Message{will}) // stale will from bdSeq 7
	if st, _ := h.Stats("site1", "rack1"); !st.Online || st.Births != 2 {
		t.Errorf("after stale NDEATH: %+v, want online with 2 births", st)
	}
	will, _ = s.Will()
	deliver([]Message{will})
	if st, _ := h.Stats("site1", "rack1"); st.Online || st.Deaths != 1 {
		t.Errorf("after matching NDEATH: %+v, want offline", st)
	}
}

func TestHostAsksForRebirth(t *testing.T) {
	s := newSession(t)
	if _, err := s.Births(0); err != nil {
		t.Fatal(err)
	}
	msgs, err := s.Data("tor1", testSamples(), 0, false)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHost(HostOpts{})
	// The host started after the births: data alone cannot be decoded.
	u, err := h.Handle(msgs[1].Topic.String(), msgs[1].Payload, t0)
	if !errors.Is(err, ErrUnknownAlias) || !u.Rebirth {
		t.Errorf("data without birth: err %v, rebirth %v; want ErrUnknownAlias and a rebirth request", err, u.Rebirth)
	}
	rb, _ := RebirthRequest("site1", "rack1", t0)
	ok, err := IsRebirthRequest(rb.Payload)
	if err != nil || !ok {
		t.Errorf("IsRebirthRequest(RebirthRequest) = %v, %v", ok, err)
	}
}

func TestHostRejectsBadInput(t *testing.T) {
	h := NewHost(HostOpts{MaxEdges: 1})
	for _, tc := range []struct {
		name, topic string
		payload     []byte
		want        error
	}{
		{"not sparkplug", "foo/bar", nil, ErrTopic},
		{"garbage", "spBv1.0/g/NDATA/e1", []byte{0xff, 0xff, 0xff}, ErrMalformed},
		{"birth without bdSeq", "spBv1.0/g/NBIRTH/e1", mustMarshal(t, &pb.Payload{Seq: proto.Uint64(0)}), ErrMalformed},
		{"second edge over the cap", "spBv1.0/g/NBIRTH/e2", nil, ErrTooMany},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.Handle(tc.topic, tc.payload, t0)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.topic) {
				t.Errorf("error %q does not name the topic", err)
			}
		})
	}
}

func mustMarshal(t *testing.T, p *pb.Payload) []byte {
	b, err := proto.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseTopic(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Topic
		ok   bool
	}{
		{"spBv1.0/site1/NBIRTH/rack1", Topic{Group: "site1", Type: NBIRTH, EdgeNode: "rack1"}, true},
		{"spBv1.0/site1/DDATA/rack1/tor1", Topic{Group: "site1", Type: DDATA, EdgeNode: "rack1", Device: "tor1"}, true},
		{"spBv1.0/STATE/collector", Topic{Type: STATE, HostID: "collector"}, true},
		{"spBv1.0/site1/DDATA/rack1", Topic{}, false},     // device message without device
		{"spBv1.0/site1/NDATA/rack1/dev", Topic{}, false}, // node message with device
		{"spBv1.0/site1/XDATA/rack1", Topic{}, false},     // unknown type
		{"spAv1.0/site1/NDATA/rack1", Topic{}, false},     // other namespace
		{"spBv1.0/site1/NDATA/", Topic{}, false},          // empty id
		{"spBv1.0/site1/DDATA/rack1/a/b", Topic{}, false}, // too deep
		{"spBv1.0/STATE/a/b", Topic{}, false},
	} {
		got, err := ParseTopic(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseTopic(%q) = %+v, %v", tc.in, got, err)
		}
		if tc.ok && got.String() != tc.in {
			t.Errorf("String() = %q, want %q", got.String(), tc.in)
		}
	}
}

func TestStatePayload(t *testing.T) {
	b := StatePayload(true, t0)
	if string(b) != `{"online":true,"timestamp":1795694400000}` {
		t.Errorf("STATE = %s", b)
	}
	st, err := ParseState(b)
	if err != nil || !st.Online || st.Timestamp != t0.UnixMilli() {
		t.Errorf("ParseState = %+v, %v", st, err)
	}
	if _, err := ParseState([]byte(`{"online":true,"extra":1}`)); err == nil {
		t.Error("ParseState accepted an unknown key")
	}
}

func TestSessionBoundsSeries(t *testing.T) {
	s, err := NewSession(SessionOpts{Group: "g", EdgeNode: "e", MaxSeriesPerDevice: 2, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Data("d", testSamples(), 0, false); err == nil {
		t.Error("Data before births succeeded")
	}
	if _, err := s.Births(0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Data("d", testSamples(), 0, false); !errors.Is(err, ErrTooManySeries) {
		t.Errorf("3 series over a cap of 2: err = %v", err)
	}
}

func TestSeqWraps(t *testing.T) {
	s := newSession(t)
	h := NewHost(HostOpts{})
	births, _ := s.Births(0)
	for _, m := range births {
		if _, err := h.Handle(m.Topic.String(), m.Payload, t0); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 600; i++ {
		msgs, err := s.Data("d", testSamples()[:1], uint64(i), false)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			u, err := h.Handle(m.Topic.String(), m.Payload, t0)
			if err != nil || u.SeqGap != 0 {
				t.Fatalf("message %d: gap %d, %v", i, u.SeqGap, err)
			}
		}
	}
}
