// Package decide is the collector's decision engine. Each tick it receives
// one Observation per node (its temperature as the edge reported it, and its
// latency as the load balancer measures it) and returns the actions to take:
// drain a node that is hot AND slower than its peers, restore it once it has
// cooled. Every action carries the evidence that justified it, in words.
//
// Safety comes first, because a wrong drain is an outage:
//   - no data never reads as cool: a stale temperature blocks a restore and
//     never causes a drain;
//   - a node is drained only if the backend stays within its budget of
//     drained servers and keeps at least one server in service;
//   - a server an operator drained or put in maintenance is never touched,
//     and a server an operator put back is not drained again during an
//     override hold.
package decide

import (
	"fmt"
	"slices"
	"time"
)

// Policy holds the thresholds. Zero values take the defaults of
// DefaultPolicy through WithDefaults.
type Policy struct {
	// HotCelsius is the temperature at or above which a node is hot.
	HotCelsius float64
	// CoolCelsius is the temperature at or below which a drained node may
	// return; the gap to HotCelsius is the hysteresis.
	CoolCelsius float64
	// LatencyRatio and LatencyMinDelta define slow: latency at least
	// LatencyRatio times the peers' median and at least LatencyMinDelta
	// above it.
	LatencyRatio    float64
	LatencyMinDelta time.Duration
	// Hold is how long hot-and-slow must persist before a drain.
	Hold time.Duration
	// RestoreHold is how long a drained node must stay cool before it
	// returns.
	RestoreHold time.Duration
	// StaleAfter is the age beyond which a temperature is no data.
	StaleAfter time.Duration
	// MaxDrainedPerBackend is the safety budget: how many servers of one
	// backend may be out of service at once, whoever took them out.
	MaxDrainedPerBackend int
	// OverrideHold is how long the engine leaves alone a server that an
	// operator returned to service after the engine drained it.
	OverrideHold time.Duration
}

// DefaultPolicy is the policy for production racks.
var DefaultPolicy = Policy{
	HotCelsius: 85, CoolCelsius: 75,
	LatencyRatio: 1.5, LatencyMinDelta: 20 * time.Millisecond,
	Hold: 30 * time.Second, RestoreHold: 2 * time.Minute,
	StaleAfter: 90 * time.Second, MaxDrainedPerBackend: 1,
	OverrideHold: 30 * time.Minute,
}

// WithDefaults returns p with zero fields taken from DefaultPolicy.
func (p Policy) WithDefaults() Policy {
	d := DefaultPolicy
	set := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	setD := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	set(&p.HotCelsius, d.HotCelsius)
	set(&p.CoolCelsius, d.CoolCelsius)
	set(&p.LatencyRatio, d.LatencyRatio)
	setD(&p.LatencyMinDelta, d.LatencyMinDelta)
	setD(&p.Hold, d.Hold)
	setD(&p.RestoreHold, d.RestoreHold)
	setD(&p.StaleAfter, d.StaleAfter)
	setD(&p.OverrideHold, d.OverrideHold)
	if p.MaxDrainedPerBackend == 0 {
		p.MaxDrainedPerBackend = d.MaxDrainedPerBackend
	}
	return p
}

// Validate reports a policy that cannot work.
func (p Policy) Validate() error {
	switch {
	case p.CoolCelsius >= p.HotCelsius:
		return fmt.Errorf("decide: cool_celsius %.1f must be below hot_celsius %.1f", p.CoolCelsius, p.HotCelsius)
	case p.LatencyRatio < 1:
		return fmt.Errorf("decide: latency_ratio %.2f must be at least 1", p.LatencyRatio)
	case p.MaxDrainedPerBackend < 0:
		return fmt.Errorf("decide: max_drained_per_backend must not be negative")
	}
	return nil
}

// Status is a server's state in the load balancer.
type Status int

// Server states, from HAProxy's status column.
const (
	StatusUnknown Status = iota
	StatusUp
	StatusDown
	StatusDrain
	StatusMaint
)

// Observation is what is known about one node at one tick.
type Observation struct {
	Node string
	// LB, Backend and Server locate the node in a load balancer.
	LB, Backend, Server string
	Status              Status
	// Temp is the node's hottest reported temperature and TempAt when it was
	// measured; a zero TempAt means no data.
	Temp   float64
	TempAt time.Time
	// Latency is the load balancer's average response time for the server;
	// HaveLatency is false when the load balancer has not been read.
	Latency     time.Duration
	HaveLatency bool
}

// Kind is what an action does.
type Kind string

// Action kinds.
const (
	Drain   Kind = "drain"
	Restore Kind = "restore"
	// Hold records a drain the safety budget refused.
	Hold Kind = "hold"
)

// Action is one decision, with its reason in words.
type Action struct {
	At                  time.Time
	Kind                Kind
	Node                string
	LB, Backend, Server string
	Reason              string
}

func (a Action) String() string {
	return fmt.Sprintf("%s %s (%s %s/%s): %s", a.Kind, a.Node, a.LB, a.Backend, a.Server, a.Reason)
}

type nodeState struct {
	badSince      time.Time // start of the current hot-and-slow run
	coolSince     time.Time // start of the current cool run while drained
	drained       bool      // drained by the engine
	confirmed     bool      // the load balancer has shown the drain
	overrideUntil time.Time // operator override in force until then
	held          bool      // a Hold was reported for the current run
}

// Engine keeps per-node state between ticks. It is not safe for concurrent
// use; the collector's decision loop owns it.
type Engine struct {
	policy Policy
	nodes  map[string]*nodeState
}

// New returns an engine with policy p (after WithDefaults).
func New(p Policy) (*Engine, error) {
	p = p.WithDefaults()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &Engine{policy: p, nodes: map[string]*nodeState{}}, nil
}

// Policy returns the policy in force.
func (e *Engine) Policy() Policy { return e.policy }

// Drained reports whether the engine holds node drained from lb's backend.
func (e *Engine) Drained(node, lb, backend string) bool {
	s, ok := e.nodes[stateKey(node, lb, backend)]
	return ok && s.drained
}

// stateKey identifies a node in one backend: a node behind several load
// balancers is judged by each one's own latency.
func stateKey(node, lb, backend string) string { return node + "\x00" + lb + "\x00" + backend }

// Failed tells the engine that action a could not be carried out, so its
// state follows the load balancer rather than the intent.
func (e *Engine) Failed(a Action) {
	s, ok := e.nodes[stateKey(a.Node, a.LB, a.Backend)]
	if !ok {
		return
	}
	switch a.Kind {
	case Drain:
		s.drained = false
	case Restore:
		s.drained = true
	}
}

type backendKey struct{ lb, backend string }

// Evaluate returns the actions for this tick, in node order.
func (e *Engine) Evaluate(now time.Time, obs []Observation) []Action {
	peers := map[backendKey][]Observation{}
	out := map[backendKey]int{} // servers out of service per backend
	for _, o := range obs {
		k := backendKey{o.LB, o.Backend}
		peers[k] = append(peers[k], o)
		// A server the engine drained counts even before the load balancer
		// shows it, so two drains in quick succession cannot both fit the
		// budget.
		if o.Status == StatusDrain || o.Status == StatusMaint || o.Status == StatusDown || e.Drained(o.Node, o.LB, o.Backend) {
			out[k]++
		}
	}
	var actions []Action
	for _, o := range obs {
		sk := stateKey(o.Node, o.LB, o.Backend)
		s := e.nodes[sk]
		if s == nil {
			s = &nodeState{}
			e.nodes[sk] = s
		}
		k := backendKey{o.LB, o.Backend}
		act := func(kind Kind, format string, args ...any) {
			actions = append(actions, Action{At: now, Kind: kind, Node: o.Node, LB: o.LB, Backend: o.Backend, Server: o.Server, Reason: fmt.Sprintf(format, args...)})
		}
		fresh := !o.TempAt.IsZero() && now.Sub(o.TempAt) <= e.policy.StaleAfter

		if s.drained {
			if o.Status == StatusDrain || o.Status == StatusMaint {
				s.confirmed = true
			}
			// UP after the load balancer confirmed the drain means someone
			// put the server back; before that it is only a stale reading.
			if o.Status == StatusUp && s.confirmed {
				// Someone put it back: the operator's word wins for a while.
				s.drained = false
				s.overrideUntil = now.Add(e.policy.OverrideHold)
				s.badSince = time.Time{}
				continue
			}
			if !fresh || o.Temp > e.policy.CoolCelsius {
				s.coolSince = time.Time{}
				continue
			}
			if s.coolSince.IsZero() {
				s.coolSince = now
			}
			if cool := now.Sub(s.coolSince); cool >= e.policy.RestoreHold {
				s.drained = false
				s.coolSince = time.Time{}
				s.badSince = time.Time{}
				out[k]--
				act(Restore, "temperature %.1f °C ≤ %.1f °C for %s", o.Temp, e.policy.CoolCelsius, cool.Round(time.Second))
			}
			continue
		}

		if o.Status != StatusUp || now.Before(s.overrideUntil) || !fresh || !o.HaveLatency {
			s.badSince, s.held = time.Time{}, false
			continue
		}
		median, n := peerMedian(peers[k], o.Node)
		slowBy := o.Latency - median
		slow := n > 0 && float64(o.Latency) >= e.policy.LatencyRatio*float64(median) && slowBy >= e.policy.LatencyMinDelta
		if o.Temp < e.policy.HotCelsius || !slow {
			s.badSince, s.held = time.Time{}, false
			continue
		}
		if s.badSince.IsZero() {
			s.badSince = now
		}
		if now.Sub(s.badSince) < e.policy.Hold {
			continue
		}
		evidence := fmt.Sprintf("temperature %.1f °C ≥ %.1f °C and response time %s vs peer median %s (%d peers) for %s",
			o.Temp, e.policy.HotCelsius, o.Latency.Round(time.Millisecond), median.Round(time.Millisecond), n, now.Sub(s.badSince).Round(time.Second))
		inService := len(peers[k]) - out[k]
		if out[k] >= e.policy.MaxDrainedPerBackend || inService <= 1 {
			if !s.held {
				s.held = true
				act(Hold, "%s, but backend %s already has %d of %d servers out of service (budget %d)",
					evidence, o.Backend, out[k], len(peers[k]), e.policy.MaxDrainedPerBackend)
			}
			continue
		}
		s.drained, s.confirmed, s.held = true, false, false
		out[k]++
		act(Drain, "%s", evidence)
	}
	return actions
}

// peerMedian is the median latency of the node's peers that are in service.
func peerMedian(peers []Observation, self string) (time.Duration, int) {
	var ls []time.Duration
	for _, p := range peers {
		if p.Node != self && p.Status == StatusUp && p.HaveLatency {
			ls = append(ls, p.Latency)
		}
	}
	if len(ls) == 0 {
		return 0, 0
	}
	slices.Sort(ls)
	m := ls[len(ls)/2]
	if len(ls)%2 == 0 {
		m = (ls[len(ls)/2-1] + ls[len(ls)/2]) / 2
	}
	return m, len(ls)
}
