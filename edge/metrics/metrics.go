// Package metrics exposes the edge's own health to Prometheus: samples
// collected, published and dropped, the spool's depth and I/O, each
// source's collects, the MQTT session, commands, the notification receiver
// and the agent-check responder. It keeps no counters of its own: at each
// scrape it reads the snapshots the running parts already keep (the same
// ones the edge publishes under its status device), so the two views never
// disagree and the hot paths pay nothing for the exposition.
//
// Server serves the registry on the address of the metrics.listen key.
package metrics

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rackwatch/rackwatch/edge/metrics/expose"

	"github.com/rackwatch/rackwatch/edge/agent"
	"github.com/rackwatch/rackwatch/edge/agentcheck"
	"github.com/rackwatch/rackwatch/edge/command"
	"github.com/rackwatch/rackwatch/edge/publish"
	"github.com/rackwatch/rackwatch/edge/spool"
	"github.com/rackwatch/rackwatch/edge/traps"
)

// Opts say where each group of metrics is read from. A nil reader leaves
// its metrics out; a reader that reports false (a part that is not
// running) does too.
type Opts struct {
	Publisher func() publish.Stats
	Spool     func() spool.Stats
	// SpoolCapacity is the spool's bound in bytes (spool.max_mb).
	SpoolCapacity int64
	Sources       func() []agent.SourceStats
	Commands      func() command.Counters
	Traps         func() (traps.Stats, bool)
	AgentCheck    func() (agentcheck.Stats, bool)
	ClockSynced   func() bool
}

// Collector is a prometheus.Collector over the edge's counters.
type Collector struct {
	opts Opts
}

var _ prometheus.Collector = (*Collector)(nil)

// New returns a Collector reading from opts.
func New(opts Opts) *Collector { return &Collector{opts: opts} }

const ns = "rackwatch_edge"

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(ns+"_"+name, help, labels, nil)
}

var (
	mqttConnected    = desc("mqtt_connected", "Whether the edge is connected to the MQTT broker (1) or not (0).")
	mqttSessions     = desc("mqtt_sessions_total", "MQTT connections established.")
	mqttConnectErrs  = desc("mqtt_connect_errors_total", "MQTT connection attempts that failed.")
	rebirths         = desc("rebirths_total", "Sparkplug rebirth requests answered.")
	samplesPublished = desc("samples_published_total", "Samples the broker acknowledged (or that were written, at QoS 0).")
	samplesDropped   = desc("samples_dropped_total", "Samples lost on the edge: dropped from the full spool, or refused by the queue or the Sparkplug session.")
	samplesQueued    = desc("samples_queued", "Samples waiting in the spool for the broker's acknowledgement.")
	commandsDropped  = desc("commands_dropped_total", "Sparkplug command messages dropped because they arrived faster than they were handled.")

	spoolBytes       = desc("spool_bytes", "Bytes in the spool's segment files.")
	spoolCapacity    = desc("spool_capacity_bytes", "The spool's bound (spool.max_mb); beyond it the oldest samples are dropped.")
	spoolMemoryBytes = desc("spool_memory_bytes", "Bytes of records queued in memory and not written to the spool yet.")
	spoolSegments    = desc("spool_segments", "Segment files in the spool.")
	spoolRecords     = desc("spool_records", "Unacknowledged records in the spool, on disk and in memory.")
	spoolDropped     = desc("spool_dropped_records_total", "Unacknowledged records deleted to keep the spool within its bound.")
	spoolCorrupt     = desc("spool_corrupt_total", "Damaged regions skipped when reading the spool.")
	spoolWrites      = desc("spool_writes_total", "Writes to the spool's files.")
	spoolWritten     = desc("spool_written_bytes_total", "Bytes written to the spool's files.")
	spoolFsyncs      = desc("spool_fsyncs_total", "fsync calls on the spool's files and directory.")
	spoolWriteErrs   = desc("spool_write_errors_total", "Spool writes or syncs that failed.")
	spoolFailing     = desc("spool_failing", "Whether spool writes are failing now (1) or not (0).")

	sourceUp       = desc("source_up", "Whether the source's last collect returned no error (1) or not (0).", "source")
	sourceDuration = desc("source_collect_duration_seconds", "How long the source's last collect took.", "source")
	sourceLast     = desc("source_last_collect_timestamp_seconds", "When the source's last collect ended, in seconds since the epoch.", "source")
	sourceCollects = desc("source_collects_total", "Collects run.", "source")
	sourceFailures = desc("source_failures_total", "Collects that returned an error.", "source")
	sourceSkipped  = desc("source_skipped_total", "Periods skipped because the source's circuit breaker was open.", "source")
	sourceBreaker  = desc("source_breaker_open", "Whether the source's circuit breaker is open (1) or not (0).", "source")
	sourceSamples  = desc("source_samples_total", "Samples the source's collects delivered.", "source")

	commands       = desc("commands_total", "Commands handled, by outcome.", "outcome")
	commandRefused = desc("commands_refused_total", "Commands refused, by reason.", "reason")
	commandReject  = desc("command_rejections_total", "Commands refused by the signature check (unsigned, forged, expired, replayed); also in commands_refused_total.", "reason")

	trapsDatagrams = desc("traps_datagrams_total", "Datagrams the notification receiver read, by outcome.", "outcome")
	trapsRejected  = desc("traps_rejected_total", "Notifications that failed a check, by reason.", "reason")
	trapsInforms   = desc("traps_informs_acked_total", "Responses sent to INFORMs.")

	agentAnswers  = desc("agentcheck_answers_total", "Lines the agent-check responder wrote to HAProxy.")
	agentOverflow = desc("agentcheck_overflow_total", "Answers written beyond the connection bound, without lingering.")
	agentFailed   = desc("agentcheck_failed_total", "Agent-check connections whose line could not be written.")
	agentExpired  = desc("agentcheck_expired_total", "lb_state overrides that reached their expiry.")

	clockSynced = desc("clock_synced", "Whether the system clock is synchronised (1) or not (0); while it is not, data is flagged.")
)

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		mqttConnected, mqttSessions, mqttConnectErrs, rebirths, samplesPublished, samplesDropped, samplesQueued, commandsDropped,
		spoolBytes, spoolCapacity, spoolMemoryBytes, spoolSegments, spoolRecords, spoolDropped, spoolCorrupt,
		spoolWrites, spoolWritten, spoolFsyncs, spoolWriteErrs, spoolFailing,
		sourceUp, sourceDuration, sourceLast, sourceCollects, sourceFailures, sourceSkipped, sourceBreaker, sourceSamples,
		commands, commandRefused, commandReject, trapsDatagrams, trapsRejected, trapsInforms,
		agentAnswers, agentOverflow, agentFailed, agentExpired, clockSynced,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	o := c.opts
	if o.Publisher != nil {
		st := o.Publisher()
		expose.Gauge(ch, mqttConnected, expose.Bit(st.Connected))
		expose.Counter(ch, mqttSessions, st.Sessions)
		expose.Counter(ch, mqttConnectErrs, st.ConnectErr)
		expose.Counter(ch, rebirths, st.Rebirths)
		expose.Counter(ch, samplesPublished, st.Published)
		expose.Counter(ch, samplesDropped, st.Dropped)
		expose.Gauge(ch, samplesQueued, float64(st.Queued))
		expose.Counter(ch, commandsDropped, st.CommandsDropped)
	}
	if o.Spool != nil {
		st := o.Spool()
		expose.Gauge(ch, spoolBytes, float64(st.DiskBytes))
		if o.SpoolCapacity > 0 {
			expose.Gauge(ch, spoolCapacity, float64(o.SpoolCapacity))
		}
		expose.Gauge(ch, spoolMemoryBytes, float64(st.MemoryBytes))
		expose.Gauge(ch, spoolSegments, float64(st.Segments))
		expose.Gauge(ch, spoolRecords, float64(st.Pending))
		expose.Counter(ch, spoolDropped, st.Dropped)
		expose.Counter(ch, spoolCorrupt, st.Corrupt)
		expose.Counter(ch, spoolWrites, st.Writes)
		expose.Counter(ch, spoolWritten, st.WrittenBytes)
		expose.Counter(ch, spoolFsyncs, st.Fsyncs)
		expose.Counter(ch, spoolWriteErrs, st.WriteErrors)
		expose.Gauge(ch, spoolFailing, expose.Bit(st.Failing))
	}
	if o.Sources != nil {
		for _, st := range o.Sources() {
			// A source that has not been due yet has no collect to
			// report: calling it down would be false.
			if st.Collects == 0 && st.Skipped == 0 {
				continue
			}
			s := st.Device
			expose.Gauge(ch, sourceUp, expose.Bit(st.Up), s)
			expose.Gauge(ch, sourceDuration, st.Duration.Seconds(), s)
			if !st.Last.IsZero() {
				expose.Gauge(ch, sourceLast, float64(st.Last.UnixNano())/1e9, s)
			}
			expose.Counter(ch, sourceCollects, st.Collects, s)
			expose.Counter(ch, sourceFailures, st.Failures, s)
			expose.Counter(ch, sourceSkipped, st.Skipped, s)
			expose.Gauge(ch, sourceBreaker, expose.Bit(st.BreakerOpen), s)
			expose.Counter(ch, sourceSamples, st.Samples, s)
		}
	}
	if o.Commands != nil {
		st := o.Commands()
		for _, v := range []struct {
			outcome string
			n       uint64
		}{
			{"applied", st.Applied}, {"duplicate", st.Duplicate}, {"stale", st.Stale}, {"expired", st.Expired},
			{"failed", st.Failed}, {"reverted", st.Reverted}, {"revert_failed", st.RevertFailed}, {"persist_failed", st.PersistFailed},
		} {
			expose.Counter(ch, commands, v.n, v.outcome)
		}
		// Reasons are the command package's constants, a fixed set: the
		// label cannot grow with what the network sends.
		reasons := make([]string, 0, len(st.Refused))
		for r := range st.Refused {
			reasons = append(reasons, string(r))
		}
		slices.Sort(reasons)
		for _, r := range reasons {
			expose.Counter(ch, commandRefused, st.Refused[command.Reason(r)], r)
		}
		// All four from the start, so that an alert on increase() sees the
		// first rejection.
		for _, r := range command.Rejections {
			expose.Counter(ch, commandReject, st.Refused[r], string(r))
		}
	}
	if o.Traps != nil {
		if st, ok := o.Traps(); ok {
			for _, v := range []struct {
				outcome string
				n       uint64
			}{
				{"accepted", st.Accepted}, {"dropped", st.Dropped}, {"ignored", st.Ignored},
				{"rejected", st.Rejected}, {"malformed", st.Malformed}, {"discovery", st.Discovery},
			} {
				expose.Counter(ch, trapsDatagrams, v.n, v.outcome)
			}
			for _, v := range []struct {
				reason string
				n      uint64
			}{
				{"bad_community", st.BadCommunity}, {"unknown_engine_id", st.UnknownEngineID}, {"unknown_user", st.UnknownUser},
				{"auth_failure", st.AuthFailure}, {"not_in_time_window", st.NotInTimeWindow}, {"unknown_peer", st.UnknownPeer},
			} {
				expose.Counter(ch, trapsRejected, v.n, v.reason)
			}
			expose.Counter(ch, trapsInforms, st.InformsAcked)
		}
	}
	if o.AgentCheck != nil {
		if st, ok := o.AgentCheck(); ok {
			expose.Counter(ch, agentAnswers, st.Answered)
			expose.Counter(ch, agentOverflow, st.Overflow)
			expose.Counter(ch, agentFailed, st.Failed)
			expose.Counter(ch, agentExpired, st.Expired)
		}
	}
	if o.ClockSynced != nil {
		expose.Gauge(ch, clockSynced, expose.Bit(o.ClockSynced()))
	}
}
