package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rackwatch/rackwatch/collector/decide"
)

// Publisher sends one MQTT message. Publish must return within a bounded
// time (PahoPublisher waits at most its Timeout): Run waits for it.
type Publisher interface {
	Publish(topic string, qos byte, retained bool, payload []byte) error
}

// ErrNotConnected is returned by a Publisher when the broker is away. Run
// keeps the event queued and retries, instead of counting it as failed.
var ErrNotConnected = errors.New("audit: mqtt not connected")

// Defaults.
const (
	DefaultHistory = 10000
	DefaultQueue   = 1024
	DefaultRetry   = time.Second
	maxRetry       = 30 * time.Second
)

// QoS is the MQTT quality of service of decision events: at least once, so
// a subscriber sees every decision that reached the broker. Events are not
// retained: they are a stream, not a state.
const QoS byte = 1

// Opts configure a Recorder. The zero value is valid: it logs to
// slog.Default and keeps DefaultHistory decisions.
type Opts struct {
	Logger *slog.Logger
	// Publisher sends events to MQTT; nil: no MQTT.
	Publisher Publisher
	// Topic is the event topic, as returned by Topic; required with a
	// Publisher.
	Topic string
	// History bounds the decisions kept in memory (default DefaultHistory).
	History int
	// Queue bounds the events waiting for MQTT (default DefaultQueue).
	Queue int
	// Retry is the first wait before publishing again while the broker is
	// away; it doubles up to 30 s (default DefaultRetry).
	Retry time.Duration
	// Now stamps decisions recorded without a time.
	Now func() time.Time
}

// Filter selects decisions from the history.
type Filter struct {
	// Since keeps decisions at or after it; zero keeps all.
	Since time.Time
	// Node keeps the decisions about one node.
	Node string
	// Limit bounds the result; zero or less: no bound.
	Limit int
	// Actions keeps the decisions with one of these actions; empty: all.
	Actions []decide.Action
}

// Counters are the recorder's totals since it started.
type Counters struct {
	Recorded  uint64 // decisions recorded
	Published uint64 // events the broker accepted
	Dropped   uint64 // events not queued because the queue was full
	Failed    uint64 // events the publisher rejected for a reason other than ErrNotConnected
	Retries   uint64 // publish attempts repeated because the broker was away
	Queued    int    // events waiting for MQTT now
	History   int    // decisions held in memory now
	// Decisions counts the decisions recorded by action and outcome.
	Decisions map[Kind]uint64
}

// Kind sorts decisions for counting. Both fields come from fixed sets,
// so the counts stay small whatever the engine or the API is asked.
type Kind struct {
	Action decide.Action
	// Outcome is OutcomeTaken, OutcomeWithheld or OutcomeDryRun.
	Outcome string
}

// Outcomes of a decision.
const (
	OutcomeTaken    = "taken"    // carried out
	OutcomeWithheld = "withheld" // the safety budget, a switch or the load balancer stopped it
	OutcomeDryRun   = "dry_run"  // recorded in shadow mode only
)

// KindOf returns how d is counted.
func KindOf(d decide.Decision) Kind {
	switch {
	case !d.Taken:
		return Kind{d.Action, OutcomeWithheld}
	case d.DryRun:
		return Kind{d.Action, OutcomeDryRun}
	}
	return Kind{d.Action, OutcomeTaken}
}

type event struct {
	payload []byte
}

// Recorder records decisions. Its methods are safe for concurrent use.
type Recorder struct {
	opts  Opts
	log   *slog.Logger
	queue chan event

	mu    sync.Mutex
	ring  []decide.Decision // ring buffer of the newest decisions
	next  int               // where the next decision goes
	full  bool
	kinds map[Kind]uint64 // decisions recorded, by kind

	running                              atomic.Bool
	recorded, published, dropped, failed atomic.Uint64
	retries                              atomic.Uint64
	dropping                             atomic.Bool // a drop episode is being reported
}

// Topic returns the decision event topic of a collector:
// rackwatch/events/<hostID>/decisions. It lies outside the Sparkplug
// namespace (spBv1.0/...), so Sparkplug consumers never see it.
func Topic(hostID string) string {
	return "rackwatch/events/" + hostID + "/decisions"
}

// New returns a recorder. Nothing is published until Run.
func New(opts Opts) (*Recorder, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.History <= 0 {
		opts.History = DefaultHistory
	}
	if opts.Queue <= 0 {
		opts.Queue = DefaultQueue
	}
	if opts.Retry <= 0 {
		opts.Retry = DefaultRetry
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Publisher != nil {
		if err := validTopic(opts.Topic); err != nil {
			return nil, err
		}
	}
	r := &Recorder{opts: opts, log: opts.Logger, ring: make([]decide.Decision, opts.History)}
	if opts.Publisher != nil {
		r.queue = make(chan event, opts.Queue)
	}
	return r, nil
}

// validTopic checks a topic name for publishing (MQTT 3.1.1 §4.7: no
// wildcards in a topic name, not empty, no NUL).
func validTopic(t string) error {
	switch {
	case t == "":
		return errors.New("audit: an event topic is required with a publisher")
	case strings.ContainsAny(t, "+#\x00"):
		return fmt.Errorf("audit: event topic %q: wildcards and NUL are not allowed in a topic name", t)
	case len(t) > 65535:
		return fmt.Errorf("audit: event topic is %d bytes long; MQTT allows 65535", len(t))
	}
	return nil
}

// Record records d: it logs it, keeps it in the history and queues its
// event. It never blocks on MQTT: when the queue is full the event is
// dropped and counted. A decision without a time is stamped with Now.
func (r *Recorder) Record(d decide.Decision) {
	if d.At.IsZero() {
		d.At = r.opts.Now()
	}
	d.Evidence = slices.Clone(d.Evidence) // the engine may reuse its slices
	r.recorded.Add(1)
	r.logDecision(d)

	r.mu.Lock()
	if r.kinds == nil {
		r.kinds = map[Kind]uint64{}
	}
	r.kinds[KindOf(d)]++
	r.ring[r.next] = d
	r.next++
	if r.next == len(r.ring) {
		r.next, r.full = 0, true
	}
	r.mu.Unlock()

	if r.queue == nil {
		return
	}
	select {
	case r.queue <- event{payload: MarshalDecision(d)}:
		if r.dropping.CompareAndSwap(true, false) {
			r.log.Info("audit: event queue has room again", "dropped_total", r.dropped.Load())
		}
	default:
		r.dropped.Add(1)
		// One warning per episode, so a long broker outage does not flood
		// the log.
		if r.dropping.CompareAndSwap(false, true) {
			r.log.Warn("audit: event queue full; dropping decision events until the broker catches up",
				"topic", r.opts.Topic, "queue", cap(r.queue))
		}
	}
}

// Run publishes queued events until ctx ends. Without a publisher it only
// waits for ctx. Events still queued when ctx ends are not sent. It returns
// nil when ctx ends, and an error if it is already running.
func (r *Recorder) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("audit: Run called twice")
	}
	defer r.running.Store(false)
	if r.queue == nil {
		<-ctx.Done()
		return nil
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	failing := false
	for {
		var ev event
		select {
		case <-ctx.Done():
			return nil
		case ev = <-r.queue:
		}
		wait := r.opts.Retry
		for {
			err := r.opts.Publisher.Publish(r.opts.Topic, QoS, false, ev.payload)
			if err == nil {
				r.published.Add(1)
				if failing {
					failing = false
					r.log.Info("audit: publishing decision events again", "topic", r.opts.Topic)
				}
				break
			}
			if !failing {
				failing = true
				r.log.Warn("audit: cannot publish decision events", "topic", r.opts.Topic, "err", err)
			}
			if !errors.Is(err, ErrNotConnected) {
				r.failed.Add(1)
				break
			}
			// The broker is away: keep this event and wait, so a short
			// outage loses nothing the queue can hold.
			r.retries.Add(1)
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
			}
			wait = min(2*wait, maxRetry)
		}
	}
}

// Decisions returns the decisions in the history that match f, newest
// first (in the order they were recorded).
func (r *Recorder) Decisions(f Filter) []decide.Decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.next
	if r.full {
		n = len(r.ring)
	}
	var out []decide.Decision
	for i := 1; i <= n; i++ {
		d := r.ring[(r.next-i+len(r.ring))%len(r.ring)]
		if !f.Since.IsZero() && d.At.Before(f.Since) {
			continue
		}
		if f.Node != "" && d.Node != f.Node {
			continue
		}
		if len(f.Actions) > 0 && !slices.Contains(f.Actions, d.Action) {
			continue
		}
		d.Evidence = slices.Clone(d.Evidence)
		out = append(out, d)
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out
}

// Counters returns a snapshot of the counters.
func (r *Recorder) Counters() Counters {
	c := Counters{
		Recorded: r.recorded.Load(), Published: r.published.Load(), Dropped: r.dropped.Load(),
		Failed: r.failed.Load(), Retries: r.retries.Load(), Queued: len(r.queue),
	}
	r.mu.Lock()
	c.History = r.next
	if r.full {
		c.History = len(r.ring)
	}
	c.Decisions = maps.Clone(r.kinds)
	r.mu.Unlock()
	return c
}
