package service

import (
	"net/http"

	"github.com/rackwatch/rackwatch/collector/actuate"
	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/collector/haplog"
	"github.com/rackwatch/rackwatch/collector/metrics"
	"github.com/rackwatch/rackwatch/edge/metrics/expose"
)

// promState is the service's Prometheus view: the actuators it reads, and
// the handler the API serves at /metrics.
type promState struct {
	acts    []actuate.Actuator
	handler http.Handler
}

// build makes the handler over a private registry. Every reader runs at
// scrape time, on the scraping goroutine.
func (p *promState) build(s *Service) error {
	o := metrics.Opts{
		Ingest:     s.ingest.Stats,
		Audit:      s.audit.Counters,
		Engine:     s.engineMetrics,
		Reconciler: s.act.Stats,
		Actuators:  p.actuators,
		HAProxy:    s.lbs.Stats,
		Nodes:      s.nodeMetrics,
	}
	if s.reqlog != nil {
		o.RequestLog = func() haplog.Counters { return s.reqlog.Counters() }
	}
	if s.snmp.sender != nil {
		o.Notify = s.notifyMetrics
	}
	if r := s.snmp.rejections; r != nil {
		o.CommandRejections = func() map[string]uint64 {
			out := map[string]uint64{}
			for reason, n := range r.Totals() {
				out[string(reason)] = n
			}
			return out
		}
	}
	// The API is built after the metrics, and serves them: read it at
	// scrape time.
	o.APIRateLimited = func() uint64 {
		if s.api == nil {
			return 0
		}
		return s.api.Limited()
	}
	if s.influx != nil {
		o.Sinks = func() []metrics.Sink {
			return []metrics.Sink{{Name: "influxdb", Errors: s.influx.Errors(), Dropped: s.influx.Dropped()}}
		}
	}
	reg, err := expose.NewRegistry(metrics.New(o))
	if err != nil {
		return err
	}
	p.handler = expose.Handler(reg, s.log)
	return nil
}

// MetricsHandler serves the Prometheus exposition; the API mounts it at
// /metrics.
func (s *Service) MetricsHandler() http.Handler { return s.prom.handler }

func (p *promState) actuators() []metrics.Actuator {
	var out []metrics.Actuator
	for _, a := range p.acts {
		switch a := a.(type) {
		case runtimeOnly:
			st := a.Stats()
			out = append(out, metrics.Actuator{Name: a.Name(), Applied: st.Applied, Failed: st.Failed, Retries: st.Retries})
		case *actuate.Sparkplug:
			st := a.Stats()
			out = append(out, metrics.Actuator{Name: a.Name(), Applied: st.Published, Failed: st.Failed, Retries: st.Retries})
		case *actuate.Webhook:
			st := a.Stats()
			out = append(out, metrics.Actuator{Name: a.Name(), Applied: st.Sent, Failed: st.Failed, Retries: st.Retries})
		}
	}
	return out
}

func (s *Service) notifyMetrics() []metrics.Notify {
	var out []metrics.Notify
	for _, st := range s.SNMPNotifyStats() {
		out = append(out, metrics.Notify{Target: st.Name, Sent: st.Sent, Failed: st.Failed, Dropped: st.Dropped,
			InformsAcked: st.Acknowledged, Retries: st.Retried, Queued: st.Queued})
	}
	return out
}

func (s *Service) engineMetrics() metrics.Engine {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	used, limit := s.engine.Budget(now)
	return metrics.Engine{Passes: s.passes.Load(), Stopped: s.engine.Stopped(), DryRun: s.engine.DryRun(),
		ActionsLastHour: used, MaxActionsPerHour: limit}
}

// severity orders levels for a node in several load balancers: its state
// is that of its most reduced server.
var severity = map[decide.Level]int{decide.Full: 0, decide.Ramp50: 1, decide.Ramp25: 2, decide.Shed: 3, decide.Drained: 4}

// nodeMetrics returns every inventory node's state (metrics.States) and
// its servers' weights as HAProxy shows them.
func (s *Service) nodeMetrics() []metrics.Node {
	now := s.opts.Now()
	s.mu.Lock()
	pins := s.engine.Pins()
	stale := s.engine.Policy().StaleAfter
	out := make([]metrics.Node, 0, len(s.cfg.Nodes))
	for _, n := range s.cfg.Nodes {
		node := metrics.Node{Name: n.Name, Rack: n.Rack}
		_, pinned := pins[n.Name]
		worst, fresh := decide.TargetStatus{Level: decide.Full}, false
		for _, lb := range n.LB {
			st := s.engine.Status(decide.Target{Node: n.Name, LB: lb.HAProxy, Backend: lb.Backend, Server: lb.Server})
			pinned = pinned || st.OperatorPinned
			fresh = fresh || (st.HaveTemperature && now.Sub(st.Evaluated) <= stale)
			if severity[st.Level] > severity[worst.Level] || (st.Level == worst.Level && st.Since.After(worst.Since)) {
				worst = st
			}
			node.Servers = append(node.Servers, metrics.Server{LB: lb.HAProxy, Backend: lb.Backend, Server: lb.Server})
		}
		node.Since = worst.Since
		switch {
		case pinned:
			node.State = metrics.StatePinned
		case worst.Level == decide.Drained:
			node.State = metrics.StateDrained
		case worst.Level == decide.Shed:
			node.State = metrics.StateShed
		case worst.Level == decide.Ramp25 || worst.Level == decide.Ramp50:
			node.State = metrics.StateRestoring
		case !fresh:
			node.State = metrics.StateNoData
		default:
			node.State = metrics.StateOK
		}
		out = append(out, node)
	}
	s.mu.Unlock()
	// The watcher has its own lock: read it outside the engine's.
	for i := range out {
		for j := range out[i].Servers {
			v := &out[i].Servers[j]
			if srv, ok := s.lbs.Server(v.LB, v.Backend, v.Server); ok {
				v.Known, v.Weight = true, float64(srv.WeightPct)/100
			}
		}
	}
	return out
}
