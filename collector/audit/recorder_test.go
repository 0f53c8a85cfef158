package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/audit"
	"github.com/rackwatch/rackwatch/collector/decide"
)

// fakePub records what it is sent. Each call first takes one error from
// errs, if any; hold, when not nil, blocks every call until it is closed.
type fakePub struct {
	mu     sync.Mutex
	topics []string
	msgs   [][]byte
	qos    []byte
	retain []bool
	errs   []error
	hold   chan struct{}
	calls  chan struct{}
}

func (p *fakePub) Publish(topic string, qos byte, retained bool, payload []byte) error {
	if p.calls != nil {
		p.calls <- struct{}{}
	}
	if p.hold != nil {
		<-p.hold
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.errs) > 0 {
		err := p.errs[0]
		p.errs = p.errs[1:]
		if err != nil {
			return err
		}
	}
	p.topics = append(p.topics, topic)
	p.msgs = append(p.msgs, payload)
	p.qos = append(p.qos, qos)
	p.retain = append(p.retain, retained)
	return nil
}

func (p *fakePub) sent() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.msgs...)
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newRecorder(t *testing.T, o audit.Opts) *audit.Recorder {
	t.Helper()
	if o.Logger == nil {
		o.Logger = discard()
	}
	r, err := audit.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// run starts r.Run and stops it, checking that it returns, when the test
// ends.
func run(t *testing.T, r *audit.Recorder) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func nodes(ds []decide.Decision) string {
	var s []string
	for _, d := range ds {
		s = append(s, d.Node)
	}
	return strings.Join(s, ",")
}

func TestDecisionsOrderAndFilter(t *testing.T) {
	r := newRecorder(t, audit.Opts{})
	add := func(min int, node string, a decide.Action) {
		r.Record(decide.Decision{At: t0.Add(time.Duration(min) * time.Minute), Node: node, Action: a, Taken: true, Actor: "engine"})
	}
	add(0, "a", decide.ActShed)
	add(1, "b", decide.ActShed)
	add(2, "a", decide.ActDrain)
	add(3, "c", decide.ActAlarm)
	// Recorded late with an earlier time: order is the order of recording.
	add(1, "d", decide.ActRestore)

	tests := []struct {
		name string
		f    audit.Filter
		want string
	}{
		{"all, newest first", audit.Filter{}, "d,c,a,b,a"},
		{"node", audit.Filter{Node: "a"}, "a,a"},
		{"since is inclusive", audit.Filter{Since: t0.Add(2 * time.Minute)}, "c,a"},
		{"limit", audit.Filter{Limit: 2}, "d,c"},
		{"actions", audit.Filter{Actions: []decide.Action{decide.ActShed, decide.ActRestore}}, "d,b,a"},
		{"combined", audit.Filter{Node: "a", Actions: []decide.Action{decide.ActDrain}}, "a"},
		{"nothing", audit.Filter{Node: "zz"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := nodes(r.Decisions(tc.f)); got != tc.want {
				t.Errorf("Decisions(%+v) = %q, want %q", tc.f, got, tc.want)
			}
		})
	}
}

func TestHistoryIsBounded(t *testing.T) {
	r := newRecorder(t, audit.Opts{History: 3})
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		r.Record(decide.Decision{At: t0, Node: n})
	}
	if got := nodes(r.Decisions(audit.Filter{})); got != "e,d,c" {
		t.Errorf("history = %q, want the newest three", got)
	}
	if c := r.Counters(); c.History != 3 || c.Recorded != 5 {
		t.Errorf("counters = %+v", c)
	}
}

func TestRecordStampsAndCopies(t *testing.T) {
	r := newRecorder(t, audit.Opts{Now: func() time.Time { return t0 }})
	ev := []decide.Evidence{{Signal: "cpu_temperature", Value: 91}}
	r.Record(decide.Decision{Node: "a", Evidence: ev})
	ev[0].Value = 0 // the engine reuses its buffers
	got := r.Decisions(audit.Filter{})
	if !got[0].At.Equal(t0) {
		t.Errorf("at = %v, want Now %v", got[0].At, t0)
	}
	if got[0].Evidence[0].Value != 91 {
		t.Errorf("evidence changed with the caller's slice: %v", got[0].Evidence[0].Value)
	}
	got[0].Evidence[0].Value = 1
	if again := r.Decisions(audit.Filter{}); again[0].Evidence[0].Value != 91 {
		t.Errorf("evidence changed with a reader's slice: %v", again[0].Evidence[0].Value)
	}
}

func TestNewValidatesTopic(t *testing.T) {
	for _, topic := range []string{"", "rackwatch/events/+/decisions", "rackwatch/#"} {
		if _, err := audit.New(audit.Opts{Publisher: &fakePub{}, Topic: topic}); err == nil {
			t.Errorf("topic %q accepted", topic)
		}
	}
	if _, err := audit.New(audit.Opts{Topic: ""}); err != nil {
		t.Errorf("no publisher, no topic: %v", err)
	}
	if got := audit.Topic("rackwatch-collector"); got != "rackwatch/events/rackwatch-collector/decisions" {
		t.Errorf("Topic = %q", got)
	}
}

func TestPublishes(t *testing.T) {
	p := &fakePub{}
	topic := audit.Topic("c1")
	r := newRecorder(t, audit.Opts{Publisher: p, Topic: topic})
	run(t, r)
	ds := decisions()
	for _, d := range ds {
		r.Record(d)
	}
	waitFor(t, "every event", func() bool { return len(p.sent()) == len(ds) })
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, d := range ds {
		if want := audit.MarshalDecision(d); !bytes.Equal(p.msgs[i], want) {
			t.Errorf("event %d = %s, want %s", i, p.msgs[i], want)
		}
		if p.topics[i] != topic || p.qos[i] != 1 || p.retain[i] {
			t.Errorf("event %d: topic %q qos %d retained %v", i, p.topics[i], p.qos[i], p.retain[i])
		}
	}
	if c := r.Counters(); c.Published != uint64(len(ds)) || c.Dropped != 0 || c.Failed != 0 {
		t.Errorf("counters = %+v", c)
	}
}

func TestNeverBlocksWhenPublisherStalls(t *testing.T) {
	p := &fakePub{hold: make(chan struct{}), calls: make(chan struct{}, 100)}
	r := newRecorder(t, audit.Opts{Publisher: p, Topic: "t", Queue: 2})
	run(t, r)
	r.Record(decision("first"))
	<-p.calls // Run holds "first" inside Publish
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 10 {
			r.Record(decision(string(rune('a' + i))))
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Record blocked on a stalled publisher")
	}
	c := r.Counters()
	if c.Dropped != 8 || c.Queued != 2 || c.Recorded != 11 || c.History != 11 {
		t.Errorf("counters = %+v, want 8 dropped, 2 queued, 11 recorded and kept", c)
	}
	close(p.hold)
	waitFor(t, "the queue to drain", func() bool { return r.Counters().Published == 3 })
	var got []string
	for _, m := range p.sent() {
		var rec audit.Record
		if err := json.Unmarshal(m, &rec); err != nil {
			t.Fatal(err)
		}
		got = append(got, rec.Node)
	}
	if strings.Join(got, ",") != "first,a,b" {
		t.Errorf("published %v, want the first event and the two queued, in order", got)
	}
}

func decision(node string) decide.Decision {
	return decide.Decision{At: t0, Node: node, Action: decide.ActShed, Taken: true, Actor: "engine"}
}

func TestRetriesWhileNotConnected(t *testing.T) {
	p := &fakePub{errs: []error{audit.ErrNotConnected, audit.ErrNotConnected, nil}}
	r := newRecorder(t, audit.Opts{Publisher: p, Topic: "t", Retry: time.Millisecond})
	run(t, r)
	r.Record(decision("a"))
	r.Record(decision("b"))
	waitFor(t, "both events", func() bool { return len(p.sent()) == 2 })
	if c := r.Counters(); c.Retries != 2 || c.Published != 2 || c.Failed != 0 {
		t.Errorf("counters = %+v, want 2 retries, 2 published", c)
	}
	if m := p.sent()[0]; !strings.Contains(string(m), `"node":"a"`) {
		t.Errorf("first event = %s, want the retried one", m)
	}
}

func TestOtherErrorsAreCountedAndSkipped(t *testing.T) {
	p := &fakePub{errs: []error{errors.New("payload too large")}}
	r := newRecorder(t, audit.Opts{Publisher: p, Topic: "t", Retry: time.Hour})
	run(t, r)
	r.Record(decision("a"))
	r.Record(decision("b"))
	waitFor(t, "the second event", func() bool { return len(p.sent()) == 1 })
	if c := r.Counters(); c.Failed != 1 || c.Published != 1 || c.Retries != 0 {
		t.Errorf("counters = %+v, want 1 failed, 1 published", c)
	}
}

func TestRunStopsWhileRetrying(t *testing.T) {
	p := &fakePub{errs: []error{audit.ErrNotConnected}}
	r := newRecorder(t, audit.Opts{Publisher: p, Topic: "t", Retry: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	r.Record(decision("a"))
	waitFor(t, "a retry", func() bool { return r.Counters().Retries == 1 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop while waiting to retry")
	}
}

func TestRunTwice(t *testing.T) {
	r := newRecorder(t, audit.Opts{})
	run(t, r)
	// A probe that wins the race to start returns at once: its context
	// has ended.
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	waitFor(t, "Run to start", func() bool {
		err := r.Run(ended)
		return err != nil && strings.Contains(err.Error(), "twice")
	})
}

func TestLogRecord(t *testing.T) {
	var b bytes.Buffer
	r := newRecorder(t, audit.Opts{Logger: slog.New(slog.NewJSONHandler(&b, nil))})
	r.Record(decisions()[1]) // withheld drain
	r.Record(decisions()[4]) // pin
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d log records, want one per decision:\n%s", len(lines), b.String())
	}
	var withheld struct {
		Level, Msg, Action, Node, From, To, Desired, Withheld, Actor string
		Taken                                                        bool
		DryRun                                                       bool   `json:"dry_run"`
		FirstFired                                                   string `json:"first_fired"`
		Evidence                                                     map[string]struct {
			Value, Threshold float64
			Unit             string
			Firing           bool
			Since            time.Time
		}
	}
	if err := json.Unmarshal([]byte(lines[0]), &withheld); err != nil {
		t.Fatal(err)
	}
	ev := withheld.Evidence["cpu_temperature"]
	if withheld.Level != "WARN" || withheld.Msg != "decision" || withheld.Action != "drain" || withheld.Node != "api-3" ||
		withheld.From != "shed" || withheld.To != "drained" || withheld.Desired != "drain" || withheld.Taken ||
		withheld.Withheld != "global stop" || !withheld.DryRun || withheld.Actor != "engine" || withheld.FirstFired != "cpu_temperature" ||
		ev.Value != 93.5 || ev.Threshold != 90 || ev.Unit != "°C" || !ev.Firing || ev.Since.IsZero() {
		t.Errorf("withheld drain logged as %s", lines[0])
	}
	if !strings.Contains(lines[1], `"level":"INFO"`) || !strings.Contains(lines[1], `"actor":"alice"`) ||
		strings.Contains(lines[1], `"from"`) {
		t.Errorf("pin logged as %s", lines[1])
	}
}
