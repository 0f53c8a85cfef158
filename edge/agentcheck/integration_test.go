package agentcheck

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/haproxy"
	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/command"
)

// agentBackend is a real HAProxy 2.6 balancing over two HTTP servers, each
// with its own agent-check responder, as two API nodes would have.
type agentBackend struct {
	h     *testrig.HAProxy
	agent [2]*Responder
	hits  [2]atomic.Int64
	httpc *http.Client
}

// The servers listen on distinct loopback addresses, as API nodes have
// distinct addresses: HAProxy reaches each server's agent at the server's
// address and one agent-port, which the rig sets for every server line.
var serverIPs = [2]string{"127.0.0.2", "127.0.0.3"}

func startAgentBackend(t *testing.T, extraOptions string) *agentBackend {
	t.Helper()
	b := &agentBackend{
		httpc: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
	}
	t.Cleanup(b.httpc.CloseIdleConnections)
	var servers []testrig.HAProxyServer
	for i, ip := range serverIPs {
		ln, err := net.Listen("tcp", ip+":0")
		if err != nil {
			if os.Getenv("CI") == "" {
				t.Skipf("loopback address %s not usable here (Linux routes all of 127/8 to lo): %v", ip, err)
			}
			t.Fatal(err)
		}
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b.hits[i].Add(1)
			fmt.Fprintln(w, i)
		}))
		srv.Listener.Close()
		srv.Listener = ln
		srv.Start()
		t.Cleanup(srv.Close)
		servers = append(servers, testrig.HAProxyServer{Name: fmt.Sprintf("s%d", i+1), Addr: srv.URL})
	}
	// The first responder picks a free port; the second takes the same
	// port on its own address, retrying on a port taken there.
	for attempt := 0; b.agent[1] == nil; attempt++ {
		b.agent[0] = newResponder(t, Opts{Addr: serverIPs[0] + ":0"})
		_, port, _ := net.SplitHostPort(b.agent[0].Addr())
		r, err := New(Opts{Addr: net.JoinHostPort(serverIPs[1], port), Logger: quiet()})
		if err != nil {
			if attempt == 5 {
				t.Fatal(err)
			}
			continue
		}
		r.Close()
		b.agent[1] = newResponder(t, Opts{Addr: r.Addr()})
	}
	_, port, _ := net.SplitHostPort(b.agent[0].Addr())
	b.h = testrig.StartHAProxy(t, testrig.HAProxyOpts{
		Backend:       "api",
		Servers:       servers,
		ServerOptions: strings.TrimSpace(extraOptions + " agent-check agent-port " + port + " agent-inter 200ms"),
	})
	// Both servers up and both agents asked.
	b.waitFor(t, "both servers UP and agents polled", func() bool {
		return b.status(t, "s1") == "UP" && b.status(t, "s2") == "UP" &&
			b.agent[0].Stats().Answered > 0 && b.agent[1].Stats().Answered > 0
	})
	return b
}

func (b *agentBackend) server(t *testing.T, name string) haproxy.Stat {
	t.Helper()
	stats, err := haproxy.ParseStat([]byte(b.h.Command(t, "show stat")))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range haproxy.Servers(stats) {
		if s.Proxy == "api" && s.Server == name {
			return s
		}
	}
	t.Fatalf("no server api/%s in show stat", name)
	return haproxy.Stat{}
}

func (b *agentBackend) status(t *testing.T, name string) string { return b.server(t, name).Status }

func (b *agentBackend) weight(t *testing.T, name string) string {
	return strings.TrimSpace(b.h.Command(t, "get weight api/"+name))
}

// waitFor polls cond for up to 10 s: agent-inter is 200 ms, so HAProxy
// sees a change within a fraction of a second on an idle machine.
func (b *agentBackend) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; s1 %s (weight %s), s2 %s; show stat agent columns: %s",
				what, b.status(t, "s1"), b.weight(t, "s1"), b.status(t, "s2"), b.agentColumns(t))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *agentBackend) agentColumns(t *testing.T) string {
	var out []string
	for _, name := range []string{"s1", "s2"} {
		s := b.server(t, name)
		st, _ := s.Field("agent_status")
		desc, _ := s.Field("agent_desc")
		out = append(out, fmt.Sprintf("%s agent_status=%q agent_desc=%q", name, st, desc))
	}
	return strings.Join(out, "; ")
}

// send makes n requests through the frontend and returns the hits each
// server received.
func (b *agentBackend) send(t *testing.T, n int) [2]int64 {
	t.Helper()
	var before [2]int64
	for i := range b.hits {
		before[i] = b.hits[i].Load()
	}
	for range n {
		resp, err := b.httpc.Get("http://" + b.h.FrontendAddr + "/")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("frontend answered %s", resp.Status)
		}
	}
	var got [2]int64
	for i := range b.hits {
		got[i] = b.hits[i].Load() - before[i]
	}
	return got
}

func (b *agentBackend) set(t *testing.T, i int, s State) {
	t.Helper()
	if err := b.agent[i].Set(s); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationHAProxyAgent checks, against HAProxy 2.6, what the
// package documentation says HAProxy does with each line.
func TestIntegrationHAProxyAgent(t *testing.T) {
	b := startAgentBackend(t, "weight 100")

	t.Log("drain: s1 is DRAIN and gets no new requests")
	b.set(t, 0, State{Mode: Drain, Weight: 100, Comment: "hot"})
	// The CSV status names who drained it.
	b.waitFor(t, "s1 DRAIN", func() bool { return b.status(t, "s1") == "DRAIN (agent)" })
	if got := b.send(t, 20); got[0] != 0 || got[1] != 20 {
		t.Fatalf("while s1 drains, hits %v, want all on s2", got)
	}
	if b.status(t, "s2") != "UP" {
		t.Fatalf("s2 is %s, its agent says ready", b.status(t, "s2"))
	}

	t.Log("50%: s1 is UP at half its initial weight and gets a third of the requests")
	b.set(t, 0, State{Mode: Ready, Weight: 50})
	b.waitFor(t, "s1 weight 50", func() bool { return b.weight(t, "s1") == "50 (initial 100)" && b.status(t, "s1") == "UP" })
	if s := b.server(t, "s1"); s.Weight != 50 {
		t.Fatalf("show stat weight %d, want 50", s.Weight)
	}
	// Round robin with weights 50 and 100 sends one request in three to s1.
	if got := b.send(t, 300); got[0] < 85 || got[0] > 115 {
		t.Fatalf("at weight 50 against 100, s1 got %d of 300 requests, want about 100", got[0])
	}

	t.Log("ready 100%: the initial weight is back")
	b.set(t, 0, DefaultState())
	b.waitFor(t, "s1 weight 100", func() bool { return b.weight(t, "s1") == "100 (initial 100)" })
	if got := b.send(t, 40); got[0] < 15 || got[0] > 25 {
		t.Fatalf("at equal weights s1 got %d of 40 requests", got[0])
	}

	t.Log("maint, then ready: the agent is still polled in maintenance")
	b.set(t, 0, State{Mode: Maint, Weight: 100})
	b.waitFor(t, "s1 MAINT", func() bool { return b.status(t, "s1") == "MAINT" })
	if got := b.send(t, 10); got[0] != 0 {
		t.Fatalf("s1 in maintenance got %d requests", got[0])
	}
	b.set(t, 0, DefaultState())
	b.waitFor(t, "s1 UP after maint", func() bool { return b.status(t, "s1") == "UP" })

	t.Log("0%: no new requests, though the CSV status stays UP")
	b.set(t, 0, State{Mode: Ready, Weight: 0})
	b.waitFor(t, "s1 at weight 0", func() bool { return b.weight(t, "s1") == "0 (initial 100)" })
	if st := b.status(t, "s1"); st != "UP" {
		t.Fatalf("status at 0%%: %q", st)
	}
	if got := b.send(t, 10); got[0] != 0 {
		t.Fatalf("s1 at weight 0 got %d requests", got[0])
	}
	b.set(t, 0, DefaultState())
	b.waitFor(t, "s1 UP at 100%", func() bool { return b.status(t, "s1") == "UP" && b.weight(t, "s1") == "100 (initial 100)" })

	t.Log("a runtime-API drain is undone by the agent's ready")
	if out := strings.TrimSpace(b.h.Command(t, "set server api/s1 state drain")); out != "" {
		t.Fatalf("set server state drain: %q", out)
	}
	// Without the agent the drain would stay; with it, it lasts at most
	// one agent-inter, often too short for show stat to catch.
	b.waitFor(t, "the agent to undo the runtime drain", func() bool { return b.status(t, "s1") == "UP" })
	if out := strings.TrimSpace(b.h.Command(t, "set server api/s1 weight 10")); out != "" {
		t.Fatalf("set server weight: %q", out)
	}
	b.waitFor(t, "the agent to undo the runtime weight", func() bool { return b.weight(t, "s1") == "100 (initial 100)" })

	t.Log("an lb_state command with an expiry, through the command manager")
	m, err := command.New(command.Opts{Appliers: map[command.Kind]command.Applier{command.KindLBState: b.agent[0]}, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	expires := time.Now().Add(2 * time.Second)
	r := m.Handle(ctx, command.Command{ID: "c-drain", Version: 1, Kind: command.KindLBState, Device: "lb", State: command.LBDrain, WeightPercent: 100, Expires: expires})
	if r.Outcome != command.Applied {
		t.Fatalf("lb_state: %v", r)
	}
	b.waitFor(t, "s1 DRAIN by command", func() bool { return b.status(t, "s1") == "DRAIN (agent)" })
	b.waitFor(t, "s1 UP after the command expired", func() bool { return b.status(t, "s1") == "UP" })
	if time.Now().Before(expires) {
		t.Fatal("the drain ended before its expiry")
	}
	if st := m.State(); len(st) != 1 {
		t.Fatalf("manager state %+v", st)
	}
}

// TestIntegrationHAProxyAgentRelativeWeight: an agent's percentage is of
// the weight on the server line, not of 100.
func TestIntegrationHAProxyAgentRelativeWeight(t *testing.T) {
	b := startAgentBackend(t, "weight 50")
	if got := b.weight(t, "s1"); got != "50 (initial 50)" {
		t.Fatalf("initial weight %q", got)
	}
	b.set(t, 0, State{Mode: Ready, Weight: 50})
	b.waitFor(t, "s1 at 50% of 50", func() bool { return b.weight(t, "s1") == "25 (initial 50)" })
	if s := b.server(t, "s1"); s.Weight != 25 {
		t.Fatalf("show stat weight %d, want 25", s.Weight)
	}
	b.set(t, 0, State{Mode: Ready, Weight: 100})
	b.waitFor(t, "s1 back at its initial weight", func() bool { return b.weight(t, "s1") == "50 (initial 50)" })
	// Weights are integers: 33% of 50 rounds down to 16.
	b.set(t, 0, State{Mode: Ready, Weight: 33})
	b.waitFor(t, "s1 at 33% of 50", func() bool { return b.weight(t, "s1") == strconv.Itoa(50*33/100)+" (initial 50)" })
}

// TestIntegrationHAProxyAgentDefaultWeight: without a weight on the
// server line the initial weight is 1, and any percentage below 100 takes
// the server out of balancing.
func TestIntegrationHAProxyAgentDefaultWeight(t *testing.T) {
	b := startAgentBackend(t, "")
	if got := b.weight(t, "s1"); got != "1 (initial 1)" {
		t.Fatalf("initial weight %q", got)
	}
	b.set(t, 0, State{Mode: Ready, Weight: 99})
	b.waitFor(t, "s1 at 99% of 1", func() bool { return b.weight(t, "s1") == "0 (initial 1)" })
	if got := b.send(t, 10); got[0] != 0 {
		t.Fatalf("s1 at weight 0 got %d requests", got[0])
	}
}
