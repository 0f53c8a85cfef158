// Package edgenode runs a complete rackwatch edge node: it loads the
// persisted sequence, builds the sources from the configuration, and runs
// them together with the MQTT publisher until its context ends. The
// rackwatch-edge binary and the demo both run edges through it.
package edgenode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rackwatch/rackwatch/edge/agent"
	"github.com/rackwatch/rackwatch/edge/agentcheck"
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
	// OpenBus opens real I2C buses; nil means the node can only use the
	// emulated bus.
	OpenBus agent.BusOpener
	Now     func() time.Time
	// Ready, if set, is called with the built node before it starts, so a
	// caller can reach the emulated chips and the publisher's counters.
	Ready func(*Node)
	// Notifier reports to systemd; nil means sdnotify.FromEnv().
	Notifier *sdnotify.Notifier
}

// Node is a running edge node.
type Node struct {
	Built     *agent.Built
	Publisher *publish.Publisher
}

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
	pub, err := publish.New(publish.Opts{
		Broker: cfg.MQTT.Broker, ClientID: cfg.MQTT.ClientID,
		Group: cfg.Edge.Group, EdgeNode: cfg.Edge.Node, PrimaryHost: cfg.MQTT.PrimaryHost, QoS: qos,
		KeepAlive: cfg.MQTT.KeepAlive, ConnectTimeout: cfg.MQTT.ConnectTimeout,
		BackoffMax: cfg.MQTT.BackoffMax, Queue: queue,
		Store: store, Logger: log, Now: now,
	})
	if err != nil {
		return err
	}
	built, err := agent.Build(cfg, opts.OpenBus, now, log)
	if err != nil {
		return err
	}
	defer built.Close()
	if opts.Ready != nil {
		opts.Ready(&Node{Built: built, Publisher: pub})
	}
	log.Info("edge node starting", "group", cfg.Edge.Group, "node", cfg.Edge.Node, "sources", len(built.Sources), "broker", cfg.MQTT.Broker)

	notify := opts.Notifier
	if notify == nil {
		notify = sdnotify.FromEnv()
	}
	live := &agent.Liveness{}
	ctl := &agent.Controls{}
	appliers := map[command.Kind]command.Applier{
		command.KindSensorEnable: ctl.SensorEnable(),
		command.KindPollPeriod:   ctl.PollPeriod(),
	}
	if fans := agent.FanControllers(built.Sources); len(fans) > 0 {
		appliers[command.KindFanDuty] = fans
	}
	var responder *agentcheck.Responder
	if addr := cfg.Host.AgentCheck; cfg.Host.Enabled && addr != "" {
		if responder, err = agentcheck.New(agentcheck.Opts{Addr: addr, Logger: log, Now: now}); err != nil {
			return fmt.Errorf("edgenode: host.agent_check: %w", err)
		}
		appliers[command.KindLBState] = responder
	}
	cmds, err := command.New(command.Opts{StatePath: filepath.Join(cfg.Edge.StateDir, "commands.json"), Appliers: appliers, Now: now, Logger: log})
	if err != nil {
		return fmt.Errorf("edgenode: %w", err)
	}
	built.Sources = append(built.Sources, &statusSource{pub: pub, cmds: cmds, now: now})
	var rcv *traps.Receiver
	if cfg.Traps.Listen != "" {
		if rcv, err = trapReceiver(cfg, built.Sources, pub, log, now); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	var pubErr error
	wg.Add(2)
	srcCtx, stopSources := context.WithCancel(ctx)
	go func() {
		defer wg.Done()
		agent.Run(srcCtx, built.Sources, pub, log, live, ctl)
	}()
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := cmds.Run(srcCtx); err != nil {
			log.Error("command manager stopped", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		handleCommands(srcCtx, pub, cmds, log)
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
	if rcv != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := rcv.Run(srcCtx); err != nil {
				log.Error("trap receiver stopped", "err", err)
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
	notify.Status(fmt.Sprintf("%d sources, publishing to %s", len(built.Sources), cfg.MQTT.Broker))
	defer notify.Stopping()
	go func() {
		defer wg.Done()
		pubErr = pub.Run(ctx)
		stopSources() // nothing can publish any more
	}()
	wg.Wait()
	stopSources()
	if pubErr != nil && !errors.Is(pubErr, context.Canceled) {
		return pubErr
	}
	return nil
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

// trapReceiver builds the notification receiver. A notification is
// published under the SNMP target whose address sent it, with the
// interface named as that target's last poll named it.
func trapReceiver(cfg *config.Config, sources []agent.Source, pub *publish.Publisher, log *slog.Logger, now func() time.Time) (*traps.Receiver, error) {
	pollers := map[string]*snmppoll.Poller{}
	for _, s := range sources {
		if src, ok := s.(*agent.SNMPSource); ok {
			pollers[src.Name] = src.Poller
		}
	}
	targets := map[netip.Addr]string{}
	for _, t := range cfg.SNMP {
		host := t.Address
		if h, _, err := net.SplitHostPort(t.Address); err == nil {
			host = h
		}
		addrs := []netip.Addr{}
		if a, err := netip.ParseAddr(host); err == nil {
			addrs = append(addrs, a)
		} else if ips, err := net.LookupIP(host); err == nil {
			for _, ip := range ips {
				if a, ok := netip.AddrFromSlice(ip); ok {
					addrs = append(addrs, a.Unmap())
				}
			}
		} else {
			log.Warn("cannot resolve an SNMP target for trap matching", "target", t.Name, "address", t.Address, "err", err)
		}
		for _, a := range addrs {
			targets[a] = t.Name
		}
	}
	ifName := func(device string, ifIndex int) (string, bool) {
		if p, ok := pollers[device]; ok {
			return p.IfName(ifIndex)
		}
		return "", false
	}
	o := cfg.Traps.TrapOpts()
	o.Targets, o.Logger, o.Now = targets, log, now
	o.Handler = func(e traps.Event) {
		if err := pub.Enqueue(e.Device, e.Samples(ifName)); err != nil {
			log.Warn("queueing a notification", "device", e.Device, "err", err)
		}
	}
	r, err := traps.New(o)
	if err != nil {
		return nil, fmt.Errorf("edgenode: %w", err)
	}
	return r, nil
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
