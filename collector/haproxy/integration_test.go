package haproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/deploy/testrig"
)

// slowDelay is how long the third server takes to answer, so that its
// rtime stands out from the others in `show stat`.
const slowDelay = 30 * time.Millisecond

// TestIntegrationHAProxy drives a real HAProxy 2.6 balancing over three
// HTTP servers: latency is read from `show stat`, and draining a server
// moves the traffic off it.
func TestIntegrationHAProxy(t *testing.T) {
	names := []string{"s1", "s2", "s3"}
	hits := make([]atomic.Int64, len(names))
	var servers []testrig.HAProxyServer
	for i, name := range names {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			if name == "s3" {
				time.Sleep(slowDelay)
			}
			fmt.Fprintln(w, name)
		}))
		t.Cleanup(srv.Close)
		servers = append(servers, testrig.HAProxyServer{Name: name, Addr: srv.URL})
	}
	h := testrig.StartHAProxy(t, testrig.HAProxyOpts{
		Backend:       "api",
		Servers:       servers,
		ServerOptions: "weight 100",
	})
	c, err := New(&Opts{Name: "it", Addr: h.Socket})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	httpc := &http.Client{
		Timeout: 5 * time.Second,
		// A new connection per request keeps the balancing decision per
		// request whatever HAProxy's keep-alive settings.
		Transport: &http.Transport{DisableKeepAlives: true},
	}
	defer httpc.CloseIdleConnections()
	// send makes n requests through the frontend and returns the hits each
	// server received meanwhile.
	send := func(n int) []int64 {
		t.Helper()
		before := make([]int64, len(hits))
		for i := range hits {
			before[i] = hits[i].Load()
		}
		for range n {
			resp, err := httpc.Get("http://" + h.FrontendAddr + "/")
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("frontend answered %s", resp.Status)
			}
		}
		out := make([]int64, len(hits))
		for i := range hits {
			out[i] = hits[i].Load() - before[i]
		}
		return out
	}
	// stat returns the backend's server rows by name.
	stat := func() map[string]Stat {
		t.Helper()
		stats, err := c.ShowStat(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]Stat{}
		for _, s := range Servers(stats) {
			if s.Proxy == h.Backend {
				out[s.Server] = s
			}
		}
		return out
	}

	got := send(30)
	for i, name := range names {
		if got[i] == 0 {
			t.Fatalf("%s got no request of 30: %v", name, got)
		}
	}
	st := stat()
	if len(st) != len(names) {
		t.Fatalf("show stat lists %d servers in %s, want %d: %v", len(st), h.Backend, len(names), st)
	}
	for i, name := range names {
		s, ok := st[name]
		if !ok {
			t.Fatalf("show stat has no %s/%s", h.Backend, name)
		}
		if s.Stot == 0 || s.Stot != uint64(got[i]) {
			t.Errorf("%s: stot %d, want the %d requests it served", name, s.Stot, got[i])
		}
		if !strings.HasPrefix(s.Status, "UP") {
			t.Errorf("%s: status %q, want UP", name, s.Status)
		}
		if s.Weight != 100 {
			t.Errorf("%s: weight %d, want 100", name, s.Weight)
		}
	}
	// rtime is a decaying average in whole ms over the last 1024 requests:
	// with few requests it reads somewhat below the delay (28 ms for 30 ms
	// has been seen), the others' far below it.
	if rt := st["s3"].RTime; rt < slowDelay*3/4 || rt > 10*slowDelay {
		t.Errorf("s3: rtime %v, want about %v", rt, slowDelay)
	}
	if rt := st["s1"].RTime; rt >= slowDelay {
		t.Errorf("s1: rtime %v, want under %v", rt, slowDelay)
	}

	t.Run("drain and ready", func(t *testing.T) {
		if err := c.SetServerState(ctx, h.Backend, "s2", Drain); err != nil {
			t.Fatal(err)
		}
		if s := stat()["s2"]; s.Status != "DRAIN" {
			t.Errorf("after drain: s2 status %q, want DRAIN", s.Status)
		}
		got := send(30)
		if got[1] != 0 {
			t.Errorf("drained s2 got %d of 30 requests: %v", got[1], got)
		}
		if got[0] == 0 || got[2] == 0 {
			t.Errorf("s1 and s3 should share the load: %v", got)
		}

		if err := c.SetServerState(ctx, h.Backend, "s2", Ready); err != nil {
			t.Fatal(err)
		}
		if s := stat()["s2"]; !strings.HasPrefix(s.Status, "UP") {
			t.Errorf("after ready: s2 status %q, want UP", s.Status)
		}
		if got := send(30); got[1] == 0 {
			t.Errorf("restored s2 got no request of 30: %v", got)
		}
	})

	t.Run("maint", func(t *testing.T) {
		if err := c.SetServerState(ctx, h.Backend, "s1", Maint); err != nil {
			t.Fatal(err)
		}
		if s := stat()["s1"]; s.Status != "MAINT" {
			t.Errorf("after maint: s1 status %q, want MAINT", s.Status)
		}
		if got := send(10); got[0] != 0 {
			t.Errorf("s1 in maintenance got %d requests", got[0])
		}
		if err := c.SetServerState(ctx, h.Backend, "s1", Ready); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("weight", func(t *testing.T) {
		if err := c.SetWeight(ctx, h.Backend, "s3", 50); err != nil {
			t.Fatal(err)
		}
		cur, ini, err := c.GetWeight(ctx, h.Backend, "s3")
		if err != nil {
			t.Fatal(err)
		}
		if cur != 50 || ini != 100 {
			t.Errorf("after 50%%: weight %d (initial %d), want 50 (initial 100)", cur, ini)
		}
		if s := stat()["s3"]; s.Weight != 50 {
			t.Errorf("show stat weight %d, want 50", s.Weight)
		}
		if err := c.SetWeight(ctx, h.Backend, "s3", 100); err != nil {
			t.Fatal(err)
		}
		if cur, ini, err := c.GetWeight(ctx, h.Backend, "s3"); err != nil || cur != 100 || ini != 100 {
			t.Errorf("after 100%%: weight %d (initial %d), %v; want 100 (initial 100)", cur, ini, err)
		}
	})

	t.Run("show info and servers state", func(t *testing.T) {
		info, err := c.ShowInfo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.Pid <= 0 || !strings.HasPrefix(info.Version, "2.") || info.StartTimeSec <= 0 {
			t.Errorf("show info: %+v, want a pid, a 2.x version and a start time", info)
		}
		again, err := c.ShowInfo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var d RestartDetector
		if d.Restarted("it", info) || d.Restarted("it", again) {
			t.Errorf("the same process read twice is taken for a restart: %+v, %+v", info, again)
		}

		if err := c.SetWeight(ctx, h.Backend, "s3", 50); err != nil {
			t.Fatal(err)
		}
		if err := c.SetServerState(ctx, h.Backend, "s2", Drain); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := c.SetWeight(ctx, h.Backend, "s3", 100); err != nil {
				t.Error(err)
			}
			if err := c.SetServerState(ctx, h.Backend, "s2", Ready); err != nil {
				t.Error(err)
			}
		}()
		states, err := c.ShowServersState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]ServerState{}
		for _, s := range states {
			if s.Backend == h.Backend {
				byName[s.Server] = s
			}
		}
		if len(byName) != len(names) {
			t.Fatalf("show servers state lists %d servers in %s, want %d: %+v", len(byName), h.Backend, len(names), states)
		}
		want := map[string]struct {
			status string
			pct    int
		}{"s1": {StatusReady, 100}, "s2": {StatusDrain, 100}, "s3": {StatusReady, 50}}
		for name, w := range want {
			s := byName[name]
			if s.Status() != w.status || s.WeightPct() != w.pct || s.InitialWeight != 100 {
				t.Errorf("%s: %s at %d%% (%+v), want %s at %d%% of 100", name, s.Status(), s.WeightPct(), s, w.status, w.pct)
			}
		}
	})

	t.Run("unknown server", func(t *testing.T) {
		err := c.SetServerState(ctx, h.Backend, "nope", Drain)
		if err == nil || !strings.Contains(err.Error(), "No such server") || !errors.Is(err, ErrNoSuchServer) {
			t.Errorf("drain of unknown server: error %v, want No such server", err)
		}
		_, _, err = c.GetWeight(ctx, h.Backend, "nope")
		if err == nil || !strings.Contains(err.Error(), "No such server") {
			t.Errorf("get weight of unknown server: error %v, want No such server", err)
		}
		err = c.SetWeight(ctx, "nobackend", "s1", 50)
		if !errors.Is(err, ErrNoSuchServer) {
			t.Errorf("set weight in unknown backend: error %v, want ErrNoSuchServer", err)
		}
	})
}
