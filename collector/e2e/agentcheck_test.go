package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/haproxy"
)

// startHostEdge starts the host-mode edge of node i (Sparkplug edge node
// "node<i+1>") with its agent-check responder on a free loopback port, and
// returns that port once the responder answers. Its host readers look at an
// empty root: the node's temperature comes from its BMC, as in newLoop, and
// the edge is there for the responder.
func (l *loop) startHostEdge(t *testing.T, i int) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := writeConfig(t, "host-edge.yaml", fmt.Sprintf(`version: 1
edge:
  group: site1
  node: node%d
  state_dir: %s
mqtt:
  broker: %s
  backoff_max: 2s
host:
  enabled: true
  root: %s
  period: 1s
  kmsg: false
  agent_check: 127.0.0.1:%d
log:
  level: debug
%s`, i+1, t.TempDir(), l.brokerURL, t.TempDir(), port, l.signing.edge))
	if out, err := exec.Command(filepath.Join(bins, "rackwatch-edge"), "check-config", cfg).CombinedOutput(); err != nil {
		t.Fatalf("rackwatch-edge check-config: %v\n%s", err, out)
	}
	e := start(t, "rackwatch-edge", "-config", cfg)
	l.hostEdges[i] = e
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := agentLine(addr); err == nil {
			return port
		} else if time.Now().After(deadline) {
			t.Fatalf("node%d's agent-check responder on %s does not answer: %v\nhost edge:\n%s", i+1, addr, err, e.output())
		}
	}
}

// agentLine reads the answer an agent check gets, as HAProxy reads it.
func agentLine(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(line), nil
}

// appliedLBState matches the edge's log of an lb_state command put in
// effect, capturing the state it gave the responder.
var appliedLBState = regexp.MustCompile(`msg="command applied" .*target=lb_state/lb value="([^"]*)"`)

// lbView is one server as HAProxy's runtime API shows it: `show stat` for
// the status, which names the agent when the agent set it, and `show
// servers state` for the weights the agent's percentages apply to.
type lbView struct {
	status          string
	weight, initial int
	agentStatus     string
}

func (v lbView) String() string {
	return fmt.Sprintf("%s %d/%d (agent %s)", v.status, v.weight, v.initial, v.agentStatus)
}

func (v lbView) up(weight int) bool { return v.status == "UP" && v.weight == weight }

func viewServer(lb *haproxy.Client, backend, server string) (lbView, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var v lbView
	stats, err := lb.ShowStat(ctx)
	if err != nil {
		return v, err
	}
	found := false
	for _, s := range haproxy.Servers(stats) {
		if s.Proxy == backend && s.Server == server {
			v.status, found = s.Status, true
			// "* " marks a check in progress, which is no change of state.
			st, _ := s.Field("agent_status")
			v.agentStatus = strings.TrimPrefix(st, "* ")
		}
	}
	states, err := lb.ShowServersState(ctx)
	if err != nil {
		return v, err
	}
	for _, s := range states {
		if s.Backend == backend && s.Server == server {
			v.weight, v.initial = s.Weight, s.InitialWeight
			if found {
				return v, nil
			}
		}
	}
	return v, fmt.Errorf("no server %s/%s", backend, server)
}

// serverTrace polls one server and keeps every change it saw, so that the
// steps the collector takes (shed, drain, each restore step) can be checked
// in order once it is done.
type serverTrace struct {
	lb      *haproxy.Client
	server  string
	start   time.Time
	changes []traced
}

type traced struct {
	at time.Duration
	v  lbView
}

func (s *serverTrace) last() lbView {
	if len(s.changes) == 0 {
		return lbView{}
	}
	return s.changes[len(s.changes)-1].v
}

// waitFor polls every 50 ms, well inside the agent-inter (200 ms) and the
// step hold (1 s), so no step the server passes through goes unseen.
func (s *serverTrace) waitFor(t *testing.T, what string, timeout time.Duration, cond func(lbView) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v, err := viewServer(s.lb, "api", s.server)
		if err != nil {
			t.Logf("%s: %v", s.server, err)
		} else {
			if len(s.changes) == 0 || v != s.last() {
				s.changes = append(s.changes, traced{time.Since(s.start), v})
			}
			if cond(v) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not %s after %s; it went through:\n%s", s.server, what, timeout, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *serverTrace) String() string {
	var b strings.Builder
	for _, c := range s.changes {
		fmt.Fprintf(&b, "\t+%5.2fs %s\n", c.at.Seconds(), c.v)
	}
	return b.String()
}

// TestAgentCheckedNodeIsShedAndDrainedThroughItsEdge follows a decision
// about an agent-checked node down the whole chain: the collector sends
// lb_state commands over Mosquitto to the node's own host-mode edge, whose
// responder HAProxy polls, and HAProxy sheds, drains and ramps the server
// back as the responder says. The runtime API cannot do it for such a node:
// the agent's next answer would undo it.
func TestAgentCheckedNodeIsShedAndDrainedThroughItsEdge(t *testing.T) {
	const node = 1 // node2, server s2
	l := newLoopWith(t, loopOpts{agentChecked: []int{node}})
	agent := net.JoinHostPort("127.0.0.1", strconv.Itoa(l.agentPorts[node]))
	tr := &serverTrace{lb: l.lb, server: "s2", start: time.Now()}
	tr.waitFor(t, "UP at its full weight of 100, its agent answering", 5*time.Second, func(v lbView) bool {
		// CHECKED: the agent answered a state and a weight, no health word.
		return v.up(100) && v.initial == 100 && v.agentStatus == "CHECKED"
	})

	l.bmcs[node].setTemp(t, 92)
	l.nodes[node].delay.Store(int64(40 * time.Millisecond))
	tr = &serverTrace{lb: l.lb, server: "s2", start: time.Now()}
	t.Log("heating node2: its BMC reports 92 °C and its responses take 40 ms longer")
	tr.waitFor(t, "shed to weight 50", 20*time.Second, func(v lbView) bool { return v.up(50) })
	tr.waitFor(t, "drained by its agent", 10*time.Second, func(v lbView) bool { return v.status == "DRAIN (agent)" })
	if line, err := agentLine(agent); err != nil || !strings.HasPrefix(line, "drain ") {
		t.Errorf("node2's responder answers %q (%v) while HAProxy shows it drained", line, err)
	}
	for _, s := range []string{"s1", "s3"} {
		if v, err := viewServer(l.lb, "api", s); err != nil || !v.up(100) {
			t.Errorf("%s is %v (%v): only the hot node may be shed or drained", s, v, err)
		}
	}

	l.bmcs[node].setTemp(t, 50)
	l.nodes[node].delay.Store(0)
	cooled := len(tr.changes)
	t.Log("cooling node2")
	tr.waitFor(t, "back UP at weight 100", 20*time.Second, func(v lbView) bool { return v.up(100) })
	t.Logf("s2 as HAProxy showed it, from the heating on:\n%s", tr)
	// A few ticks for the collector to see full service back.
	time.Sleep(time.Second)

	// The return is a ramp: each weight HAProxy showed between the drain
	// and full service is above the one before.
	var ramp []int
	for _, c := range tr.changes[cooled:] {
		if c.v.status == "UP" && (len(ramp) == 0 || c.v.weight != ramp[len(ramp)-1]) {
			ramp = append(ramp, c.v.weight)
		}
	}
	if len(ramp) < 2 {
		t.Errorf("s2 went from the drain to weight 100 without a ramp: weights %v", ramp)
	}
	for i := 1; i < len(ramp); i++ {
		if ramp[i] <= ramp[i-1] {
			t.Errorf("s2's weight did not rise step by step on its return: %v", ramp)
			break
		}
	}

	// The collector steered node2 through its edge, one lb_state command
	// per step, and the edge accepted every one.
	edge := l.hostEdges[node].output()
	var applied []string
	for _, m := range appliedLBState.FindAllStringSubmatch(edge, -1) {
		if len(applied) == 0 || m[1] != applied[len(applied)-1] {
			applied = append(applied, m[1])
		}
	}
	if want := []string{"ready 50%", "drain 100%", "ready 25%", "ready 50%", "ready 100%"}; !slices.Equal(applied, want) {
		t.Errorf("node2's host edge applied lb_state %q, want %q", applied, want)
	}
	for _, bad := range []string{`result="refused`, `result="failed`, `result="stale`} {
		if strings.Contains(edge, bad) {
			t.Errorf("node2's host edge logged a command %s", strings.TrimPrefix(bad, `result="`))
		}
	}
	var acts []string
	for _, d := range l.decisions() {
		if strings.Contains(d, "node=node2") {
			acts = append(acts, d)
		}
		if strings.Contains(d, "action=pinned") {
			t.Errorf("the collector took its own change for an operator's: %s", d)
		}
	}
	for _, want := range []string{"action=shed", "action=drain", "action=restore"} {
		if !strings.Contains(strings.Join(acts, "\n"), want) {
			t.Errorf("the collector logged no %s decision for node2:\n%s", want, strings.Join(acts, "\n"))
		}
	}
	if a := l.acted(); len(a) != 2 {
		t.Errorf("want one shed and one drain, of node2 only; got %v", a)
	}
	l.failures.check(t, "while node2 was shed, drained and restored")
}
