package edgenode

import (
	"context"
	"time"

	"github.com/rackwatch/rackwatch/edge/command"
	"github.com/rackwatch/rackwatch/edge/publish"
	"github.com/rackwatch/rackwatch/edge/sample"
)

// StatusDevice is the Sparkplug device under which an edge publishes its
// own health: its queue, its drops, and the commands it applied.
const StatusDevice = "edge"

// Metric names of the edge's own health.
const (
	EdgeQueued         = "edge_queued_samples"
	EdgeDropped        = "edge_dropped_samples_total"
	EdgePublished      = "edge_published_samples_total"
	EdgeCommands       = "edge_commands_total"
	EdgeCommandVersion = "edge_command_version"
	EdgeCommandActive  = "edge_command_active"
)

// statusSource publishes the edge's health and its applied desired state.
type statusSource struct {
	pub  *publish.Publisher
	cmds *command.Manager
	now  func() time.Time
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
	for _, t := range s.cmds.State() {
		ls := sample.L("target", t.Target.String())
		out = append(out,
			sample.Sample{Metric: EdgeCommandVersion, Labels: ls, Value: sample.Uint(t.Version), Unit: "version", TS: now},
			sample.Sample{Metric: EdgeCommandActive, Labels: ls, Value: sample.Bool(t.Active), Unit: "bool", TS: now})
	}
	return out, nil
}
