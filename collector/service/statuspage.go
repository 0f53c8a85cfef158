package service

import (
	"math"
	"slices"
	"sync"
	"time"

	"github.com/rackwatch/rackwatch/collector/audit"
	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/collector/statuspage"
)

// The service is the status page's source.
var _ statuspage.Source = (*Service)(nil)

// The latency history the page draws as sparklines: one point per
// latencyStep, latencyPoints of them (five minutes).
const (
	latencyStep   = 2 * time.Second
	latencyPoints = 150
)

// pageDecisions is how many of the latest decisions the page lists.
const pageDecisions = 50

// statusPage is the status page and what it reads beyond the engine: the
// observations of the last decision pass (taking new ones would advance
// the correlator's restart detection behind the decision loop's back) and
// each node's latency history.
type statusPage struct {
	srv *statuspage.Page // nil when the API is off

	mu      sync.Mutex
	changed chan struct{} // closed and replaced at each change
	obs     []decide.Observation
	// history holds the latency of each inventory node (keys come from
	// the configuration, not the network), in ms; nil is a gap.
	history map[string]*latencyRing
}

type latencyRing struct {
	points []*float64
	last   time.Time // when the last point was taken
}

// add appends v (nil: no reading), with a gap for each step missed since
// the last point, once a step has passed.
func (r *latencyRing) add(now time.Time, v *float64) {
	if !r.last.IsZero() {
		steps := int(now.Sub(r.last) / latencyStep)
		if steps < 1 {
			return
		}
		for range min(steps-1, latencyPoints) {
			r.points = append(r.points, nil)
		}
	}
	r.points = append(r.points, v)
	if n := len(r.points) - latencyPoints; n > 0 {
		r.points = slices.Delete(r.points, 0, n)
	}
	r.last = now
}

// observed keeps a decision pass's observations for the page, extends the
// latency histories and tells the page that the state may have changed.
// The decision loop calls it after each pass.
func (s *Service) observed(now time.Time, obs []decide.Observation) {
	p := &s.page
	lat := map[string]float64{}
	for _, o := range obs {
		if o.HaveLatency {
			// A node in several load balancers: its slowest view.
			lat[o.Node] = max(lat[o.Node], float64(o.Latency)/float64(time.Millisecond))
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.obs = slices.Clone(obs)
	if p.history == nil {
		p.history = map[string]*latencyRing{}
	}
	for _, n := range s.cfg.Nodes {
		r := p.history[n.Name]
		if r == nil {
			r = &latencyRing{}
			p.history[n.Name] = r
		}
		var v *float64
		if ms, ok := lat[n.Name]; ok {
			v = &ms
		}
		r.add(now, v)
	}
	p.notifyLocked()
}

func (p *statusPage) notifyLocked() {
	if p.changed != nil {
		close(p.changed)
	}
	p.changed = make(chan struct{})
}

// Changed implements statuspage.Source: the decision loop signals after
// every pass, and the page coalesces.
func (s *Service) Changed() <-chan struct{} {
	p := &s.page
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.changed == nil {
		p.changed = make(chan struct{})
	}
	return p.changed
}

// Snapshot implements statuspage.Source from what the service already
// holds: the last pass's observations, the engine's levels, pins and
// evidence, the load balancers' weights and the decision log.
func (s *Service) Snapshot() statuspage.Snapshot {
	now := s.opts.Now()
	p := &s.page
	p.mu.Lock()
	obs := p.obs
	hist := make(map[string][]*float64, len(p.history))
	for name, r := range p.history {
		hist[name] = slices.Clone(r.points)
	}
	p.mu.Unlock()

	states := s.nodeMetrics() // the same states as /metrics
	s.mu.Lock()
	pol := s.engine.Policy()
	pins := s.engine.Pins()
	vals := nodeStates(now, s.cfg.Nodes, obs, pins, s.engine.Level, pol.StaleAfter)
	firing := make([][]audit.Evidence, len(s.cfg.Nodes))
	for i, n := range s.cfg.Nodes {
		seen := map[string]bool{}
		for _, lb := range n.LB {
			ev, _, _ := s.engine.Evidence(decide.Target{Node: n.Name, LB: lb.HAProxy, Backend: lb.Backend, Server: lb.Server})
			for _, e := range audit.EvidenceOf(ev) {
				if e.Firing && !seen[e.Signal] {
					seen[e.Signal] = true
					firing[i] = append(firing[i], e)
				}
			}
		}
	}
	snap := statuspage.Snapshot{At: now, Stop: s.engine.Stopped(), DryRun: s.engine.DryRun()}
	s.mu.Unlock()

	racks := map[string]int{} // rack name → index in snap.Racks
	rack := func(name string) *statuspage.Rack {
		i, ok := racks[name]
		if !ok {
			i = len(snap.Racks)
			racks[name] = i
			snap.Racks = append(snap.Racks, statuspage.Rack{Name: name, Inlet: statuspage.Temp{Band: statuspage.BandNone}, Nodes: []statuspage.Node{}})
		}
		return &snap.Racks[i]
	}
	for _, r := range s.cfg.Racks {
		rack(r.Name)
	}
	for i, n := range s.cfg.Nodes {
		v, st := vals[i], states[i]
		node := statuspage.Node{Name: n.Name, State: st.State, History: hist[n.Name], HistoryStepS: latencyStep.Seconds(),
			CPU: cpuBand(pol, v.CPUTemp, v.CPUTempLimit), ThrottlePerS: finiteOrNil(v.ThrottleRate),
			LatencyMs: millisOrNil(v.Latency), BaselineMs: millisOrNil(v.Baseline), Firing: firing[i],
			Link: statuspage.Link{FCSPerS: finiteOrNil(v.FCSRate), Flaps: finiteOrNil(v.Flaps)}}
		if node.History == nil {
			node.History = []*float64{}
		}
		if node.Firing == nil {
			node.Firing = []audit.Evidence{}
		}
		if pin, ok := pins[n.Name]; ok {
			node.Pin = &statuspage.Pin{By: pin.By, Reason: pin.Reason}
		}
		for _, srv := range st.Servers {
			if w := int(math.Round(srv.Weight * 100)); srv.Known && (node.WeightPct == nil || w < *node.WeightPct) {
				node.WeightPct = &w
			}
		}
		if p := n.Switch; p != nil {
			node.Link.Port = p.Device + "/" + p.IfName
		}
		r := rack(n.Rack)
		if r.Inlet.C == nil {
			r.Inlet = inletBand(pol, v.InletTemp)
		}
		r.Nodes = append(r.Nodes, node)
	}
	ds := s.audit.Decisions(audit.Filter{Limit: pageDecisions})
	snap.Decisions = make([]audit.Record, 0, len(ds))
	for _, d := range ds {
		snap.Decisions = append(snap.Decisions, audit.NewRecord(d))
	}
	return snap
}

// cpuBand bands a CPU temperature with the engine's thresholds (decide's
// nearThreshold and critThreshold): cool below the near threshold less
// the hysteresis, hot from the near threshold, critical from the critical
// one.
func cpuBand(p decide.Policy, c, limit float64) statuspage.Temp {
	t := statuspage.Temp{C: finiteOrNil(c), Band: statuspage.BandNone}
	if t.C == nil {
		return t
	}
	near, crit := p.HotCelsius, p.CritCelsius
	if limit > 0 && !math.IsInf(limit, 0) {
		t.Limit = &limit
		near, crit = limit-p.NearMargin, limit-p.CritMargin
	}
	t.Band = tempBand(c, near-p.CoolMargin, near, crit)
	return t
}

// inletBand bands the inlet air: hot from the inlet evidence's threshold.
func inletBand(p decide.Policy, c float64) statuspage.Temp {
	t := statuspage.Temp{C: finiteOrNil(c), Band: statuspage.BandNone}
	if t.C != nil {
		t.Band = tempBand(c, p.InletHotCelsius-p.CoolMargin, p.InletHotCelsius, math.Inf(1))
	}
	return t
}

func tempBand(c, warm, hot, crit float64) string {
	switch {
	case c >= crit:
		return statuspage.BandCritical
	case c >= hot:
		return statuspage.BandHot
	case c >= warm:
		return statuspage.BandWarm
	}
	return statuspage.BandCool
}

// finiteOrNil returns v, or nil for NaN (no data) and infinities.
func finiteOrNil(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// millisOrNil converts seconds (nodeStates' unit) to milliseconds.
func millisOrNil(sec float64) *float64 {
	if math.IsNaN(sec) || math.IsInf(sec, 0) {
		return nil
	}
	v := sec * 1000
	return &v
}
