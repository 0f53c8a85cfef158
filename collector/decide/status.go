package decide

import "time"

// TargetStatus is what the engine holds for one target, for monitoring.
type TargetStatus struct {
	Level Level
	// Since is when the level was entered; zero if the engine never held
	// the target.
	Since time.Time
	// OperatorPinned is set while the engine stands back because an
	// operator changed the load balancer behind it.
	OperatorPinned bool
	// Evaluated is when the target was last weighed; zero if never.
	Evaluated time.Time
	// HaveTemperature is set when that evaluation had a fresh CPU
	// temperature: without one the engine cannot protect the node.
	HaveTemperature bool
}

// Status returns what the engine holds for t.
func (e *Engine) Status(t Target) TargetStatus {
	s := e.nodes[t]
	if s == nil {
		return TargetStatus{Level: Full}
	}
	st := TargetStatus{Level: s.level, Since: s.since, OperatorPinned: s.opPin, Evaluated: s.evaluated}
	// signals() weighs the CPU temperature only when it is fresh.
	for _, ev := range s.evidence {
		if ev.Signal == "cpu_temperature" {
			st.HaveTemperature = true
			break
		}
	}
	return st
}

// Budget returns the escalations made in the hour before now and how many
// the policy allows per hour: when they are equal, sheds and drains are
// withheld until the oldest is an hour old.
func (e *Engine) Budget(now time.Time) (used, limit int) {
	for _, at := range e.actions {
		if now.Sub(at) < time.Hour {
			used++
		}
	}
	return used, e.p.MaxActionsPerHour
}
