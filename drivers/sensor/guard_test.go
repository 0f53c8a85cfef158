package sensor

import (
	"errors"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"
)

// script is a Sensor that returns scripted results.
type script struct {
	results []error
	values  []int64
	i       int
}

func (s *script) Read(dst []Reading) ([]Reading, error) {
	i := s.i
	s.i++
	if i < len(s.results) && s.results[i] != nil {
		return dst, s.results[i]
	}
	v := int64(physic.ZeroCelsius + 25*physic.Kelvin)
	if i < len(s.values) {
		v = s.values[i]
	}
	return append(dst, Reading{Quantity: Temperature, Value: v}), nil
}
func (s *script) Halt() error    { return nil }
func (s *script) String() string { return "script" }

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestGuardFaultPolicy(t *testing.T) {
	bus := errors.New("i2c: remote I/O error")
	s := &script{results: []error{nil, ErrCRC, bus, bus, bus, bus, nil}}
	c := &clock{t: time.Unix(0, 0)}
	g := NewGuard(s, &Policy{FaultAfter: 3, BackoffMin: time.Second, BackoffMax: 4 * time.Second}, c.now)
	buf := make([]Reading, 0, 4)
	steps := []struct {
		advance time.Duration
		status  Status
		err     error
		n       int
	}{
		{0, StatusOK, nil, 1},
		{0, StatusFailing, ErrCRC, 0},                          // discarded
		{0, StatusFailing, bus, 0},                             // second failure
		{0, StatusFaulted, bus, 0},                             // third: faulted, retry in 1 s
		{500 * time.Millisecond, StatusFaulted, ErrFaulted, 0}, // not yet: the bus is not touched
		{600 * time.Millisecond, StatusFaulted, bus, 0},        // retried, failed: retry in 2 s
		{1500 * time.Millisecond, StatusFaulted, ErrFaulted, 0},
		{time.Second, StatusFaulted, bus, 0}, // retried at +2.5 s, failed: 4 s
		{4 * time.Second, StatusOK, nil, 1},  // recovered
	}
	for i, st := range steps {
		c.t = c.t.Add(st.advance)
		out, err := g.Read(buf[:0])
		if !errors.Is(err, st.err) || g.Status() != st.status || len(out) != st.n {
			t.Fatalf("step %d: err %v status %v readings %d; want %v %v %d", i, err, g.Status(), len(out), st.err, st.status, st.n)
		}
	}
	want := Counters{Reads: 7, Good: 2, Failures: 5, Discarded: 1, Faults: 1}
	if g.Counters() != want {
		t.Errorf("counters %+v, want %+v", g.Counters(), want)
	}
}

func TestGuardDiscardsImplausibleAndStuck(t *testing.T) {
	hot := int64(physic.ZeroCelsius + 400*physic.Kelvin)
	v := int64(physic.ZeroCelsius + 20*physic.Kelvin)
	s := &script{values: []int64{hot, v, v, v, v + 1}}
	g := NewGuard(s, &Policy{StuckAfter: 3}, nil)
	var errs []error
	for range 5 {
		_, err := g.Read(nil)
		errs = append(errs, err)
	}
	if !errors.Is(errs[0], ErrImplausible) || errs[1] != nil || errs[2] != nil || !errors.Is(errs[3], ErrImplausible) || errs[4] != nil {
		t.Errorf("errors = %v; want implausible, ok, ok, stuck, ok", errs)
	}
	if c := g.Counters(); c.Discarded != 2 || c.Good != 3 {
		t.Errorf("counters %+v", c)
	}
}

func TestReadingFloat(t *testing.T) {
	for _, tc := range []struct {
		r    Reading
		want float64
		s    string
	}{
		{Temp(physic.ZeroCelsius + 25062500*physic.MicroKelvin), 25.0625, "temperature: 25.0625 celsius"},
		{Temp(physic.ZeroCelsius - 55*physic.Kelvin), -55, "temperature: -55 celsius"},
		{Reading{Quantity: Humidity, Value: int64(50 * physic.PercentRH)}, 50, "humidity: 50 percent"},
		{Reading{Quantity: FanSpeed, Channel: "fan3", Value: 1981_000}, 1981, "fan3 fan speed: 1981 rpm"},
		{Reading{Quantity: Voltage, Channel: "bus", Value: int64(11980 * physic.MilliVolt)}, 11.98, "bus voltage: 11.98 volts"},
		{Reading{Quantity: FanDuty, Value: 500_000}, 0.5, "fan duty: 0.5 ratio"},
	} {
		if got := tc.r.Float(); got != tc.want || tc.r.String() != tc.s {
			t.Errorf("%+v: Float %v String %q; want %v %q", tc.r, got, tc.r.String(), tc.want, tc.s)
		}
	}
}

func BenchmarkGuardRead(b *testing.B) {
	g := NewGuard(&script{}, nil, nil)
	buf := make([]Reading, 0, 8)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = g.Read(buf[:0])
	}
}
