package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/haproxy"
	"github.com/rackwatch/rackwatch/deploy/testrig"
)

var bins string // directory holding the built binaries

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rackwatch-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, b := range []string{"edge/cmd/rackwatch-edge", "collector/cmd/rackwatch-collector"} {
		cmd := exec.Command("go", "build", "-o", dir, "github.com/rackwatch/rackwatch/"+b)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n", b, err)
			os.Exit(1)
		}
	}
	bins = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// apiNode is an emulated API server whose service time the test controls,
// as a throttling CPU would.
type apiNode struct {
	delay atomic.Int64 // nanoseconds
	hits  atomic.Int64
	srv   *httptest.Server
}

func newAPINode(t *testing.T) *apiNode {
	n := &apiNode{}
	n.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.hits.Add(1)
		time.Sleep(time.Duration(n.delay.Load()))
		fmt.Fprintln(w, "ok")
	}))
	t.Cleanup(n.srv.Close)
	return n
}

// lmSensorsPass is a net-snmp pass program serving one row of
// LM-SENSORS-MIB lmTempSensorsTable (1.3.6.1.4.1.2021.13.16.2.1), its value
// in m°C read from the file named by its first argument, as the BMC of a
// node whose temperature the test controls.
const lmSensorsPass = `#!/bin/sh
B=.1.3.6.1.4.1.2021.13.16.2.1
F="$1"; shift
get() {
	case "$1" in
	$B.1.1) printf '%s\ninteger\n1\n' "$1" ;;
	$B.2.1) printf '%s\nstring\nCPU Package\n' "$1" ;;
	$B.3.1) printf '%s\ngauge\n%s\n' "$1" "$(cat "$F")" ;;
	esac
}
# The first OID of the table that sorts after $1, compared arc by arc.
next() {
	printf '%s\n' $B.1.1 $B.2.1 $B.3.1 | awk -v x="$1" '
	function cmp(a, b,   i, n, m, p, q) {
		n = split(a, p, "."); m = split(b, q, ".")
		for (i = 2; i <= n && i <= m; i++) {
			if (p[i] + 0 < q[i] + 0) return -1
			if (p[i] + 0 > q[i] + 0) return 1
		}
		return n < m ? -1 : (n > m ? 1 : 0)
	}
	cmp($0, x) > 0 { print; exit }'
}
case "$1" in
-g) get "$2" ;;
-n) o=$(next "$2"); [ -n "$o" ] && get "$o" ;;
esac
`

type bmc struct {
	agent *testrig.SNMPAgent
	file  string
}

func (b *bmc) setTemp(t *testing.T, celsius int) {
	t.Helper()
	tmp := b.file + ".tmp"
	if err := os.WriteFile(tmp, []byte(fmt.Sprintf("%d\n", celsius*1000)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, b.file); err != nil {
		t.Fatal(err)
	}
}

func startBMC(t *testing.T, celsius int) *bmc {
	dir := t.TempDir()
	script := filepath.Join(dir, "lmsensors.sh")
	if err := os.WriteFile(script, []byte(lmSensorsPass), 0o755); err != nil {
		t.Fatal(err)
	}
	b := &bmc{file: filepath.Join(dir, "temp")}
	b.setTemp(t, celsius)
	b.agent = testrig.StartSnmpd(t, testrig.SnmpdOpts{
		Config: fmt.Sprintf("pass .1.3.6.1.4.1.2021.13.16.2.1 /bin/sh %s %s", script, b.file),
	})
	return b
}

// proc is a running binary whose output the test reads.
type proc struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	out bytes.Buffer
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func start(t *testing.T, name string, args ...string) *proc {
	p := &proc{cmd: exec.Command(filepath.Join(bins, name), args...)}
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s output, debug lines left out:\n%s", name, withoutDebug(p.output()))
		}
	})
	return p
}

// failures counts the client requests through HAProxy that failed, and
// keeps the first few, with when they failed, to tell why.
type failures struct {
	mu    sync.Mutex
	n     int
	first []string
}

func (f *failures) add(why string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if len(f.first) < 5 {
		f.first = append(f.first, time.Now().Format("15:04:05.000")+" "+why)
	}
}

// check fails t if any request failed.
func (f *failures) check(t *testing.T, during string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n > 0 {
		t.Errorf("%d client requests failed %s; the first:\n%s", f.n, during, strings.Join(f.first, "\n"))
	}
}

// withoutDebug drops the lines logged at debug level: the edge logs one
// for every failed poll of a source, and they would bury the rest.
func withoutDebug(log string) string {
	var b strings.Builder
	for line := range strings.Lines(log) {
		if !strings.Contains(line, " level=DEBUG ") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// eventuallyContains waits briefly for a log line: the decision is logged
// right after the command that HAProxy already shows.
func eventuallyContains(p *proc, s string) bool {
	for i := 0; i < 50; i++ {
		if strings.Contains(p.output(), s) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func writeConfig(t *testing.T, name, body string) string {
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func serverStatus(t *testing.T, lb *haproxy.Client, server string) (haproxy.Stat, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	stats, err := lb.ShowStat(ctx)
	if err != nil {
		t.Logf("show stat: %v", err)
		return haproxy.Stat{}, false
	}
	for _, s := range haproxy.Servers(stats) {
		if s.Server == server {
			return s, true
		}
	}
	return haproxy.Stat{}, false
}

// waitStatus polls HAProxy until server's status starts with want.
func waitStatus(t *testing.T, lb *haproxy.Client, server, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		if st, ok := serverStatus(t, lb, server); ok {
			last = st.Status
			if strings.HasPrefix(st.Status, want) {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("server %s: status %q after %s, want %s", server, last, timeout, want)
}

// loop is the whole system on real components: three API nodes behind a
// real HAProxy, a BMC per node served by net-snmp, a switch replayed by
// snmpsim, Mosquitto, and the real edge and collector binaries.
type loop struct {
	brokerURL string
	broker    *testrig.Mosquitto // nil with the embedded broker
	influx    *testrig.InfluxDB  // nil unless loopOpts.influx
	lbProc    *testrig.HAProxy
	lb        *haproxy.Client
	nodes     []*apiNode
	bmcs      []*bmc
	collCfg   string
	collector *proc
	edge      *proc
	// hostEdges are the host-mode edges of agent-checked nodes, by node
	// index, and agentPorts the ports of their agent-check responders.
	hostEdges  map[int]*proc
	agentPorts map[int]int
	apiAddr    string
	token      string
	failures   failures

	// signing holds the configuration of signed commands, zero unless
	// loopOpts.signed.
	signing signing
}

const e2ePolicy = `policy:
  hot_celsius: 80
  crit_celsius: 95
  latency_ratio: 2
  latency_min_delta: 8ms
  min_samples: 20
  hold: 1s
  drain_after: 2s
  restore_hold: 2s
  step_hold: 1s
  stale_after: 5s
  verify_window: 30s
  rack_hot_min: 3
  tick: 200ms
`

// loopOpts varies the rig of newLoopWith; the zero value is newLoop's.
type loopOpts struct {
	// agentChecked lists nodes, by index, whose HAProxy server takes its
	// state and weight from an agent-check responder run by a host-mode
	// edge on the node (named like the node), as in a deployment where
	// HAProxy's runtime changes would be overridden by the agent.
	agentChecked []int
	// embeddedBroker runs the collector's own MQTT broker instead of
	// Mosquitto: the edges connect to the collector.
	embeddedBroker bool
	// mosquitto configures Mosquitto (nil: the rig's defaults).
	mosquitto *testrig.MosquittoOpts
	// influx has the collector write to a real InfluxDB, database
	// "rackwatch".
	influx bool
	// signed has the collector sign its commands with a fresh key, which
	// the host edges trust and require (signed_test.go).
	signed bool
	// collectorExtra is appended to the collector's configuration.
	collectorExtra string
}

func newLoop(t *testing.T) *loop { return newLoopWith(t, loopOpts{}) }

func newLoopWith(t *testing.T, opts loopOpts) *loop {
	l := &loop{token: "e2e-token-0123456789abcdef", hostEdges: map[int]*proc{}, agentPorts: map[int]int{}}
	collMQTT := "listen: " + testrig.FreeAddr(t)
	if opts.embeddedBroker {
		l.brokerURL = "tcp://" + strings.TrimPrefix(collMQTT, "listen: ")
	} else {
		l.broker = testrig.StartMosquitto(t, opts.mosquitto)
		l.brokerURL = l.broker.URL
		collMQTT = "broker: " + l.brokerURL
	}
	l.nodes = []*apiNode{newAPINode(t), newAPINode(t), newAPINode(t)}
	if opts.signed {
		l.signing = newSigning(t)
	}
	// The host edges start first: each binds its responder's port, which
	// HAProxy's configuration names, before the rig probes for more ports.
	for _, i := range opts.agentChecked {
		l.agentPorts[i] = l.startHostEdge(t, i)
	}
	var servers []testrig.HAProxyServer
	var agentServers strings.Builder
	for i, n := range l.nodes {
		addr := n.srv.Listener.Addr().String()
		if port, ok := l.agentPorts[i]; ok {
			// The rig's ServerOptions go on every server line; the agent
			// belongs on this one only, so its line is written here.
			fmt.Fprintf(&agentServers, "\tserver s%d %s check inter 1s weight 100 agent-check agent-port %d agent-inter 200ms\n", i+1, addr, port)
			continue
		}
		servers = append(servers, testrig.HAProxyServer{Name: fmt.Sprintf("s%d", i+1), Addr: addr})
	}
	// Graded weights need room: HAProxy rounds 25 % of the default weight 1 down to 0.
	l.lbProc = testrig.StartHAProxy(t, testrig.HAProxyOpts{Servers: servers, ServerOptions: "weight 100",
		BackendConfig: strings.TrimSuffix(agentServers.String(), "\n")})
	l.bmcs = []*bmc{startBMC(t, 45), startBMC(t, 45), startBMC(t, 45)}
	rec := testrig.Recording(t, "ios_2960x")
	tor := testrig.StartSnmpsim(t, filepath.Dir(rec))

	var snmp strings.Builder
	for i, b := range l.bmcs {
		fmt.Fprintf(&snmp, "  - {name: node%d-bmc, address: %q, community: public, profiles: [lm-sensors], period: 300ms, timeout: 1s}\n", i+1, b.agent.Addr)
	}
	fmt.Fprintf(&snmp, "  - {name: tor1, address: %q, community: ios_2960x, profiles: [if-mib], period: 2s, timeout: 2s}\n", tor.Addr)
	edgeCfg := writeConfig(t, "edge.yaml", fmt.Sprintf(`version: 1
edge:
  group: site1
  node: rack1
  state_dir: %s
mqtt:
  broker: %s
  backoff_max: 2s
snmp_security: {allow_community: true}   # the emulated devices speak v2c
i2c:
  - bus: emulated
    sensors:
      - {name: inlet, chip: tmp102, address: 0x48, period: 500ms}
snmp:
%slog:
  level: debug
`, t.TempDir(), l.brokerURL, snmp.String()))

	var inv strings.Builder
	for i := range l.nodes {
		var agent string
		if _, ok := l.agentPorts[i]; ok {
			agent = fmt.Sprintf("host: {edge: node%d}, agent_check: true, ", i+1)
		}
		fmt.Fprintf(&inv, "  - {name: node%d, rack: r1, edge: rack1, bmc: node%d-bmc, %slb: [{haproxy: lb1, backend: api, server: s%d}]}\n", i+1, i+1, agent, i+1)
	}
	l.apiAddr = testrig.FreeAddr(t)
	tokens := writeConfig(t, "tokens", "ops:"+l.token+"\n")
	var influx string
	if opts.influx {
		l.influx = testrig.StartInfluxDB(t)
		l.influx.CreateDatabase(t, "rackwatch")
		influx = fmt.Sprintf("influxdb: {url: %s, database: rackwatch}\n", l.influx.URL)
	}
	l.collCfg = writeConfig(t, "collector.yaml", fmt.Sprintf(`version: 1
state_dir: %s
mqtt:
  %s
  group: site1
  host_id: rackwatch-collector
api: {listen: %s, tokens_file: %s}
haproxy:
  - {name: lb1, address: %s, period: 250ms}
nodes:
%scorrelation: {window: 5s, baseline: 60s}
%s%s%s%s`, t.TempDir(), collMQTT, l.apiAddr, tokens, l.lbProc.Socket, inv.String(), influx, e2ePolicy, l.signing.collector, opts.collectorExtra))

	for _, c := range [][]string{{"rackwatch-edge", edgeCfg}, {"rackwatch-collector", l.collCfg}} {
		out, err := exec.Command(filepath.Join(bins, c[0]), "check-config", c[1]).CombinedOutput()
		if err != nil {
			t.Fatalf("%s check-config: %v\n%s", c[0], err, out)
		}
	}
	l.collector = start(t, "rackwatch-collector", "-config", l.collCfg)
	l.edge = start(t, "rackwatch-edge", "-config", edgeCfg)
	var err error
	if l.lb, err = haproxy.New(&haproxy.Opts{Name: "lb1", Addr: l.lbProc.Socket}); err != nil {
		t.Fatal(err)
	}
	// Steady traffic through the load balancer, as users would send.
	ctx, stopLoad := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				resp, err := client.Get("http://" + l.lbProc.FrontendAddr + "/")
				if err != nil {
					l.failures.add(err.Error())
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					l.failures.add(resp.Status)
				}
			}
		}()
	}
	t.Cleanup(func() { stopLoad(); wg.Wait() })
	// The loop must first see the edge's data and a baseline must form.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(l.collector.output(), `msg="edge online" edge=rack1`) {
		if time.Now().After(deadline) {
			t.Fatalf("collector never saw the edge's birth\nedge:\n%s", l.edge.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A host edge that is online has subscribed to its commands.
	for i, e := range l.hostEdges {
		for !strings.Contains(l.collector.output(), fmt.Sprintf(`msg="edge online" edge=node%d`, i+1)) {
			if time.Now().After(deadline) {
				t.Fatalf("collector never saw the birth of node%d's host edge\nhost edge:\n%s", i+1, e.output())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	time.Sleep(2 * time.Second)
	for i := range l.nodes {
		if st, _ := serverStatus(t, l.lb, fmt.Sprintf("s%d", i+1)); !strings.HasPrefix(st.Status, "UP") {
			t.Fatalf("s%d is %q before any heat", i+1, st.Status)
		}
	}
	return l
}

// decisions returns the decision log lines of the collector.
func (l *loop) decisions() []string {
	var out []string
	for _, line := range strings.Split(l.collector.output(), "\n") {
		if strings.Contains(line, "msg=decision") {
			out = append(out, line)
		}
	}
	return out
}

func TestClosedLoopDrainsHotSlowNodeAndRestoresIt(t *testing.T) {
	drainAndRestore(t, newLoop(t))
}

// With no broker configured, the collector runs its own: the same loop
// must close through it.
func TestClosedLoopOnTheEmbeddedBroker(t *testing.T) {
	l := newLoopWith(t, loopOpts{embeddedBroker: true})
	if want := `msg="embedded MQTT broker" url=` + l.brokerURL; !strings.Contains(l.collector.output(), want) {
		t.Fatalf("the collector did not log %q:\n%s", want, l.collector.output())
	}
	drainAndRestore(t, l)
}

func drainAndRestore(t *testing.T, l *loop) {
	nodes, bmcs, lb, collector := l.nodes, l.bmcs, l.lb, l.collector

	// Heat node 2: its BMC reports 92 °C and its CPU throttles.
	bmcs[1].setTemp(t, 92)
	nodes[1].delay.Store(int64(40 * time.Millisecond))
	t.Log("heating node2: its BMC reports 92 °C and its responses take 40 ms longer")
	waitStatus(t, lb, "s2", "DRAIN", 30*time.Second)
	t.Log("HAProxy shows api/s2 in DRAIN")
	for _, s := range []string{"s1", "s3"} {
		if st, _ := serverStatus(t, lb, s); !strings.HasPrefix(st.Status, "UP") {
			t.Errorf("%s is %q: only the hot node may be drained", s, st.Status)
		}
	}
	if !eventuallyContains(collector, "action=drain node=node2") {
		t.Errorf("collector did not log the drain decision with its evidence")
	}

	// Traffic moves to the others.
	time.Sleep(300 * time.Millisecond) // let requests in flight finish
	before := []int64{nodes[0].hits.Load(), nodes[1].hits.Load(), nodes[2].hits.Load()}
	time.Sleep(2 * time.Second)
	after := []int64{nodes[0].hits.Load(), nodes[1].hits.Load(), nodes[2].hits.Load()}
	if d := after[1] - before[1]; d != 0 {
		t.Errorf("drained node 2 still served %d requests", d)
	}
	for _, i := range []int{0, 2} {
		if after[i]-before[i] < 50 {
			t.Errorf("node %d served only %d requests while node 2 was drained", i+1, after[i]-before[i])
		}
	}

	// Cool it: the collector restores the server and it takes traffic again.
	t.Logf("traffic moved: node1 +%d, node2 +%d, node3 +%d requests in 2 s; cooling node2", after[0]-before[0], after[1]-before[1], after[2]-before[2])
	bmcs[1].setTemp(t, 50)
	nodes[1].delay.Store(0)
	waitStatus(t, lb, "s2", "UP", 30*time.Second)
	t.Log("HAProxy shows api/s2 UP again")
	if !eventuallyContains(collector, "action=restore node=node2") {
		t.Errorf("collector did not log the restore decision")
	}
	back := nodes[1].hits.Load()
	time.Sleep(time.Second)
	if nodes[1].hits.Load() == back {
		t.Error("restored node 2 receives no traffic")
	}
	for _, bad := range []string{"samples lost", "ignoring payload"} {
		if strings.Contains(collector.output(), bad) {
			t.Errorf("collector logged %q: the wire contract was not kept", bad)
		}
	}
	l.failures.check(t, "during the drain and restore")
	for _, l := range strings.Split(collector.output(), "\n") {
		if strings.Contains(l, "msg=decision") {
			t.Log(l)
		}
	}
	if strings.Contains(collector.output(), "action=drain node=node1") || strings.Contains(collector.output(), "action=drain node=node3") {
		t.Error("a cool node was drained")
	}
}
