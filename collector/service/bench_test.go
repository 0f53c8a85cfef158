package service

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/lbwatch"
	"github.com/rackwatch/rackwatch/edge/sparkplug"
)

// benchRacks is how many racks the throughput benchmark's collector
// watches: 400 nodes, 6 900 samples per 10 s poll round.
const benchRacks = 10

// meter accounts for the timed parts of a benchmark only: wall time, CPU
// time on every core, and heap allocations.
type meter struct {
	wall, cpu       time.Duration
	mallocs         uint64
	t0, c0          time.Duration
	m0              uint64
	start0          time.Time
	haveCPU         bool
	samples, rounds int
}

func (m *meter) start() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.m0 = ms.Mallocs
	m.c0, m.haveCPU = cpuTime()
	m.start0 = time.Now()
}

func (m *meter) stop() {
	m.wall += time.Since(m.start0)
	if c, ok := cpuTime(); ok && m.haveCPU {
		m.cpu += c - m.c0
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.mallocs += ms.Mallocs - m.m0
}

func (m *meter) report(b *testing.B) {
	if m.samples == 0 || m.wall <= 0 {
		return
	}
	n := float64(m.samples)
	b.ReportMetric(n/m.wall.Seconds(), "samples/s")
	if m.cpu > 0 {
		// Per CPU-second: what one core sustains, GC included.
		b.ReportMetric(n/m.cpu.Seconds(), "samples/s/core")
	}
	b.ReportMetric(float64(m.wall.Nanoseconds())/n, "ns/sample")
	b.ReportMetric(float64(m.mallocs)/n, "allocs/sample")
}

// BenchmarkSamplePath measures what the collector does with each sample:
// the Sparkplug decode (sparkplug.Host, as the ingest runs it), the
// telemetry store (through the service's sink, which also signals the
// decision loop), and the correlation into observations for the whole
// inventory, once per poll round of the fleet. One op is one poll round
// of 10 racks (a ToR switch with 48 ports × 6 counters, an inlet sensor
// and 40 BMCs with 10 temperatures each): 420 messages, 6 900 samples.
// Correlating once per round is pessimistic: at the fleet's real 10 s
// poll the decision loop runs 10 times per round, but a collector
// decoding 1M samples/s receives a round every 7 ms, far more often than
// the loop evaluates (at most every 10 ms, and once per tick).
//
// The single-core figure is the one at -cpu 1; samples/s/core divides by
// the CPU time of every core, garbage collection included.
func BenchmarkSamplePath(b *testing.B) {
	for _, st := range []struct {
		name             string
		store, correlate bool
	}{
		{"decode", false, false},
		{"decode+store", true, false},
		{"decode+store+correlate", true, true},
	} {
		b.Run(st.name, func(b *testing.B) { benchSamplePath(b, st.store, st.correlate) })
	}
}

type pollRound struct {
	at   time.Time
	msgs []wire
}

// newFleetService builds a service for the benchmark fleet, its clock now,
// with the load balancer read twice: every server then has a view and a
// request rate, so the correlation reads latency too.
func newFleetService(b *testing.B, t0 time.Time, now func() time.Time) (*fleet, *Service) {
	b.Helper()
	f, err := newFleet(benchRacks, t0)
	if err != nil {
		b.Fatal(err)
	}
	cfg := loadTestConfig(b, f.config(b.TempDir()))
	lb := f.servers()
	svc, err := New(cfg, Opts{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Runtimes: map[string]Runtime{"lb1": lb}, Now: now})
	if err != nil {
		b.Fatal(err)
	}
	for range 2 {
		if err := svc.lbs.Poll(context.Background(), lbwatch.Instance{Name: "lb1", Runtime: lb}); err != nil {
			b.Fatal(err)
		}
	}
	return f, svc
}

func benchSamplePath(b *testing.B, store, correlate bool) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	now := t0
	f, svc := newFleetService(b, t0, func() time.Time { return now })
	host := sparkplug.NewHost(sparkplug.HostOpts{})
	k := sink{svc}
	deliver := func(msgs []wire, at time.Time) int {
		n := 0
		for _, w := range msgs {
			u, err := host.Handle(w.topic, w.payload, at)
			if err != nil {
				b.Fatalf("%s: %v", w.topic, err)
			}
			n += len(u.Samples)
			if store && len(u.Samples) > 0 {
				k.Add(u.Topic.EdgeNode, u.Topic.Device, u.Samples)
			}
		}
		return n
	}
	// Births and the first round (which carries the DBIRTHs) are set-up.
	births, err := f.births()
	if err != nil {
		b.Fatal(err)
	}
	deliver(births, now)
	first, err := f.poll()
	if err != nil {
		b.Fatal(err)
	}
	deliver(first, now)
	// Rounds are made ahead in batches, outside the timed sections: the
	// edge's encoding is not the collector's work.
	var batch []pollRound
	refill := func() {
		for range 16 {
			at := f.clock
			msgs, err := f.poll()
			if err != nil {
				b.Fatal(err)
			}
			batch = append(batch, pollRound{at, msgs})
		}
		runtime.GC() // the encoding's garbage is not the collector's
	}
	refill()
	perRound := 0
	for _, w := range batch[0].msgs {
		perRound += w.samples
	}

	var m meter
	b.ReportAllocs()
	b.ResetTimer()
	m.start()
	for range b.N {
		if len(batch) == 0 {
			b.StopTimer()
			m.stop()
			refill()
			m.start()
			b.StartTimer()
		}
		r := batch[0]
		batch = batch[1:]
		now = r.at
		got := deliver(r.msgs, r.at)
		if got != perRound {
			b.Fatalf("decoded %d samples of a round, want %d", got, perRound)
		}
		m.samples += got
		m.rounds++
		if correlate {
			obs := svc.corr.Observations(r.at)
			if len(obs) != benchRacks*fleetNodes || obs[0].CPUTempAt.IsZero() || !obs[0].HaveFCS {
				b.Fatalf("observations are missing what the samples said: %d, first %+v", len(obs), obs[0])
			}
		}
	}
	m.stop()
	b.StopTimer()
	m.report(b)
	if store {
		if got := svc.Store().Latest(rackEdge(0), bmcDevice(0)); len(got) != fleetTemps || !got[0].TS.Equal(now) {
			b.Fatalf("store holds %d series of bmc01, newest %v; want %d at %v", len(got), got[0].TS, fleetTemps, now)
		}
	}
}

// BenchmarkDecisionPass measures one pass of the decision loop over the
// fleet's 400 nodes with nothing to carry out: correlation, the engine,
// and the inventory and LLDP checks. It bounds how often samples can
// usefully wake the loop.
func BenchmarkDecisionPass(b *testing.B) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	now := t0
	f, svc := newFleetService(b, t0, func() time.Time { return now })
	host := sparkplug.NewHost(sparkplug.HostOpts{})
	births, err := f.births()
	if err != nil {
		b.Fatal(err)
	}
	for range 3 {
		msgs, err := f.poll()
		if err != nil {
			b.Fatal(err)
		}
		for _, w := range append(births, msgs...) {
			u, err := host.Handle(w.topic, w.payload, now)
			if err != nil {
				b.Fatal(err)
			}
			svc.store.Add(u.Topic.EdgeNode, u.Topic.Device, u.Samples)
		}
		births = nil
		now = f.clock
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		svc.tick(ctx)
	}
	if len(svc.History()) != 0 {
		b.Fatalf("the fleet is cool and fast, yet the engine decided %v", svc.History())
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchRacks*fleetNodes), "ns/node")
}
