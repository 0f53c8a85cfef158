package service

import (
	"errors"
	"fmt"
	"slices"

	"github.com/rackwatch/rackwatch/collector/api"
	"github.com/rackwatch/rackwatch/collector/audit"
	"github.com/rackwatch/rackwatch/collector/correlate"
	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/collector/ingest"
)

// The service is the API's controller.
var _ api.Controller = (*Service)(nil)

// Nodes implements api.Controller.
func (s *Service) Nodes() []api.Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	pins := s.engine.Pins()
	out := make([]api.Node, 0, len(s.cfg.Nodes))
	for _, n := range s.cfg.Nodes {
		node := api.Node{Name: n.Name, Rack: n.Rack}
		if p, ok := pins[n.Name]; ok {
			node.Pin = api.PinOf(p)
		}
		for _, lb := range n.LB {
			t := decide.Target{Node: n.Name, LB: lb.HAProxy, Backend: lb.Backend, Server: lb.Server}
			level := s.engine.Level(t)
			ev, first, at := s.engine.Evidence(t)
			e := api.Entry{LB: lb.HAProxy, Backend: lb.Backend, Server: lb.Server,
				Level: audit.LevelName(level), Desired: level.Desired().String(),
				Evidence: audit.EvidenceOf(ev), FirstFired: first, EvidenceAt: audit.Time{Time: at}}
			if v, ok := s.lbs.Server(lb.HAProxy, lb.Backend, lb.Server); ok {
				e.Observed = api.Observed{Known: true, Status: audit.StatusName(correlate.Status(v.Status)), WeightPct: v.WeightPct, At: audit.Time{Time: v.At}}
			}
			node.Entries = append(node.Entries, e)
		}
		out = append(out, node)
	}
	return out
}

func (s *Service) known(node string) error {
	if slices.ContainsFunc(s.cfg.Nodes, func(n configNode) bool { return n.Name == node }) {
		return nil
	}
	return fmt.Errorf("node %q: %w", node, api.ErrUnknownNode)
}

// Decisions implements api.Controller.
func (s *Service) Decisions(f audit.Filter) []decide.Decision { return s.audit.Decisions(f) }

// Pin implements api.Controller.
func (s *Service) Pin(node, by, reason string) (decide.Decision, error) {
	if err := s.known(node); err != nil {
		return decide.Decision{}, err
	}
	s.mu.Lock()
	d := s.engine.SetPin(node, true, by, reason, s.opts.Now())
	s.mu.Unlock()
	s.record(d) // audited, and an annotation on the node's dashboards
	return d, nil
}

// Unpin implements api.Controller.
func (s *Service) Unpin(node, by string) (decide.Decision, error) {
	if err := s.known(node); err != nil {
		return decide.Decision{}, err
	}
	s.mu.Lock()
	d := s.engine.SetPin(node, false, by, "", s.opts.Now())
	s.mu.Unlock()
	s.record(d) // audited, and an annotation on the node's dashboards
	return d, nil
}

// SetStop implements api.Controller.
func (s *Service) SetStop(on bool, by string) decide.Decision {
	s.mu.Lock()
	d := s.engine.SetStop(on, by, s.opts.Now())
	s.mu.Unlock()
	s.audit.Record(d)
	return d
}

// SetDryRun implements api.Controller.
func (s *Service) SetDryRun(on bool, by string) decide.Decision {
	s.mu.Lock()
	d := s.engine.SetDryRun(on, by, s.opts.Now())
	s.mu.Unlock()
	s.audit.Record(d)
	return d
}

// Switches implements api.Controller.
func (s *Service) Switches() api.Switches {
	s.mu.Lock()
	defer s.mu.Unlock()
	return api.Switches{Stop: s.engine.Stopped(), DryRun: s.engine.DryRun()}
}

// Ready implements api.Controller: connected to the broker and every load
// balancer read.
func (s *Service) Ready() (bool, []string) {
	var reasons []string
	if !s.ingest.Stats().Connected {
		reasons = append(reasons, "mqtt: not connected")
	}
	if ok, down := s.lbs.Reachable(); !ok {
		for _, lb := range down {
			reasons = append(reasons, "haproxy "+lb+": not read")
		}
	}
	return len(reasons) == 0, reasons
}

// auditPublisher sends decision events on the collector's MQTT connection.
type auditPublisher struct{ g *ingest.Ingester }

func (p auditPublisher) Publish(topic string, qos byte, retained bool, payload []byte) error {
	err := p.g.Publish(topic, qos, retained, payload)
	if errors.Is(err, ingest.ErrNotConnected) {
		return audit.ErrNotConnected
	}
	return err
}
