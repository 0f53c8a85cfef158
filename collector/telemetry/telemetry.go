// Package telemetry keeps the latest value of every series the edges
// report, per edge node and device, and answers the questions the decision
// loop asks: how hot is this node's BMC right now, and since when is that
// known. Data of an edge that died is forgotten at once, so a silent edge
// reads as no data, never as cool.
package telemetry

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rackwatch/rackwatch/edge/sample"
)

type deviceKey struct{ edge, device string }

// Store is safe for concurrent use.
type Store struct {
	mu        sync.RWMutex
	devices   map[deviceKey]map[string]sample.Sample // series → latest
	maxSeries int
	series    int
	dropped   atomic.Uint64
}

// New returns a store that keeps at most maxSeries series (0 means 1<<20);
// beyond that new series are dropped and counted.
func New(maxSeries int) *Store {
	if maxSeries <= 0 {
		maxSeries = 1 << 20
	}
	return &Store{devices: map[deviceKey]map[string]sample.Sample{}, maxSeries: maxSeries}
}

// Add records samples reported by edge for device. An older sample never
// replaces a newer one.
func (s *Store) Add(edge, device string, samples []sample.Sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := deviceKey{edge, device}
	m := s.devices[k]
	if m == nil {
		m = map[string]sample.Sample{}
		s.devices[k] = m
	}
	for _, smp := range samples {
		name := smp.Series()
		old, ok := m[name]
		if !ok {
			if s.series >= s.maxSeries {
				s.dropped.Add(1)
				continue
			}
			s.series++
		} else if smp.TS.Before(old.TS) {
			continue
		}
		m[name] = smp
	}
}

// Dropped counts samples of new series refused because the store was full.
func (s *Store) Dropped() uint64 { return s.dropped.Load() }

// ForgetDevice drops what is known about one device (on a DDEATH).
func (s *Store) ForgetDevice(edge, device string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := deviceKey{edge, device}
	s.series -= len(s.devices[k])
	delete(s.devices, k)
}

// ForgetEdge drops what is known about every device of an edge (on an
// NDEATH).
func (s *Store) ForgetEdge(edge string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, m := range s.devices {
		if k.edge == edge {
			s.series -= len(m)
			delete(s.devices, k)
		}
	}
}

// Latest returns the latest samples of a device, sorted by series.
func (s *Store) Latest(edge, device string) []sample.Sample {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := s.devices[deviceKey{edge, device}]
	out := make([]sample.Sample, 0, len(m))
	for _, smp := range m {
		out = append(out, smp)
	}
	slices.SortFunc(out, func(a, b sample.Sample) int {
		switch {
		case a.Series() < b.Series():
			return -1
		case a.Series() > b.Series():
			return 1
		}
		return 0
	})
	return out
}

// Temperature is the hottest temperature_celsius of a device.
type Temperature struct {
	Celsius float64
	Sensor  string
	// At is when the oldest of the readings compared was taken, so the
	// value is only as fresh as its stalest input.
	At time.Time
}

// MaxTemperature returns the hottest temperature a device reports, among
// the sensors listed (all when sensors is empty). ok is false without data.
func (s *Store) MaxTemperature(edge, device string, sensors []string) (t Temperature, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, smp := range s.devices[deviceKey{edge, device}] {
		if smp.Metric != sample.TemperatureCelsius {
			continue
		}
		name := smp.Labels.Get("sensor")
		if len(sensors) > 0 && !slices.Contains(sensors, name) {
			continue
		}
		v := smp.Value.Float()
		if v != v { // NaN: the sensor reported no value
			continue
		}
		if !ok || v > t.Celsius {
			t.Celsius, t.Sensor = v, name
		}
		if !ok || smp.TS.Before(t.At) {
			t.At = smp.TS
		}
		ok = true
	}
	return t, ok
}
