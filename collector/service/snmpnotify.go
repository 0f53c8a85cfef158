package service

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/rackwatch/rackwatch/collector/config"
	"github.com/rackwatch/rackwatch/collector/ingest"
	"github.com/rackwatch/rackwatch/collector/snmpnotify"
	"github.com/rackwatch/rackwatch/edge/command"
)

// snmpNotify holds the SNMP notification sender and the notifier that
// feeds it; both are nil without snmp_notify in the configuration.
type snmpNotify struct {
	sender   *snmpnotify.Sender
	notifier *snmpnotify.Notifier
	// rejections follows the edges' command rejection counters, logs each
	// increase and, with a notifier, raises rwCommandRejected; it runs
	// without snmp_notify too, for the log and /metrics.
	rejections *snmpnotify.Rejections
}

// newSNMPNotify builds the sender of cfg's snmp_notify section.
func newSNMPNotify(cfg *config.Config, opts Opts) (snmpNotify, error) {
	if cfg.SNMPNotify == nil {
		return snmpNotify{rejections: newRejections(opts.Logger, nil)}, nil
	}
	targets := make([]snmpnotify.Target, 0, len(cfg.SNMPNotify.Targets))
	for _, t := range cfg.SNMPNotify.Targets {
		targets = append(targets, t.Target())
	}
	sender, err := snmpnotify.New(&snmpnotify.Opts{Targets: targets, Logger: opts.Logger, Now: opts.Now})
	if err != nil {
		return snmpNotify{}, fmt.Errorf("service: %w", err)
	}
	n := snmpnotify.NewNotifier(snmpnotify.NotifierOpts{Sink: sender, Locate: locator(cfg)})
	return snmpNotify{sender: sender, notifier: n, rejections: newRejections(opts.Logger, n)}, nil
}

// newRejections returns the tracker of the edges' command rejections.
func newRejections(log *slog.Logger, n *snmpnotify.Notifier) *snmpnotify.Rejections {
	if log == nil {
		log = slog.Default()
	}
	return snmpnotify.NewRejections(func(edge string, reason command.Reason, added, total uint64) {
		log.Warn("an edge refused commands as not the collector's", "edge", edge, "reason", reason, "added", added, "total", total)
		if n != nil {
			n.CommandRejected(edge, reason, added, total)
		}
	}, 0)
}

// locator names the node or rack an edge's device measures, from the
// inventory: a node's BMC or host device, a rack's inlet sensor; for the
// edge itself, the rack it watches.
func locator(cfg *config.Config) func(edge, device string) (string, string) {
	type where struct{ node, rack string }
	at := map[deviceRef]where{}
	for _, n := range cfg.Nodes {
		at[deviceRef{n.Edge, n.BMC}] = where{n.Name, n.Rack}
		if h := n.Host; h != nil {
			at[deviceRef{h.Edge, h.Device}] = where{n.Name, n.Rack}
			if _, ok := at[deviceRef{h.Edge, ""}]; !ok {
				at[deviceRef{h.Edge, ""}] = where{n.Name, n.Rack} // a host-mode edge runs on its node
			}
		}
		if _, ok := at[deviceRef{n.Edge, ""}]; !ok && n.Rack != "" {
			at[deviceRef{n.Edge, ""}] = where{rack: n.Rack}
		}
	}
	for _, r := range cfg.Racks {
		if r.Edge == "" {
			continue
		}
		at[deviceRef{r.Edge, ""}] = where{rack: r.Name}
		if r.Inlet != "" {
			at[deviceRef{r.Edge, r.Inlet}] = where{rack: r.Name}
		}
	}
	return func(edge, device string) (string, string) {
		w, ok := at[deviceRef{edge, device}]
		if !ok && device != "" {
			w = where{rack: at[deviceRef{edge, ""}].rack} // a device of a rack's edge
		}
		return w.node, w.rack
	}
}

// SNMPNotifyStats returns the counters of each SNMP notification target,
// nil without snmp_notify.
func (s *Service) SNMPNotifyStats() []snmpnotify.Stats {
	if s.snmp.sender == nil {
		return nil
	}
	return s.snmp.sender.Stats()
}

// edgeWatchers hands edge births and deaths to several watchers.
type edgeWatchers []ingest.EdgeWatcher

func (w edgeWatchers) EdgeOffline(edge string, at time.Time) {
	for _, x := range w {
		x.EdgeOffline(edge, at)
	}
}

func (w edgeWatchers) EdgeOnline(edge string, at time.Time) {
	for _, x := range w {
		x.EdgeOnline(edge, at)
	}
}

// edges returns what hears of edges going offline and online: the sink,
// and the SNMP notifier when there is one.
func (s *Service) edges() ingest.EdgeWatcher {
	if s.snmp.notifier == nil {
		return sink{s}
	}
	return edgeWatchers{sink{s}, s.snmp.notifier}
}
