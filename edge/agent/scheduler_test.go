package agent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/edge/sample"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fnSource collects with a function.
type fnSource struct {
	name    string
	period  time.Duration
	collect func(ctx context.Context) ([]sample.Sample, error)
	n       atomic.Int64
	closed  atomic.Bool
}

func (f *fnSource) Device() string        { return f.name }
func (f *fnSource) Period() time.Duration { return f.period }
func (f *fnSource) Close() error          { f.closed.Store(true); return nil }
func (f *fnSource) Collect(ctx context.Context) ([]sample.Sample, error) {
	f.n.Add(1)
	return f.collect(ctx)
}

func oneSample(context.Context) ([]sample.Sample, error) {
	return []sample.Sample{{Metric: "m", Value: sample.Uint(1), TS: time.Now()}}, nil
}

func statsOf(t *testing.T, s *Scheduler, device string) SourceStats {
	t.Helper()
	for _, st := range s.Stats() {
		if st.Device == device {
			return st
		}
	}
	t.Fatalf("no stats for %q in %+v", device, s.Stats())
	return SourceStats{}
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// start runs s until the test ends and returns a function that stops it
// and waits.
func start(t *testing.T, s *Scheduler) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func TestCollectIsCancelledAtItsDeadline(t *testing.T) {
	var deadlines []time.Duration
	var mu sync.Mutex
	hung := &fnSource{name: "tor1", period: 50 * time.Millisecond, collect: func(ctx context.Context) ([]sample.Sample, error) {
		d, ok := ctx.Deadline()
		mu.Lock()
		if ok {
			deadlines = append(deadlines, time.Until(d))
		} else {
			deadlines = append(deadlines, -1)
		}
		mu.Unlock()
		<-ctx.Done() // an agent that never answers
		return nil, ctx.Err()
	}}
	s := NewScheduler(SchedulerOpts{Logger: quiet, Policy: Policy{BreakerFailures: 1000}})
	s.Add(hung)
	start(t, s)
	eventually(t, "three collects", func() bool { return statsOf(t, s, "tor1").Collects >= 3 })
	st := statsOf(t, s, "tor1")
	if st.Up || st.Failures != st.Collects {
		t.Errorf("stats %+v: every collect should have failed", st)
	}
	if st.Duration < 40*time.Millisecond || st.Duration > 500*time.Millisecond {
		t.Errorf("last collect took %v; the deadline is the 50ms period", st.Duration)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, d := range deadlines {
		if d <= 0 || d > 50*time.Millisecond {
			t.Errorf("collect %d had %v left on its deadline, want at most the period", i, d)
		}
	}
}

func TestBreakerSkipsAFailingSourceAndClosesOnSuccess(t *testing.T) {
	var healthy atomic.Bool
	src := &fnSource{name: "tor1", period: 10 * time.Millisecond, collect: func(ctx context.Context) ([]sample.Sample, error) {
		if healthy.Load() {
			return oneSample(ctx)
		}
		return nil, errors.New("request timeout")
	}}
	// Partial failures deliver samples: the device answers, so they never
	// open the breaker.
	partial := &fnSource{name: "bmc1", period: 10 * time.Millisecond, collect: func(ctx context.Context) ([]sample.Sample, error) {
		ss, _ := oneSample(ctx)
		return ss, errors.New("one malformed value")
	}}
	s := NewScheduler(SchedulerOpts{Logger: quiet, Policy: Policy{BreakerFailures: 2, BreakerBackoffMax: 40 * time.Millisecond}})
	s.Add(src, partial)
	start(t, s)
	time.Sleep(500 * time.Millisecond)
	st := statsOf(t, s, "tor1")
	// Without the breaker: about 50 collects. With it: 2, then one probe
	// every 20, 40, 40, … ms.
	if !st.BreakerOpen || st.Skipped == 0 || st.Collects > 25 || st.Collects < 4 {
		t.Errorf("failing source after 500ms: %+v; want the breaker open, periods skipped, one probe per backoff", st)
	}
	if p := statsOf(t, s, "bmc1"); p.BreakerOpen || p.Skipped != 0 || p.Up || p.Failures != p.Collects || p.Collects < 25 {
		t.Errorf("partially failing source: %+v; want it collected every period, down, breaker closed", p)
	}
	healthy.Store(true)
	eventually(t, "the probe to close the breaker", func() bool {
		st := statsOf(t, s, "tor1")
		return st.Up && !st.BreakerOpen
	})
	before := statsOf(t, s, "tor1")
	time.Sleep(200 * time.Millisecond)
	if after := statsOf(t, s, "tor1"); after.Collects-before.Collects < 10 || after.Skipped != before.Skipped {
		t.Errorf("after recovery: %d collects and %d skips in 200ms at a 10ms period", after.Collects-before.Collects, after.Skipped-before.Skipped)
	}
}

func TestConcurrencyIsBounded(t *testing.T) {
	var inFlight, peak atomic.Int64
	slow := func(ctx context.Context) ([]sample.Sample, error) {
		n := inFlight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(10 * time.Millisecond)
		inFlight.Add(-1)
		return oneSample(ctx)
	}
	s := NewScheduler(SchedulerOpts{Logger: quiet, Policy: Policy{MaxConcurrent: 2}})
	var srcs []*fnSource
	for _, name := range []string{"a", "b", "c", "d", "e", "f"} {
		src := &fnSource{name: name, period: 5 * time.Millisecond, collect: slow}
		srcs = append(srcs, src)
		s.Add(src)
	}
	stop := start(t, s)
	time.Sleep(300 * time.Millisecond)
	stop()
	if p := peak.Load(); p != 2 {
		t.Errorf("peak of %d concurrent collects, want the limit of 2 reached and never exceeded", p)
	}
	for _, src := range srcs {
		if src.n.Load() < 3 {
			t.Errorf("source %s collected %d times: starved", src.name, src.n.Load())
		}
	}
}

// TestDeadTargetDelaysNoOther: a target that hangs holds one slot until its
// deadline; the others keep their periods in the remaining slot.
func TestDeadTargetDelaysNoOther(t *testing.T) {
	dead := &fnSource{name: "dead", period: 4 * time.Second, collect: func(ctx context.Context) ([]sample.Sample, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	s := NewScheduler(SchedulerOpts{Logger: quiet, Policy: Policy{MaxConcurrent: 2}})
	s.Add(dead)
	var fast []*fnSource
	for _, name := range []string{"a", "b", "c"} {
		src := &fnSource{name: name, period: 20 * time.Millisecond, collect: oneSample}
		fast = append(fast, src)
		s.Add(src)
	}
	stop := start(t, s)
	eventually(t, "the dead target's collect to start", func() bool { return dead.n.Load() == 1 })
	time.Sleep(400 * time.Millisecond)
	stop()
	for _, src := range fast {
		// 400 ms at 20 ms ±10 %: about 20.
		if n := src.n.Load(); n < 12 {
			t.Errorf("source %s collected %d times in 400ms next to a dead target", src.name, n)
		}
	}
}

func TestAddAndRemoveWhileRunning(t *testing.T) {
	live := &Liveness{}
	ctl := &Controls{}
	a := &fnSource{name: "a", period: 10 * time.Millisecond, collect: oneSample}
	b := &fnSource{name: "b", period: 10 * time.Millisecond, collect: oneSample}
	s := NewScheduler(SchedulerOpts{Logger: quiet, Live: live, Controls: ctl})
	s.Add(a)
	stop := start(t, s)
	eventually(t, "a to collect", func() bool { return a.n.Load() > 0 })
	if err := s.Add(b); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b to collect", func() bool { return b.n.Load() > 0 })
	s.Remove(a)
	if !a.closed.Load() {
		t.Error("removed source not closed")
	}
	n := a.n.Load()
	time.Sleep(50 * time.Millisecond)
	if a.n.Load() != n {
		t.Error("removed source still collected")
	}
	if got := s.Sources(); len(got) != 1 || got[0] != b {
		t.Errorf("Sources() = %v, want [b]", got)
	}
	if st := s.Stats(); len(st) != 1 || st[0].Device != "b" {
		t.Errorf("Stats() = %+v, want b's only", st)
	}
	if stalled := live.Stalled(time.Now().Add(time.Hour)); len(stalled) != 1 || stalled[0] != "b" {
		t.Errorf("liveness still tracks the removed source: %v", stalled)
	}
	stop()
	if !b.closed.Load() {
		t.Error("source not closed when Run returned")
	}
	c := &fnSource{name: "c", period: time.Second, collect: oneSample}
	if err := s.Add(c); !errors.Is(err, ErrStopped) || !c.closed.Load() {
		t.Errorf("Add after Run: err %v, closed %v", err, c.closed.Load())
	}
}

func TestSetPolicyAppliesLive(t *testing.T) {
	var inFlight, peak atomic.Int64
	slow := func(ctx context.Context) ([]sample.Sample, error) {
		n := inFlight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(10 * time.Millisecond)
		inFlight.Add(-1)
		return oneSample(ctx)
	}
	s := NewScheduler(SchedulerOpts{Logger: quiet, Policy: Policy{MaxConcurrent: 1}})
	for _, name := range []string{"a", "b", "c", "d"} {
		s.Add(&fnSource{name: name, period: 5 * time.Millisecond, collect: slow})
	}
	start(t, s)
	time.Sleep(100 * time.Millisecond)
	if p := peak.Load(); p != 1 {
		t.Fatalf("peak %d under a limit of 1", p)
	}
	s.SetPolicy(Policy{MaxConcurrent: 4})
	eventually(t, "more concurrent collects under the raised limit", func() bool { return peak.Load() > 1 })
	if got := s.Policy(); got.MaxConcurrent != 4 || got.BreakerFailures != DefaultPolicy.BreakerFailures {
		t.Errorf("Policy() = %+v, want defaults filled in", got)
	}
}
