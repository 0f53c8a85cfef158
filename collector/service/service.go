// Package service wires the collector together: MQTT ingest into the
// telemetry store, HAProxy polling, and the decision loop that turns both
// into drain and restore commands on the HAProxy runtime API. Every decision
// is logged with its evidence, kept in a bounded in-memory log and, when
// configured, written to InfluxDB.
package service

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/rackwatch/rackwatch/collector/config"
	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/collector/haproxy"
	"github.com/rackwatch/rackwatch/collector/influx"
	"github.com/rackwatch/rackwatch/collector/ingest"
	"github.com/rackwatch/rackwatch/collector/telemetry"
	"github.com/rackwatch/rackwatch/edge/sample"
)

// LoadBalancer is what the collector needs from a load balancer.
type LoadBalancer interface {
	ShowStat(ctx context.Context) ([]haproxy.Stat, error)
	SetServerState(ctx context.Context, backend, server string, state haproxy.State) error
}

// Opts are the run-time dependencies of the service.
type Opts struct {
	Logger *slog.Logger
	Now    func() time.Time
	// LoadBalancers overrides the HAProxy clients built from the
	// configuration, by instance name.
	LoadBalancers map[string]LoadBalancer
	// DecisionLog bounds the decisions kept in memory (default 1000).
	DecisionLog int
}

// Service is a running collector.
type Service struct {
	cfg     *config.Config
	opts    Opts
	log     *slog.Logger
	store   *telemetry.Store
	ingest  *ingest.Ingester
	engine  *decide.Engine
	lbs     map[string]LoadBalancer
	influx  *influx.Sink
	mu      sync.Mutex
	stats   map[string]lbStats // by HAProxy instance name
	history []decide.Action
}

type lbStats struct {
	at      time.Time
	servers map[[2]string]haproxy.Stat // backend, server
}

// New builds the service from cfg; nothing runs until Run.
func New(cfg *config.Config, opts Opts) (*Service, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.DecisionLog <= 0 {
		opts.DecisionLog = 1000
	}
	s := &Service{cfg: cfg, opts: opts, log: opts.Logger, store: telemetry.New(0),
		lbs: map[string]LoadBalancer{}, stats: map[string]lbStats{}}
	var err error
	if s.engine, err = decide.New(cfg.Policy.Decide()); err != nil {
		return nil, err
	}
	for _, h := range cfg.HAProxy {
		if lb, ok := opts.LoadBalancers[h.Name]; ok {
			s.lbs[h.Name] = lb
			continue
		}
		c, err := haproxy.New(&haproxy.Opts{Name: h.Name, Addr: h.Address, Timeout: h.Timeout})
		if err != nil {
			return nil, fmt.Errorf("service: %w", err)
		}
		s.lbs[h.Name] = c
	}
	if ic := cfg.InfluxDB; ic != nil {
		if s.influx, err = influx.New(&influx.Opts{URL: ic.URL, Database: ic.Database, RetentionPolicy: ic.RetentionPolicy,
			Username: ic.Username, Password: string(ic.Password), Logger: opts.Logger}); err != nil {
			return nil, fmt.Errorf("service: %w", err)
		}
	}
	s.ingest, err = ingest.New(ingest.Opts{
		Broker: cfg.MQTT.Broker, ClientID: cfg.MQTT.ClientID, Username: cfg.MQTT.Username,
		Password: string(cfg.MQTT.Password), Group: cfg.MQTT.Group, HostID: cfg.MQTT.HostID,
		Sink: sink{s}, Logger: opts.Logger, Now: opts.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	return s, nil
}

// sink feeds decoded telemetry to the store and, when configured, InfluxDB.
type sink struct{ s *Service }

func (k sink) Add(edge, device string, samples []sample.Sample) {
	k.s.store.Add(edge, device, samples)
	if k.s.influx != nil {
		for _, smp := range samples {
			k.s.influx.WriteSample(edge, device, smp)
		}
	}
}
func (k sink) ForgetDevice(edge, device string) { k.s.store.ForgetDevice(edge, device) }
func (k sink) ForgetEdge(edge string)           { k.s.store.ForgetEdge(edge) }

// Store returns the telemetry store.
func (s *Service) Store() *telemetry.Store { return s.store }

// Ingest returns the MQTT ingester, for its counters.
func (s *Service) Ingest() *ingest.Ingester { return s.ingest }

// Decisions returns the decisions made so far, oldest first.
func (s *Service) Decisions() []decide.Action {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]decide.Action(nil), s.history...)
}

// Run runs every part until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := s.ingest.Run(ctx); err != nil {
			s.log.Error("ingest stopped", "err", err)
		}
	}()
	for _, h := range s.cfg.HAProxy {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.pollLB(ctx, h)
		}()
	}
	s.log.Info("collector running", "nodes", len(s.cfg.Nodes), "haproxy", len(s.cfg.HAProxy), "dry_run", s.cfg.Policy.DryRun)
	t := time.NewTicker(s.cfg.Policy.Tick)
	defer t.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-t.C:
			s.tick(ctx)
		}
	}
	wg.Wait()
	if s.influx != nil {
		s.influx.Close()
	}
	return nil
}

func (s *Service) pollLB(ctx context.Context, h config.HAProxy) {
	lb := s.lbs[h.Name]
	t := time.NewTicker(h.Period)
	defer t.Stop()
	failing := false
	for {
		stats, err := lb.ShowStat(ctx)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil && !failing:
			s.log.Warn("reading HAProxy failed; retrying", "haproxy", h.Name, "address", h.Address, "err", err)
			failing = true
		case err == nil:
			if failing {
				s.log.Info("reading HAProxy recovered", "haproxy", h.Name)
				failing = false
			}
			m := map[[2]string]haproxy.Stat{}
			for _, st := range haproxy.Servers(stats) {
				m[[2]string{st.Proxy, st.Server}] = st
			}
			s.mu.Lock()
			s.stats[h.Name] = lbStats{at: s.opts.Now(), servers: m}
			s.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Observations builds the decision engine's view of every node.
func (s *Service) Observations() []decide.Observation {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var obs []decide.Observation
	for _, n := range s.cfg.Nodes {
		m := telemetry.Match{Metric: sample.TemperatureCelsius}
		if len(n.Sensors) > 0 {
			m.Labels = map[string][]string{"sensor": n.Sensors}
		}
		temp, haveTemp := s.store.Max(n.Edge, n.BMC, m, time.Time{})
		for _, lb := range n.LB {
			o := decide.Observation{Node: n.Name, LB: lb.HAProxy, Backend: lb.Backend, Server: lb.Server}
			if haveTemp {
				o.Temp, o.TempAt = temp.V, temp.At
			}
			ls := s.stats[lb.HAProxy]
			if st, ok := ls.servers[[2]string{lb.Backend, lb.Server}]; ok && now.Sub(ls.at) <= 3*s.period(lb.HAProxy) {
				o.Status = Status(st.Status)
				o.Latency, o.HaveLatency = st.RTime, true
			}
			obs = append(obs, o)
		}
	}
	return obs
}

func (s *Service) period(name string) time.Duration {
	for _, h := range s.cfg.HAProxy {
		if h.Name == name {
			return h.Period
		}
	}
	return time.Second
}

// Status maps HAProxy's status column to the engine's states. "UP 1/3"
// and "DOWN 1/2" are transitions that still count as their first word.
func Status(s string) decide.Status {
	word, _, _ := strings.Cut(s, " ")
	switch word {
	case "UP", "no":
		return decide.StatusUp
	case "DOWN", "NOLB":
		return decide.StatusDown
	case "DRAIN":
		return decide.StatusDrain
	case "MAINT":
		return decide.StatusMaint
	}
	return decide.StatusUnknown
}

func (s *Service) tick(ctx context.Context) {
	for _, a := range s.engine.Evaluate(s.opts.Now(), s.Observations()) {
		s.act(ctx, a)
	}
}

func (s *Service) act(ctx context.Context, a decide.Action) {
	var state haproxy.State
	switch a.Kind {
	case decide.Drain:
		state = haproxy.Drain
	case decide.Restore:
		state = haproxy.Ready
	}
	if state != 0 && !s.cfg.Policy.DryRun {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.lbs[a.LB].SetServerState(actx, a.Backend, a.Server, state)
		cancel()
		if err != nil {
			s.engine.Failed(a)
			s.log.Error("decision not carried out", "action", a.Kind, "node", a.Node, "haproxy", a.LB, "server", a.Backend+"/"+a.Server, "err", err)
			a.Reason += fmt.Sprintf(" [failed: %v]", err)
		}
	}
	s.log.Info("decision", "action", a.Kind, "node", a.Node, "haproxy", a.LB, "server", a.Backend+"/"+a.Server, "dry_run", s.cfg.Policy.DryRun, "reason", a.Reason)
	s.mu.Lock()
	s.history = append(s.history, a)
	if len(s.history) > s.opts.DecisionLog {
		s.history = s.history[len(s.history)-s.opts.DecisionLog:]
	}
	s.mu.Unlock()
	if s.influx != nil {
		s.influx.WriteDecision(influx.Decision{TS: a.At, Node: a.Node, Backend: a.Backend, Server: a.Server, Action: string(a.Kind), Reason: a.Reason})
	}
}
