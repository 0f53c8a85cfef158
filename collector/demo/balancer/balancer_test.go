package balancer

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/haplog"
	"github.com/rackwatch/rackwatch/collector/haproxy"
	"github.com/rackwatch/rackwatch/collector/service"
)

// The collector steers a Balancer through the same interface as HAProxy.
var _ service.Runtime = (*Balancer)(nil)

type node struct {
	srv   *httptest.Server
	hits  atomic.Int64
	delay time.Duration
}

func newNodes(t *testing.T, delays ...time.Duration) ([]*node, []Server) {
	t.Helper()
	var nodes []*node
	var servers []Server
	for i, d := range delays {
		n := &node{delay: d}
		n.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			n.hits.Add(1)
			time.Sleep(n.delay)
		}))
		t.Cleanup(n.srv.Close)
		nodes = append(nodes, n)
		servers = append(servers, Server{Name: string(rune('a' + i)), URL: n.srv.URL})
	}
	return nodes, servers
}

func send(t *testing.T, b *Balancer, n int) {
	t.Helper()
	for range n {
		if _, err := b.Do(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func hits(nodes []*node) []int64 {
	out := make([]int64, len(nodes))
	for i, n := range nodes {
		out[i] = n.hits.Swap(0)
	}
	return out
}

func TestSpreadFollowsWeightsAndStates(t *testing.T) {
	t.Parallel()
	nodes, servers := newNodes(t, 0, 0, 0)
	b, err := New("api", servers, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	steps := []struct {
		name  string
		apply func() error
		want  []int64 // of 400 requests
	}{
		{"even", func() error { return nil }, []int64{134, 133, 133}},
		{"b at 50 %", func() error { return b.SetWeight(ctx, "api", "b", 50) }, []int64{160, 80, 160}},
		{"b drained", func() error { return b.SetServerState(ctx, "api", "b", haproxy.Drain) }, []int64{200, 0, 200}},
		{"c in maintenance", func() error { return b.SetServerState(ctx, "api", "c", haproxy.Maint) }, []int64{400, 0, 0}},
		{"all back", func() error {
			return errors.Join(b.SetServerState(ctx, "api", "b", haproxy.Ready), b.SetWeight(ctx, "api", "b", 100),
				b.SetServerState(ctx, "api", "c", haproxy.Ready))
		}, []int64{134, 133, 133}},
	}
	for _, st := range steps {
		if err := st.apply(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		send(t, b, 400)
		got := hits(nodes)
		for i := range got {
			// Smooth round robin is exact up to where the cycle stands.
			if d := got[i] - st.want[i]; d < -1 || d > 1 {
				t.Errorf("%s: requests per server %v, want %v", st.name, got, st.want)
				break
			}
		}
	}
}

func TestRuntimeViews(t *testing.T) {
	t.Parallel()
	_, servers := newNodes(t, 0, 30*time.Millisecond)
	b, err := New("api", servers, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	send(t, b, 10)
	if err := b.SetWeight(ctx, "api", "a", 25); err != nil {
		t.Fatal(err)
	}
	if err := b.SetServerState(ctx, "api", "b", haproxy.Drain); err != nil {
		t.Fatal(err)
	}
	stats, _ := b.ShowStat(ctx)
	if len(stats) != 2 || !stats[0].IsServer() || stats[0].Status != "UP" || stats[1].Status != "DRAIN" {
		t.Fatalf("show stat: %+v", stats)
	}
	if stats[0].Stot != 5 || stats[1].Stot != 5 || stats[0].Weight != 25 {
		t.Errorf("stot %d and %d, weight %d; want 5, 5 and 25", stats[0].Stot, stats[1].Stot, stats[0].Weight)
	}
	if stats[1].RTime < 30*time.Millisecond || stats[0].RTime >= 30*time.Millisecond {
		t.Errorf("rtime a %v, b %v; want b, the slow one, at 30 ms or more", stats[0].RTime, stats[1].RTime)
	}
	states, _ := b.ShowServersState(ctx)
	if states[0].Status() != haproxy.StatusReady || states[0].WeightPct() != 25 || states[1].Status() != haproxy.StatusDrain {
		t.Errorf("servers state: a %s %d%%, b %s", states[0].Status(), states[0].WeightPct(), states[1].Status())
	}
	if err := b.SetServerState(ctx, "api", "a", haproxy.Drain); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Do(ctx); !errors.Is(err, ErrNoServer) {
		t.Errorf("Do with every server drained: %v, want ErrNoServer", err)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	if _, err := New("api", nil, nil, nil); err == nil {
		t.Error("New without servers succeeded")
	}
	if _, err := New("api", []Server{{Name: "a"}, {Name: "a"}}, nil, nil); err == nil {
		t.Error("New with a server twice succeeded")
	}
	_, servers := newNodes(t, 0)
	b, _ := New("api", servers, nil, nil)
	ctx := context.Background()
	for name, err := range map[string]error{
		"unknown backend": b.SetWeight(ctx, "web", "a", 50),
		"unknown server":  b.SetServerState(ctx, "api", "z", haproxy.Drain),
		"weight above":    b.SetWeight(ctx, "api", "a", 101),
		"unknown state":   b.SetServerState(ctx, "api", "a", haproxy.State(99)),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer down.Close()
	b, _ = New("api", []Server{{Name: "d", URL: down.URL}}, nil, nil)
	if srv, err := b.Do(ctx); err == nil || srv != "d" {
		t.Errorf("Do on a 503: %q, %v; want server d and an error", srv, err)
	}
	if st, _ := b.ShowStat(ctx); st[0].Hrsp5xx != 1 {
		t.Errorf("hrsp_5xx %d, want 1", st[0].Hrsp5xx)
	}
}

// Each request is logged in the format the collector's request-log
// listener reads from HAProxy.
func TestLogsAsHAProxyHTTPLog(t *testing.T) {
	t.Parallel()
	_, servers := newNodes(t, 20*time.Millisecond)
	b, err := New("api", servers, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if err := b.LogTo(pc.LocalAddr().String()); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	send(t, b, 1)
	buf := make([]byte, 2048)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	e, err := haplog.ParseHTTPLog(buf[:n])
	if err != nil {
		t.Fatalf("%s: %v", buf[:n], err)
	}
	if e.Backend != "api" || e.Server != "a" || e.Status != 200 || e.Tr < 20 || e.Ta < e.Tr {
		t.Errorf("parsed %+v from %s", e, buf[:n])
	}
}
