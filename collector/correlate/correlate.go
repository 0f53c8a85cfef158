// Package correlate gathers, for every node and load balancer in the
// inventory, the signals the decision engine weighs: the node's hottest CPU
// or BMC temperature and its limit, the rack's inlet air, throttling, link
// errors and flaps on the node's switch port and NIC, kernel events, its
// latency against its own baseline, and the load balancer's view of it. It
// turns the telemetry store and the latency sources into
// decide.Observations; it decides nothing.
package correlate

import (
	"slices"
	"sync"
	"time"

	"github.com/rackwatch/rackwatch/collector/config"
	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/collector/latency"
	"github.com/rackwatch/rackwatch/collector/lbwatch"
	"github.com/rackwatch/rackwatch/collector/telemetry"
	"github.com/rackwatch/rackwatch/edge/hostsignals"
	"github.com/rackwatch/rackwatch/edge/sample"
)

// baselinePoints is the number of latency points a baseline keeps.
const baselinePoints = 60

// Correlator builds observations. It is safe for concurrent use.
type Correlator struct {
	cfg     *config.Config
	store   *telemetry.Store
	lbs     *lbwatch.Watcher
	sources []latency.Source
	min     int

	mu        sync.Mutex
	baselines map[decide.Target]*baseline
	gens      map[string]uint64 // last restart generation seen per load balancer
	learned   map[string]Port   // switch ports LLDP taught, by node
}

type baseline struct {
	ring []time.Duration
	last time.Time
}

// New returns a correlator over cfg's inventory. sources are asked in order
// for latency; minSamples is the request count a reading needs.
func New(cfg *config.Config, store *telemetry.Store, lbs *lbwatch.Watcher, sources []latency.Source, minSamples int) *Correlator {
	return &Correlator{cfg: cfg, store: store, lbs: lbs, sources: sources, min: minSamples,
		baselines: map[decide.Target]*baseline{}, gens: map[string]uint64{}, learned: map[string]Port{}}
}

func match(metric string, label string, values ...string) telemetry.Match {
	m := telemetry.Match{Metric: metric}
	if label != "" && len(values) > 0 {
		m.Labels = map[string][]string{label: values}
	}
	return m
}

// Observations returns one observation per node and load-balancer entry.
func (c *Correlator) Observations(now time.Time) []decide.Observation {
	c.mu.Lock()
	defer c.mu.Unlock()
	window := c.cfg.Correlation.Window
	inlet := map[string]telemetry.Value{}
	for _, r := range c.cfg.Racks {
		if r.Inlet == "" {
			continue
		}
		if v, ok := c.store.Max(r.Edge, r.Inlet, match(sample.TemperatureCelsius, ""), time.Time{}); ok {
			inlet[r.Name] = v
		}
	}
	restarted := map[string]bool{}
	for _, h := range c.cfg.HAProxy {
		g := c.lbs.Generation(h.Name)
		restarted[h.Name] = g != c.gens[h.Name]
		c.gens[h.Name] = g
	}
	var out []decide.Observation
	for _, n := range c.cfg.Nodes {
		base := decide.Observation{Node: n.Name, Rack: n.Rack}
		c.temperature(&base, n)
		if v, ok := inlet[n.Rack]; ok {
			base.InletTemp, base.InletTempAt = v.V, v.At
		}
		c.links(&base, n, now, window)
		if h := n.Host; h != nil {
			if r, ok := c.store.Rate(h.Edge, h.Device, match(sample.CPUThrottleCount, ""), now, window); ok {
				base.ThrottleRate, base.HaveThrottle = r.PerSecond, true
			}
			var events float64
			have := false
			for _, m := range []string{hostsignals.KernelSynFlood, hostsignals.KernelSocketOOM} {
				if r, ok := c.store.Rate(h.Edge, h.Device, match(m, ""), now, window); ok {
					events += r.Increase
					have = true
				}
			}
			base.KernelEvents, base.HaveKernel = events, have
		}
		for _, lb := range n.LB {
			o := base
			o.LB, o.Backend, o.Server = lb.HAProxy, lb.Backend, lb.Server
			if s, ok := c.lbs.Server(lb.HAProxy, lb.Backend, lb.Server); ok {
				o.LBKnown, o.Status, o.WeightPct = true, Status(s.Status), s.WeightPct
				o.LBRestarted = restarted[lb.HAProxy]
			}
			if r, ok := latency.First(c.sources, c.min, lb.HAProxy, lb.Backend, lb.Server); ok {
				o.Latency, o.LatencySamples, o.HaveLatency = r.Latency, r.Samples, true
				o.Baseline, o.HaveBaseline = c.baseline(decide.Target{Node: n.Name, LB: lb.HAProxy, Backend: lb.Backend, Server: lb.Server}, r, now)
			}
			for _, s := range c.sources {
				if bs, ok := s.(latency.BackendSource); ok {
					if p, ok := bs.BackendP99(lb.HAProxy, lb.Backend); ok {
						o.BackendP99, o.HaveBackendP99 = p, true
						break
					}
				}
			}
			out = append(out, o)
		}
	}
	return out
}

// temperature takes the hottest of the BMC's sensors (those listed, or
// all) and of the host's own CPU sensors, with that sensor's limit.
func (c *Correlator) temperature(o *decide.Observation, n config.Node) {
	consider := func(edge, dev string, sensors []string) {
		v, ok := c.store.Max(edge, dev, match(sample.TemperatureCelsius, "sensor", sensors...), time.Time{})
		if !ok || (!o.CPUTempAt.IsZero() && v.V <= o.CPUTemp) {
			return
		}
		o.CPUTemp, o.CPUTempAt, o.CPUTempLimit = v.V, v.At, 0
		sensor := v.Labels.Get("sensor")
		if lim, ok := c.store.Max(edge, dev, match(sample.TemperatureCritical, "sensor", sensor), time.Time{}); ok {
			o.CPUTempLimit = lim.V
		}
	}
	consider(n.Edge, n.BMC, n.Sensors)
	if h := n.Host; h != nil {
		consider(h.Edge, h.Device, nil)
	}
}

// links sums the FCS error rates and the flaps of the node's switch port and
// of its own NICs.
func (c *Correlator) links(o *decide.Observation, n config.Node, now time.Time, window time.Duration) {
	var fcs, flaps float64
	haveFCS, haveFlaps := false, false
	if p := c.port(n); p != nil {
		if r, ok := c.store.Rate(p.Edge, p.Device, match(sample.IfFCSErrors, "ifname", p.IfName), now, window); ok {
			fcs, haveFCS = fcs+r.PerSecond, true
		}
		if k, ok := c.store.Changes(p.Edge, p.Device, match(sample.IfOperUp, "ifname", p.IfName), now, window); ok {
			flaps, haveFlaps = flaps+float64(k), true
		}
	}
	if h := n.Host; h != nil {
		if r, ok := c.store.Rate(h.Edge, h.Device, match(sample.IfFCSErrors, ""), now, window); ok {
			fcs, haveFCS = fcs+r.PerSecond, true
		}
		for _, m := range []string{hostsignals.IfCarrierChanges, hostsignals.KernelLinkEvents} {
			if r, ok := c.store.Rate(h.Edge, h.Device, match(m, ""), now, window); ok {
				flaps, haveFlaps = flaps+r.Increase, true
			}
		}
	}
	o.FCSRate, o.HaveFCS = fcs, haveFCS
	o.Flaps, o.HaveFlaps = flaps, haveFlaps
}

// baseline records the reading in the target's history, one point per
// baseline span / baselinePoints, and returns the median of the history:
// robust to the regression being judged.
func (c *Correlator) baseline(t decide.Target, r latency.Reading, now time.Time) (time.Duration, bool) {
	b := c.baselines[t]
	if b == nil {
		b = &baseline{}
		c.baselines[t] = b
	}
	every := c.cfg.Correlation.Baseline / baselinePoints
	if r.Samples >= c.min && now.Sub(b.last) >= every {
		b.ring = append(b.ring, r.Latency)
		if len(b.ring) > baselinePoints {
			b.ring = b.ring[1:]
		}
		b.last = now
	}
	if len(b.ring) < baselinePoints/6 {
		return 0, false
	}
	s := slices.Clone(b.ring)
	slices.Sort(s)
	return s[len(s)/2], true
}
