// Package metrics exposes the collector to Prometheus: what it receives
// from the edges, the decisions it takes and withholds, the safety budget,
// the load balancers it reads and steers, the sinks it writes to, and the
// current state of every node in the inventory. Like the edge's (package
// edge/metrics) it keeps no counters of its own: each scrape reads the
// snapshots the running parts already keep. The collector's HTTP API
// serves it at /metrics (docs/api.md, docs/metrics.md).
package metrics

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rackwatch/rackwatch/edge/metrics/expose"

	"github.com/rackwatch/rackwatch/collector/actuate"
	"github.com/rackwatch/rackwatch/collector/audit"
	"github.com/rackwatch/rackwatch/collector/haplog"
	"github.com/rackwatch/rackwatch/collector/ingest"
	"github.com/rackwatch/rackwatch/collector/lbwatch"
)

// Engine is the decision engine's switches and budget.
type Engine struct {
	Passes          uint64 // decision passes run
	Stopped, DryRun bool
	// ActionsLastHour are the escalations in the last hour, and
	// MaxActionsPerHour the policy's bound on them.
	ActionsLastHour, MaxActionsPerHour int
}

// Actuator is one actuator's work.
type Actuator struct {
	Name                     string
	Applied, Failed, Retries uint64
}

// Sink is one write-behind sink (InfluxDB).
type Sink struct {
	Name            string
	Errors, Dropped uint64
}

// Notify is one SNMP notification target's work.
type Notify struct {
	Target                string
	Sent, Failed, Dropped uint64
	InformsAcked, Retries uint64
	Queued                int
}

// Node states, one of which is current for each node.
const (
	StateOK        = "ok"        // full service, with fresh data
	StateShed      = "shed"      // weight lowered
	StateDrained   = "drained"   // no new traffic
	StateRestoring = "restoring" // on the ramp back to full service
	StatePinned    = "pinned"    // an operator holds it: pinned in the API or changed in the load balancer
	StateNoData    = "no_data"   // in full service, but without a fresh CPU temperature the engine cannot protect it
)

// States lists the node states in the order they are exposed.
var States = []string{StateOK, StateShed, StateDrained, StateRestoring, StatePinned, StateNoData}

// Node is one inventory node's current state.
type Node struct {
	Name, Rack string
	State      string // one of States
	// Since is when the engine entered the node's level; zero if unknown.
	Since   time.Time
	Servers []Server
}

// Server is one of a node's load-balancer servers as HAProxy shows it.
type Server struct {
	LB, Backend, Server string
	// Known is false when the load balancer could not be read.
	Known bool
	// Weight is the current weight as a fraction of the configured one.
	Weight float64
}

// Opts say where each group of metrics is read from; a nil reader leaves
// its metrics out.
type Opts struct {
	Ingest     func() ingest.Stats
	Audit      func() audit.Counters
	Engine     func() Engine
	Reconciler func() actuate.Stats
	Actuators  func() []Actuator
	HAProxy    func() []lbwatch.InstanceStats
	RequestLog func() haplog.Counters
	Sinks      func() []Sink
	Notify     func() []Notify
	Nodes      func() []Node

	// CommandRejections returns the commands the edges reported refusing
	// as unsigned, forged, expired or replayed since the collector
	// started, by reason.
	CommandRejections func() map[string]uint64

	// APIRateLimited returns the API requests refused by its rate limit.
	APIRateLimited func() uint64
}

// Collector is a prometheus.Collector over the collector's counters.
type Collector struct{ opts Opts }

var _ prometheus.Collector = (*Collector)(nil)

// New returns a Collector reading from opts.
func New(opts Opts) *Collector { return &Collector{opts: opts} }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

const ns = "rackwatch_collector_"

var (
	mqttConnected = desc(ns+"mqtt_connected", "Whether the collector is connected to the MQTT broker (1) or not (0).")
	messages      = desc(ns+"messages_total", "Sparkplug messages decoded.")
	malformed     = desc(ns+"messages_malformed_total", "Sparkplug messages that could not be decoded.")
	msgDropped    = desc(ns+"messages_dropped_total", "Sparkplug messages dropped because the decode queue was full.")
	rebirths      = desc(ns+"rebirth_requests_total", "Rebirth requests sent to edges.")
	samplesIn     = desc(ns+"samples_received_total", "Samples decoded and stored (births' current values included).")
	samplesLost   = desc(ns+"samples_lost_total", "Samples the edges numbered but the collector never received.")
	samplesDup    = desc(ns+"samples_duplicate_total", "Samples received twice and dropped.")
	seqGaps       = desc(ns+"sequence_gaps_total", "Sparkplug messages missed according to their seq numbers.")

	decisions      = desc(ns+"decisions_total", "Decisions recorded, by action and outcome (taken, withheld, dry_run).", "action", "outcome")
	passes         = desc(ns+"decision_passes_total", "Passes of the decision loop.")
	stopped        = desc(ns+"global_stop", "Whether the global stop switch is engaged (1): every action is withheld.")
	dryRun         = desc(ns+"dry_run", "Whether decisions are recorded in shadow mode only (1).")
	actionsHour    = desc(ns+"actions_last_hour", "Sheds and drains taken in the last hour, against the safety budget.")
	actionsMax     = desc(ns+"max_actions_per_hour", "The safety budget: at most this many sheds and drains per hour (policy.max_actions_per_hour).")
	auditPublished = desc(ns+"audit_events_published_total", "Decision events the broker accepted.")
	auditDropped   = desc(ns+"audit_events_dropped_total", "Decision events dropped because their queue was full.")
	auditFailed    = desc(ns+"audit_events_failed_total", "Decision events the broker refused.")
	auditQueued    = desc(ns+"audit_events_queued", "Decision events waiting for the broker.")

	recPasses     = desc(ns+"reconcile_passes_total", "Passes of the reconcile loop.")
	recApplied    = desc(ns+"reconcile_applied_total", "Desired states the reconcile loop applied again (after a restart, a divergence or a renewal).")
	recFailed     = desc(ns+"reconcile_failed_total", "Applies that failed, from the loop or from decisions.")
	recDiverged   = desc(ns+"reconcile_divergences_total", "Load-balancer states found to differ from the desired state.")
	recObserveErr = desc(ns+"reconcile_observe_errors_total", "Reads of a load balancer's state that failed during reconciling.")
	actApplied    = desc(ns+"actuator_applied_total", "Desired states an actuator carried out.", "actuator")
	actFailed     = desc(ns+"actuator_failed_total", "Desired states an actuator could not carry out.", "actuator")
	actRetries    = desc(ns+"actuator_retries_total", "Attempts an actuator repeated.", "actuator")

	lbUp       = desc(ns+"haproxy_up", "Whether the last read of the HAProxy runtime API succeeded (1) or not (0).", "haproxy")
	lbPolls    = desc(ns+"haproxy_polls_total", "Reads of the HAProxy runtime API finished.", "haproxy")
	lbFailures = desc(ns+"haproxy_poll_failures_total", "Reads of the HAProxy runtime API that failed.", "haproxy")
	lbDuration = desc(ns+"haproxy_poll_duration_seconds", "How long the last read of the HAProxy runtime API took.", "haproxy")
	lbRestarts = desc(ns+"haproxy_restarts_total", "HAProxy restarts seen (each loses the runtime changes, which are put back).", "haproxy")

	logLines   = desc(ns+"request_log_lines_total", "HAProxy request-log lines received.")
	logParsed  = desc(ns+"request_log_parsed_total", "HAProxy request-log lines parsed.")
	logIgnored = desc(ns+"request_log_ignored_total", "HAProxy request-log lines ignored (not an HTTP log line).")
	logDropped = desc(ns+"request_log_dropped_total", "HAProxy request-log lines dropped.")

	sinkErrors  = desc(ns+"sink_write_errors_total", "Writes a sink reported as failed.", "sink")
	sinkDropped = desc(ns+"sink_dropped_total", "Points a sink dropped without writing them (queue full, unstorable value).", "sink")

	notifySent    = desc(ns+"notifications_sent_total", "SNMP notifications sent, by target.", "target")
	notifyFailed  = desc(ns+"notifications_failed_total", "SNMP notifications that failed (an INFORM never acknowledged), by target.", "target")
	notifyDropped = desc(ns+"notifications_dropped_total", "SNMP notifications dropped because the target's queue was full.", "target")
	notifyAcked   = desc(ns+"notifications_informs_acked_total", "SNMP INFORMs acknowledged, by target.", "target")
	notifyRetries = desc(ns+"notifications_retries_total", "SNMP INFORM and engine discovery retransmissions, by target.", "target")
	notifyQueued  = desc(ns+"notifications_queued", "SNMP notifications waiting to be sent, by target.", "target")

	apiLimited    = desc(ns+"api_rate_limited_total", "API requests refused with 429 by the rate limit.")
	cmdRejections = desc(ns+"command_rejections_total", "Commands the edges reported refusing as unsigned, forged, expired or replayed, by reason.", "reason")

	nodeState  = desc("rackwatch_node_state", "The node's current state: 1 for the state it is in, 0 for the others.", "node", "rack", "state")
	nodeSince  = desc("rackwatch_node_state_since_timestamp_seconds", "When the engine put the node at its current level, in seconds since the epoch.", "node", "rack")
	nodeWeight = desc("rackwatch_node_weight_ratio", "The server's current weight in the load balancer as a fraction of its configured weight.", "node", "haproxy", "backend", "server")
)

var all = []*prometheus.Desc{
	mqttConnected, messages, malformed, msgDropped, rebirths, samplesIn, samplesLost, samplesDup, seqGaps,
	decisions, passes, stopped, dryRun, actionsHour, actionsMax, auditPublished, auditDropped, auditFailed, auditQueued,
	recPasses, recApplied, recFailed, recDiverged, recObserveErr, actApplied, actFailed, actRetries,
	lbUp, lbPolls, lbFailures, lbDuration, lbRestarts, logLines, logParsed, logIgnored, logDropped,
	sinkErrors, sinkDropped, notifySent, notifyFailed, notifyDropped, notifyAcked, notifyRetries, notifyQueued,
	cmdRejections, apiLimited, nodeState, nodeSince, nodeWeight,
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range all {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	o := c.opts
	if o.Ingest != nil {
		st := o.Ingest()
		expose.Gauge(ch, mqttConnected, expose.Bit(st.Connected))
		expose.Counter(ch, messages, st.Messages)
		expose.Counter(ch, malformed, st.Malformed)
		expose.Counter(ch, msgDropped, st.Dropped)
		expose.Counter(ch, rebirths, st.Rebirths)
		expose.Counter(ch, samplesIn, st.Samples)
		expose.Counter(ch, samplesLost, st.SamplesLost)
		expose.Counter(ch, samplesDup, st.Duplicates)
		expose.Counter(ch, seqGaps, st.SeqGaps)
	}
	if o.Audit != nil {
		st := o.Audit()
		kinds := make([]audit.Kind, 0, len(st.Decisions))
		for k := range st.Decisions {
			kinds = append(kinds, k)
		}
		slices.SortFunc(kinds, func(a, b audit.Kind) int {
			if c := strings.Compare(string(a.Action), string(b.Action)); c != 0 {
				return c
			}
			return strings.Compare(a.Outcome, b.Outcome)
		})
		for _, k := range kinds {
			expose.Counter(ch, decisions, st.Decisions[k], string(k.Action), k.Outcome)
		}
		expose.Counter(ch, auditPublished, st.Published)
		expose.Counter(ch, auditDropped, st.Dropped)
		expose.Counter(ch, auditFailed, st.Failed)
		expose.Gauge(ch, auditQueued, float64(st.Queued))
	}
	if o.Engine != nil {
		st := o.Engine()
		expose.Counter(ch, passes, st.Passes)
		expose.Gauge(ch, stopped, expose.Bit(st.Stopped))
		expose.Gauge(ch, dryRun, expose.Bit(st.DryRun))
		expose.Gauge(ch, actionsHour, float64(st.ActionsLastHour))
		expose.Gauge(ch, actionsMax, float64(st.MaxActionsPerHour))
	}
	if o.Reconciler != nil {
		st := o.Reconciler()
		expose.Counter(ch, recPasses, st.Passes)
		expose.Counter(ch, recApplied, st.Applied)
		expose.Counter(ch, recFailed, st.Failed)
		expose.Counter(ch, recDiverged, st.Diverged)
		expose.Counter(ch, recObserveErr, st.ObserveFailed)
	}
	if o.Actuators != nil {
		for _, a := range o.Actuators() {
			expose.Counter(ch, actApplied, a.Applied, a.Name)
			expose.Counter(ch, actFailed, a.Failed, a.Name)
			expose.Counter(ch, actRetries, a.Retries, a.Name)
		}
	}
	if o.HAProxy != nil {
		for _, st := range o.HAProxy() {
			expose.Gauge(ch, lbUp, expose.Bit(st.Up), st.Name)
			expose.Counter(ch, lbPolls, st.Polls, st.Name)
			expose.Counter(ch, lbFailures, st.Failures, st.Name)
			if st.Polls > 0 {
				expose.Gauge(ch, lbDuration, st.Duration.Seconds(), st.Name)
			}
			expose.Counter(ch, lbRestarts, st.Restarts, st.Name)
		}
	}
	if o.RequestLog != nil {
		st := o.RequestLog()
		expose.Counter(ch, logLines, st.Lines)
		expose.Counter(ch, logParsed, st.Parsed)
		expose.Counter(ch, logIgnored, st.Ignored)
		expose.Counter(ch, logDropped, st.Dropped)
	}
	if o.Sinks != nil {
		for _, s := range o.Sinks() {
			expose.Counter(ch, sinkErrors, s.Errors, s.Name)
			expose.Counter(ch, sinkDropped, s.Dropped, s.Name)
		}
	}
	if o.Notify != nil {
		for _, n := range o.Notify() {
			expose.Counter(ch, notifySent, n.Sent, n.Target)
			expose.Counter(ch, notifyFailed, n.Failed, n.Target)
			expose.Counter(ch, notifyDropped, n.Dropped, n.Target)
			expose.Counter(ch, notifyAcked, n.InformsAcked, n.Target)
			expose.Counter(ch, notifyRetries, n.Retries, n.Target)
			expose.Gauge(ch, notifyQueued, float64(n.Queued), n.Target)
		}
	}
	if o.APIRateLimited != nil {
		expose.Counter(ch, apiLimited, o.APIRateLimited())
	}
	if o.CommandRejections != nil {
		rs := o.CommandRejections()
		for _, r := range slices.Sorted(maps.Keys(rs)) {
			expose.Counter(ch, cmdRejections, rs[r], r)
		}
	}
	if o.Nodes != nil {
		for _, n := range o.Nodes() {
			for _, s := range States {
				expose.Gauge(ch, nodeState, expose.Bit(n.State == s), n.Name, n.Rack, s)
			}
			if !n.Since.IsZero() {
				expose.Gauge(ch, nodeSince, float64(n.Since.UnixNano())/1e9, n.Name, n.Rack)
			}
			for _, s := range n.Servers {
				if s.Known {
					expose.Gauge(ch, nodeWeight, s.Weight, n.Name, s.LB, s.Backend, s.Server)
				}
			}
		}
	}
}
