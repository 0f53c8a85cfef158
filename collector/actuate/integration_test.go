package actuate

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/collector/haproxy"
	"github.com/rackwatch/rackwatch/deploy/testrig"
)

// TestHAProxyIntegration drives a real HAProxy 2.6: the shed, drain and
// restore ramp through the runtime API, then a restart that loses them
// all, which the reconciler notices and repairs.
func TestHAProxyIntegration(t *testing.T) {
	var servers []testrig.HAProxyServer
	for _, name := range []string{"s1", "s2", "s3"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		t.Cleanup(srv.Close)
		servers = append(servers, testrig.HAProxyServer{Name: name, Addr: srv.URL})
	}
	// An initial weight of 100 lets every ramp step show as itself: with
	// HAProxy's default of 1, 50 % and 25 % both round down to 0.
	h := testrig.StartHAProxy(t, testrig.HAProxyOpts{Backend: "api", Servers: servers, ServerOptions: "weight 100"})
	lb, err := haproxy.New(&haproxy.Opts{Name: "lb1", Addr: h.Socket, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var logs testrig.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	act, err := NewHAProxy(HAProxyOpts{LBs: map[string]Runtime{"lb1": lb}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	target := func(s string) decide.Target {
		return decide.Target{Node: "node-" + s, LB: "lb1", Backend: "api", Server: s}
	}

	// status returns the status and weight columns of `show stat`.
	status := func(server string) (string, int) {
		t.Helper()
		stats, err := lb.ShowStat(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range haproxy.Servers(stats) {
			if s.Proxy == "api" && s.Server == server {
				return s.Status, s.Weight
			}
		}
		t.Fatalf("no api/%s in show stat", server)
		return "", 0
	}
	getWeight := func(server string) string {
		return strings.TrimSpace(h.Command(t, "get weight api/"+server))
	}
	// The servers answer health checks: wait until HAProxy sees them up,
	// so that DRAIN (shown only for a server that is up) can show.
	deadline := time.Now().Add(10 * time.Second)
	for _, s := range []string{"s1", "s2", "s3"} {
		for st, _ := status(s); st != "UP"; st, _ = status(s) {
			if time.Now().After(deadline) {
				t.Fatalf("api/%s is %s, not UP", s, st)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	steps := []struct {
		level      decide.Level
		status     string
		getWeight  string
		statWeight int
	}{
		{decide.Shed, "UP", "50 (initial 100)", 50},
		{decide.Drained, "DRAIN", "50 (initial 100)", -1},
		{decide.Ramp25, "UP", "25 (initial 100)", 25},
		{decide.Ramp50, "UP", "50 (initial 100)", 50},
		{decide.Full, "UP", "100 (initial 100)", 100},
	}
	for _, st := range steps {
		if err := act.Apply(ctx, target("s1"), st.level.Desired()); err != nil {
			t.Fatalf("%v: %v", st.level, err)
		}
		gotStatus, gotWeight := status("s1")
		if gotStatus != st.status || (st.statWeight >= 0 && gotWeight != st.statWeight) {
			t.Errorf("%v: show stat says %s weight %d, want %s weight %d", st.level, gotStatus, gotWeight, st.status, st.statWeight)
		}
		if got := getWeight("s1"); got != st.getWeight {
			t.Errorf("%v: get weight says %q, want %q", st.level, got, st.getWeight)
		}
		obs, err := act.Observe(ctx, []decide.Target{target("s1")})
		if err != nil || !obs[target("s1")].Satisfies(st.level.Desired()) {
			t.Errorf("%v: observed %+v (%v)", st.level, obs[target("s1")], err)
		}
	}

	// A server the running HAProxy lacks is reported, not retried.
	err = act.Apply(ctx, target("s9"), decide.Drained.Desired())
	if !errors.Is(err, haproxy.ErrNoSuchServer) || !strings.Contains(err.Error(), "lb1") || !strings.Contains(err.Error(), "api/s9") {
		t.Errorf("unknown server: %v", err)
	}

	// The engine holds s1 drained and s2 shed; s3 is at full service.
	desired := map[decide.Target]decide.Desired{target("s1"): decide.Drained.Desired(), target("s2"): decide.Shed.Desired()}
	var (
		mu     sync.Mutex
		events []Event
	)
	r, err := New(Opts{Actuators: []Actuator{act}, Desired: func() map[decide.Target]decide.Desired { return desired },
		Logger: log, OnApply: func(e Event) { mu.Lock(); events = append(events, e); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	rep := r.Reconcile(ctx)
	if got := reasons(rep); !slices.Equal(got, []string{"haproxy node-s1 drain not_applied", "haproxy node-s2 ready 50% not_applied"}) {
		t.Errorf("first pass: %q", got)
	}
	if rep := r.Reconcile(ctx); len(rep.Events) != 0 {
		t.Errorf("second pass re-applied %q", reasons(rep))
	}

	h.Restart(t)
	// The restart lost the runtime changes.
	if st, _ := status("s1"); st == "DRAIN" {
		t.Fatal("api/s1 still drained after the restart: the restart did not reset the runtime state")
	}
	if got := getWeight("s2"); got != "100 (initial 100)" {
		t.Fatalf("api/s2 weight %q after the restart, want the configured 100", got)
	}

	rep = r.Reconcile(ctx)
	if got := reasons(rep); !slices.Equal(got, []string{"haproxy node-s1 drain lb_restarted", "haproxy node-s2 ready 50% lb_restarted"}) {
		t.Errorf("after the restart: %q, observe errors %v", got, rep.ObserveErrors)
	}
	for _, e := range rep.Events {
		if e.Observed == nil || !e.Observed.Restarted || e.Observed.Status != StatusReady || e.Observed.WeightPct != 100 {
			t.Errorf("event for %s observed %+v, want the reset state after a restart", e.Target.Node, e.Observed)
		}
	}
	if s := r.Stats(); s.Reapplied != 2 || s.Failed != 0 {
		t.Errorf("stats %+v", s)
	}
	if got := getWeight("s2"); got != "50 (initial 100)" {
		t.Errorf("api/s2 weight %q after the re-apply", got)
	}
	obs, err := act.Observe(ctx, []decide.Target{target("s1"), target("s2"), target("s3")})
	if err != nil {
		t.Fatal(err)
	}
	if o := obs[target("s1")]; o.Status != StatusDrain || o.Restarted {
		t.Errorf("s1 observed %+v", o)
	}
	if o := obs[target("s3")]; o.Status != StatusReady || o.WeightPct != 100 {
		t.Errorf("s3, not desired, observed %+v", o)
	}
	if st, _ := status("s1"); st != "DRAIN" {
		t.Errorf("show stat says api/s1 is %s after the re-apply, want DRAIN", st)
	}
	if !strings.Contains(logs.String(), "load balancer restarted") || !strings.Contains(logs.String(), "reason=lb_restarted") {
		t.Errorf("the restart and re-apply are not logged:\n%s", logs.String())
	}
	mu.Lock()
	n := len(events)
	mu.Unlock()
	if n != 4 {
		t.Errorf("%d events reported, want 4", n)
	}
}
