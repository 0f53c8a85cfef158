package service

import (
	"math"
	"time"

	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/collector/influx"
)

// nodeWriteInterval spaces the rackwatch_node points of passes that took no
// decision: samples can call for a pass every few milliseconds, and a
// dashboard needs no more than a point a second.
const nodeWriteInterval = time.Second

// writeNodes writes every inventoried node's state to InfluxDB after a
// pass: at once when the pass took decisions, else at most once per
// nodeWriteInterval.
func (s *Service) writeNodes(now time.Time, obs []decide.Observation, decided bool) {
	if s.influx == nil || (!decided && !s.nodesWritten.IsZero() && now.Sub(s.nodesWritten) < nodeWriteInterval) {
		return
	}
	s.nodesWritten = now
	exposed := s.nodeMetrics()
	s.mu.Lock()
	states := nodeStates(now, s.cfg.Nodes, obs, s.engine.Pins(), s.engine.Level, s.engine.Policy().StaleAfter)
	s.mu.Unlock()
	for i, n := range states {
		// The state /metrics exposes (it also knows of operators'
		// changes in the load balancer and of restore ramps), so that
		// Grafana and Prometheus never disagree.
		if i < len(exposed) && exposed[i].Name == n.Node {
			n.State = influx.NodeStateName(exposed[i].State)
		}
		s.influx.WriteNode(n)
	}
}

// nodeStates sums up each node of the inventory from its observations (one
// per load-balancer entry), the operators' pins and the levels the engine
// holds. A signal older than stale, or absent, is NaN. Its State knows
// only of pins and levels; nodeMetrics has the full one.
func nodeStates(now time.Time, nodes []configNode, obs []decide.Observation, pins map[string]decide.Pin,
	level func(decide.Target) decide.Level, stale time.Duration) []influx.NodeState {
	byNode := map[string][]decide.Observation{}
	for _, o := range obs {
		byNode[o.Node] = append(byNode[o.Node], o)
	}
	nan := math.NaN()
	fresh := func(at time.Time) bool { return !at.IsZero() && now.Sub(at) <= stale }
	out := make([]influx.NodeState, 0, len(nodes))
	for _, n := range nodes {
		st := influx.NodeState{TS: now, Node: n.Name, Rack: n.Rack, WeightPct: 100,
			CPUTemp: nan, CPUTempLimit: nan, InletTemp: nan, ThrottleRate: nan, FCSRate: nan, Flaps: nan,
			Latency: nan, Baseline: nan, BackendP99: nan}
		worst := nan
		maxOf := func(cur, v float64) float64 {
			if math.IsNaN(cur) || v > cur {
				return v
			}
			return cur
		}
		haveData := false
		for _, o := range byNode[n.Name] {
			d := level(decide.Target{Node: o.Node, LB: o.LB, Backend: o.Backend, Server: o.Server}).Desired()
			w := float64(d.Weight)
			if d.Drain {
				w = 0
			}
			if math.IsNaN(worst) || w < worst {
				worst = w
			}
			// The node's own signals are the same in each of its entries.
			if fresh(o.CPUTempAt) {
				st.CPUTemp, haveData = o.CPUTemp, true
				if o.CPUTempLimit > 0 {
					st.CPUTempLimit = o.CPUTempLimit
				}
			}
			if fresh(o.InletTempAt) {
				st.InletTemp, haveData = o.InletTemp, true
			}
			if o.HaveThrottle {
				st.ThrottleRate, haveData = o.ThrottleRate, true
			}
			if o.HaveFCS {
				st.FCSRate, haveData = o.FCSRate, true
			}
			if o.HaveFlaps {
				st.Flaps, haveData = o.Flaps, true
			}
			if o.HaveLatency {
				st.Latency, haveData = maxOf(st.Latency, o.Latency.Seconds()), true
			}
			if o.HaveBaseline {
				st.Baseline = maxOf(st.Baseline, o.Baseline.Seconds())
			}
			if o.HaveBackendP99 {
				st.BackendP99 = maxOf(st.BackendP99, o.BackendP99.Seconds())
			}
		}
		if !math.IsNaN(worst) {
			st.WeightPct = int(worst)
		}
		_, pinned := pins[n.Name]
		switch {
		case pinned:
			st.State = influx.NodePinned
		case st.WeightPct == 0:
			st.State = influx.NodeDrained
		case st.WeightPct < 100:
			st.State = influx.NodeShed
		case !haveData:
			st.State = influx.NodeNoData
		default:
			st.State = influx.NodeOK
		}
		out = append(out, st)
	}
	return out
}

// EdgeOnline implements ingest.EdgeWatcher: an edge's NBIRTH.
func (k sink) EdgeOnline(edge string, at time.Time) {
	if k.s.influx != nil {
		k.s.influx.WriteEdge(at, edge, true)
	}
}

// EdgeOffline implements ingest.EdgeWatcher: the NDEATH that ended an
// edge's session.
func (k sink) EdgeOffline(edge string, at time.Time) {
	if k.s.influx != nil {
		k.s.influx.WriteEdge(at, edge, false)
	}
}
