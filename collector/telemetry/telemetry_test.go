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

func TestMaxTemperature(t *testing.T) {
	s := New(0)
	if _, ok := s.MaxTemperature("e", "bmc", nil); ok {
		t.Fatal("data before any sample")
	}
	s.Add("e", "bmc", []sample.Sample{
		temp("CPU1", 71, t0), temp("CPU2", 84.5, t0.Add(time.Second)), temp("Inlet", 24, t0.Add(-time.Second)),
		temp("Broken", math.NaN(), t0),
		{Metric: sample.IfInErrors, Labels: sample.L("ifname", "eth0"), Value: sample.Uint(1000), TS: t0},
	})
	got, ok := s.MaxTemperature("e", "bmc", nil)
	if !ok || got.Celsius != 84.5 || got.Sensor != "CPU2" || !got.At.Equal(t0.Add(-time.Second)) {
		t.Errorf("MaxTemperature = %+v, %v", got, ok)
	}
	got, _ = s.MaxTemperature("e", "bmc", []string{"CPU1", "Inlet"})
	if got.Celsius != 71 {
		t.Errorf("filtered MaxTemperature = %+v, want CPU1 71", got)
	}
	// An older sample does not replace a newer one.
	s.Add("e", "bmc", []sample.Sample{temp("CPU2", 20, t0)})
	if got, _ := s.MaxTemperature("e", "bmc", []string{"CPU2"}); got.Celsius != 84.5 {
		t.Errorf("older sample won: %+v", got)
	}
	s.ForgetEdge("e")
	if _, ok := s.MaxTemperature("e", "bmc", nil); ok {
		t.Error("data survived the edge's death")
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
