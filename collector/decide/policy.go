package decide

import (
	"errors"
	"fmt"
	"time"
)

// Policy holds every threshold and time of the engine. WithDefaults fills
// zero fields from DefaultPolicy.
type Policy struct {
	// Temperatures. With a known sensor limit (the BMC's critical
	// threshold), a node is near its limit within NearMargin of it and
	// critical within CritMargin; without one, HotCelsius and CritCelsius
	// are absolute. CoolMargin is the hysteresis: the temperature must fall
	// that much below the near threshold before a node counts as cool.
	HotCelsius, CritCelsius float64
	NearMargin, CritMargin  float64
	CoolMargin              float64
	// InletHotCelsius fires the inlet evidence.
	InletHotCelsius float64
	// Rates over the correlation window that fire the other evidence:
	// throttling events/s, FCS errors/s, carrier or link changes in the
	// window, and kernel SYN-flood or socket-memory events in the window.
	ThrottleRate, FCSRate, Flaps, KernelEvents float64

	// Latency regression: at least LatencyRatio times and LatencyMinDelta
	// above the node's own baseline, and above the peers' median by the
	// same ratio and by PeerMADs median absolute deviations (at least
	// LatencyMinDelta), with at least MinSamples requests in the window.
	LatencyRatio    float64
	LatencyMinDelta time.Duration
	PeerMADs        float64
	MinSamples      int

	// Hold is how long a cause must persist before a shed; DrainAfter how
	// long it must persist after the shed before a drain; RestoreHold how
	// long it must be gone before the ramp starts; StepHold the time at
	// each ramp step; StaleAfter the age beyond which a signal is no data.
	Hold, DrainAfter, RestoreHold, StepHold, StaleAfter time.Duration
	// VerifyWindow: a shed for a latency regression must improve the
	// node's latency or the backend's p99 by VerifyImprovement (a fraction)
	// within it, or it is rolled back; RollbackCooldown then keeps the
	// node from being shed again for the same reason.
	VerifyWindow      time.Duration
	VerifyImprovement float64
	RollbackCooldown  time.Duration

	// Safety budget: the largest fraction of a backend shed or drained,
	// and the escalations (sheds and drains) allowed per hour.
	MaxFraction       float64
	MaxActionsPerHour int
	// RackHotMin and RackHotFraction: that many nodes of a rack (and that
	// fraction of it) hot at once is a rack cooling problem.
	RackHotMin      int
	RackHotFraction float64
}

// DefaultPolicy suits production racks.
var DefaultPolicy = Policy{
	HotCelsius: 85, CritCelsius: 95, NearMargin: 10, CritMargin: 3, CoolMargin: 5,
	InletHotCelsius: 32,
	ThrottleRate:    0.1, FCSRate: 1, Flaps: 2, KernelEvents: 1,
	LatencyRatio: 1.5, LatencyMinDelta: 20 * time.Millisecond, PeerMADs: 3, MinSamples: 50,
	Hold: 30 * time.Second, DrainAfter: 2 * time.Minute, RestoreHold: 2 * time.Minute,
	StepHold: time.Minute, StaleAfter: 90 * time.Second,
	VerifyWindow: 2 * time.Minute, VerifyImprovement: 0.2, RollbackCooldown: 30 * time.Minute,
	MaxFraction: 0.34, MaxActionsPerHour: 12,
	RackHotMin: 3, RackHotFraction: 0.5,
}

// WithDefaults returns p with zero fields taken from DefaultPolicy.
func (p Policy) WithDefaults() Policy {
	d := DefaultPolicy
	f := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	dur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	i := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	f(&p.HotCelsius, d.HotCelsius)
	f(&p.CritCelsius, d.CritCelsius)
	f(&p.NearMargin, d.NearMargin)
	f(&p.CritMargin, d.CritMargin)
	f(&p.CoolMargin, d.CoolMargin)
	f(&p.InletHotCelsius, d.InletHotCelsius)
	f(&p.ThrottleRate, d.ThrottleRate)
	f(&p.FCSRate, d.FCSRate)
	f(&p.Flaps, d.Flaps)
	f(&p.KernelEvents, d.KernelEvents)
	f(&p.LatencyRatio, d.LatencyRatio)
	dur(&p.LatencyMinDelta, d.LatencyMinDelta)
	f(&p.PeerMADs, d.PeerMADs)
	i(&p.MinSamples, d.MinSamples)
	dur(&p.Hold, d.Hold)
	dur(&p.DrainAfter, d.DrainAfter)
	dur(&p.RestoreHold, d.RestoreHold)
	dur(&p.StepHold, d.StepHold)
	dur(&p.StaleAfter, d.StaleAfter)
	dur(&p.VerifyWindow, d.VerifyWindow)
	f(&p.VerifyImprovement, d.VerifyImprovement)
	dur(&p.RollbackCooldown, d.RollbackCooldown)
	f(&p.MaxFraction, d.MaxFraction)
	i(&p.MaxActionsPerHour, d.MaxActionsPerHour)
	i(&p.RackHotMin, d.RackHotMin)
	f(&p.RackHotFraction, d.RackHotFraction)
	return p
}

// Validate reports a policy that cannot work.
func (p Policy) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf("decide: "+format, args...))
		}
	}
	check(p.CritCelsius > p.HotCelsius, "crit_celsius %.1f must be above hot_celsius %.1f", p.CritCelsius, p.HotCelsius)
	check(p.NearMargin > p.CritMargin, "near_margin %.1f must be wider than crit_margin %.1f", p.NearMargin, p.CritMargin)
	check(p.LatencyRatio >= 1, "latency_ratio %.2f must be at least 1", p.LatencyRatio)
	check(p.MaxFraction > 0 && p.MaxFraction <= 1, "max_fraction %.2f must be in (0, 1]", p.MaxFraction)
	check(p.MaxActionsPerHour > 0, "max_actions_per_hour must be positive")
	check(p.VerifyImprovement > 0 && p.VerifyImprovement < 1, "verify_improvement %.2f must be in (0, 1)", p.VerifyImprovement)
	check(p.RackHotFraction > 0 && p.RackHotFraction <= 1, "rack_hot_fraction %.2f must be in (0, 1]", p.RackHotFraction)
	return errors.Join(errs...)
}
