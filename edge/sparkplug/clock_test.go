package sparkplug

import (
	"slices"
	"sync/atomic"
	"testing"

	pb "github.com/rackwatch/rackwatch/edge/sparkplug/sparkplugpb"
	"google.golang.org/protobuf/proto"
)

// TestClockUnsyncedFlag: data built while the clock is unsynchronised
// carries rackwatch/clock_unsynced, declared in the device's birth first,
// and the host reports it without counting it as a sample.
func TestClockUnsyncedFlag(t *testing.T) {
	var synced atomic.Bool
	synced.Store(true)
	s, err := NewSession(SessionOpts{Group: "site1", EdgeNode: "rack1", Now: fixedNow, ClockSynced: synced.Load})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHost(HostOpts{})
	next := uint64(100)
	// handle passes messages to the host and returns the DDATA's update and
	// every message type sent.
	handle := func(msgs []Message) (Update, []MessageType) {
		t.Helper()
		var data Update
		var types []MessageType
		for _, m := range msgs {
			u, err := h.Handle(m.Topic.String(), m.Payload, t0)
			if err != nil {
				t.Fatalf("%s: %v", m.Topic, err)
			}
			if u.Rebirth || u.Lost != 0 || u.Duplicates != 0 {
				t.Fatalf("%s: %+v: the host lost track", m.Topic, u)
			}
			types = append(types, m.Topic.Type)
			if m.Topic.Type == DDATA {
				data = u
			}
		}
		return data, types
	}
	births, err := s.Births(next)
	if err != nil {
		t.Fatal(err)
	}
	handle(births)
	send := func() (Update, []MessageType, []byte) {
		t.Helper()
		msgs, err := s.Data("tor1", testSamples(), next, false)
		if err != nil {
			t.Fatal(err)
		}
		next += uint64(len(testSamples()))
		u, types := handle(msgs)
		return u, types, msgs[len(msgs)-1].Payload
	}
	names := func(payload []byte) []string {
		var p pb.Payload
		if err := proto.Unmarshal(payload, &p); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range p.GetMetrics() {
			out = append(out, m.GetName())
		}
		return out
	}

	u, types, _ := send()
	if u.ClockUnsynced || len(u.Samples) != 3 || !slices.Equal(types, []MessageType{DBIRTH, DDATA}) {
		t.Fatalf("synchronised: %+v %v", u, types)
	}
	plain, _ := s.Data("tor1", testSamples(), next, false)
	next += 3
	handle(plain)

	synced.Store(false)
	msgs, err := s.Data("tor1", testSamples(), next, false)
	if err != nil {
		t.Fatal(err)
	}
	next += 3
	if len(msgs) != 2 || msgs[0].Topic.Type != DBIRTH {
		t.Fatalf("first unsynchronised data: %d messages; want a DBIRTH declaring the flag first", len(msgs))
	}
	if n := names(msgs[0].Payload); !slices.Contains(n, MetricClockUnsynced) {
		t.Errorf("DBIRTH metrics %q lack %s", n, MetricClockUnsynced)
	}
	u, _ = handle(msgs)
	if !u.ClockUnsynced || len(u.Samples) != 3 {
		t.Errorf("unsynchronised: ClockUnsynced %v, %d samples; want true and 3 (the flag is no sample)", u.ClockUnsynced, len(u.Samples))
	}
	if len(plain[0].Payload) >= len(msgs[1].Payload) {
		t.Error("the unsynchronised DDATA is not larger than the plain one: no flag metric")
	}
	u, types, _ = send()
	if !u.ClockUnsynced || !slices.Equal(types, []MessageType{DDATA}) {
		t.Errorf("still unsynchronised: %v %v; want the flag, without a new birth", u.ClockUnsynced, types)
	}

	synced.Store(true)
	u, types, payload := send()
	if u.ClockUnsynced || !slices.Equal(types, []MessageType{DDATA}) || len(payload) != len(plain[0].Payload) {
		t.Errorf("synchronised again: flag %v, %v, %d bytes; want no flag, as before (%d bytes)", u.ClockUnsynced, types, len(payload), len(plain[0].Payload))
	}
	// After a reconnect the births declare the flag with its current value.
	s.Reconnected(1)
	births, err = s.Births(next)
	if err != nil {
		t.Fatal(err)
	}
	if n := names(births[1].Payload); !slices.Contains(n, MetricClockUnsynced) {
		t.Errorf("DBIRTH after reconnect %q lacks the declared flag", n)
	}
	for _, m := range births {
		u, err := h.Handle(m.Topic.String(), m.Payload, t0)
		if err != nil || u.ClockUnsynced {
			t.Errorf("%s: %v, ClockUnsynced %v; want false", m.Topic, err, u.ClockUnsynced)
		}
		for _, smp := range u.Samples {
			if smp.Metric == MetricClockUnsynced {
				t.Errorf("the flag came out of the birth as a sample: %+v", smp)
			}
		}
	}
	synced.Store(false)
	if u, types, _ := send(); !u.ClockUnsynced || !slices.Equal(types, []MessageType{DDATA}) {
		t.Errorf("unsynchronised after reconnect: %v %v", u.ClockUnsynced, types)
	}
	if st, _ := h.Stats("site1", "rack1"); st.SamplesLost != 0 || st.SamplesDuplicate != 0 || st.Samples != next-100 {
		t.Errorf("host accounting %+v; want %d samples, none lost", st, next-100)
	}
}
