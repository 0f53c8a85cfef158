package telemetry

import (
	"math"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/edge/sample"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func temp(sensor string, c float64, ts time.Time) sample.Sample {
	return sample.Sample{Metric: sample.TemperatureCelsius, Labels: sample.L("sensor", sensor), Value: sample.Float(c), Unit: "celsius", TS: ts}
}

func counter(ifname string, v uint64, ts time.Time) sample.Sample {
	return sample.Sample{Metric: sample.IfFCSErrors, Labels: sample.L("ifname", ifname), Value: sample.Uint(v), Unit: "frames", TS: ts}
}

var temps = Match{Metric: sample.TemperatureCelsius}

func TestMax(t *testing.T) {
	s := New(0)
	if _, ok := s.Max("e", "bmc", temps, t0.Add(-time.Hour)); ok {
		t.Fatal("data before any sample")
	}
	s.Add("e", "bmc", []sample.Sample{
		temp("CPU1", 71, t0), temp("CPU2", 84.5, t0.Add(time.Second)), temp("Inlet", 24, t0.Add(-time.Second)),
		temp("Broken", math.NaN(), t0), counter("eth0", 1000, t0),
	})
	got, ok := s.Max("e", "bmc", temps, t0.Add(-time.Minute))
	if !ok || got.V != 84.5 || got.Labels.Get("sensor") != "CPU2" || !got.At.Equal(t0.Add(time.Second)) {
		t.Errorf("Max = %+v, %v", got, ok)
	}
	cpu1 := Match{Metric: sample.TemperatureCelsius, Labels: map[string][]string{"sensor": {"CPU1", "Inlet"}}}
	if got, _ = s.Max("e", "bmc", cpu1, t0.Add(-time.Minute)); got.V != 71 {
		t.Errorf("filtered Max = %+v, want CPU1 71", got)
	}
	if _, ok := s.Max("e", "bmc", temps, t0.Add(time.Minute)); ok {
		t.Error("stale values read as data")
	}
	// An older sample does not replace a newer one.
	s.Add("e", "bmc", []sample.Sample{temp("CPU2", 20, t0)})
	if got, _ := s.Max("e", "bmc", temps, t0.Add(-time.Minute)); got.V != 84.5 {
		t.Errorf("older sample won: %+v", got)
	}
	s.ForgetEdge("e")
	if _, ok := s.Max("e", "bmc", temps, t0.Add(-time.Hour)); ok {
		t.Error("data survived the edge's death")
	}
}

func TestRateHandlesResets(t *testing.T) {
	s := New(0)
	fcs := Match{Metric: sample.IfFCSErrors}
	// 10 errors/s on swp1, then the switch reboots (counter back near 0).
	for i, v := range []uint64{1000, 1100, 1200, 50, 150} {
		s.Add("e", "tor1", []sample.Sample{counter("swp1", v, t0.Add(time.Duration(i)*10*time.Second))})
	}
	r, ok := s.Rate("e", "tor1", fcs, t0.Add(40*time.Second), time.Minute)
	// Increases: 100, 100, 50 (from zero across the reset), 100 = 350 over 40 s.
	if !ok || r.Increase != 350 || math.Abs(r.PerSecond-8.75) > 1e-9 || r.Span != 40*time.Second {
		t.Errorf("Rate = %+v, %v; want 350 over 40 s", r, ok)
	}
	// Only the window's points count.
	r, _ = s.Rate("e", "tor1", fcs, t0.Add(40*time.Second), 15*time.Second)
	if r.Increase != 100 {
		t.Errorf("15 s window: %+v, want the last interval only", r)
	}
	if _, ok := s.Rate("e", "tor1", fcs, t0.Add(time.Hour), time.Minute); ok {
		t.Error("a rate from no recent points")
	}
	// Several series are summed.
	s.Add("e", "tor1", []sample.Sample{counter("swp2", 0, t0.Add(30*time.Second)), counter("swp2", 40, t0.Add(40*time.Second))})
	r, _ = s.Rate("e", "tor1", fcs, t0.Add(40*time.Second), 15*time.Second)
	if r.Increase != 140 || math.Abs(r.PerSecond-14) > 1e-9 {
		t.Errorf("summed rate = %+v, want 140 over 10 s", r)
	}
}

func TestHistoryIsARing(t *testing.T) {
	s := New(0)
	for i := 0; i < 3*History; i++ {
		s.Add("e", "d", []sample.Sample{counter("x", uint64(i), t0.Add(time.Duration(i)*time.Second))})
	}
	r, _ := s.Rate("e", "d", Match{Metric: sample.IfFCSErrors}, t0.Add(time.Hour), 2*time.Hour)
	if r.Increase != History-1 {
		t.Errorf("increase over the kept history = %v, want %d", r.Increase, History-1)
	}
}

func TestStoreIsBounded(t *testing.T) {
	s := New(2)
	s.Add("e", "d", []sample.Sample{temp("a", 1, t0), temp("b", 2, t0), temp("c", 3, t0)})
	if s.Dropped() != 1 || len(s.Latest("e", "d")) != 2 {
		t.Errorf("dropped %d, kept %d; want 1, 2", s.Dropped(), len(s.Latest("e", "d")))
	}
	s.ForgetDevice("e", "d")
	s.Add("e", "d", []sample.Sample{temp("c", 3, t0)})
	if len(s.Latest("e", "d")) != 1 {
		t.Error("forgetting a device did not free its room")
	}
}

func BenchmarkAdd(b *testing.B) {
	s := New(0)
	batch := make([]sample.Sample, 48)
	for i := range batch {
		batch[i] = counter("swp"+string(rune('a'+i%26))+string(rune('a'+i/26)), 0, t0)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		for j := range batch {
			batch[j].TS = t0.Add(time.Duration(i) * time.Second)
			batch[j].Value = sample.Uint(uint64(i))
		}
		s.Add("e", "tor1", batch)
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "samples/s")
}

func TestChanges(t *testing.T) {
	s := New(0)
	up := func(v bool, at time.Duration) sample.Sample {
		return sample.Sample{Metric: sample.IfOperUp, Labels: sample.L("ifname", "swp1"), Value: sample.Bool(v), TS: t0.Add(at)}
	}
	s.Add("e", "tor1", []sample.Sample{up(true, 0), up(false, 10*time.Second), up(true, 20*time.Second), up(true, 30*time.Second)})
	m := Match{Metric: sample.IfOperUp}
	if n, ok := s.Changes("e", "tor1", m, t0.Add(30*time.Second), time.Minute); !ok || n != 2 {
		t.Errorf("changes = %d, %v; want a flap (2)", n, ok)
	}
	if n, _ := s.Changes("e", "tor1", m, t0.Add(30*time.Second), 5*time.Second); n != 0 {
		t.Errorf("changes in the last 5 s = %d", n)
	}
}
