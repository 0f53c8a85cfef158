package actuate

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/edge/command"
	"github.com/rackwatch/rackwatch/edge/sparkplug"
)

type published struct {
	topic   string
	payload []byte
}

// edgePublisher delivers each message to an edge's command.Manager, as
// the broker would, after failing the first fail publishes.
type edgePublisher struct {
	t       *testing.T
	manager *command.Manager

	mu      sync.Mutex
	fail    int
	msgs    []published
	results []command.Result
}

func (p *edgePublisher) Publish(ctx context.Context, topic string, payload []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, published{topic, payload})
	if p.fail > 0 {
		p.fail--
		return errors.New("not connected")
	}
	tp, err := sparkplug.ParseTopic(topic)
	if err != nil {
		p.t.Errorf("topic %q: %v", topic, err)
		return nil
	}
	p.results = append(p.results, p.manager.HandleMessage(ctx, tp, payload)...)
	return nil
}

// responder is the edge side: what the agent-check responder would report.
type responder struct {
	mu    sync.Mutex
	state string
}

func (r *responder) Apply(_ context.Context, c command.Command) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.Kind != command.KindLBState || c.Device != "lb" {
		return "", command.ErrUnknownTarget
	}
	prior := r.state
	r.state = c.Value()
	return prior, nil
}

func (r *responder) Revert(_ context.Context, _ command.Command, prior string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state = prior
	return nil
}

func TestSparkplugCommands(t *testing.T) {
	t.Parallel()
	resp := &responder{state: "ready 100%"}
	clock := &fakeClock{t: time.UnixMilli(1_795_700_047_123)}
	m, err := command.New(command.Opts{Appliers: map[command.Kind]command.Applier{command.KindLBState: resp}, Now: clock.now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	pub := &edgePublisher{t: t, manager: m}
	s, err := NewSparkplug(SparkplugOpts{Publisher: pub, Group: "rack", TTL: 10 * time.Minute, Backoff: fastBackoff, Now: clock.now, Logger: quiet,
		Edge: func(t decide.Target) (string, string, bool) {
			if t.Node == "bare" {
				return "", "", false
			}
			return "edge-" + t.Node, "lb", true
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	n7 := decide.Target{Node: "n7", LB: "lb1", Backend: "api", Server: "n7"}

	steps := []struct {
		level decide.Level
		want  string
	}{
		{decide.Shed, "ready 50%"},
		{decide.Drained, "drain 100%"},
		{decide.Ramp25, "ready 25%"},
		{decide.Ramp50, "ready 50%"},
		{decide.Full, "ready 100%"},
	}
	for i, st := range steps {
		if i == 2 {
			clock.add(-time.Hour) // the clock is set back: versions still rise
		}
		if err := s.Apply(ctx, n7, st.level.Desired()); err != nil {
			t.Fatalf("%v: %v", st.level, err)
		}
		if resp.state != st.want {
			t.Errorf("%v: the edge reports %q, want %q", st.level, resp.state, st.want)
		}
	}
	ids := map[string]bool{}
	var last uint64
	for i, r := range pub.results {
		if r.Outcome != command.Applied {
			t.Errorf("result %d: %v", i, r)
		}
		if ids[r.ID] || r.Version <= last {
			t.Errorf("result %d: id %s version %d not new (last %d)", i, r.ID, r.Version, last)
		}
		ids[r.ID], last = true, r.Version
	}
	if pub.msgs[0].topic != "spBv1.0/rack/NCMD/edge-n7" {
		t.Errorf("topic %q", pub.msgs[0].topic)
	}
	cmds, err := command.Parse(pub.msgs[0].payload)
	if err != nil || len(cmds) != 1 {
		t.Fatalf("payload: %v %v", cmds, err)
	}
	c := cmds[0]
	if c.Kind != command.KindLBState || c.State != command.LBReady || c.WeightPercent != 50 || c.Version != 1795700047123 ||
		!c.Issued.Equal(time.UnixMilli(1_795_700_047_123)) || !c.Expires.Equal(c.Issued.Add(10*time.Minute)) || !strings.HasPrefix(c.ID, "rw-") {
		t.Errorf("command %+v", c)
	}
	if v := s.Versions(); v["edge-n7/lb"] != last {
		t.Errorf("versions %v, want edge-n7/lb at %d", v, last)
	}

	// A collector restarted with the saved versions continues above them.
	s2, err := NewSparkplug(SparkplugOpts{Publisher: pub, Group: "rack", Now: clock.now, Logger: quiet, Versions: s.Versions(),
		Edge: func(t decide.Target) (string, string, bool) { return "edge-" + t.Node, "lb", true }})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Apply(ctx, n7, decide.Drained.Desired()); err != nil {
		t.Fatal(err)
	}
	if r := pub.results[len(pub.results)-1]; r.Outcome != command.Applied || resp.state != "drain 100%" {
		t.Errorf("after a restart: %v, edge %q", r, resp.state)
	}

	// Publish failures are retried with the same command.
	pub.fail = 2
	if err := s.Apply(ctx, n7, decide.Shed.Desired()); err != nil {
		t.Fatal(err)
	}
	tail := pub.msgs[len(pub.msgs)-3:]
	if string(tail[0].payload) != string(tail[2].payload) || s.Stats().Retries != 2 {
		t.Errorf("retries: %d, payloads equal %v", s.Stats().Retries, string(tail[0].payload) == string(tail[2].payload))
	}
	pub.fail = 10
	if err := s.Apply(ctx, n7, decide.Shed.Desired()); err == nil || !strings.Contains(err.Error(), "not connected") {
		t.Errorf("error %v", err)
	}
	pub.fail = 0
	if st := s.Stats(); st.Failed != 1 || st.Published != 6 {
		t.Errorf("stats %+v", st)
	}

	// No responder: not handled.
	if err := s.Apply(ctx, decide.Target{Node: "bare"}, decide.Shed.Desired()); !errors.Is(err, ErrNotHandled) {
		t.Errorf("error %v, want ErrNotHandled", err)
	}
}

func TestNewSparkplugErrors(t *testing.T) {
	t.Parallel()
	pub := &edgePublisher{}
	for name, o := range map[string]SparkplugOpts{
		"no publisher": {Group: "rack"},
		"no group":     {Publisher: pub},
		"bad group":    {Publisher: pub, Group: "a/b"},
	} {
		if _, err := NewSparkplug(o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	s, err := NewSparkplug(SparkplugOpts{Publisher: pub, Group: "rack", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(context.Background(), decide.Target{Node: "a+b"}, decide.Shed.Desired()); err == nil || len(pub.msgs) != 0 {
		t.Errorf("an edge node id with '+' was accepted: %v", err)
	}
}
