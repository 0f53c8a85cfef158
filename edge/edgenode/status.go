package edgenode

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/rackwatch/rackwatch/edge/agent"
	"github.com/rackwatch/rackwatch/edge/command"
	"github.com/rackwatch/rackwatch/edge/config"
	"github.com/rackwatch/rackwatch/edge/publish"
	"github.com/rackwatch/rackwatch/edge/sample"
)

// StatusDevice is the Sparkplug device under which an edge publishes its
// own health: its queue, its drops, the commands it applied, how each
// source's collects go, and its clock.
const StatusDevice = config.StatusDevice

// Metric names of the edge's own health, published every 10 s under
// StatusDevice.
const (
	// EdgeQueued (gauge, uint, samples): samples waiting in the spool.
	EdgeQueued = "edge_queued_samples"
	// EdgeDropped (counter, uint, samples): samples dropped from the full
	// spool.
	EdgeDropped = "edge_dropped_samples_total"
	// EdgePublished (counter, uint, samples): samples the broker
	// acknowledged.
	EdgePublished = "edge_published_samples_total"
	// EdgeCommands (counter, uint, commands; label outcome): commands
	// handled.
	EdgeCommands = "edge_commands_total"
	// EdgeCommandVersion (gauge, uint, version; label target): the version
	// of the desired state applied to a target.
	EdgeCommandVersion = "edge_command_version"
	// EdgeCommandActive (gauge, bool; label target): whether an override
	// is in force on the target.
	EdgeCommandActive = "edge_command_active"
	// EdgeCommandRejections (counter, uint, commands; label reason:
	// unsigned, forged, expired or replayed): commands refused by the
	// signature check (package edge/cmdsign), also counted as refused in
	// EdgeCommands. All four are published from the start, so the
	// collector sees every increase.
	EdgeCommandRejections = command.RejectionsMetric

	// EdgeSourceUp (gauge, bool; label source = the device name): the
	// source's last collect returned no error. A partial read (some values
	// failed) is down too; its samples are still published.
	EdgeSourceUp = "edge_source_up"
	// EdgeSourceDuration (gauge, float, seconds; label source): how long
	// the last collect took. A collect is cancelled at its deadline, the
	// source's period.
	EdgeSourceDuration = "edge_source_duration_seconds"
	// EdgeSourceFailures (counter, uint, collects; label source): collects
	// that returned an error.
	EdgeSourceFailures = "edge_source_failures_total"
	// EdgeSourceSkipped (counter, uint, collects; label source): periods
	// skipped because the source's circuit breaker was open.
	EdgeSourceSkipped = "edge_source_skipped_total"
	// EdgeSourceBreakerOpen (gauge, bool; label source): the source's
	// circuit breaker is open: after sources.breaker_failures consecutive
	// collects that delivered nothing, it is probed once per backoff.
	EdgeSourceBreakerOpen = "edge_source_breaker_open"
	// EdgeClockSynced (gauge, bool): the system clock is synchronised.
	// While it is not, data messages carry rackwatch/clock_unsynced.
	EdgeClockSynced = "edge_clock_synced"
)

// statusSource publishes the edge's health and its applied desired state.
type statusSource struct {
	pub   *publish.Publisher
	cmds  *command.Manager
	sched *agent.Scheduler
	clock *clockWatch
	now   func() time.Time
}

func (s *statusSource) Device() string        { return StatusDevice }
func (s *statusSource) Period() time.Duration { return 10 * time.Second }
func (s *statusSource) Close() error          { return nil }

func (s *statusSource) Collect(context.Context) ([]sample.Sample, error) {
	now := s.now()
	st := s.pub.Stats()
	out := []sample.Sample{
		{Metric: EdgeQueued, Value: sample.Uint(uint64(st.Queued)), Unit: "samples", TS: now},
		{Metric: EdgeDropped, Value: sample.Uint(st.Dropped), Unit: "samples", TS: now},
		{Metric: EdgePublished, Value: sample.Uint(st.Published), Unit: "samples", TS: now},
		{Metric: EdgeClockSynced, Value: sample.Bool(s.clock.synced()), Unit: "bool", TS: now},
	}
	c := s.cmds.Counters()
	for _, o := range []struct {
		outcome string
		n       uint64
	}{{"applied", c.Applied}, {"duplicate", c.Duplicate}, {"stale", c.Stale}, {"expired", c.Expired}, {"failed", c.Failed}, {"reverted", c.Reverted}} {
		out = append(out, sample.Sample{Metric: EdgeCommands, Labels: sample.L("outcome", o.outcome), Value: sample.Uint(o.n), Unit: "commands", TS: now})
	}
	var refused uint64
	for _, n := range c.Refused {
		refused += n
	}
	out = append(out, sample.Sample{Metric: EdgeCommands, Labels: sample.L("outcome", "refused"), Value: sample.Uint(refused), Unit: "commands", TS: now})
	for _, r := range command.Rejections {
		out = append(out, sample.Sample{Metric: EdgeCommandRejections, Labels: sample.L("reason", string(r)), Value: sample.Uint(c.Refused[r]), Unit: "commands", TS: now})
	}
	for _, t := range s.cmds.State() {
		ls := sample.L("target", t.Target.String())
		out = append(out,
			sample.Sample{Metric: EdgeCommandVersion, Labels: ls, Value: sample.Uint(t.Version), Unit: "version", TS: now},
			sample.Sample{Metric: EdgeCommandActive, Labels: ls, Value: sample.Bool(t.Active), Unit: "bool", TS: now})
	}
	return appendSourceStats(out, s.sched.Stats(), now), nil
}

// appendSourceStats adds each source's collect statistics. A source that
// has not been due yet has none: reporting it down would be false.
func appendSourceStats(out []sample.Sample, stats []agent.SourceStats, now time.Time) []sample.Sample {
	for _, st := range stats {
		if st.Collects == 0 && st.Skipped == 0 {
			continue
		}
		ls := sample.L("source", st.Device)
		out = append(out,
			sample.Sample{Metric: EdgeSourceUp, Labels: ls, Value: sample.Bool(st.Up), Unit: "bool", TS: now},
			sample.Sample{Metric: EdgeSourceDuration, Labels: ls, Value: sample.Float(st.Duration.Seconds()), Unit: "seconds", TS: now},
			sample.Sample{Metric: EdgeSourceFailures, Labels: ls, Value: sample.Uint(st.Failures), Unit: "collects", TS: now},
			sample.Sample{Metric: EdgeSourceSkipped, Labels: ls, Value: sample.Uint(st.Skipped), Unit: "collects", TS: now},
			sample.Sample{Metric: EdgeSourceBreakerOpen, Labels: ls, Value: sample.Bool(st.BreakerOpen), Unit: "bool", TS: now})
	}
	return out
}

// clockWatch reads the clock's synchronisation state and logs its changes.
type clockWatch struct {
	check func() bool
	log   *slog.Logger

	mu    sync.Mutex
	known bool
	last  bool
}

func (c *clockWatch) synced() bool {
	ok := c.check()
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.known && ok == c.last:
	case ok && c.known:
		c.log.Info("system clock synchronised; data is no longer flagged")
	case !ok:
		c.log.Warn("system clock not synchronised; data is flagged rackwatch/clock_unsynced until it is")
	}
	c.known, c.last = true, ok
	return ok
}
