package actuate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/edge/command"
	"github.com/rackwatch/rackwatch/edge/sparkplug"
	pb "github.com/rackwatch/rackwatch/edge/sparkplug/sparkplugpb"
	"google.golang.org/protobuf/proto"
)

// Publisher sends one MQTT message. The collector's MQTT connection
// implements it, publishing at QoS 1 (so a broker under pressure does not
// drop a command) and returning once the broker acknowledged it or ctx
// ended.
type Publisher interface {
	Publish(ctx context.Context, topic string, payload []byte) error
}

// Signer signs a command for an edge node of a group; *cmdsign.Signer is
// one. The signature binds the command to that edge and gives it a counter
// and a validity (docs/wire.md, Command signatures).
type Signer interface {
	Sign(group, edge string, c command.Command) (command.Command, error)
}

// SparkplugOpts configures a Sparkplug command actuator.
type SparkplugOpts struct {
	// Name identifies the actuator in events and logs; "sparkplug" if
	// empty.
	Name      string
	Publisher Publisher // required
	Group     string    // Sparkplug group ID; required
	// Edge returns the edge node and the responder device that serve a
	// target, or ok false when the target has no edge responder (it is
	// then not handled). Nil means every target: edge node t.Node, device
	// "lb" (edge/agentcheck's default name).
	Edge func(t decide.Target) (edgeNode, device string, ok bool)
	// TTL, when positive, makes every command expire that long after it
	// was issued: the edge's responder then returns to the state it had
	// before, so a collector that is gone does not hold a node out of
	// service for ever. Pair it with Opts.Refresh (below TTL) so the
	// reconciler renews live commands.
	TTL time.Duration
	// Versions seeds the last version issued per responder, from the
	// state file (State.Versions).
	Versions map[string]uint64
	// Signer, if set, signs every command; nil sends them unsigned, which
	// edges with trusted keys refuse.
	Signer  Signer
	Backoff Backoff
	Now     func() time.Time
	Logger  *slog.Logger
}

// SparkplugStats count a Sparkplug actuator's work.
type SparkplugStats struct {
	Published, Failed, Retries uint64
}

// Sparkplug sends lb_state commands to the agent-check responder of a
// host-mode edge, which HAProxy polls for the server's state and weight.
// A command is an NCMD on spBv1.0/<group>/NCMD/<edge node> carrying the
// metric "rackwatch/command" (String) whose value is the JSON of the edge's
// command wire format (package edge/command):
//
//	{"id":"rw-…","version":1795700047123,"kind":"lb_state","device":"lb",
//	 "state":"ready","weight_percent":50,"expires":…,"issued":…}
//
// Each apply issues a new id and a version greater than any issued before
// to the same responder (the edge refuses a lower one as stale); its
// retries resend the same command, which the edge answers as a duplicate.
type Sparkplug struct {
	opts     SparkplugOpts
	versions *versions

	published, failed, retries atomic.Uint64
}

var _ Actuator = (*Sparkplug)(nil)

// NewSparkplug returns a Sparkplug command actuator.
func NewSparkplug(opts SparkplugOpts) (*Sparkplug, error) {
	if opts.Name == "" {
		opts.Name = "sparkplug"
	}
	if opts.Publisher == nil {
		return nil, fmt.Errorf("actuate: %s: no publisher", opts.Name)
	}
	if err := sparkplug.ValidateID(opts.Group); err != nil {
		return nil, fmt.Errorf("actuate: %s: group: %w", opts.Name, err)
	}
	if opts.Edge == nil {
		opts.Edge = func(t decide.Target) (string, string, bool) { return t.Node, "lb", true }
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Sparkplug{opts: opts, versions: newVersions(opts.Now, opts.Versions)}, nil
}

// Name returns the actuator's name.
func (s *Sparkplug) Name() string { return s.opts.Name }

// Stats returns the counters.
func (s *Sparkplug) Stats() SparkplugStats {
	return SparkplugStats{Published: s.published.Load(), Failed: s.failed.Load(), Retries: s.retries.Load()}
}

// Versions returns the last version issued per responder, keyed
// "<edge node>/<device>", for State.Versions.
func (s *Sparkplug) Versions() map[string]uint64 { return s.versions.snapshot() }

// Apply publishes a command setting t's responder to d. Several targets
// served by the same responder (one node in two load balancers) share its
// state: the last command wins.
func (s *Sparkplug) Apply(ctx context.Context, t decide.Target, d decide.Desired) error {
	edge, device, ok := s.opts.Edge(t)
	if !ok {
		return fmt.Errorf("actuate: %s: node %s has no edge responder: %w", s.opts.Name, t.Node, ErrNotHandled)
	}
	if err := sparkplug.ValidateID(edge); err != nil {
		return fmt.Errorf("actuate: %s: node %s: edge node: %w", s.opts.Name, t.Node, err)
	}
	if err := validDesired(d); err != nil {
		return fmt.Errorf("actuate: %s: node %s: %w", s.opts.Name, t.Node, err)
	}
	now := s.opts.Now()
	c := command.Command{
		ID:            newID(),
		Version:       s.versions.next(edge + "/" + device),
		Kind:          command.KindLBState,
		Device:        device,
		State:         command.LBReady,
		WeightPercent: d.Weight,
		Issued:        now,
	}
	if d.Drain {
		c.State = command.LBDrain
	}
	if s.opts.TTL > 0 {
		c.Expires = now.Add(s.opts.TTL)
	}
	if s.opts.Signer != nil {
		// Signed once: the retries below resend the same bytes, which the
		// edge answers as a duplicate rather than a replay.
		var err error
		if c, err = s.opts.Signer.Sign(s.opts.Group, edge, c); err != nil {
			s.failed.Add(1)
			return fmt.Errorf("actuate: %s: node %s: %w", s.opts.Name, t.Node, err)
		}
	}
	topic, payload, err := CommandMessage(s.opts.Group, edge, c, now)
	if err != nil {
		return fmt.Errorf("actuate: %s: node %s: %w", s.opts.Name, t.Node, err)
	}
	retries, err := retry(ctx, s.opts.Backoff, func(ctx context.Context) error {
		return s.opts.Publisher.Publish(ctx, topic, payload)
	})
	s.retries.Add(uint64(retries))
	if err != nil {
		s.failed.Add(1)
		return fmt.Errorf("actuate: %s: publish %s v%d (%s) to %s after %d tries: %w",
			s.opts.Name, c.ID, c.Version, c.Value(), topic, retries+1, err)
	}
	s.published.Add(1)
	s.opts.Logger.Debug("command published", "actuator", s.opts.Name, "topic", topic, "id", c.ID, "version", c.Version, "value", c.Value())
	return nil
}

// CommandMessage encodes c as an NCMD to edge node edge of group: its topic
// and Sparkplug B payload. The command must pass command.Validate, so the
// collector never sends what the edge would refuse.
func CommandMessage(group, edge string, c command.Command, now time.Time) (topic string, payload []byte, err error) {
	js, err := c.MarshalJSON()
	if err != nil {
		return "", nil, err
	}
	if len(js) > command.MaxJSONLen {
		return "", nil, errors.New("command: encode: longer than the edge accepts")
	}
	ms := uint64(max(now.UnixMilli(), 0))
	p := &pb.Payload{
		Timestamp: proto.Uint64(ms),
		Metrics: []*pb.Payload_Metric{{
			Name:      proto.String(command.MetricName),
			Timestamp: proto.Uint64(ms),
			Datatype:  proto.Uint32(uint32(pb.DataType_String)),
			Value:     &pb.Payload_Metric_StringValue{StringValue: string(js)},
		}},
	}
	payload, err = proto.Marshal(p)
	if err != nil {
		return "", nil, fmt.Errorf("encode payload: %w", err)
	}
	return sparkplug.NodeTopic(group, sparkplug.NCMD, edge).String(), payload, nil
}
