package actuate

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/decide"
)

// memLB is an in-memory actuator and observer: state is what the load
// balancer shows.
type memLB struct {
	name    string
	observe bool // implements Observe (through memObserver)

	mu        sync.Mutex
	state     map[decide.Target]Observed
	applied   []string // "node desired"
	fail      int      // applies still to fail
	restarted bool     // the next observation reports a restart
	skip      map[string]bool
	block     chan struct{} // when set, Apply waits on it first
}

func newMemLB(name string) *memLB {
	return &memLB{name: name, state: map[decide.Target]Observed{}, skip: map[string]bool{}}
}

func (m *memLB) Name() string { return m.name }

func (m *memLB) Apply(ctx context.Context, t decide.Target, d decide.Desired) error {
	if m.block != nil {
		<-m.block
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.skip[t.Node] {
		return ErrNotHandled
	}
	m.applied = append(m.applied, t.Node+" "+d.String())
	if m.fail > 0 {
		m.fail--
		return errors.New("socket error")
	}
	o := Observed{Status: StatusReady, WeightPct: d.Weight}
	if d.Drain {
		o.Status = StatusDrain
	}
	m.state[t] = o
	return nil
}

func (m *memLB) Observe(ctx context.Context, targets []decide.Target) (map[decide.Target]Observed, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[decide.Target]Observed{}
	for _, t := range targets {
		o, ok := m.state[t]
		if !ok {
			o = Observed{Status: StatusReady, WeightPct: 100}
		}
		o.Restarted = m.restarted
		out[t] = o
	}
	m.restarted = false
	return out, nil
}

// reload loses every change.
func (m *memLB) reload() {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.state)
	m.restarted = true
}

func (m *memLB) set(t decide.Target, o Observed) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state[t] = o
}

func (m *memLB) takeApplied() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.applied
	m.applied = nil
	return a
}

// memObserver exposes memLB with Observe; memLB alone is a blind actuator.
type memObserver struct{ *memLB }

// blind hides Observe.
type blind struct{ m *memLB }

func (b blind) Name() string { return b.m.name }
func (b blind) Apply(ctx context.Context, t decide.Target, d decide.Desired) error {
	return b.m.Apply(ctx, t, d)
}

type desiredBox struct {
	mu sync.Mutex
	m  map[decide.Target]decide.Desired
}

func (b *desiredBox) get() map[decide.Target]decide.Desired {
	b.mu.Lock()
	defer b.mu.Unlock()
	return maps.Clone(b.m)
}

func (b *desiredBox) set(m map[decide.Target]decide.Desired) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m = m
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var (
	tA = decide.Target{Node: "a", LB: "lb1", Backend: "api", Server: "a"}
	tB = decide.Target{Node: "b", LB: "lb1", Backend: "api", Server: "b"}
)

func newTestReconciler(t *testing.T, box *desiredBox, clock *fakeClock, refresh time.Duration, acts ...Actuator) *Reconciler {
	t.Helper()
	r, err := New(Opts{Actuators: acts, Desired: box.get, Refresh: refresh, Logger: quiet, Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func reasons(rep Report) []string {
	var out []string
	for _, e := range rep.Events {
		s := e.Actuator + " " + e.Target.Node + " " + e.Desired.String() + " " + string(e.Reason)
		if e.Err != nil {
			s += " failed"
		}
		out = append(out, s)
	}
	return out
}

func TestReconcile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	lb := newMemLB("lb")
	box := &desiredBox{m: map[decide.Target]decide.Desired{tA: decide.Shed.Desired(), tB: decide.Drained.Desired()}}
	r := newTestReconciler(t, box, &fakeClock{t: time.Unix(1_795_000_000, 0)}, 0, memObserver{lb})

	steps := []struct {
		name    string
		before  func()
		events  []string
		applied []string
		diverge int
	}{
		{
			name:    "a collector restart applies what the engine holds",
			events:  []string{"lb a ready 50% not_applied", "lb b drain not_applied"},
			applied: []string{"a ready 50%", "b drain"},
		},
		{name: "nothing more while in place"},
		{
			name:    "a reload is re-applied",
			before:  lb.reload,
			events:  []string{"lb a ready 50% lb_restarted", "lb b drain lb_restarted"},
			applied: []string{"a ready 50%", "b drain"},
		},
		{
			name:    "an operator's change is left alone and reported once",
			before:  func() { lb.set(tA, Observed{Status: StatusMaint}) },
			diverge: 1,
		},
		{name: "still left alone, not reported again"},
		{
			name: "the engine's new wish is applied",
			before: func() {
				box.set(map[decide.Target]decide.Desired{tA: decide.Drained.Desired(), tB: decide.Drained.Desired()})
			},
			events: []string{"lb a drain not_applied"}, applied: []string{"a drain"},
		},
		{
			name:   "a target no longer desired is left alone",
			before: func() { box.set(map[decide.Target]decide.Desired{tB: decide.Drained.Desired()}); lb.reload() },
			events: []string{"lb b drain lb_restarted"}, applied: []string{"b drain"},
		},
		{
			name: "a failed apply is retried at the next pass",
			before: func() {
				box.set(map[decide.Target]decide.Desired{tB: decide.Ramp25.Desired()})
				lb.mu.Lock()
				lb.fail = 1
				lb.mu.Unlock()
			},
			events: []string{"lb b ready 25% not_applied failed"}, applied: []string{"b ready 25%"},
		},
		{name: "retry", events: []string{"lb b ready 25% retry"}, applied: []string{"b ready 25%"}},
		{
			name: "a restart whose re-apply fails stays to be re-applied",
			before: func() {
				lb.reload()
				lb.mu.Lock()
				lb.fail = 1
				lb.mu.Unlock()
			},
			events: []string{"lb b ready 25% lb_restarted failed"}, applied: []string{"b ready 25%"},
		},
		{name: "retry after the restart", events: []string{"lb b ready 25% retry"}, applied: []string{"b ready 25%"}},
		{name: "done"},
	}
	for _, st := range steps {
		if st.before != nil {
			st.before()
		}
		rep := r.Reconcile(ctx)
		if got := reasons(rep); !slices.Equal(got, st.events) {
			t.Errorf("%s: events %q, want %q", st.name, got, st.events)
		}
		if got := lb.takeApplied(); !slices.Equal(got, st.applied) {
			t.Errorf("%s: applied %q, want %q", st.name, got, st.applied)
		}
		if len(rep.Divergences) != st.diverge {
			t.Errorf("%s: %d divergences, want %d: %+v", st.name, len(rep.Divergences), st.diverge, rep.Divergences)
		}
	}
	want := Stats{Passes: uint64(len(steps)), Applied: 8, Reapplied: 3, Failed: 2, Diverged: 1}
	if got := r.Stats(); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
	if o, ok := lb.state[tA]; ok {
		t.Errorf("a, no longer desired, was set after the reload: %+v", o)
	}
}

func TestReconcileObservedInPlace(t *testing.T) {
	t.Parallel()
	// After a collector restart, what the load balancer already shows is
	// not sent again.
	lb := newMemLB("lb")
	lb.set(tA, Observed{Status: StatusDrain})
	box := &desiredBox{m: map[decide.Target]decide.Desired{tA: decide.Drained.Desired()}}
	r := newTestReconciler(t, box, &fakeClock{t: time.Unix(1_795_000_000, 0)}, 0, memObserver{lb})
	if rep := r.Reconcile(context.Background()); len(rep.Events) != 0 || len(lb.takeApplied()) != 0 {
		t.Errorf("events %q for a state already in place", reasons(rep))
	}
}

func TestReconcileBlindActuator(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := &fakeClock{t: time.Unix(1_795_000_000, 0)}
	m := newMemLB("hook")
	m.skip["b"] = true
	box := &desiredBox{m: map[decide.Target]decide.Desired{tA: decide.Shed.Desired(), tB: decide.Shed.Desired()}}
	r := newTestReconciler(t, box, clock, time.Minute, blind{m})

	if got := reasons(r.Reconcile(ctx)); !slices.Equal(got, []string{"hook a ready 50% not_applied"}) {
		t.Errorf("first pass: %q (b is not handled, silently)", got)
	}
	clock.add(30 * time.Second)
	if got := reasons(r.Reconcile(ctx)); len(got) != 0 {
		t.Errorf("before the refresh: %q", got)
	}
	clock.add(30 * time.Second)
	if got := reasons(r.Reconcile(ctx)); !slices.Equal(got, []string{"hook a ready 50% refresh"}) {
		t.Errorf("at the refresh: %q", got)
	}
	if s := r.Stats(); s.Refreshed != 1 || s.Applied != 2 {
		t.Errorf("stats %+v", s)
	}
	if got := m.takeApplied(); !slices.Equal(got, []string{"a ready 50%", "a ready 50%"}) {
		t.Errorf("applied %q", got)
	}
}

func TestReconcilerApply(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	lb := newMemLB("lb")
	hook := newMemLB("hook")
	hook.skip["a"] = true
	box := &desiredBox{m: map[decide.Target]decide.Desired{}}
	var events []Event
	r, err := New(Opts{Actuators: []Actuator{memObserver{lb}, blind{hook}}, Desired: box.get, Logger: quiet,
		OnApply: func(e Event) { events = append(events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	// The decision loop sheds a, then publishes its desired state.
	if err := r.Apply(ctx, tA, decide.Shed.Desired()); err != nil {
		t.Fatal(err)
	}
	box.set(map[decide.Target]decide.Desired{tA: decide.Shed.Desired()})
	if rep := r.Reconcile(ctx); len(rep.Events) != 0 {
		t.Errorf("the loop repeated an explicit apply: %q", reasons(rep))
	}
	// The restore to full is explicit: a leaves the desired state.
	box.set(map[decide.Target]decide.Desired{})
	if err := r.Apply(ctx, tA, decide.Full.Desired()); err != nil {
		t.Fatal(err)
	}
	r.Reconcile(ctx)
	if got := lb.takeApplied(); !slices.Equal(got, []string{"a ready 50%", "a ready 100%"}) {
		t.Errorf("applied %q", got)
	}
	if len(events) != 2 || events[0].Reason != ReasonExplicit || events[1].Desired != decide.Full.Desired() {
		t.Errorf("events %+v", events)
	}
	// Nobody serves a target: an error.
	lb.skip["c"], hook.skip["c"] = true, true
	if err := r.Apply(ctx, decide.Target{Node: "c", LB: "lb9"}, decide.Shed.Desired()); err == nil {
		t.Error("no error for a target no actuator serves")
	}
	// A failure is returned and retried by the loop, at the actuator that
	// failed only.
	lb.fail = 1
	err = r.Apply(ctx, tB, decide.Drained.Desired())
	if err == nil {
		t.Fatal("no error from a failed apply")
	}
	box.set(map[decide.Target]decide.Desired{tB: decide.Drained.Desired()})
	if got := reasons(r.Reconcile(ctx)); !slices.Equal(got, []string{"lb b drain retry"}) {
		t.Errorf("after a failed explicit apply: %q", got)
	}
}

// TestReconcileSuperseded checks that a pass working from an older
// snapshot does not undo an Apply made while it ran.
func TestReconcileSuperseded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	lb := newMemLB("lb")
	lb.block = make(chan struct{})
	box := &desiredBox{m: map[decide.Target]decide.Desired{tA: decide.Shed.Desired(), tB: decide.Shed.Desired()}}
	r := newTestReconciler(t, box, &fakeClock{t: time.Unix(1_795_000_000, 0)}, 0, blind{lb})

	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Reconcile(ctx) // blocks in a's apply
	}()
	applied := make(chan error)
	go func() {
		// The engine drains b meanwhile.
		box.set(map[decide.Target]decide.Desired{tA: decide.Shed.Desired(), tB: decide.Drained.Desired()})
		applied <- r.Apply(ctx, tB, decide.Drained.Desired())
	}()
	close(lb.block) // unblock every apply
	if err := <-applied; err != nil {
		t.Fatal(err)
	}
	<-done
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if got := lb.state[tB]; got.Status != StatusDrain {
		t.Errorf("b ends %+v after %q, want drained", got, lb.applied)
	}
}

func TestRunPokeAndStop(t *testing.T) {
	t.Parallel()
	lb := newMemLB("lb")
	box := &desiredBox{m: map[decide.Target]decide.Desired{}}
	r, err := New(Opts{Actuators: []Actuator{memObserver{lb}}, Desired: box.get, Interval: time.Hour, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	waitFor(t, func() bool { return r.Stats().Passes >= 1 })
	box.set(map[decide.Target]decide.Desired{tA: decide.Drained.Desired()})
	r.Poke()
	waitFor(t, func() bool { return r.Stats().Applied == 1 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	d := func() map[decide.Target]decide.Desired { return nil }
	for name, o := range map[string]Opts{
		"no actuators":  {Desired: d},
		"nil actuator":  {Actuators: []Actuator{nil}, Desired: d},
		"no desired fn": {Actuators: []Actuator{newMemLB("x")}},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
