package lbwatch

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/haproxy"
)

// fakeRuntime answers as one HAProxy with the servers api/s1 and api/s2.
type fakeRuntime struct {
	info    haproxy.Info
	weights map[string][2]int // server → current, initial weight
	failOn  string            // the command that fails, if any
}

func (f *fakeRuntime) ShowInfo(context.Context) (haproxy.Info, error) {
	if f.failOn == "show info" {
		return haproxy.Info{}, errors.New("show info: connection refused")
	}
	return f.info, nil
}

func (f *fakeRuntime) ShowStat(context.Context) ([]haproxy.Stat, error) {
	if f.failOn == "show stat" {
		return nil, errors.New("show stat: connection refused")
	}
	return []haproxy.Stat{
		{Proxy: "api", Server: "s1", Type: haproxy.Server, Status: "UP", Stot: 10},
		{Proxy: "api", Server: "s2", Type: haproxy.Server, Status: "DRAIN", Stot: 20},
	}, nil
}

func (f *fakeRuntime) ShowServersState(context.Context) ([]haproxy.ServerState, error) {
	var out []haproxy.ServerState
	for s, w := range f.weights {
		out = append(out, haproxy.ServerState{Backend: "api", Server: s, OpState: 2, Weight: w[0], InitialWeight: w[1]})
	}
	return out, nil
}

func TestPollRestartsAndWeights(t *testing.T) {
	t.Parallel()
	rt := &fakeRuntime{info: haproxy.Info{Pid: 10, StartTimeSec: 1000, UptimeSec: 5}, weights: map[string][2]int{"s1": {1, 3}}}
	in := Instance{Name: "lb1", Runtime: rt, Period: time.Second}
	w := New([]Instance{in}, time.Minute, slog.New(slog.DiscardHandler), func() time.Time { return time.Unix(1_795_000_000, 0) })
	ctx := context.Background()

	poll := func(step string, wantGen uint64) {
		t.Helper()
		if err := w.Poll(ctx, in); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if got := w.Generation("lb1"); got != wantGen {
			t.Errorf("%s: generation %d, want %d", step, got, wantGen)
		}
	}
	poll("first look", 0)
	s1, ok := w.Server("lb1", "api", "s1")
	if !ok || s1.WeightPct != 33 || s1.Status != "UP" {
		t.Errorf("s1 %+v (%v), want UP at 33%% (1 of 3)", s1, ok)
	}
	// A server missing from `show servers state` reads at full weight.
	if s2, ok := w.Server("lb1", "api", "s2"); !ok || s2.WeightPct != 100 {
		t.Errorf("s2 %+v (%v), want 100%%", s2, ok)
	}

	rt.info.UptimeSec = 20
	poll("same process", 0)
	rt.info = haproxy.Info{Pid: 11, StartTimeSec: 1100, UptimeSec: 1}
	poll("reload", 1)
	poll("reload counted once", 1)

	// A restart seen while the poll fails counts once the poll succeeds.
	rt.info = haproxy.Info{Pid: 11, StartTimeSec: 1200, UptimeSec: 1}
	rt.failOn = "show stat"
	if err := w.Poll(ctx, in); err == nil {
		t.Fatal("failed poll: no error")
	}
	if ok, down := w.Reachable(); ok || len(down) != 1 || down[0] != "lb1" {
		t.Errorf("reachable %v %v after a failed poll", ok, down)
	}
	rt.failOn = ""
	poll("restart in a container, same pid", 2)
}

// gatedRuntime holds its first `show servers state` until released, so two
// polls can overlap.
type gatedRuntime struct {
	fakeRuntime
	entered, release chan struct{}
	calls            int
}

func (g *gatedRuntime) ShowServersState(ctx context.Context) ([]haproxy.ServerState, error) {
	g.calls++
	out, err := g.fakeRuntime.ShowServersState(ctx)
	if g.calls == 1 {
		close(g.entered)
		<-g.release
	}
	return out, err
}

// TestOlderPollDoesNotOverwriteNewer: a poll asked for right after a
// command can finish before the periodic poll that was already under way;
// the older reading must not replace the newer one.
func TestOlderPollDoesNotOverwriteNewer(t *testing.T) {
	t.Parallel()
	rt := &gatedRuntime{fakeRuntime: fakeRuntime{info: haproxy.Info{Pid: 10, StartTimeSec: 1000}, weights: map[string][2]int{"s1": {100, 100}}},
		entered: make(chan struct{}), release: make(chan struct{})}
	in := Instance{Name: "lb1", Runtime: rt, Period: time.Second}
	w := New([]Instance{in}, time.Minute, slog.New(slog.DiscardHandler), nil)
	ctx := context.Background()

	older := make(chan error)
	go func() { older <- w.Poll(ctx, in) }() // reads weight 100, then waits
	<-rt.entered
	rt.weights = map[string][2]int{"s1": {50, 100}} // the command takes effect
	if err := w.Poll(ctx, in); err != nil {
		t.Fatal(err)
	}
	close(rt.release)
	if err := <-older; err != nil {
		t.Fatal(err)
	}
	if s1, _ := w.Server("lb1", "api", "s1"); s1.WeightPct != 50 {
		t.Errorf("s1 at %d%%, want the newer reading, 50%%", s1.WeightPct)
	}
}
