package decide

import (
	"sort"
	"time"
)

// SignalAlarms returns the observation alarms that changed this tick:
// throttling_detected when a node's throttle rate reaches the policy's
// threshold, and link_errors_degrading when its FCS error rate or carrier
// flaps do; each is cleared when its signals fall below their thresholds.
// They record what the node shows, whatever the engine does about it (a
// shed needs a latency regression as well), so an operator hears of a
// throttling node before it costs latency. They change no level and are
// kept apart from Evaluate so that its decisions stay the actions alone.
//
// An absent signal neither raises nor clears: no data is not a recovery.
// A node in several load balancers counts once.
func (e *Engine) SignalAlarms(now time.Time, obs []Observation) []Decision {
	if e.sigAlarm == nil {
		e.sigAlarm = map[string]map[string]bool{}
	}
	seen := map[string]bool{}
	byNode := make([]Observation, 0, len(obs))
	for _, o := range obs {
		if !seen[o.Node] {
			seen[o.Node] = true
			byNode = append(byNode, o)
		}
	}
	sort.Slice(byNode, func(i, j int) bool { return byNode[i].Node < byNode[j].Node })
	var out []Decision
	for _, o := range byNode {
		st := e.sigAlarm[o.Node]
		if st == nil {
			st = map[string]bool{}
			e.sigAlarm[o.Node] = st
		}
		var thr []Evidence
		if o.HaveThrottle {
			thr = append(thr, Evidence{Signal: "throttle_rate", Value: o.ThrottleRate, Threshold: e.p.ThrottleRate, Unit: "events/s", Firing: o.ThrottleRate >= e.p.ThrottleRate})
		}
		var link []Evidence
		if o.HaveFCS {
			link = append(link, Evidence{Signal: "fcs_error_rate", Value: o.FCSRate, Threshold: e.p.FCSRate, Unit: "frames/s", Firing: o.FCSRate >= e.p.FCSRate})
		}
		if o.HaveFlaps {
			link = append(link, Evidence{Signal: "carrier_flaps", Value: o.Flaps, Threshold: e.p.Flaps, Unit: "changes", Firing: o.Flaps >= e.p.Flaps})
		}
		for _, a := range []struct {
			name        string
			ev          []Evidence
			raise, fall string
		}{
			{AlarmThrottling, thr, "the node's CPUs throttle for heat", "the node's CPUs no longer throttle"},
			{AlarmLinkDegraded, link, "the node's link shows errors or flaps", "the node's link is clean again"},
		} {
			if len(a.ev) == 0 {
				continue
			}
			firing := false
			for _, ev := range a.ev {
				firing = firing || ev.Firing
			}
			if firing == st[a.name] {
				continue
			}
			st[a.name] = firing
			cause := a.fall
			if firing {
				cause = a.raise
			}
			out = append(out, Decision{At: now, Node: o.Node, Rack: o.Rack, Action: ActAlarm, Alarm: a.name, AlarmActive: firing,
				Taken: true, Actor: "engine", Cause: cause, Evidence: a.ev})
		}
	}
	return out
}
