// Package service wires the collector together: MQTT ingest into the
// telemetry store, the load-balancer watcher and the request-log listener
// as latency sources, the correlator that turns them into observations, the
// decision engine, and the actuators that carry its decisions out on the
// HAProxy runtime API. Every decision is logged with its evidence, kept in
// a bounded in-memory log and, when configured, written to InfluxDB and
// sent to network management stations as SNMP notifications.
//
// The decision loop runs every tick, and also soon after a sample arrives
// from a device the inventory reads, so that a decision follows the sample
// that calls for it within milliseconds; passes that samples call for are
// coalesced and spaced, so a flood of samples cannot keep the loop busy.
package service

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rackwatch/rackwatch/collector/actuate"
	"github.com/rackwatch/rackwatch/collector/api"
	"github.com/rackwatch/rackwatch/collector/audit"
	"github.com/rackwatch/rackwatch/collector/broker"
	"github.com/rackwatch/rackwatch/collector/config"
	"github.com/rackwatch/rackwatch/collector/correlate"
	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/collector/haplog"
	"github.com/rackwatch/rackwatch/collector/haproxy"
	"github.com/rackwatch/rackwatch/collector/influx"
	"github.com/rackwatch/rackwatch/collector/ingest"
	"github.com/rackwatch/rackwatch/collector/latency"
	"github.com/rackwatch/rackwatch/collector/lbwatch"
	"github.com/rackwatch/rackwatch/collector/statuspage"
	"github.com/rackwatch/rackwatch/collector/telemetry"
	"github.com/rackwatch/rackwatch/edge/sample"
)

// Runtime is what the collector needs from an HAProxy runtime API:
// reading it (lbwatch) and steering it (actuate). *haproxy.Client is one.
type Runtime interface {
	lbwatch.Runtime
	actuate.Runtime
}

// Opts are the run-time dependencies of the service.
type Opts struct {
	Logger *slog.Logger
	Now    func() time.Time
	// Runtimes overrides the HAProxy clients built from the configuration,
	// by instance name.
	Runtimes map[string]Runtime
	// DecisionLog bounds the decisions kept in memory (default 10000).
	DecisionLog int
	// WakeInterval is the least time between two passes of the decision
	// loop that samples call for (default 10ms); a pass that took longer
	// is followed by a gap as long, so a flood of samples keeps the loop
	// under half a core. The tick runs regardless.
	WakeInterval time.Duration
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
	influx *influx.Sink
	act    *actuate.Reconciler
	spark  *actuate.Sparkplug // lb_state commands, nil without agent-checked nodes
	state  string             // path of the persisted desired state
	// checked notes the load balancers whose servers were checked against
	// the inventory; findings the LLDP findings last reported.
	checked  map[string]bool
	findings string
	// instances are the load balancers as lbwatch polls them, by name.
	instances map[string]lbwatch.Instance
	// watched holds the devices the inventory reads; a sample from one
	// wakes the decision loop through wake (one slot: wakes coalesce).
	watched map[deviceRef]bool
	wake    chan struct{}
	// followUps are the policy's holds shorter than the tick, sorted: a
	// woken pass that starts a hold is followed by a pass when it ends.
	followUps []time.Duration
	passes    atomic.Uint64 // decision passes run
	// nodesWritten is when the decision loop last wrote the nodes' states
	// to InfluxDB.
	nodesWritten time.Time

	audit *audit.Recorder
	api   *api.Server
	// broker is the embedded MQTT broker, when the configuration names no
	// external one.
	broker *broker.Broker

	prom promState // the Prometheus view (metrics.go)

	snmp snmpNotify // SNMP notifications (snmpnotify.go)

	page statusPage // the web status page (statuspage.go)

	mu     sync.Mutex // guards engine and gens
	engine *decide.Engine
	gens   map[string]uint64 // restarts seen per load balancer
}

type configNode = config.Node

type deviceRef struct{ edge, device string }

// New builds the service from cfg; nothing runs until Run.
func New(cfg *config.Config, opts Opts) (_ *Service, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.WakeInterval <= 0 {
		opts.WakeInterval = 10 * time.Millisecond
	}
	// systemd's StateDirectory= makes it for the unit; a collector run by
	// hand makes its own.
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		return nil, fmt.Errorf("service: state_dir: %w", err)
	}

	s := &Service{cfg: cfg, opts: opts, log: opts.Logger, store: telemetry.New(0), gens: map[string]uint64{}, checked: map[string]bool{},
		state:     filepath.Join(cfg.StateDir, "collector-state.json"),
		instances: map[string]lbwatch.Instance{}, watched: watchedDevices(cfg), wake: make(chan struct{}, 1)}
	if s.engine, err = decide.New(cfg.Policy.Decide()); err != nil {
		return nil, err
	}
	if cfg.Policy.DryRun {
		s.engine.SetDryRun(true, "configuration", opts.Now())
	}
	var instances []lbwatch.Instance
	rts := map[string]actuate.Runtime{}
	for _, h := range cfg.HAProxy {
		rt, ok := opts.Runtimes[h.Name]
		if !ok {
			c, err := haproxy.New(&haproxy.Opts{Name: h.Name, Addr: h.Address, Timeout: h.Timeout})
			if err != nil {
				return nil, fmt.Errorf("service: %w", err)
			}
			rt = c
		}
		rts[h.Name] = rt
		in := lbwatch.Instance{Name: h.Name, Runtime: rt, Period: h.Period}
		instances = append(instances, in)
		s.instances[h.Name] = in
	}
	s.followUps = followUps(s.engine.Policy(), cfg.Policy.Tick)
	saved, err := actuate.LoadState(s.state)
	switch {
	case err == nil:
		s.engine.Restore(saved.Levels, opts.Now())
		opts.Logger.Info("restored the desired state", "path", s.state, "targets", len(saved.Levels))
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("service: %w", err)
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
	if s.snmp, err = newSNMPNotify(cfg, opts); err != nil {
		return nil, err
	}
	tlsc, err := cfg.MQTT.TLS().Config()
	if err != nil {
		return nil, fmt.Errorf("service: mqtt tls: %w", err)
	}
	brokerURL := cfg.MQTT.Broker
	if brokerURL == "" {
		// Bound now, so that a port in use fails the start.
		if s.broker, err = broker.Listen(broker.Opts{Addr: cfg.MQTT.Listen, Logger: opts.Logger}); err != nil {
			return nil, fmt.Errorf("service: mqtt: %w", err)
		}
		defer func() {
			if err != nil {
				s.broker.Close()
			}
		}()
		brokerURL = s.broker.URL()
		opts.Logger.Info("embedded MQTT broker", "url", brokerURL)
	}
	s.ingest, err = ingest.New(ingest.Opts{
		Broker: brokerURL, ClientID: cfg.MQTT.ClientID, Username: cfg.MQTT.Username,
		Password: string(cfg.MQTT.Password), TLS: tlsc, Group: cfg.MQTT.Group, HostID: cfg.MQTT.HostID,
		Sink: sink{s}, Edges: s.edges(), Logger: opts.Logger, Now: opts.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	acts, err := s.actuators(cfg, rts, saved.Versions)
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	s.prom.acts = acts
	if s.act, err = actuate.New(actuate.Opts{Actuators: acts, Desired: s.desired, Logger: opts.Logger, Now: opts.Now}); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	if s.audit, err = audit.New(audit.Opts{Logger: opts.Logger, Publisher: auditPublisher{s.ingest},
		Topic: audit.Topic(cfg.MQTT.HostID), History: opts.DecisionLog, Now: opts.Now}); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	if err := s.prom.build(s); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	if a := cfg.API; a.Listen != "" {
		var tokens api.Tokens
		if a.TokensFile != "" {
			if tokens, err = api.LoadTokens(a.TokensFile); err != nil {
				return nil, fmt.Errorf("service: %w", err)
			}
		}
		if s.page.srv, err = statuspage.New(&statuspage.Opts{Source: s, Logger: opts.Logger, Now: opts.Now}); err != nil {
			return nil, fmt.Errorf("service: %w", err)
		}
		if s.api, err = api.New(api.Opts{Addr: a.Listen, Controller: s, Tokens: tokens, Logger: opts.Logger, Now: opts.Now, Metrics: s.prom.handler, Page: s.page.srv,
			RateLimit: a.APIRateLimit(), TLSCertFile: a.TLSCertFile, TLSKeyFile: a.TLSKeyFile}); err != nil {
			return nil, fmt.Errorf("service: %w", err)
		}
	}
	return s, nil
}

// sink feeds decoded telemetry to the store and, when configured, InfluxDB.
type sink struct{ s *Service }

func (k sink) Add(edge, device string, samples []sample.Sample) {
	k.s.store.Add(edge, device, samples)
	if k.s.snmp.notifier != nil {
		k.s.snmp.notifier.Samples(edge, device, samples)
	}
	if k.s.snmp.rejections != nil {
		k.s.snmp.rejections.Samples(edge, device, samples)
	}
	if k.s.watched[deviceRef{edge, device}] {
		select {
		case k.s.wake <- struct{}{}:
		default: // a pass is already called for
		}
	}
	if k.s.influx != nil {
		for _, smp := range samples {
			k.s.influx.WriteSample(edge, device, smp)
		}
	}
}

func (k sink) ForgetDevice(edge, device string) { k.s.store.ForgetDevice(edge, device) }
func (k sink) ForgetEdge(edge string)           { k.s.store.ForgetEdge(edge) }

// watchedDevices lists the devices whose samples the correlation reads
// for the inventory: the nodes' BMCs, hosts and switches, and the racks'
// inlet sensors.
func watchedDevices(cfg *config.Config) map[deviceRef]bool {
	w := map[deviceRef]bool{}
	for _, n := range cfg.Nodes {
		w[deviceRef{n.Edge, n.BMC}] = true
		if h := n.Host; h != nil {
			w[deviceRef{h.Edge, h.Device}] = true
		}
		if p := n.Switch; p != nil {
			w[deviceRef{p.Edge, p.Device}] = true
		}
	}
	for _, r := range cfg.Racks {
		if r.Inlet != "" {
			w[deviceRef{r.Edge, r.Inlet}] = true
		}
	}
	return w
}

// followUps returns the holds of p shorter than the tick, sorted and
// without repeats. The engine times a hold from the pass that first sees
// its condition, so a pass that a sample woke is followed by one at the
// end of each: a short hold then ends in a decision at once rather than
// at the next tick. Holds of a tick or more are left to the tick.
func followUps(p decide.Policy, tick time.Duration) []time.Duration {
	var out []time.Duration
	for _, d := range []time.Duration{p.Hold, p.RestoreHold, p.StepHold, p.DrainAfter} {
		if d > 0 && d < tick && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return out
}

// Store returns the telemetry store.
func (s *Service) Store() *telemetry.Store { return s.store }

// Ingest returns the MQTT ingester, for its counters.
func (s *Service) Ingest() *ingest.Ingester { return s.ingest }

// History returns the decisions recorded so far, oldest first.
func (s *Service) History() []decide.Decision {
	ds := s.audit.Decisions(audit.Filter{})
	slices.Reverse(ds)
	return ds
}

// API returns the HTTP API server, nil when it is off.
func (s *Service) API() *api.Server { return s.api }

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
	if s.broker != nil {
		// Up before the ingest connects, down after everything that
		// publishes has stopped.
		if err := s.broker.Start(); err != nil {
			return fmt.Errorf("service: %w", err)
		}
		defer s.broker.Close()
	}
	run("ingest", s.ingest.Run)
	run("reconciler", s.act.Run)
	run("audit", s.audit.Run)
	if s.snmp.sender != nil {
		run("snmp notifications", s.snmp.sender.Run)
	}
	if s.api != nil {
		run("http api", s.api.Run)
	}
	if s.page.srv != nil {
		run("status page", s.page.srv.Run)
	}
	run("load-balancer watcher", s.lbs.Run)
	if s.reqlog != nil {
		run("request log listener", s.reqlog.Run)
	}
	s.log.Info("collector running", "nodes", len(s.cfg.Nodes), "haproxy", len(s.cfg.HAProxy), "dry_run", s.engine.DryRun())
	s.loop(ctx)
	wg.Wait()
	if s.influx != nil {
		s.influx.Close()
	}
	return nil
}

// loop runs the decision passes until ctx ends: every tick, and soon after
// a sample from a watched device arrives, so a decision follows the sample
// that calls for it within milliseconds rather than within a tick. Passes
// that samples call for are at least WakeInterval apart, and at least as
// far apart as the last pass took, however many samples arrive.
func (s *Service) loop(ctx context.Context) {
	tick := time.NewTicker(s.cfg.Policy.Tick)
	defer tick.Stop()
	// soon fires when a woken pass may run; followUp when the next
	// follow-up is due.
	soon, followUp := time.NewTimer(time.Hour), time.NewTimer(time.Hour)
	soon.Stop()
	followUp.Stop()
	defer soon.Stop()
	defer followUp.Stop()
	var soonC, followC <-chan time.Time
	plan := newPassPlan(s.opts.WakeInterval, s.followUps)
	pass := func(woken bool) {
		start := time.Now()
		s.tick(ctx)
		soon.Stop()
		soonC = nil
		if due := plan.ran(start, time.Now(), woken); due.IsZero() {
			followUp.Stop()
			followC = nil
		} else {
			followUp.Reset(time.Until(due))
			followC = followUp.C
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			pass(false)
		case <-s.wake:
			wait, arm := plan.wake(time.Now())
			switch {
			case !arm: // the woken pass that waits will see this sample too
			case wait > 0:
				soon.Reset(wait)
				soonC = soon.C
			default:
				pass(true)
			}
		case <-soonC:
			pass(true)
		case <-followC:
			followC = nil
			if wait := plan.gap(time.Now()); wait > 0 {
				followUp.Reset(wait)
				followC = followUp.C
				continue
			}
			pass(false)
		}
	}
}

// desired is the engine's desired state, for the reconciler.
func (s *Service) desired() map[decide.Target]decide.Desired {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.engine.Desired()
}

func (s *Service) tick(ctx context.Context) {
	s.passes.Add(1)
	now := s.opts.Now()
	obs := s.corr.Observations(now)
	s.mu.Lock()
	ds := s.engine.Evaluate(now, obs)
	ds = append(ds, s.engine.SignalAlarms(now, obs)...)
	restarted := map[string]bool{}
	for _, h := range s.cfg.HAProxy {
		if g := s.lbs.Generation(h.Name); g != s.gens[h.Name] {
			s.gens[h.Name], restarted[h.Name] = g, true
		}
	}
	desired := s.engine.Desired()
	s.mu.Unlock()
	// A reload lost the runtime state of that load balancer: put back what
	// the engine wants there now, rather than at the next reconcile pass.
	for t, d := range desired {
		if restarted[t.LB] {
			if err := s.act.Apply(ctx, t, d); err != nil {
				s.log.Error("re-applying after an HAProxy restart", "haproxy", t.LB, "server", t.Backend+"/"+t.Server, "err", err)
			} else {
				s.log.Info("re-applied after an HAProxy restart", "haproxy", t.LB, "server", t.Backend+"/"+t.Server, "desired", d.String())
			}
		}
	}
	s.checkInventory()
	s.checkTopology()
	changed := false
	for _, d := range ds {
		changed = s.carryOut(ctx, d) || changed
	}
	if changed {
		s.saveState()
	}
	s.writeNodes(now, obs, len(ds) > 0)
	s.observed(now, obs)
}

// checkInventory reports, once per load balancer, the inventory entries it
// does not have, with the configuration file and line: a typo there would
// otherwise silently leave a node unprotected.
func (s *Service) checkInventory() {
	for _, h := range s.cfg.HAProxy {
		if s.checked[h.Name] {
			continue
		}
		if !s.lbs.Seen(h.Name) {
			continue
		}
		s.checked[h.Name] = true
		for i, n := range s.cfg.Nodes {
			for j, lb := range n.LB {
				if lb.HAProxy != h.Name {
					continue
				}
				if _, ok := s.lbs.Server(lb.HAProxy, lb.Backend, lb.Server); !ok {
					err := s.cfg.File().Errorf(fmt.Sprintf("nodes[%d].lb[%d]", i, j), "HAProxy %s has no server %s/%s: node %s is not protected", h.Name, lb.Backend, lb.Server, n.Name)
					s.log.Error("inventory names an unknown server", "err", err)
				}
			}
		}
	}
}

// checkTopology reports what LLDP says about the nodes' switch ports when
// it changes.
func (s *Service) checkTopology() {
	var b strings.Builder
	fs := s.corr.Topology()
	for _, f := range fs {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	if b.String() == s.findings {
		return
	}
	s.findings = b.String()
	for _, f := range fs {
		if f.Disagrees {
			s.log.Warn("LLDP disagrees with the inventory", "node", f.Node, "inventory", f.Inventory, "lldp", f.LLDP.String())
		} else {
			s.log.Info("switch port learned from LLDP", "node", f.Node, "lldp", f.LLDP.String())
		}
	}
}

// saveState persists the levels the engine holds, so a restarted collector
// neither forgets a drain nor flaps.
func (s *Service) saveState() {
	s.mu.Lock()
	st := actuate.State{Saved: s.opts.Now(), Levels: s.engine.Levels()}
	s.mu.Unlock()
	if s.spark != nil {
		st.Versions = s.spark.Versions()
	}
	if err := actuate.SaveState(s.state, st); err != nil {
		s.log.Error("saving the desired state", "path", s.state, "err", err)
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

// carryOut applies a decision and records it; it reports whether the load
// balancer was asked for a change.
func (s *Service) carryOut(ctx context.Context, d decide.Decision) bool {
	applied := false
	if changesLB(d) {
		actx, cancel := context.WithTimeout(actuate.WithDecision(ctx, d), 10*time.Second)
		err := s.act.Apply(actx, decide.Target{Node: d.Node, LB: d.LB, Backend: d.Backend, Server: d.Server}, d.Desired)
		cancel()
		applied = true
		if err == nil {
			s.refresh(ctx, d.LB)
		}
		if err != nil {
			s.mu.Lock()
			s.engine.Failed(d)
			s.mu.Unlock()
			d.Taken, d.Withheld = false, "the load balancer refused: "+err.Error()
			s.log.Error("decision not carried out", "action", d.Action, "node", d.Node, "haproxy", d.LB, "server", d.Backend+"/"+d.Server, "err", err)
		}
	}
	s.record(d)
	return applied
}

// refresh reads a load balancer again right after a change: until its
// next poll the view still shows the old state, and a pass that soon
// would take the difference for an operator's doing.
func (s *Service) refresh(ctx context.Context, lb string) {
	in, ok := s.instances[lb]
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.lbs.Poll(ctx, in); err != nil {
		s.log.Debug("reading the load balancer after a change", "haproxy", lb, "err", err)
	}
}

func (s *Service) record(d decide.Decision) {
	s.audit.Record(d)
	if s.snmp.notifier != nil {
		s.snmp.notifier.Decision(d)
	}
	// A rack's cooling alarm concerns no node; the switches concern neither.
	if s.influx != nil && (d.Node != "" || d.Rack != "") {
		s.influx.WriteDecision(influx.Decision{TS: d.At, Node: d.Node, Rack: d.Rack, Backend: d.Backend, Server: d.Server, Action: string(d.Action), Reason: d.String()})
	}
}
