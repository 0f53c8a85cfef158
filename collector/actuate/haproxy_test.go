package actuate

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/collector/haproxy"
)

var quiet = slog.New(slog.DiscardHandler)

var fastBackoff = Backoff{Attempts: 3, Initial: time.Millisecond, Max: 2 * time.Millisecond}

func newTestHAProxy(t *testing.T, lbs map[string]Runtime) *HAProxy {
	t.Helper()
	h, err := NewHAProxy(HAProxyOpts{LBs: lbs, Backoff: fastBackoff, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHAProxyApplySequence(t *testing.T) {
	t.Parallel()
	f := startFakeHAProxy(t, map[string]int{"api/s1": 100, "api/s2": 3})
	h := newTestHAProxy(t, map[string]Runtime{"lb1": newTestLB(t, "lb1", f.addr, time.Second)})
	ctx := context.Background()
	n1 := decide.Target{Node: "n1", LB: "lb1", Backend: "api", Server: "s1"}

	steps := []struct {
		name     string
		level    decide.Level
		commands []string
		want     fakeServer
	}{
		// Weight before ready: the ready is a no-op here, but on the way
		// back from drain it must come second.
		{"shed", decide.Shed, []string{"set server api/s1 weight 50%", "set server api/s1 state ready"}, fakeServer{0, 50, 100}},
		// A drain is one command and keeps the weight.
		{"drain", decide.Drained, []string{"set server api/s1 state drain"}, fakeServer{0x08, 50, 100}},
		{"drain again", decide.Drained, []string{"set server api/s1 state drain"}, fakeServer{0x08, 50, 100}},
		{"ramp 25", decide.Ramp25, []string{"set server api/s1 weight 25%", "set server api/s1 state ready"}, fakeServer{0, 25, 100}},
		{"ramp 50", decide.Ramp50, []string{"set server api/s1 weight 50%", "set server api/s1 state ready"}, fakeServer{0, 50, 100}},
		{"full", decide.Full, []string{"set server api/s1 weight 100%", "set server api/s1 state ready"}, fakeServer{0, 100, 100}},
	}
	for _, st := range steps {
		if err := h.Apply(ctx, n1, st.level.Desired()); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := f.commands(); !slices.Equal(got, st.commands) {
			t.Errorf("%s: sent %q, want %q", st.name, got, st.commands)
		}
		if got := f.server("api/s1"); got != st.want {
			t.Errorf("%s: server %+v, want %+v", st.name, got, st.want)
		}
		obs, err := h.Observe(ctx, []decide.Target{n1})
		if err != nil {
			t.Fatal(err)
		}
		if !obs[n1].Satisfies(st.level.Desired()) {
			t.Errorf("%s: observed %v does not satisfy %v", st.name, obs[n1], st.level.Desired())
		}
	}
	// s2 was never touched; a small initial weight compares exactly.
	n2 := decide.Target{Node: "n2", LB: "lb1", Backend: "api", Server: "s2"}
	if err := h.Apply(ctx, n2, decide.Shed.Desired()); err != nil {
		t.Fatal(err)
	}
	obs, err := h.Observe(ctx, []decide.Target{n2})
	if err != nil {
		t.Fatal(err)
	}
	if o := obs[n2]; o.Weight != 1 || o.InitialWeight != 3 || !o.Satisfies(decide.Shed.Desired()) || o.Satisfies(decide.Ramp25.Desired()) {
		t.Errorf("observed %+v after 50%% of 3", o)
	}
	if s := h.Stats(); s.Applied != 7 || s.Failed != 0 || s.Retries != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestHAProxyApplyErrors(t *testing.T) {
	t.Parallel()
	f := startFakeHAProxy(t, map[string]int{"api/s1": 100})
	lb := newTestLB(t, "lb1", f.addr, 50*time.Millisecond)
	h := newTestHAProxy(t, map[string]Runtime{"lb1": lb})
	ctx := context.Background()

	t.Run("no such server is not retried", func(t *testing.T) {
		err := h.Apply(ctx, decide.Target{Node: "n9", LB: "lb1", Backend: "api", Server: "s9"}, decide.Drained.Desired())
		if !errors.Is(err, haproxy.ErrNoSuchServer) {
			t.Fatalf("error %v, want ErrNoSuchServer", err)
		}
		for _, want := range []string{"lb1", "api/s9", "n9", "No such server."} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %q", err, want)
			}
		}
		if got := f.commands(); len(got) != 1 {
			t.Errorf("sent %q, want one command", got)
		}
	})
	t.Run("unknown load balancer", func(t *testing.T) {
		err := h.Apply(ctx, decide.Target{Node: "n1", LB: "lb7", Backend: "api", Server: "s1"}, decide.Shed.Desired())
		if !errors.Is(err, ErrNotHandled) || !strings.Contains(err.Error(), "lb7") {
			t.Errorf("error %v, want ErrNotHandled naming lb7", err)
		}
	})
	t.Run("invalid weight", func(t *testing.T) {
		for _, d := range []decide.Desired{{Weight: 150}, {}} {
			err := h.Apply(ctx, decide.Target{Node: "n1", LB: "lb1", Backend: "api", Server: "s1"}, d)
			if err == nil || len(f.commands()) != 0 {
				t.Errorf("%+v: error %v; it must be refused before sending", d, err)
			}
		}
	})
	t.Run("timeouts are retried", func(t *testing.T) {
		f.hangNext(2)
		n1 := decide.Target{Node: "n1", LB: "lb1", Backend: "api", Server: "s1"}
		before := h.Stats()
		if err := h.Apply(ctx, n1, decide.Drained.Desired()); err != nil {
			t.Fatal(err)
		}
		if got := h.Stats().Retries - before.Retries; got != 2 {
			t.Errorf("%d retries, want 2", got)
		}
		if s := f.server("api/s1"); s.admin != 0x08 {
			t.Errorf("server %+v, want drained", s)
		}
		f.commands()
	})
	t.Run("timeouts exhaust the attempts", func(t *testing.T) {
		f.hangNext(100)
		defer f.hangNext(0)
		err := h.Apply(ctx, decide.Target{Node: "n1", LB: "lb1", Backend: "api", Server: "s1"}, decide.Shed.Desired())
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "after 3 tries") {
			t.Errorf("error %v, want a deadline after 3 tries", err)
		}
	})
}

func TestHAProxyObserveRestart(t *testing.T) {
	t.Parallel()
	f := startFakeHAProxy(t, map[string]int{"api/s1": 100, "api/s2": 100})
	h := newTestHAProxy(t, map[string]Runtime{"lb1": newTestLB(t, "lb1", f.addr, time.Second)})
	ctx := context.Background()
	n1 := decide.Target{Node: "n1", LB: "lb1", Backend: "api", Server: "s1"}
	gone := decide.Target{Node: "n3", LB: "lb1", Backend: "api", Server: "s3"}
	other := decide.Target{Node: "n1", LB: "lb2", Backend: "api", Server: "s1"}

	if err := h.Apply(ctx, n1, decide.Drained.Desired()); err != nil {
		t.Fatal(err)
	}
	check := func(step string, want Observed) {
		t.Helper()
		obs, err := h.Observe(ctx, []decide.Target{n1, gone, other})
		if !errors.Is(err, haproxy.ErrNoSuchServer) || !strings.Contains(err.Error(), "api/s3") {
			t.Errorf("%s: error %v, want no such server api/s3", step, err)
		}
		if len(obs) != 1 || obs[n1] != want {
			t.Errorf("%s: observed %+v, want only %v: %+v", step, obs, n1, want)
		}
	}
	check("first look", Observed{Status: StatusDrain, WeightPct: 100, Weight: 100, InitialWeight: 100})
	f.restart()
	check("after the restart", Observed{Status: StatusReady, WeightPct: 100, Weight: 100, InitialWeight: 100, Restarted: true})
	check("once only", Observed{Status: StatusReady, WeightPct: 100, Weight: 100, InitialWeight: 100})
	if got := h.Stats().Restarts; got != 1 {
		t.Errorf("%d restarts counted, want 1", got)
	}
}

func TestObservedSatisfies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		o    Observed
		d    decide.Desired
		want bool
	}{
		{"drained", Observed{Status: StatusDrain, WeightPct: 50}, decide.Drained.Desired(), true},
		{"ready is not drained", Observed{Status: StatusReady, WeightPct: 100}, decide.Drained.Desired(), false},
		{"maint is not drained", Observed{Status: StatusMaint}, decide.Drained.Desired(), false},
		{"shed", Observed{Status: StatusReady, WeightPct: 50, Weight: 50, InitialWeight: 100}, decide.Shed.Desired(), true},
		{"shed, 50% of 3", Observed{Status: StatusReady, WeightPct: 33, Weight: 1, InitialWeight: 3}, decide.Shed.Desired(), true},
		{"full, 100% of 3", Observed{Status: StatusReady, WeightPct: 33, Weight: 1, InitialWeight: 3}, decide.Full.Desired(), false},
		{"drain is not shed", Observed{Status: StatusDrain, WeightPct: 50, Weight: 50, InitialWeight: 100}, decide.Shed.Desired(), false},
		{"cap at 256", Observed{Status: StatusReady, Weight: 256, InitialWeight: 200}, decide.Desired{Weight: 100}, false},
		{"no raw weights, within 1%", Observed{Status: StatusReady, WeightPct: 26}, decide.Ramp25.Desired(), true},
		{"no raw weights, 2% off", Observed{Status: StatusReady, WeightPct: 27}, decide.Ramp25.Desired(), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.o.Satisfies(tc.d); got != tc.want {
				t.Errorf("%+v.Satisfies(%v) = %v, want %v", tc.o, tc.d, got, tc.want)
			}
		})
	}
}

func TestObserved(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    haproxy.ServerState
		want Observed
	}{
		{"ready", haproxy.ServerState{Weight: 100, InitialWeight: 100}, Observed{Status: StatusReady, WeightPct: 100, Weight: 100, InitialWeight: 100}},
		// `set server api/s2 state drain` and `weight 50%` at initial 3.
		{"drained, 50% of 3", haproxy.ServerState{AdminState: 0x08, Weight: 1, InitialWeight: 3}, Observed{Status: StatusDrain, WeightPct: 33, Weight: 1, InitialWeight: 3}},
		{"maint", haproxy.ServerState{AdminState: 0x01, Weight: 10, InitialWeight: 10}, Observed{Status: StatusMaint, WeightPct: 100, Weight: 10, InitialWeight: 10}},
		{"configured weight 0", haproxy.ServerState{}, Observed{Status: StatusReady, WeightPct: 100}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := observed(tc.s); got != tc.want {
				t.Errorf("observed(%+v) = %+v, want %+v", tc.s, got, tc.want)
			}
		})
	}
}

// TestReconcileHAProxyRestartUnseen covers a restart noticed by `show
// info` when `show servers state` then fails: the restart is reported
// with the next state read, so the reconciler still re-applies.
func TestReconcileHAProxyRestartUnseen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := startFakeHAProxy(t, map[string]int{"api/s1": 100})
	h := newTestHAProxy(t, map[string]Runtime{"lb1": newTestLB(t, "lb1", f.addr, 50*time.Millisecond)})
	n1 := decide.Target{Node: "n1", LB: "lb1", Backend: "api", Server: "s1"}
	box := &desiredBox{m: map[decide.Target]decide.Desired{n1: decide.Drained.Desired()}}
	r := newTestReconciler(t, box, &fakeClock{t: time.Unix(1_795_000_000, 0)}, 0, h)

	if got := reasons(r.Reconcile(ctx)); !slices.Equal(got, []string{"haproxy n1 drain not_applied"}) {
		t.Fatalf("first pass: %q", got)
	}
	f.restart()
	f.hangOn("show servers state", 1)
	rep := r.Reconcile(ctx)
	if len(rep.Events) != 0 || len(rep.ObserveErrors) != 1 || r.Stats().ObserveFailed != 1 {
		t.Errorf("while the state cannot be read: events %q, observe errors %v", reasons(rep), rep.ObserveErrors)
	}
	if got := reasons(r.Reconcile(ctx)); !slices.Equal(got, []string{"haproxy n1 drain lb_restarted"}) {
		t.Errorf("once it can: %q", got)
	}
	if s := f.server("api/s1"); s.admin != 0x08 {
		t.Errorf("server %+v, want drained again", s)
	}
	// The LB is down: nothing applied, the failure counted.
	f.stop()
	rep = r.Reconcile(ctx)
	if len(rep.Events) != 0 || len(rep.ObserveErrors) != 1 || !strings.Contains(rep.ObserveErrors[0].Error(), "lb1") {
		t.Errorf("LB down: events %q, observe errors %v", reasons(rep), rep.ObserveErrors)
	}
}
