// Package service wires the collector together: MQTT ingest into the
// telemetry store, the load-balancer watcher and the request-log listener
// as latency sources, the correlator that turns them into observations, the
// decision engine, and the actuators that carry its decisions out on the
// HAProxy runtime API. Every decision is logged with its evidence, kept in
// a bounded in-memory log and, when configured, written to InfluxDB.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/rackwatch/rackwatch/collector/config"
	"github.com/rackwatch/rackwatch/collector/correlate"
	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/collector/haplog"
	"github.com/rackwatch/rackwatch/collector/haproxy"
	"github.com/rackwatch/rackwatch/collector/influx"
	"github.com/rackwatch/rackwatch/collector/ingest"
	"github.com/rackwatch/rackwatch/collector/latency"
	"github.com/rackwatch/rackwatch/collector/lbwatch"
	"github.com/rackwatch/rackwatch/collector/telemetry"
	"github.com/rackwatch/rackwatch/edge/sample"
)

// Runtime is what the collector needs from an HAProxy runtime API.
type Runtime interface {
	lbwatch.Runtime
	SetServerState(ctx context.Context, backend, server string, state haproxy.State) error
	SetWeight(ctx context.Context, backend, server string, pct int) error
}

// Opts are the run-time dependencies of the service.
type Opts struct {
	Logger *slog.Logger
	Now    func() time.Time
	// Runtimes overrides the HAProxy clients built from the configuration,
	// by instance name.
	Runtimes map[string]Runtime
	// DecisionLog bounds the decisions kept in memory (default 1000).
	DecisionLog int
}

// Service is a running collector.
type Service struct {
	cfg    *config.Config
	opts   Opts
	log    *slog.Logger
	store  *telemetry.Store
	ingest *ingest.Ingester
	lbs    *lbwatch.Watcher
	reqlog *haplog.Listener
	corr   *correlate.Correlator
	rts    map[string]Runtime
	influx *influx.Sink

	mu      sync.Mutex // guards engine and history
	engine  *decide.Engine
	history []decide.Decision
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
	s := &Service{cfg: cfg, opts: opts, log: opts.Logger, store: telemetry.New(0), rts: map[string]Runtime{}}
	var err error
	if s.engine, err = decide.New(cfg.Policy.Decide()); err != nil {
		return nil, err
	}
	if cfg.Policy.DryRun {
		s.engine.SetDryRun(true, "configuration", opts.Now())
	}
	var instances []lbwatch.Instance
	for _, h := range cfg.HAProxy {
		rt, ok := opts.Runtimes[h.Name]
		if !ok {
			c, err := haproxy.New(&haproxy.Opts{Name: h.Name, Addr: h.Address, Timeout: h.Timeout})
			if err != nil {
				return nil, fmt.Errorf("service: %w", err)
			}
			rt = c
		}
		s.rts[h.Name] = rt
		instances = append(instances, lbwatch.Instance{Name: h.Name, Runtime: rt, Period: h.Period})
	}
	s.lbs = lbwatch.New(instances, cfg.Correlation.Window, opts.Logger, opts.Now)
	var sources []latency.Source
	if h := cfg.HAProxyLog; h != nil {
		s.reqlog = haplog.New(haplog.Opts{Addr: h.Listen, Window: h.Window, Now: opts.Now, Logger: opts.Logger})
		sources = append(sources, latency.Log{L: s.reqlog})
	}
	sources = append(sources, s.lbs)
	s.corr = correlate.New(cfg, s.store, s.lbs, sources, s.engine.Policy().MinSamples)
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
func (s *Service) Decisions() []decide.Decision {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]decide.Decision(nil), s.history...)
}

// Observations returns what the engine would weigh now.
func (s *Service) Observations() []decide.Observation { return s.corr.Observations(s.opts.Now()) }

// Run runs every part until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil {
				s.log.Error(name+" stopped", "err", err)
			}
		}()
	}
	run("ingest", s.ingest.Run)
	run("load-balancer watcher", s.lbs.Run)
	if s.reqlog != nil {
		run("request log listener", s.reqlog.Run)
	}
	s.log.Info("collector running", "nodes", len(s.cfg.Nodes), "haproxy", len(s.cfg.HAProxy), "dry_run", s.engine.DryRun())
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

func (s *Service) tick(ctx context.Context) {
	now := s.opts.Now()
	obs := s.corr.Observations(now)
	s.mu.Lock()
	ds := s.engine.Evaluate(now, obs)
	s.mu.Unlock()
	for _, d := range ds {
		s.carryOut(ctx, d)
	}
}

// changesLB reports whether a decision asks the load balancer for a change.
func changesLB(d decide.Decision) bool {
	switch d.Action {
	case decide.ActShed, decide.ActDrain, decide.ActRestore, decide.ActRollback:
		return d.Taken && !d.DryRun
	}
	return false
}

func (s *Service) carryOut(ctx context.Context, d decide.Decision) {
	if changesLB(d) {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.apply(actx, d.LB, d.Backend, d.Server, d.Desired)
		cancel()
		if err != nil {
			s.mu.Lock()
			s.engine.Failed(d)
			s.mu.Unlock()
			d.Taken, d.Withheld = false, "the load balancer refused: "+err.Error()
			s.log.Error("decision not carried out", "action", d.Action, "node", d.Node, "haproxy", d.LB, "server", d.Backend+"/"+d.Server, "err", err)
		}
	}
	s.record(d)
}

// apply sets the server to exactly the desired state: to drain, the state;
// otherwise the weight first, then ready, so a server coming back from a
// drain takes its reduced share straight away.
func (s *Service) apply(ctx context.Context, lb, backend, server string, d decide.Desired) error {
	rt, ok := s.rts[lb]
	if !ok {
		return fmt.Errorf("service: unknown HAProxy instance %q", lb)
	}
	if d.Drain {
		return rt.SetServerState(ctx, backend, server, haproxy.Drain)
	}
	return errors.Join(rt.SetWeight(ctx, backend, server, d.Weight), rt.SetServerState(ctx, backend, server, haproxy.Ready))
}

func (s *Service) record(d decide.Decision) {
	s.log.Info("decision", "action", d.Action, "node", d.Node, "rack", d.Rack, "haproxy", d.LB, "server", d.Backend+"/"+d.Server,
		"to", d.To.Desired().String(), "taken", d.Taken, "withheld", d.Withheld, "dry_run", d.DryRun, "alarm", d.Alarm,
		"first_fired", d.FirstFired, "reason", d.String())
	s.mu.Lock()
	s.history = append(s.history, d)
	if len(s.history) > s.opts.DecisionLog {
		s.history = s.history[len(s.history)-s.opts.DecisionLog:]
	}
	s.mu.Unlock()
	if s.influx != nil && d.Node != "" {
		s.influx.WriteDecision(influx.Decision{TS: d.At, Node: d.Node, Backend: d.Backend, Server: d.Server, Action: string(d.Action), Reason: d.String()})
	}
}
