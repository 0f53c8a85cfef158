package decide

import (
	"math"
	"slices"
	"sort"
	"time"
)

// Target is one node in one load balancer's backend.
type Target struct{ Node, LB, Backend, Server string }

func targetOf(o Observation) Target { return Target{o.Node, o.LB, o.Backend, o.Server} }

// Pin is an operator's hold on a node: the engine never acts on it.
type Pin struct {
	By     string    `json:"by"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

type nodeState struct {
	level Level
	since time.Time // when level was entered
	cause string

	badSince, hwSince, clearSince time.Time
	firing                        map[string]time.Time

	confirmed bool // the load balancer has shown the desired state
	opPin     bool // an operator changed the load balancer behind us

	verifyAt             time.Time
	verified             bool
	shedLatency, shedP99 time.Duration
	cooldownUntil        time.Time

	withheld string // the reason last reported, so a withheld action is logged once per episode

	evidence   []Evidence // of the last evaluation, for the API
	firstFired string
	evaluated  time.Time
}

// Engine keeps the per-node state between ticks. It is not safe for
// concurrent use; the collector's decision loop owns it.
type Engine struct {
	p         Policy
	nodes     map[Target]*nodeState
	pins      map[string]Pin
	stop      bool
	dryRun    bool
	actions   []time.Time // escalations within the last hour
	rackAlarm map[string]bool
	sigAlarm  map[string]map[string]bool // SignalAlarms' state by node and alarm
}

// New returns an engine with policy p (after WithDefaults).
func New(p Policy) (*Engine, error) {
	p = p.WithDefaults()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &Engine{p: p, nodes: map[Target]*nodeState{}, pins: map[string]Pin{}, rackAlarm: map[string]bool{}}, nil
}

// Policy returns the policy in force.
func (e *Engine) Policy() Policy { return e.p }

func (e *Engine) state(t Target) *nodeState {
	s := e.nodes[t]
	if s == nil {
		s = &nodeState{firing: map[string]time.Time{}}
		e.nodes[t] = s
	}
	return s
}

// Level returns the level the engine wants for t.
func (e *Engine) Level(t Target) Level {
	if s := e.nodes[t]; s != nil {
		return s.level
	}
	return Full
}

// Desired returns the load-balancer state the engine wants for every target
// it holds below full service, for the actuators' reconcile loop. Nothing
// is desired in dry-run, nor for pinned targets.
func (e *Engine) Desired() map[Target]Desired {
	out := map[Target]Desired{}
	if e.dryRun {
		return out
	}
	for t, s := range e.nodes {
		if _, pinned := e.pins[t.Node]; pinned || s.opPin || s.level == Full {
			continue
		}
		out[t] = s.level.Desired()
	}
	return out
}

// Levels returns every target the engine holds below full service, pinned
// or not, to be persisted across a collector restart. In dry-run nothing
// was applied, so nothing is returned.
func (e *Engine) Levels() map[Target]Level {
	out := map[Target]Level{}
	if e.dryRun {
		return out
	}
	for t, s := range e.nodes {
		if s.level != Full && !s.opPin {
			out[t] = s.level
		}
	}
	return out
}

// Restore sets the levels the engine held before a restart. Each is
// trusted only once the load balancer confirms it: one that shows
// something else was changed while the collector was away.
func (e *Engine) Restore(levels map[Target]Level, now time.Time) {
	for t, l := range levels {
		s := e.state(t)
		s.level, s.since, s.confirmed = l, now, false
	}
}

// Failed tells the engine a decision could not be carried out, so its
// state follows the load balancer rather than the intent.
func (e *Engine) Failed(d Decision) {
	if s := e.nodes[Target{d.Node, d.LB, d.Backend, d.Server}]; s != nil && s.level == d.To {
		s.level = d.From
	}
}

// Evidence returns the signals of t's last evaluation, which fired first,
// and when it was evaluated.
func (e *Engine) Evidence(t Target) ([]Evidence, string, time.Time) {
	s := e.nodes[t]
	if s == nil {
		return nil, "", time.Time{}
	}
	return slices.Clone(s.evidence), s.firstFired, s.evaluated
}

// Pins returns the operators' pins by node.
func (e *Engine) Pins() map[string]Pin {
	out := make(map[string]Pin, len(e.pins))
	for k, v := range e.pins {
		out[k] = v
	}
	return out
}

// SetPin pins (on) or unpins a node and returns the audit decision.
func (e *Engine) SetPin(node string, on bool, by, reason string, now time.Time) Decision {
	d := Decision{At: now, Node: node, Action: ActPinned, Taken: true, Actor: by, Cause: reason}
	if on {
		e.pins[node] = Pin{By: by, Reason: reason, At: now}
		d.Cause = "pinned by " + by + ": " + reason
	} else {
		delete(e.pins, node)
		d.Cause = "unpinned by " + by
	}
	return d
}

// Stopped and DryRun report the switches.
func (e *Engine) Stopped() bool { return e.stop }

// DryRun reports whether decisions are shadow-only.
func (e *Engine) DryRun() bool { return e.dryRun }

// SetStop sets the global stop switch: while on, every action is withheld.
func (e *Engine) SetStop(on bool, by string, now time.Time) Decision {
	e.stop = on
	cause := "global stop released by " + by
	if on {
		cause = "global stop engaged by " + by
	}
	return Decision{At: now, Action: ActAlarm, Alarm: "global_stop", AlarmActive: on, Taken: true, Actor: by, Cause: cause}
}

// SetDryRun turns shadow mode on or off.
func (e *Engine) SetDryRun(on bool, by string, now time.Time) Decision {
	e.dryRun = on
	cause := "dry-run off, set by " + by
	if on {
		cause = "dry-run on, set by " + by
	}
	return Decision{At: now, Action: ActAlarm, Alarm: "dry_run", AlarmActive: on, Taken: true, Actor: by, Cause: cause}
}

type backendKey struct{ lb, backend string }

// Evaluate returns this tick's decisions, in a stable order.
func (e *Engine) Evaluate(now time.Time, obs []Observation) []Decision {
	obs = slices.Clone(obs)
	sort.Slice(obs, func(i, j int) bool {
		a, b := obs[i], obs[j]
		if a.Node != b.Node {
			return a.Node < b.Node
		}
		return a.LB+"/"+a.Backend < b.LB+"/"+b.Backend
	})
	e.pruneActions(now)
	backends := map[backendKey][]Observation{}
	for _, o := range obs {
		k := backendKey{o.LB, o.Backend}
		backends[k] = append(backends[k], o)
	}
	var out []Decision
	out = append(out, e.racks(now, obs)...)
	for _, o := range obs {
		out = append(out, e.node(now, o, backends[backendKey{o.LB, o.Backend}])...)
	}
	return out
}

func (e *Engine) pruneActions(now time.Time) {
	i := 0
	for i < len(e.actions) && now.Sub(e.actions[i]) >= time.Hour {
		i++
	}
	e.actions = e.actions[i:]
}

func (e *Engine) fresh(now, at time.Time) bool {
	return !at.IsZero() && now.Sub(at) <= e.p.StaleAfter
}

// nearThreshold is the temperature at which a node is near its limit.
func (e *Engine) nearThreshold(o Observation) float64 {
	if o.CPUTempLimit > 0 {
		return o.CPUTempLimit - e.p.NearMargin
	}
	return e.p.HotCelsius
}

func (e *Engine) critThreshold(o Observation) float64 {
	if o.CPUTempLimit > 0 {
		return o.CPUTempLimit - e.p.CritMargin
	}
	return e.p.CritCelsius
}

// racks raises one cooling alarm for a rack with many hot nodes at once,
// and clears it when they cool.
func (e *Engine) racks(now time.Time, obs []Observation) []Decision {
	total := map[string]map[string]bool{}
	hot := map[string]map[string]bool{}
	for _, o := range obs {
		if o.Rack == "" {
			continue
		}
		if total[o.Rack] == nil {
			total[o.Rack], hot[o.Rack] = map[string]bool{}, map[string]bool{}
		}
		total[o.Rack][o.Node] = true
		if e.fresh(now, o.CPUTempAt) && o.CPUTemp >= e.nearThreshold(o) {
			hot[o.Rack][o.Node] = true
		}
	}
	var out []Decision
	racks := make([]string, 0, len(total))
	for r := range total {
		racks = append(racks, r)
	}
	sort.Strings(racks)
	for _, r := range racks {
		n, h := len(total[r]), len(hot[r])
		need := max(e.p.RackHotMin, int(math.Ceil(e.p.RackHotFraction*float64(n))))
		active := h >= need
		if active == e.rackAlarm[r] {
			continue
		}
		e.rackAlarm[r] = active
		cause := "rack cooled down"
		if active {
			cause = "many nodes hot at once: a rack cooling problem, not a node problem; no node is drained for heat alone"
		}
		out = append(out, Decision{At: now, Rack: r, Action: ActAlarm, Alarm: AlarmRackCooling, AlarmActive: active, Taken: true, Actor: "engine",
			Cause: cause, Evidence: []Evidence{{Signal: "hot_nodes", Value: float64(h), Threshold: float64(need), Unit: "nodes", Firing: active}}})
	}
	return out
}

// signals evaluates the physical evidence of a node.
type signals struct {
	evidence         []Evidence
	physical         bool // any non-latency evidence fires
	heatOnly         bool // everything that fires is heat
	near, crit, cool bool
	fresh            bool
	first            string
}

func (e *Engine) signals(now time.Time, o Observation, s *nodeState) signals {
	var sg signals
	sg.fresh = e.fresh(now, o.CPUTempAt)
	add := func(name string, have bool, v, thr float64, unit string, heat bool) {
		if !have {
			delete(s.firing, name)
			return
		}
		fire := v >= thr
		ev := Evidence{Signal: name, Value: v, Threshold: thr, Unit: unit, Firing: fire}
		if fire {
			if _, ok := s.firing[name]; !ok {
				s.firing[name] = now
			}
			ev.Since = s.firing[name]
			sg.physical = true
			if !heat {
				sg.heatOnly = false
			}
		} else {
			delete(s.firing, name)
		}
		sg.evidence = append(sg.evidence, ev)
	}
	sg.heatOnly = true
	if sg.fresh {
		add("cpu_temperature", true, o.CPUTemp, e.nearThreshold(o), "°C", true)
		sg.near = o.CPUTemp >= e.nearThreshold(o)
		sg.crit = o.CPUTemp >= e.critThreshold(o)
		sg.cool = o.CPUTemp <= e.nearThreshold(o)-e.p.CoolMargin
	} else {
		delete(s.firing, "cpu_temperature")
	}
	add("inlet_temperature", e.fresh(now, o.InletTempAt), o.InletTemp, e.p.InletHotCelsius, "°C", true)
	add("throttle_rate", o.HaveThrottle, o.ThrottleRate, e.p.ThrottleRate, "events/s", true)
	add("fcs_error_rate", o.HaveFCS, o.FCSRate, e.p.FCSRate, "frames/s", false)
	add("carrier_flaps", o.HaveFlaps, o.Flaps, e.p.Flaps, "changes", false)
	add("kernel_events", o.HaveKernel, o.KernelEvents, e.p.KernelEvents, "events", false)
	if !sg.physical {
		sg.heatOnly = false
	}
	var firstAt time.Time
	for _, ev := range sg.evidence {
		if ev.Firing && (firstAt.IsZero() || ev.Since.Before(firstAt)) {
			firstAt, sg.first = ev.Since, ev.Signal
		}
	}
	return sg
}

// regression compares the node's latency with its own baseline and with
// its peers in the backend (median and median absolute deviation of the
// peers in full service).
func (e *Engine) regression(o Observation, peers []Observation, s *nodeState, now time.Time) (bool, []Evidence) {
	if !o.HaveLatency || o.LatencySamples < e.p.MinSamples {
		return false, nil
	}
	var ls []float64
	for _, p := range peers {
		if p.Node == o.Node || !p.HaveLatency || p.LatencySamples < e.p.MinSamples || p.Status != StatusUp || p.WeightPct < 100 {
			continue
		}
		if ps := e.nodes[targetOf(p)]; ps != nil && ps.level != Full {
			continue
		}
		ls = append(ls, float64(p.Latency))
	}
	if len(ls) == 0 {
		return false, nil
	}
	med := median(ls)
	dev := make([]float64, len(ls))
	for i, v := range ls {
		dev[i] = math.Abs(v - med)
	}
	mad := median(dev)
	lat := float64(o.Latency)
	delta := float64(e.p.LatencyMinDelta)
	peerThr := math.Max(med*e.p.LatencyRatio, med+math.Max(delta, e.p.PeerMADs*mad))
	ms := float64(time.Millisecond)
	evs := []Evidence{{Signal: "latency_vs_peers", Value: lat / ms, Threshold: peerThr / ms, Unit: "ms", Firing: lat >= peerThr}}
	fire := lat >= peerThr
	if o.HaveBaseline {
		b := float64(o.Baseline)
		baseThr := math.Max(b*e.p.LatencyRatio, b+delta)
		evs = append(evs, Evidence{Signal: "latency_vs_baseline", Value: lat / ms, Threshold: baseThr / ms, Unit: "ms", Firing: lat >= baseThr})
		fire = fire && lat >= baseThr
	}
	for i := range evs {
		name := evs[i].Signal
		if evs[i].Firing {
			if _, ok := s.firing[name]; !ok {
				s.firing[name] = now
			}
			evs[i].Since = s.firing[name]
		} else {
			delete(s.firing, name)
		}
	}
	return fire, evs
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func since(t *time.Time, cond bool, now time.Time) time.Duration {
	if !cond {
		*t = time.Time{}
		return -1
	}
	if t.IsZero() {
		*t = now
	}
	return now.Sub(*t)
}

// observedMatches reports whether the load balancer shows d.
func observedMatches(o Observation, d Desired) bool {
	if d.Drain {
		return o.Status == StatusDrain
	}
	return o.Status == StatusUp && absInt(o.WeightPct-d.Weight) <= 1
}

func absInt(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func (e *Engine) node(now time.Time, o Observation, peers []Observation) []Decision {
	t := targetOf(o)
	s := e.state(t)
	if _, pinned := e.pins[o.Node]; pinned {
		return nil
	}
	var out []Decision
	if o.LBRestarted {
		// A restart lost the runtime state: until the reconciler has put
		// it back, a difference is not an operator's doing.
		s.confirmed = false
	}
	// Who set what the load balancer shows? Not the engine, if it differs
	// from what the engine asked for after it had confirmed it, or if the
	// engine asked for nothing. A reload that lost runtime state is not an
	// operator: the reconcile loop re-applies the desired state. Neither is
	// a reading taken before the engine's own return to full service took
	// effect (the load balancer's poll, or an agent check's interval,
	// behind the command): the engine allows it the time of a ramp step.
	if o.LBKnown && !e.dryRun && !o.LBRestarted && o.Status != StatusDown && o.Status != StatusUnknown {
		want := s.level.Desired()
		askedNothing := s.level == Full && now.Sub(s.since) >= e.p.StepHold
		switch {
		case observedMatches(o, want):
			s.confirmed = true
			if s.opPin && s.level == Full {
				s.opPin = false
				out = append(out, Decision{At: now, Node: o.Node, Rack: o.Rack, LB: o.LB, Backend: o.Backend, Server: o.Server,
					Action: ActPinned, Taken: true, Actor: "engine", Cause: "the operator returned the server to full service; the engine resumes"})
			}
		case !s.opPin && (s.confirmed || askedNothing):
			s.opPin = true
			from := s.level
			s.level, s.since, s.confirmed = Full, now, false
			// Start afresh when the operator lets go: holds run again.
			s.badSince, s.hwSince, s.clearSince = time.Time{}, time.Time{}, time.Time{}
			clear(s.firing)
			out = append(out, Decision{At: now, Node: o.Node, Rack: o.Rack, LB: o.LB, Backend: o.Backend, Server: o.Server,
				Action: ActPinned, From: from, To: Full, Taken: true, Actor: "engine",
				Cause: "the load balancer shows " + describe(o) + ", which the engine did not set: treated as an operator's pin"})
		}
	}
	if s.opPin {
		return out
	}
	sg := e.signals(now, o, s)
	reg, latEv := e.regression(o, peers, s, now)
	if s.level == Drained {
		reg, latEv = false, nil // no traffic, no latency to judge
	}
	evidence := append(sg.evidence, latEv...)
	first := sg.first
	for _, ev := range latEv {
		if ev.Firing && (first == "" || ev.Since.Before(s.firing[first])) {
			first = ev.Signal
		}
	}
	s.evidence, s.firstFired, s.evaluated = evidence, first, now
	attribution := reg && sg.physical
	hardware := sg.crit
	cleared := sg.fresh && sg.cool && !sg.physical && !reg
	suppressed := e.rackAlarm[o.Rack] && sg.heatOnly && !hardware
	// While the rack alarm speaks for the node's heat, the node's own hold
	// does not run: heat evidence that lingers once the rack cools (an
	// inlet reading not yet refreshed, a throttle rate) must hold on its
	// own before the node is shed.
	badFor := since(&s.badSince, attribution && !suppressed, now)
	hwFor := since(&s.hwSince, hardware, now)
	clearFor := since(&s.clearSince, cleared, now)

	mk := func(a Action, to Level, cause string) Decision {
		return Decision{At: now, Node: o.Node, Rack: o.Rack, LB: o.LB, Backend: o.Backend, Server: o.Server,
			Action: a, From: s.level, To: to, Desired: to.Desired(), Cause: cause, Evidence: evidence,
			FirstFired: first, DryRun: e.dryRun, Actor: "engine", Taken: true}
	}
	switch s.level {
	case Full:
		if hardware && hwFor >= e.p.Hold {
			out = append(out, e.escalate(now, o, s, peers, mk(ActShed, Shed, "hardware protection: temperature at its critical limit"), "hardware")...)
		} else if attribution && badFor >= e.p.Hold && now.After(s.cooldownUntil) {
			out = append(out, e.escalate(now, o, s, peers, mk(ActShed, Shed, "latency regression with physical evidence on the same node"), "attribution")...)
		} else {
			s.withheld = ""
		}
	case Shed:
		if s.cause == "attribution" && !s.verified && !now.Before(s.verifyAt) {
			s.verified = true
			// In dry-run nothing was shed, so there is nothing to verify.
			if !e.dryRun && !e.improved(o, s) {
				d := mk(ActRollback, Full, "the shed did not improve the node's latency or the backend's p99")
				d.Alarm, d.AlarmActive = AlarmRollback, true
				s.level, s.since, s.confirmed = Full, now, false
				s.cooldownUntil = now.Add(e.p.RollbackCooldown)
				return append(out, e.gate(d)...)
			}
		}
		switch {
		case (attribution || hardware) && now.Sub(s.since) >= e.p.DrainAfter && !suppressed:
			cause := "the cause persisted after the shed"
			if hardware {
				cause = "hardware protection: still at its critical limit after the shed"
			}
			out = append(out, e.escalate(now, o, s, peers, mk(ActDrain, Drained, cause), s.cause)...)
		case clearFor >= e.p.RestoreHold:
			out = append(out, e.step(now, s, mk(ActRestore, Full, "the cause has been gone for the restore hold"))...)
		}
	case Drained:
		if clearFor >= e.p.RestoreHold {
			out = append(out, e.step(now, s, mk(ActRestore, Ramp25, "the cause has been gone for the restore hold: ramping up"))...)
		}
	case Ramp25, Ramp50:
		switch {
		case attribution || hardware:
			out = append(out, e.escalate(now, o, s, peers, mk(ActDrain, Drained, "the cause returned during the restore"), s.cause)...)
		case cleared && now.Sub(s.since) >= e.p.StepHold:
			next := Ramp50
			if s.level == Ramp50 {
				next = Full
			}
			out = append(out, e.step(now, s, mk(ActRestore, next, "cool and fast for the step hold"))...)
		}
	}
	return out
}

func describe(o Observation) string {
	if o.Status == StatusUp {
		return "weight " + itoa(o.WeightPct) + "%"
	}
	return o.Status.String()
}

func itoa(v int) string {
	if v == 0 {
		return "0"
	}
	neg := v < 0
	if neg {
		v = -v
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// improved reports whether a shed helped: the node's latency or the
// backend's p99 fell by VerifyImprovement.
func (e *Engine) improved(o Observation, s *nodeState) bool {
	k := 1 - e.p.VerifyImprovement
	if o.HaveLatency && s.shedLatency > 0 && float64(o.Latency) <= k*float64(s.shedLatency) {
		return true
	}
	return o.HaveBackendP99 && s.shedP99 > 0 && float64(o.BackendP99) <= k*float64(s.shedP99)
}

// gate applies the switches that withhold every action.
func (e *Engine) gate(d Decision) []Decision {
	if e.stop {
		d.Taken, d.Withheld = false, "global stop"
	}
	return []Decision{d}
}

// step moves along the restore ramp. Restores are never budgeted: they
// return capacity.
func (e *Engine) step(now time.Time, s *nodeState, d Decision) []Decision {
	ds := e.gate(d)
	if ds[0].Taken {
		s.level, s.since, s.confirmed = d.To, now, false
		if d.To == Full {
			s.cause, s.verified = "", false
		}
		s.clearSince = now
	}
	return ds
}

// escalate sheds or drains inside the safety budget.
func (e *Engine) escalate(now time.Time, o Observation, s *nodeState, peers []Observation, d Decision, cause string) []Decision {
	if reason := e.budget(o, s, peers, d.To); reason != "" {
		d.Taken, d.Withheld = false, reason
	}
	ds := e.gate(d)
	if !ds[0].Taken {
		if s.withheld == ds[0].Withheld {
			return nil // already reported for this episode
		}
		s.withheld = ds[0].Withheld
		return ds
	}
	s.withheld = ""
	if d.To == Shed {
		s.cause, s.verified = cause, false
		s.verifyAt = now.Add(e.p.VerifyWindow)
		s.shedLatency, s.shedP99 = o.Latency, o.BackendP99
		if cause == "hardware" {
			ds[0].Alarm, ds[0].AlarmActive = AlarmHardware, true
		}
	}
	s.level, s.since, s.confirmed = d.To, now, false
	e.actions = append(e.actions, now)
	return ds
}

// budget returns why an escalation to level would break the safety budget,
// or "".
func (e *Engine) budget(o Observation, s *nodeState, peers []Observation, to Level) string {
	if len(e.actions) >= e.p.MaxActionsPerHour {
		return "rate limit: " + itoa(len(e.actions)) + " actions in the last hour"
	}
	n, out, healthy := len(peers), 0, 0
	for _, p := range peers {
		ps := e.nodes[targetOf(p)]
		ours := ps != nil && ps.level != Full
		if ours || p.Status != StatusUp || p.WeightPct < 100 {
			out++
		} else if p.Node != o.Node {
			healthy++
		}
	}
	if s.level == Full { // this escalation takes one more server out
		out++
	}
	if healthy == 0 {
		return "it would leave the backend without a healthy server"
	}
	if allowed := int(e.p.MaxFraction * float64(n)); out > allowed {
		return "budget: " + itoa(out) + " of " + itoa(n) + " servers would be out (at most " + itoa(allowed) + ")"
	}
	return ""
}
