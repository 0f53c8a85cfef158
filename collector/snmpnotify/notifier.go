package snmpnotify

import (
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/edge/sample"
	"github.com/rackwatch/rackwatch/mibs"
)

// Sink takes alerts to send; *Sender is one. Send must not block.
type Sink interface {
	Send(Alert)
}

type discard struct{}

func (discard) Send(Alert) {}

// DefaultMaxOpen bounds the alerts a Notifier remembers as raised.
const DefaultMaxOpen = 4096

// Values of sensor_status (edge/sample's catalogue).
const (
	sensorOK      = 0
	sensorFaulted = 2
)

// NotifierOpts configure a Notifier.
type NotifierOpts struct {
	Sink Sink
	// Locate names the node and the rack an edge's device measures, for
	// the alerts about sensors and edges (device is "" for the edge
	// itself); nil leaves them empty.
	Locate func(edge, device string) (node, rack string)
	// MaxOpen bounds the raised alerts remembered until their clear
	// (default DefaultMaxOpen), since sensor and edge names come from the
	// network. Past the bound a raise is still sent but not remembered:
	// a decision's clear then carries an identifier of its own, and a
	// sensor or an edge gets no clear (and a raise per report).
	MaxOpen int
	// FirstID is the first alert identifier; 0 picks one at random, so
	// that identifiers do not repeat across restarts of the collector.
	FirstID uint32
}

// Notifier maps what the collector sees and does to RACKWATCH-MIB
// alerts, and gives the alert that clears another the identifier of the
// one that raised it. Its methods are safe for concurrent use and never
// block on the network.
type Notifier struct {
	opts NotifierOpts

	mu   sync.Mutex
	next uint32
	open map[string]raised

	untracked atomic.Uint64
}

// raised is an alert waiting for its clear.
type raised struct {
	id       uint32
	severity mibs.Severity
}

// NewNotifier returns a Notifier that sends to opts.Sink.
func NewNotifier(opts NotifierOpts) *Notifier {
	if opts.MaxOpen <= 0 {
		opts.MaxOpen = DefaultMaxOpen
	}
	if opts.Sink == nil {
		opts.Sink = discard{}
	}
	n := &Notifier{opts: opts, next: opts.FirstID, open: map[string]raised{}}
	for n.next == 0 {
		n.next = rand.Uint32()
	}
	return n
}

// Untracked counts raises not remembered because MaxOpen alerts were open.
func (n *Notifier) Untracked() uint64 { return n.untracked.Load() }

// newID returns the next identifier; rwAlertId skips 0.
func (n *Notifier) newID() uint32 {
	id := n.next
	n.next++
	if n.next == 0 {
		n.next = 1
	}
	return id
}

// raise opens (or, for an escalation, keeps) the alert under key and
// returns its identifier and the more severe of its severities (ITU
// severities are more severe as they are lower).
func (n *Notifier) raise(key string, sev mibs.Severity) (uint32, mibs.Severity) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.raiseLocked(key, sev)
}

func (n *Notifier) raiseLocked(key string, sev mibs.Severity) (uint32, mibs.Severity) {
	if r, ok := n.open[key]; ok {
		r.severity = min(r.severity, sev)
		n.open[key] = r
		return r.id, r.severity
	}
	id := n.newID()
	if len(n.open) >= n.opts.MaxOpen {
		n.untracked.Add(1)
		return id, sev
	}
	n.open[key] = raised{id, sev}
	return id, sev
}

// clear closes the alert under key. Without a raise on record (the
// collector restarted, or MaxOpen was reached) it returns a new
// identifier and sev; ok reports whether one was on record.
func (n *Notifier) clear(key string, sev mibs.Severity) (id uint32, severity mibs.Severity, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if r, ok := n.open[key]; ok {
		delete(n.open, key)
		return r.id, r.severity, true
	}
	return n.newID(), sev, false
}

// raiseOnce raises the alert under key unless it is open already; it
// reports whether it raised it.
func (n *Notifier) raiseOnce(key string, sev mibs.Severity) (uint32, mibs.Severity, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, open := n.open[key]; open {
		return 0, sev, false
	}
	id, sev := n.raiseLocked(key, sev)
	return id, sev, true
}

// clearOpen clears the alert under key if it is open, and reports whether
// it was.
func (n *Notifier) clearOpen(key string) (uint32, mibs.Severity, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	r, ok := n.open[key]
	if ok {
		delete(n.open, key)
	}
	return r.id, r.severity, ok
}

// Decision sends the alert of an engine decision, if it has one:
//   - shed and drain raise the node's alert in that load balancer (a
//     drain after a shed escalates the same alert), critical for hardware
//     protection; the restore that brings the node back to full service
//     clears it (rwNodeRestored), and so does a rollback
//     (rwActionRolledBack); ramp steps in between send nothing;
//   - the rack cooling, throttling and link alarms raise and clear alerts
//     of their own.
//
// Withheld, refused and dry-run actions send nothing: the load balancer
// did not change. Pins and the global switches send nothing either.
func (n *Notifier) Decision(d decide.Decision) {
	a := Alert{Node: d.Node, Rack: d.Rack, Evidence: evidenceText(d), Action: "none", Values: values(d.Evidence)}
	switch d.Action {
	case decide.ActShed, decide.ActDrain, decide.ActRestore, decide.ActRollback:
		if !d.Taken || d.DryRun {
			return
		}
		key := "lb\x00" + d.Node + "\x00" + d.LB + "\x00" + d.Backend + "\x00" + d.Server
		a.Action = string(d.Action) + ": " + d.Desired.String() + " on " + d.LB + " " + d.Backend + "/" + d.Server
		switch d.Action {
		case decide.ActShed, decide.ActDrain:
			a.Notification, a.State, a.Severity = mibs.NodeShedOID, mibs.AlertActive, mibs.SeverityMinor
			if d.Action == decide.ActDrain {
				a.Notification, a.Severity = mibs.NodeDrainedOID, mibs.SeverityMajor
			}
			if d.Alarm == decide.AlarmHardware || strings.HasPrefix(d.Cause, "hardware protection") {
				a.Severity = mibs.SeverityCritical
			}
			a.ID, a.Severity = n.raise(key, a.Severity)
		case decide.ActRestore:
			if d.To != decide.Full {
				return
			}
			a.Notification, a.State = mibs.NodeRestoredOID, mibs.AlertClear
			a.ID, a.Severity, _ = n.clear(key, mibs.SeverityMinor)
		case decide.ActRollback:
			a.Notification, a.State = mibs.ActionRolledBackOID, mibs.AlertClear
			a.ID, a.Severity, _ = n.clear(key, mibs.SeverityMinor)
		}
	case decide.ActAlarm:
		var key string
		switch d.Alarm {
		case decide.AlarmRackCooling:
			a.Notification, a.Severity, key = mibs.RackCoolingAlarmOID, mibs.SeverityCritical, "rack\x00"+d.Rack
		case decide.AlarmThrottling:
			a.Notification, a.Severity, key = mibs.NodeThrottlingOID, mibs.SeverityWarning, "throttle\x00"+d.Node
		case decide.AlarmLinkDegraded:
			a.Notification, a.Severity, key = mibs.LinkErrorsDegradingOID, mibs.SeverityWarning, "link\x00"+d.Node
		default:
			return
		}
		if d.AlarmActive {
			a.State = mibs.AlertActive
			a.ID, a.Severity = n.raise(key, a.Severity)
		} else {
			a.State = mibs.AlertClear
			a.ID, a.Severity, _ = n.clear(key, a.Severity)
		}
	default:
		return
	}
	n.opts.Sink.Send(a)
}

// EdgeOffline raises the edge's offline alert, once per outage.
func (n *Notifier) EdgeOffline(edge string, _ time.Time) {
	a := Alert{Notification: mibs.EdgeOfflineOID, State: mibs.AlertActive, Edge: edge, Action: "none",
		Evidence: "Sparkplug NDEATH: the edge's MQTT session ended; its racks and nodes are not watched"}
	var ok bool
	if a.ID, a.Severity, ok = n.raiseOnce("edge\x00"+edge, mibs.SeverityMajor); !ok {
		return
	}
	a.Node, a.Rack = n.locate(edge, "")
	n.opts.Sink.Send(a)
}

// EdgeOnline clears the edge's offline alert. A birth without an outage
// on record (a rebirth, or the collector's own start) sends nothing.
func (n *Notifier) EdgeOnline(edge string, _ time.Time) {
	a := Alert{Notification: mibs.EdgeOnlineOID, State: mibs.AlertClear, Edge: edge, Action: "none",
		Evidence: "Sparkplug NBIRTH: the edge is online again"}
	var ok bool
	if a.ID, a.Severity, ok = n.clearOpen("edge\x00" + edge); !ok {
		return
	}
	a.Node, a.Rack = n.locate(edge, "")
	n.opts.Sink.Send(a)
}

// Samples raises a sensor fault when an edge reports a sensor faulted
// (sensor_status 2: it publishes no values from it), and clears it when
// the sensor reports ok again. A failing sensor (1) changes nothing.
func (n *Notifier) Samples(edge, device string, samples []sample.Sample) {
	for _, s := range samples {
		if s.Metric != sample.SensorStatus {
			continue
		}
		sensor := device + "/" + s.Labels.Get("sensor")
		key := "sensor\x00" + edge + "\x00" + sensor
		a := Alert{Notification: mibs.SensorFaultOID, Edge: edge, Sensor: sensor, Action: "none"}
		var ok bool
		switch s.Value.Uint() {
		case sensorFaulted:
			a.State, a.Evidence = mibs.AlertActive, "sensor_status 2: faulted, no values published"
			a.ID, a.Severity, ok = n.raiseOnce(key, mibs.SeverityMinor)
		case sensorOK:
			a.State, a.Evidence = mibs.AlertClear, "sensor_status 0: ok"
			a.ID, a.Severity, ok = n.clearOpen(key)
		}
		if !ok {
			continue
		}
		a.Node, a.Rack = n.locate(edge, device)
		n.opts.Sink.Send(a)
	}
}

func (n *Notifier) locate(edge, device string) (string, string) {
	if n.opts.Locate == nil {
		return "", ""
	}
	return n.opts.Locate(edge, device)
}

// evidenceText is the decision's cause and evidence, as the audit log
// writes them.
func evidenceText(d decide.Decision) string {
	var b strings.Builder
	b.WriteString(d.Cause)
	for i, e := range d.Evidence {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(e.String())
	}
	return b.String()
}

// values converts the evidence to typed values, one per object.
func values(ev []decide.Evidence) []Value {
	var out []Value
	seen := map[string]bool{}
	for _, e := range ev {
		sv, ok := signalValue[e.Signal]
		if !ok || seen[sv.oid] {
			continue
		}
		if v, ok := scaled(sv.oid, e.Value, sv.scale); ok {
			seen[sv.oid] = true
			out = append(out, Value{OID: sv.oid, N: v})
		}
	}
	return out
}
