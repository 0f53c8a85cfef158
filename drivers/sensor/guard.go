package sensor

import (
	"errors"
	"fmt"
	"time"

	"periph.io/x/conn/v3/physic"
)

// Status is the health of a guarded sensor, published as a status metric.
type Status uint8

// Statuses.
const (
	// StatusOK: the last read was good.
	StatusOK Status = iota
	// StatusFailing: the last read failed, fewer than FaultAfter in a row.
	StatusFailing
	// StatusFaulted: FaultAfter reads in a row failed; reads are retried
	// with backoff and nothing is reported until one succeeds.
	StatusFaulted
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusFailing:
		return "failing"
	case StatusFaulted:
		return "faulted"
	}
	return fmt.Sprintf("status(%d)", s)
}

// Range is the plausible span of a quantity, in Reading.Value units.
type Range struct{ Min, Max int64 }

// DefaultLimits are wide physical bounds: a reading outside them is a
// broken sensor or a corrupted transfer, never the rack's real state.
var DefaultLimits = map[Quantity]Range{
	Temperature: {int64(physic.ZeroCelsius - 60*physic.Kelvin), int64(physic.ZeroCelsius + 160*physic.Kelvin)},
	Humidity:    {0, int64(100 * physic.PercentRH)},
	Pressure:    {int64(30 * physic.KiloPascal), int64(120 * physic.KiloPascal)},
	Voltage:     {int64(-100 * physic.Volt), int64(100 * physic.Volt)},
	Current:     {int64(-200 * physic.Ampere), int64(200 * physic.Ampere)},
	Power:       {int64(-20 * physic.KiloWatt), int64(20 * physic.KiloWatt)},
	FanSpeed:    {0, 100_000 * 1000},
	FanDuty:     {0, 1_000_000},
	FanFault:    {0, 1},
}

// Policy is the fault policy. Zero fields take the defaults shown.
type Policy struct {
	// FaultAfter consecutive failed reads mark the sensor faulted (3).
	FaultAfter int
	// BackoffMin and BackoffMax bound the wait before a faulted sensor is
	// tried again; it doubles after each failure (1s, 5m).
	BackoffMin, BackoffMax time.Duration
	// Limits overrides DefaultLimits per quantity.
	Limits map[Quantity]Range
	// StuckAfter, when positive, treats that many identical measurements in
	// a row as a stuck sensor (a frozen register), which is discarded like
	// an implausible value. Off by default: a stable room reads the same
	// value for a long time on a coarse sensor.
	StuckAfter int
}

// Counters of a guarded sensor.
type Counters struct {
	Reads     uint64 // measurements attempted on the bus
	Good      uint64 // measurements delivered
	Failures  uint64 // bus errors, chip errors and discards
	Discarded uint64 // of which checksum, implausible or stuck
	Faults    uint64 // transitions to StatusFaulted
}

// ErrFaulted is returned while a faulted sensor waits for its next retry.
var ErrFaulted = errors.New("sensor: faulted, waiting to retry")

// Guard applies a Policy to a Sensor. It is not safe for concurrent use;
// the edge source that owns it reads it from one goroutine.
type Guard struct {
	s        Sensor
	p        Policy
	now      func() time.Time
	status   Status
	run      int // consecutive failures
	backoff  time.Duration
	retryAt  time.Time
	counters Counters
	lastErr  error
	last     []Reading // previous measurement, for stuck detection
	same     int
}

// NewGuard wraps s. A nil p means the defaults; a nil now means time.Now.
func NewGuard(s Sensor, p *Policy, now func() time.Time) *Guard {
	var pol Policy
	if p != nil {
		pol = *p
	}
	if pol.FaultAfter <= 0 {
		pol.FaultAfter = 3
	}
	if pol.BackoffMin <= 0 {
		pol.BackoffMin = time.Second
	}
	if pol.BackoffMax <= 0 {
		pol.BackoffMax = 5 * time.Minute
	}
	if now == nil {
		now = time.Now
	}
	return &Guard{s: s, p: pol, now: now}
}

// Sensor returns the guarded sensor.
func (g *Guard) Sensor() Sensor { return g.s }

// Status returns the current health.
func (g *Guard) Status() Status { return g.status }

// Counters returns the counters.
func (g *Guard) Counters() Counters { return g.counters }

// LastError returns the error of the last failed read, or nil.
func (g *Guard) LastError() error { return g.lastErr }

// Read reads the sensor under the policy and appends a good measurement to
// dst. On any failure it appends nothing: a discarded or faulted reading
// never reaches the caller as a value.
func (g *Guard) Read(dst []Reading) ([]Reading, error) {
	now := g.now()
	if g.status == StatusFaulted && now.Before(g.retryAt) {
		return dst, ErrFaulted
	}
	g.counters.Reads++
	n := len(dst)
	out, err := g.s.Read(dst)
	if err == nil {
		err = g.check(out[n:])
	}
	if err != nil {
		return out[:n], g.fail(now, err)
	}
	g.counters.Good++
	g.status, g.run, g.backoff, g.lastErr = StatusOK, 0, 0, nil
	return out, nil
}

func (g *Guard) check(rs []Reading) error {
	for _, r := range rs {
		lim, ok := g.p.Limits[r.Quantity]
		if !ok {
			lim, ok = DefaultLimits[r.Quantity]
		}
		if ok && (r.Value < lim.Min || r.Value > lim.Max) {
			return fmt.Errorf("%w: %s", ErrImplausible, r)
		}
	}
	if g.p.StuckAfter > 0 {
		if equalReadings(rs, g.last) {
			g.same++
		} else {
			g.same = 1
			g.last = append(g.last[:0], rs...)
		}
		if g.same >= g.p.StuckAfter {
			return fmt.Errorf("%w: %d identical measurements in a row, the sensor looks stuck", ErrImplausible, g.same)
		}
	}
	return nil
}

func equalReadings(a, b []Reading) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (g *Guard) fail(now time.Time, err error) error {
	g.counters.Failures++
	if errors.Is(err, ErrCRC) || errors.Is(err, ErrImplausible) {
		g.counters.Discarded++
	}
	g.lastErr = err
	g.run++
	if g.run < g.p.FaultAfter {
		g.status = StatusFailing
		return err
	}
	if g.status != StatusFaulted {
		g.counters.Faults++
		g.backoff = g.p.BackoffMin
	} else {
		g.backoff = min(2*g.backoff, g.p.BackoffMax)
	}
	g.status = StatusFaulted
	g.retryAt = now.Add(g.backoff)
	return err
}
