package ingest

import (
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/telemetry"
	"github.com/rackwatch/rackwatch/edge/sample"
	"github.com/rackwatch/rackwatch/edge/sparkplug"
)

// rackPoll is what one rack edge publishes per poll: a ToR switch (48
// ports × 6 interface counters) and 40 BMCs (10 temperatures each).
type rackPoll struct {
	s     *sparkplug.Session
	clock time.Time
	next  uint64
	round uint64
}

func (r *rackPoll) poll() ([]message, int, error) {
	var out []message
	n := 0
	ts := r.clock
	add := func(dev string, ss []sample.Sample) error {
		msgs, err := r.s.Data(dev, ss, r.next, false)
		if err != nil {
			return err
		}
		r.next += uint64(len(ss))
		n += len(ss)
		for _, m := range msgs {
			out = append(out, message{m.Topic.String(), m.Payload})
		}
		return nil
	}
	var ss []sample.Sample
	for p := range 48 {
		for c, m := range []string{"if_in_octets_total", "if_out_octets_total", sample.IfInErrors, sample.IfOutErrors, sample.IfInDiscards, sample.IfFCSErrors} {
			ss = append(ss, sample.Sample{Metric: m, Labels: sample.L("ifname", fmt.Sprintf("Ethernet%d", p+1)), Value: sample.Uint(r.round * uint64(p+c+1)), TS: ts})
		}
	}
	if err := add("tor", ss); err != nil {
		return nil, 0, err
	}
	for b := range 40 {
		ss = ss[:0]
		for i := range 10 {
			ss = append(ss, sample.Sample{Metric: sample.TemperatureCelsius, Labels: sample.L("sensor", fmt.Sprintf("CPU%d", i)),
				Value: sample.Float(45 + float64((r.round+uint64(b+i))%20)*0.5), TS: ts})
		}
		if err := add(fmt.Sprintf("bmc%02d", b+1), ss); err != nil {
			return nil, 0, err
		}
	}
	r.clock = r.clock.Add(10 * time.Second)
	r.round++
	return out, n, nil
}

// BenchmarkHandle measures the ingest's work per message, decode and
// store, as its loop runs it after the broker delivered: one op is one
// rack's poll, 41 messages and 688 samples. At -cpu 1 samples/s is the
// throughput of one core.
func BenchmarkHandle(b *testing.B) {
	store := telemetry.New(0)
	g, err := New(Opts{Broker: "tcp://127.0.0.1:1883", Group: "site1", HostID: "collector", Sink: store,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	s, err := sparkplug.NewSession(sparkplug.SessionOpts{Group: "site1", EdgeNode: "rack1"})
	if err != nil {
		b.Fatal(err)
	}
	r := &rackPoll{s: s, clock: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	births, err := s.Births(0)
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range births {
		g.handle(message{m.Topic.String(), m.Payload})
	}
	first, _, err := r.poll() // carries the DBIRTHs
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range first {
		g.handle(m)
	}
	// Polls are encoded ahead, untimed: each carries new sample numbers,
	// so none is dropped as a redelivery.
	var batch [][]message
	perPoll := 0
	refill := func() {
		for range 64 {
			msgs, n, err := r.poll()
			if err != nil {
				b.Fatal(err)
			}
			batch, perPoll = append(batch, msgs), n
		}
		runtime.GC() // the encoding's garbage is not the ingest's
	}
	refill()
	total := 0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if len(batch) == 0 {
			b.StopTimer()
			refill()
			b.StartTimer()
		}
		for _, m := range batch[0] {
			g.handle(m)
		}
		batch = batch[1:]
		total += perPoll
	}
	b.StopTimer()
	st := g.Stats()
	if st.Malformed != 0 || st.Duplicates != 0 || st.SamplesLost != 0 {
		b.Fatalf("stats = %+v", st)
	}
	if got := store.Latest("rack1", "tor"); len(got) != 48*6 {
		b.Fatalf("store holds %d series of the switch, want %d", len(got), 48*6)
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "samples/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(total), "ns/sample")
}
