package sparkplug

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/edge/sample"
)

// primedHost returns a host that has seen the births of a session with
// device tor1, and that session, so a fuzzed message lands on an edge whose
// aliases are known rather than being turned away before decoding.
func primedHost(t testing.TB) (*Host, *Session) {
	s, births := bornSession(t)
	msgs, err := s.Data("tor1", testSamples(), 0, false)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHost(HostOpts{MaxEdges: 4, MaxDevicesPerEdge: 4, MaxSeriesPerDevice: 64})
	for _, m := range append(births, msgs[0]) { // NBIRTH, then tor1's DBIRTH
		if _, err := h.Handle(m.Topic.String(), m.Payload, t0); err != nil {
			t.Fatal(err)
		}
	}
	return h, s
}

// FuzzHost feeds one message, topic and payload, to a primary host that
// knows the edge: the collector's whole decoding of what arrives from the
// broker. Besides not panicking, a refusal must name the topic and carry one
// of the Host's sentinels, a message cannot yield more samples than it has
// metrics, the samples of an accepted DDATA must come back unchanged when
// an edge session encodes them again for a fresh host, and the edge's next
// genuine messages must be handled after it.
func FuzzHost(f *testing.F) {
	_, s := primedHost(f)
	births, err := s.Births(3)
	if err != nil {
		f.Fatal(err)
	}
	for _, m := range births {
		f.Add(m.Topic.String(), m.Payload)
	}
	will, err := s.Will()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(will.Topic.String(), will.Payload)
	ddata := DeviceTopic("site1", DDATA, "rack1", "tor1").String()
	for _, b := range decodeCorpus(f) {
		f.Add(ddata, b)
	}
	f.Add(NodeTopic("site1", NDATA, "rack1").String(), []byte{})
	rebirth, err := RebirthRequest("site1", "rack1", t0)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(rebirth.Topic.String(), rebirth.Payload)
	f.Add(StateTopic("rackwatch-collector").String(), StatePayload(true, t0))
	// The edge's next data, handled after the fuzzed message: a fuzzed
	// birth leaves aliases and datatypes that genuine data then meets.
	next, err := s.Data("tor1", testSamples(), 3, false)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		h, _ := primedHost(t)
		defer func() {
			for _, m := range next {
				if _, err := h.Handle(m.Topic.String(), m.Payload, t0); err != nil && !errors.Is(err, ErrUnknownAlias) && !errors.Is(err, ErrMalformed) {
					t.Fatalf("genuine %s after the fuzzed message: %v", m.Topic.Type, err)
				}
			}
		}()
		u, err := h.Handle(topic, payload, t0)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "sparkplug: ") || !(strings.Contains(err.Error(), topic) || strings.Contains(err.Error(), strconv.Quote(topic))) {
				t.Fatalf("error %q does not name the topic %q", err, topic)
			}
			if !errors.Is(err, ErrTopic) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownAlias) && !errors.Is(err, ErrTooMany) {
				t.Fatalf("error %v is none of the Host's sentinels", err)
			}
		} else if u.Rebirth {
			t.Fatalf("rebirth requested without an error")
		}
		if u.SeqGap < 0 || u.SeqGap > 127 {
			t.Fatalf("seq gap %d out of 0-127", u.SeqGap)
		}
		var w wirePayload
		if !w.decode(payload) {
			w.metrics = nil // counted below only on the fast path
		}
		if w.metrics != nil && uint64(len(u.Samples))+u.Duplicates > uint64(len(w.metrics)) {
			t.Fatalf("%d samples and %d duplicates from %d metrics", len(u.Samples), u.Duplicates, len(w.metrics))
		}
		for _, smp := range u.Samples {
			if smp.Metric == "" || !slices.IsSortedFunc(smp.Labels, func(a, b sample.Label) int { return strings.Compare(a.Name, b.Name) }) {
				t.Fatalf("sample %+v: empty metric or unsorted labels", smp)
			}
		}
		if err != nil || u.Topic.Type != DDATA || len(u.Samples) == 0 {
			return
		}
		again := reencode(t, u.Topic.Device, u.Samples)
		if again == nil {
			return // the edge would not publish these series
		}
		if len(again) != len(u.Samples) {
			t.Fatalf("re-encoded %d samples, decoded %d", len(u.Samples), len(again))
		}
		for i, want := range u.Samples {
			if d := diffSample(again[i], want); d != "" {
				t.Fatalf("sample %d after a round trip: %s", i, d)
			}
		}
	})
}

// reencode publishes samples from a fresh edge session and decodes them
// with a fresh host; nil means the session refused them.
func reencode(t *testing.T, device string, samples []sample.Sample) []sample.Sample {
	s, births := bornSession(t)
	msgs, err := s.Data(device, samples, 0, false)
	if err != nil {
		return nil
	}
	h := NewHost(HostOpts{})
	var u Update
	for _, m := range append(births, msgs...) {
		if u, err = h.Handle(m.Topic.String(), m.Payload, t0); err != nil {
			t.Fatalf("the host refuses what the session encoded: %v", err)
		}
	}
	return u.Samples
}

func diffSample(got, want sample.Sample) string {
	sameValue := got.Value == want.Value ||
		(got.Value.Kind() == sample.KindFloat && want.Value.Kind() == sample.KindFloat && math.IsNaN(got.Value.Float()) && math.IsNaN(want.Value.Float()))
	// A zero time has no wire encoding: the payload's timestamp stands in.
	sameTS := got.TS.Equal(want.TS) || want.TS.Equal(time.Time{})
	if got.Series() != want.Series() || got.Unit != want.Unit || !sameValue || !sameTS {
		return "got " + got.Series() + " " + got.Unit + " " + got.Value.String() + " " + got.TS.String() +
			", want " + want.Series() + " " + want.Unit + " " + want.Value.String() + " " + want.TS.String()
	}
	return ""
}
