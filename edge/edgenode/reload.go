package edgenode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"

	"github.com/rackwatch/rackwatch/edge/agent"
	"github.com/rackwatch/rackwatch/edge/config"
)

// ErrStopped is returned by Reload once the node has stopped.
var ErrStopped = errors.New("edgenode: node stopped")

// ReloadResult is what a reload changed.
type ReloadResult struct {
	// Plan says which sources kept running, and which were rebuilt,
	// removed and added.
	Plan agent.Plan
	// NeedRestart lists the keys that changed but only take effect at the
	// next start; their running values stay.
	NeedRestart []string
}

// ReloadFile loads the configuration at path and reloads it. An invalid
// file changes nothing: each of its errors is logged, naming the file, the
// line and the key, and the node keeps running its configuration.
func (n *Node) ReloadFile(ctx context.Context, path string) error {
	cfg, err := config.Load(path)
	if err != nil {
		for _, e := range flatten(err) {
			n.log.Error("invalid configuration not reloaded; the running one stays", "err", e)
		}
		return fmt.Errorf("edgenode: reload %s: %w", path, err)
	}
	for _, w := range cfg.Warnings() {
		n.log.Warn("configuration: " + w)
	}
	_, err = n.Reload(ctx, cfg)
	return err
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// Reload applies a validated configuration to the running node. A source
// whose configuration entry is unchanged keeps running as it is (same
// instance, no new probe); a changed one is closed and rebuilt; a removed
// one is closed; a new one is started. The changed and new sources are
// built before anything stops, so a source that cannot be built (a bus
// that does not open) leaves the running configuration whole. The sources
// scheduling policy, the notification receiver and the log level follow
// the new configuration too, and so does the metrics endpoint (opened,
// moved or closed), and so do the commands section's trusted keys. Changes to the edge, mqtt and spool sections
// and to host.agent_check need a restart: they are logged, named, and the
// running values stay.
func (n *Node) Reload(ctx context.Context, cfg *config.Config) (ReloadResult, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped || n.ctx.Err() != nil {
		return ReloadResult{}, ErrStopped
	}
	res := ReloadResult{NeedRestart: restartKeys(n.cfg, cfg, n.opts.LogLevel != nil)}
	if len(res.NeedRestart) > 0 {
		n.log.Warn("configuration changes that need a restart were not applied", "keys", strings.Join(res.NeedRestart, ", "))
	}
	wanted := agent.Entries(cfg)
	plan := agent.Diff(n.entries, wanted)
	res.Plan = plan

	rebuild := make(map[string]bool, len(plan.Restart)+len(plan.Add))
	for _, d := range slices.Concat(plan.Restart, plan.Add) {
		rebuild[d] = true
	}
	var toBuild []agent.Entry
	for _, e := range wanted {
		if rebuild[e.Device] {
			toBuild = append(toBuild, e)
		}
	}
	built, err := n.builder.Build(toBuild)
	if err != nil {
		n.log.Error("configuration not reloaded; the running one stays", "err", err)
		return res, fmt.Errorf("edgenode: reload: %w", err)
	}
	var old []agent.Source
	for _, d := range slices.Concat(plan.Restart, plan.Remove) {
		old = append(old, n.sources[d])
		delete(n.sources, d)
	}
	n.Scheduler.Remove(old...)
	for _, d := range plan.Remove {
		n.controls.Unregister(d)
	}
	for i, e := range toBuild {
		n.sources[e.Device] = built[i]
	}
	if err := n.Scheduler.Add(built...); err != nil {
		return res, fmt.Errorf("edgenode: reload: %w", err)
	}
	n.builder.Prune(wanted)
	n.entries = wanted
	n.refresh()
	n.Scheduler.SetPolicy(policyOf(cfg))
	if n.opts.LogLevel != nil {
		var l slog.Level
		if err := l.UnmarshalText([]byte(cfg.Log.Level)); err == nil {
			n.opts.LogLevel.Set(l)
		}
	}
	n.reloadTraps(cfg)
	if err := n.metrics.set(n.ctx, cfg.Metrics.Listen); err != nil {
		n.log.Error("metrics.listen not applied; the endpoint stays as it was", "err", err, "serving", n.metrics.boundAddr())
	}
	if err := n.verifier.SetKeys(cfg.Commands.Keys(), cfg.Commands.Signed(), cfg.Commands.MaxClockSkew); err != nil {
		n.log.Error("commands.trusted_keys not reloaded; the running keys stay", "err", err)
	}
	if fansRebuilt(built) {
		// A fan controller opened afresh may have been configured to its
		// defaults: put the active overrides back.
		if err := n.cmds.Restore(ctx); err != nil {
			n.log.Error("restoring command overrides after a reload", "err", err)
		}
	}

	kept := *cfg
	kept.Edge, kept.MQTT, kept.Spool = n.cfg.Edge, n.cfg.MQTT, n.cfg.Spool
	kept.Host.AgentCheck = n.cfg.Host.AgentCheck
	if n.opts.LogLevel == nil {
		kept.Log = n.cfg.Log
	}
	n.cfg = &kept
	n.log.Info("configuration reloaded", "kept", len(plan.Keep), "restarted", plan.Restart, "removed", plan.Remove, "added", plan.Add)
	return res, nil
}

// reloadTraps replaces the notification receiver when what it is built
// from changed: its own section, or the SNMP targets it matches senders to.
func (n *Node) reloadTraps(cfg *config.Config) {
	in := trapInputsOf(cfg)
	running, r := n.traps.current()
	if running.equal(in) {
		return
	}
	if cfg.Traps.Listen == "" {
		n.traps.replace(n.ctx, nil, in)
		if r != nil {
			n.log.Info("trap receiver stopped")
		}
		return
	}
	r, err := trapReceiver(cfg, n.ifName, n.Publisher, n.log, n.now)
	if err != nil {
		n.log.Error("trap receiver not reloaded; the running one stays", "err", err)
		return
	}
	n.traps.replace(n.ctx, r, in)
	n.log.Info("trap receiver restarted", "listen", cfg.Traps.Listen)
}

func fansRebuilt(built []agent.Source) bool {
	return len(agent.FanControllers(built)) > 0
}

// restartKeys names the keys whose change needs a restart: the node's
// identity and state directory, the MQTT connection, the spool, the
// agent-check responder, and the log level unless it can be set live.
func restartKeys(old, cfg *config.Config, liveLogLevel bool) []string {
	var keys []string
	keys = changedKeys(keys, "edge", old.Edge, cfg.Edge)
	keys = changedKeys(keys, "mqtt", old.MQTT, cfg.MQTT)
	keys = changedKeys(keys, "spool", old.Spool, cfg.Spool)
	if responderAddr(old) != responderAddr(cfg) {
		keys = append(keys, "host.agent_check")
	}
	if !liveLogLevel && old.Log != cfg.Log {
		keys = append(keys, "log.level")
	}
	return keys
}

// changedKeys appends section.key for each field of the section structs a
// and b that differs, named by its YAML key.
func changedKeys(keys []string, section string, a, b any) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := range va.NumField() {
		if reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			continue
		}
		f := va.Type().Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		keys = append(keys, section+"."+name)
	}
	return keys
}
