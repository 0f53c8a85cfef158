package telemetry

import (
	"math"
	"slices"
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

func TestDevicesFollowDeaths(t *testing.T) {
	s := New(0)
	for _, k := range [][2]string{{"e1", "bmc2"}, {"e1", "bmc1"}, {"e2", "bmc1"}, {"e1", "tor"}} {
		s.Add(k[0], k[1], []sample.Sample{temp("CPU", 50, t0)})
	}
	if got := s.Devices("e1"); !slices.Equal(got, []string{"bmc1", "bmc2", "tor"}) {
		t.Errorf("devices of e1 = %v", got)
	}
	s.ForgetDevice("e1", "bmc2")
	if got := s.Devices("e1"); !slices.Equal(got, []string{"bmc1", "tor"}) {
		t.Errorf("after DDEATH of bmc2, devices of e1 = %v", got)
	}
	s.ForgetEdge("e1")
	if got := s.Devices("e1"); len(got) != 0 {
		t.Errorf("after NDEATH of e1, devices = %v", got)
	}
	if got := s.Devices("e2"); !slices.Equal(got, []string{"bmc1"}) {
		t.Errorf("another edge's death took e2's devices: %v", got)
	}
	// The room of forgotten series is given back.
	s2 := New(2)
	s2.Add("e", "a", []sample.Sample{temp("x", 1, t0), temp("y", 1, t0)})
	s2.ForgetEdge("e")
	s2.Add("e", "b", []sample.Sample{temp("x", 1, t0), temp("y", 1, t0)})
	if s2.Dropped() != 0 {
		t.Errorf("dropped %d after the edge's death freed its room", s2.Dropped())
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

// TestAddWhateverTheOrder: a device's samples usually come in the same
// order every poll, but a new series, a missing one or another order must
// still land every value in its own series.
func TestAddWhateverTheOrder(t *testing.T) {
	s := New(0)
	for i, batch := range [][]sample.Sample{
		{temp("CPU1", 50, t0), temp("CPU2", 60, t0), counter("eth0", 1, t0)},
		{temp("CPU1", 51, t0.Add(time.Second)), temp("CPU2", 61, t0.Add(time.Second)), counter("eth0", 2, t0.Add(time.Second))},
		{counter("eth0", 3, t0.Add(2*time.Second)), temp("CPU2", 62, t0.Add(2*time.Second)), temp("CPU1", 52, t0.Add(2*time.Second))},
		{temp("CPU0", 40, t0.Add(3*time.Second)), temp("CPU2", 63, t0.Add(3*time.Second))},
	} {
		s.Add("e", "bmc", batch)
		for _, smp := range batch {
			var got sample.Sample
			s.Find("e", "bmc", Match{Metric: smp.Metric, Labels: map[string][]string{smp.Labels[0].Name: {smp.Labels[0].Value}}}, func(x sample.Sample) bool { got = x; return false })
			if got.Value != smp.Value || !got.TS.Equal(smp.TS) {
				t.Errorf("after Add %d, %s = %v at %v; want %v at %v", i, smp.Series(), got.Value, got.TS, smp.Value, smp.TS)
			}
		}
	}
	if got := s.Latest("e", "bmc"); len(got) != 4 {
		t.Errorf("%d series, want 4: %v", len(got), got)
	}
	if got, ok := s.Rate("e", "bmc", Match{Metric: sample.IfFCSErrors}, t0.Add(2*time.Second), time.Minute); !ok || got.Increase != 2 {
		t.Errorf("rate = %+v, %v; want an increase of 2", got, ok)
	}
}

// TestMatchByLabel: the index a label query reads finds exactly the series
// a scan of the metric would.
func TestMatchByLabel(t *testing.T) {
	s := New(0)
	volt := func(sensor, channel string, v float64) sample.Sample {
		ls := sample.L("sensor", sensor)
		if channel != "" {
			ls = sample.L("channel", channel, "sensor", sensor)
		}
		return sample.Sample{Metric: sample.Voltage, Labels: ls, Value: sample.Float(v), TS: t0}
	}
	s.Add("e", "pm", []sample.Sample{
		volt("ina1", "bus", 12), volt("ina1", "shunt", 0.01), volt("ina2", "bus", 5), volt("ina3", "", 3.3),
		{Metric: sample.Voltage, Value: sample.Float(1.8), TS: t0},
		temp("ina1", 40, t0),
	})
	for _, tc := range []struct {
		name   string
		labels map[string][]string
		want   []float64
	}{
		{"any", nil, []float64{0.01, 1.8, 3.3, 5, 12}},
		{"one sensor", map[string][]string{"sensor": {"ina1"}}, []float64{0.01, 12}},
		{"values repeated", map[string][]string{"sensor": {"ina2", "ina2", "ina1"}}, []float64{0.01, 5, 12}},
		{"two labels", map[string][]string{"sensor": {"ina1", "ina2"}, "channel": {"bus"}}, []float64{5, 12}},
		{"label absent", map[string][]string{"channel": {""}}, []float64{1.8, 3.3}},
		{"absent or bus", map[string][]string{"channel": {"bus", ""}}, []float64{1.8, 3.3, 5, 12}},
		{"empty list", map[string][]string{"channel": {}}, []float64{0.01, 1.8, 3.3, 5, 12}},
		{"no such value", map[string][]string{"sensor": {"ina9"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []float64
			s.Find("e", "pm", Match{Metric: sample.Voltage, Labels: tc.labels}, func(x sample.Sample) bool {
				got = append(got, x.Value.Float())
				return true
			})
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("found %v, want %v", got, tc.want)
			}
		})
	}
}
