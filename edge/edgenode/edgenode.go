// Package edgenode runs a complete rackwatch edge node: it loads the
// persisted sequence, builds the sources from the configuration, and runs
// them together with the MQTT publisher until its context ends. A running
// node reloads its configuration on request (Node.Reload), rebuilding only
// the sources whose configuration changed. It publishes its own health,
// including each source's collect statistics and the state of its clock,
// under the device StatusDevice. The rackwatch-edge binary and the demo
// both run edges through it.
package edgenode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/edge/agent"
	"github.com/rackwatch/rackwatch/edge/agentcheck"
	"github.com/rackwatch/rackwatch/edge/cmdsign"
	"github.com/rackwatch/rackwatch/edge/command"
	"github.com/rackwatch/rackwatch/edge/config"
	"github.com/rackwatch/rackwatch/edge/publish"
	"github.com/rackwatch/rackwatch/edge/sdnotify"
	"github.com/rackwatch/rackwatch/edge/seqstore"
	"github.com/rackwatch/rackwatch/edge/snmppoll"
	"github.com/rackwatch/rackwatch/edge/spool"
	"github.com/rackwatch/rackwatch/edge/traps"
)

// Opts are the run-time dependencies of a node.
type Opts struct {
	Logger *slog.Logger
	// LogLevel, if set, is the level of Logger's handler: a reload sets it
	// from log.level.
	LogLevel *slog.LevelVar
	// OpenBus opens real I2C buses; nil means the node can only use the
	// emulated bus.
	OpenBus agent.BusOpener
	Now     func() time.Time
	// ClockSynced reports whether the system clock is synchronised; nil
	// means SystemClockSynced. While it is not, data is flagged.
	ClockSynced func() bool
	// Ready, if set, is called with the node once it is built, before it
	// starts: a caller keeps it to reach the emulated chips, the
	// publisher's counters and the sources, and to reload.
	Ready func(*Node)
	// Notifier reports to systemd; nil means sdnotify.FromEnv().
	Notifier *sdnotify.Notifier
}

// Node is a running edge node.
type Node struct {
	Publisher *publish.Publisher
	Scheduler *agent.Scheduler

	log      *slog.Logger
	opts     Opts
	now      func() time.Time
	builder  *agent.Builder
	controls *agent.Controls
	cmds     *command.Manager
	verifier *cmdsign.Verifier
	fans     *fanDuty
	traps    *trapRunner
	metrics  *metricsRunner
	pollers  atomic.Pointer[map[string]*snmppoll.Poller]

	mu      sync.Mutex // serialises reloads, and a reload with the node's end
	ctx     context.Context
	stopped bool
	cfg     *config.Config // in force
	entries []agent.Entry
	sources map[string]agent.Source // by device, those built from entries
}

// Emulated returns the model of an emulated sensor by sensor name, so a
// demo or a test can change what it senses (type-assert to the model, such
// as *i2cemu.TMP102).
func (n *Node) Emulated(sensor string) (i2cemu.Device, bool) { return n.builder.Emulated(sensor) }

// Source returns the running source of a configured device.
func (n *Node) Source(device string) (agent.Source, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	s, ok := n.sources[device]
	return s, ok
}

// MetricsAddr is the address the Prometheus endpoint is bound to, with
// its port when metrics.listen gave 0; "" when none is served.
func (n *Node) MetricsAddr() string { return n.metrics.boundAddr() }

// Run runs the node described by cfg until ctx ends.
func Run(ctx context.Context, cfg *config.Config, opts Opts) error {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	if opts.ClockSynced == nil {
		opts.ClockSynced = SystemClockSynced
	}
	if err := os.MkdirAll(cfg.Edge.StateDir, 0o750); err != nil {
		return fmt.Errorf("edgenode: state directory: %w", err)
	}
	store, err := seqstore.Open(filepath.Join(cfg.Edge.StateDir, "sample-seq.json"), 0)
	if err != nil {
		return fmt.Errorf("edgenode: %w", err)
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("saving the sample sequence", "err", err)
		}
	}()
	queue, err := spool.Open(filepath.Join(cfg.Edge.StateDir, "spool"), spool.Opts{
		MaxBytes: int64(cfg.Spool.MaxMB) << 20, FlushInterval: cfg.Spool.FlushInterval, Logger: log, Now: now,
	})
	if err != nil {
		return fmt.Errorf("edgenode: %w", err)
	}
	defer func() {
		if err := queue.Close(); err != nil {
			log.Error("closing the spool", "err", err)
		}
	}()
	resumeSequence(store, queue, log)
	qos := *cfg.MQTT.QoS
	if cfg.MQTT.Strict {
		qos = 0
	}
	tlsc, err := cfg.MQTT.TLS().Config()
	if err != nil {
		return fmt.Errorf("edgenode: mqtt tls: %w", err)
	}
	pub, err := publish.New(publish.Opts{
		Broker: cfg.MQTT.Broker, ClientID: cfg.MQTT.ClientID,
		Username: cfg.MQTT.Username, Password: string(cfg.MQTT.Password), TLS: tlsc,
		Group: cfg.Edge.Group, EdgeNode: cfg.Edge.Node, PrimaryHost: cfg.MQTT.PrimaryHost, QoS: qos,
		KeepAlive: cfg.MQTT.KeepAlive, ConnectTimeout: cfg.MQTT.ConnectTimeout,
		BackoffMax: cfg.MQTT.BackoffMax, Queue: queue,
		Store: store, Logger: log, Now: now, ClockSynced: opts.ClockSynced,
	})
	if err != nil {
		return err
	}
	builder := agent.NewBuilder(agent.BuilderOpts{OpenBus: opts.OpenBus, Now: now, Logger: log})
	defer builder.Close()
	entries := agent.Entries(cfg)
	built, err := builder.Build(entries)
	if err != nil {
		return err
	}
	live := &agent.Liveness{}
	n := &Node{
		Publisher: pub, log: log, opts: opts, now: now, builder: builder,
		controls: &agent.Controls{}, fans: &fanDuty{}, traps: &trapRunner{log: log}, metrics: &metricsRunner{log: log},
		cfg: cfg, entries: entries, sources: map[string]agent.Source{},
	}
	n.Scheduler = agent.NewScheduler(agent.SchedulerOpts{Sink: pub, Logger: log, Live: live, Controls: n.controls, Policy: policyOf(cfg), Now: now})
	for i, e := range entries {
		n.sources[e.Device] = built[i]
	}
	n.Scheduler.Add(built...)
	started := false
	defer func() {
		if !started { // the scheduler did not run to close them
			for _, s := range n.Scheduler.Sources() {
				s.Close()
			}
		}
	}()
	n.refresh()
	log.Info("edge node starting", "group", cfg.Edge.Group, "node", cfg.Edge.Node, "sources", len(built), "broker", cfg.MQTT.Broker)

	notify := opts.Notifier
	if notify == nil {
		notify = sdnotify.FromEnv()
	}
	appliers := map[command.Kind]command.Applier{
		command.KindSensorEnable: n.controls.SensorEnable(),
		command.KindPollPeriod:   n.controls.PollPeriod(),
		command.KindFanDuty:      n.fans,
	}
	var responder *agentcheck.Responder
	if addr := responderAddr(cfg); addr != "" {
		if responder, err = agentcheck.New(agentcheck.Opts{Addr: addr, Logger: log, Now: now}); err != nil {
			return fmt.Errorf("edgenode: host.agent_check: %w", err)
		}
		appliers[command.KindLBState] = responder
	}
	if n.verifier, err = cmdsign.NewVerifier(cmdsign.VerifierOpts{
		Group: cfg.Edge.Group, Node: cfg.Edge.Node, Keys: cfg.Commands.Keys(), RequireSigned: cfg.Commands.Signed(),
		MaxSkew: cfg.Commands.MaxClockSkew, StatePath: filepath.Join(cfg.Edge.StateDir, "command-counters.json"), Now: now,
	}); err != nil {
		return fmt.Errorf("edgenode: %w", err)
	}
	n.cmds, err = command.New(command.Opts{StatePath: filepath.Join(cfg.Edge.StateDir, "commands.json"), Appliers: appliers, Verifier: n.verifier, Now: now, Logger: log})
	if err != nil {
		return fmt.Errorf("edgenode: %w", err)
	}
	clock := &clockWatch{check: opts.ClockSynced, log: log}
	clock.synced() // logs at once when the clock is not synchronised
	n.Scheduler.Add(&statusSource{pub: pub, cmds: n.cmds, sched: n.Scheduler, clock: clock, now: now})
	var rcv *traps.Receiver
	if cfg.Traps.Listen != "" {
		if rcv, err = trapReceiver(cfg, n.ifName, pub, log, now); err != nil {
			return err
		}
	}
	if n.metrics.handler, err = n.metricsHandler(pub, queue, int64(cfg.Spool.MaxMB)<<20, n.cmds, responder, clock); err != nil {
		return fmt.Errorf("edgenode: %w", err)
	}
	srcCtx, stopSources := context.WithCancel(ctx)
	defer stopSources()
	n.ctx = srcCtx
	if opts.Ready != nil {
		opts.Ready(n)
	}
	var wg sync.WaitGroup
	var pubErr error
	n.traps.replace(srcCtx, rcv, trapInputsOf(cfg))
	defer n.traps.stop()
	// A metrics port that cannot be bound does not stop the node: the data
	// path matters more than its monitoring, a failing scrape is what
	// alerts, and the next reload tries the address again.
	if err := n.metrics.set(srcCtx, cfg.Metrics.Listen); err != nil {
		log.Error("metrics endpoint not started", "err", err)
	}
	defer n.metrics.stop()
	started = true
	wg.Add(4)
	go func() {
		defer wg.Done()
		n.Scheduler.Run(srcCtx)
	}()
	go func() {
		defer wg.Done()
		if err := n.cmds.Run(srcCtx); err != nil {
			log.Error("command manager stopped", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		handleCommands(srcCtx, pub, n.cmds, log)
	}()
	if responder != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := responder.Run(srcCtx); err != nil {
				log.Error("agent-check responder stopped", "err", err)
			}
		}()
	}
	interval, err := sdnotify.WatchdogInterval()
	if err != nil {
		log.Warn("ignoring the systemd watchdog setting", "err", err)
	}
	if interval > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			watchdog(srcCtx, interval, notify, live, pub, now, log)
		}()
	}
	if err := notify.Ready(); err != nil {
		log.Warn("systemd notification failed", "err", err)
	}
	notify.Status(fmt.Sprintf("%d sources, publishing to %s", len(built)+1, cfg.MQTT.Broker))
	defer notify.Stopping()
	go func() {
		defer wg.Done()
		pubErr = pub.Run(ctx)
		stopSources() // nothing can publish any more
	}()
	wg.Wait()
	stopSources()
	n.mu.Lock()
	n.stopped = true // no reload past this point: the builder closes next
	n.mu.Unlock()
	if pubErr != nil && !errors.Is(pubErr, context.Canceled) {
		return pubErr
	}
	return nil
}

// policyOf returns the scheduling policy cfg sets.
func policyOf(cfg *config.Config) agent.Policy {
	s := cfg.Sources
	return agent.Policy{MaxConcurrent: s.MaxConcurrent, BreakerFailures: s.BreakerFailures, BreakerBackoffMax: s.BreakerBackoffMax}
}

// responderAddr is the address of the agent-check responder cfg runs, or "".
func responderAddr(cfg *config.Config) string {
	if !cfg.Host.Enabled {
		return ""
	}
	return cfg.Host.AgentCheck
}

// refresh points what reaches sources by name (trap interface names, fan
// commands) at the running sources. The caller holds n.mu or owns n alone.
func (n *Node) refresh() {
	pollers := map[string]*snmppoll.Poller{}
	var srcs []agent.Source
	for _, s := range n.sources {
		srcs = append(srcs, s)
		if src, ok := s.(*agent.SNMPSource); ok {
			pollers[src.Name] = src.Poller
		}
	}
	n.pollers.Store(&pollers)
	n.fans.set(agent.FanControllers(srcs))
}

// ifName names an interface of an SNMP target as its last poll did.
func (n *Node) ifName(device string, ifIndex int) (string, bool) {
	if p, ok := (*n.pollers.Load())[device]; ok {
		return p.IfName(ifIndex)
	}
	return "", false
}

// fanDuty applies fan_duty commands to the fan controllers running now.
type fanDuty struct {
	mu sync.RWMutex
	f  command.FanDuty
}

func (d *fanDuty) set(f command.FanDuty) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.f = f
}

func (d *fanDuty) get() command.FanDuty {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.f
}

// Apply implements command.Applier.
func (d *fanDuty) Apply(ctx context.Context, c command.Command) (string, error) {
	return d.get().Apply(ctx, c)
}

// Revert implements command.Applier.
func (d *fanDuty) Revert(ctx context.Context, c command.Command, prior string) error {
	return d.get().Revert(ctx, c, prior)
}

// resumeSequence makes the sample sequence continue where the spool ends.
// After a crash of the process within the same boot, the spool holds every
// sample numbered (its writes reach the page cache within 200ms), so the
// sequence resumes right after them with no gap; after a power cut the
// unsynced tail may be gone and may have been delivered, so the sequence
// resumes past its last reservation instead and the collector reports the
// skipped numbers as lost. If the sequence file was moved aside, it starts
// after the spool's records.
func resumeSequence(store *seqstore.Store, queue *spool.Spool, log *slog.Logger) {
	end := queue.End()
	switch next := store.Peek(); {
	case next < end:
		store.Reserve(int(end - next))
		log.Warn("the sample sequence was behind the spool; skipped ahead", "from", next, "to", end)
	case store.Unclean() && store.SameBoot() && end < next:
		store.Rewind(end)
		log.Info("process restarted after a crash; the sample sequence resumes after the spool", "next", end)
	case store.Unclean():
		log.Warn("previous run did not stop cleanly; the sample sequence resumes past its last reservation", "next", next)
	}
}

// handleCommands applies the commands the publisher receives, off the MQTT
// client's goroutine: an applier may take a bus transaction's time.
func handleCommands(ctx context.Context, pub *publish.Publisher, m *command.Manager, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case in := <-pub.Commands():
			for _, r := range m.HandleMessage(ctx, in.Topic, in.Payload) {
				log.Info("command", "topic", in.Topic.String(), "result", r.String())
			}
		}
	}
}

// watchdog pings systemd while the node makes progress: the publisher's
// loop has turned and no source is hung. Withholding the ping is the point:
// systemd then restarts a process whose loops stopped, which a goroutine
// that pinged unconditionally would hide.
func watchdog(ctx context.Context, every time.Duration, n *sdnotify.Notifier, live *agent.Liveness, pub *publish.Publisher, now func() time.Time, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if reason := stalled(now(), live, pub); reason != "" {
			log.Error("withholding the systemd watchdog ping", "reason", reason)
			continue
		}
		if err := n.Watchdog(); err != nil {
			log.Warn("systemd watchdog ping failed", "err", err)
		}
	}
}

// stalled explains what is hung, or returns "".
func stalled(t time.Time, live *agent.Liveness, pub *publish.Publisher) string {
	if pub.Alive().UnixNano() == 0 {
		return "the MQTT publisher loop has not started"
	}
	if d := t.Sub(pub.Alive()); d > pub.StallAfter() {
		return fmt.Sprintf("the MQTT publisher loop has not turned for %s", d.Round(time.Second))
	}
	if s := live.Stalled(t); len(s) > 0 {
		return fmt.Sprintf("sources not finishing a read: %v", s)
	}
	return ""
}
