package service

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/rackwatch/rackwatch/collector/audit"
	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/collector/haproxy"
	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/sample"
	"github.com/rackwatch/rackwatch/edge/sparkplug"
)

// The soak's fleet: three racks, each an edge with an inlet sensor, a ToR
// switch and three BMCs, one node per BMC behind one load balancer.
const (
	soakRacks    = 3
	soakNodes    = 3 // per rack
	soakPorts    = 4 // per switch: one per node and an uplink
	soakCPUTemps = 2 // per BMC
	// soakDecisionLog is the audit history kept: far fewer than a day's
	// decisions, so the ring wraps during the run.
	soakDecisionLog = 16
)

// soakRuntime is the load balancer of the soak: an HAProxy runtime API
// that applies what it is told, reports each server's response time, and
// can be restarted (a new pid and start time, every runtime change lost).
// Unlike fakeRuntime it keeps no log of commands, so the harness itself
// does not grow over the run.
type soakRuntime struct {
	mu       sync.Mutex
	pid      int
	stot     uint64
	status   map[string]string
	weight   map[string]int
	rtime    map[string]time.Duration
	commands int
}

func newSoakRuntime() *soakRuntime {
	lb := &soakRuntime{pid: 100, status: map[string]string{}, weight: map[string]int{}, rtime: map[string]time.Duration{}}
	for r := range soakRacks {
		for n := range soakNodes {
			s := nodeName(r, n)
			lb.status[s], lb.weight[s], lb.rtime[s] = "UP", 100, time.Duration(4+n)*time.Millisecond
		}
	}
	return lb
}

func (f *soakRuntime) ShowInfo(context.Context) (haproxy.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return haproxy.Info{Pid: f.pid, StartTimeSec: int64(f.pid)}, nil
}

func (f *soakRuntime) ShowStat(context.Context) ([]haproxy.Stat, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stot += 100
	out := make([]haproxy.Stat, 0, len(f.status))
	for s, st := range f.status {
		out = append(out, haproxy.Stat{Proxy: "api", Server: s, Type: haproxy.Server, Status: st, RTime: f.rtime[s], Stot: f.stot})
	}
	return out, nil
}

func (f *soakRuntime) ShowServersState(context.Context) ([]haproxy.ServerState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]haproxy.ServerState, 0, len(f.status))
	for s := range f.status {
		out = append(out, haproxy.ServerState{Backend: "api", Server: s, OpState: 2, Weight: f.weight[s], InitialWeight: 100})
	}
	return out, nil
}

func (f *soakRuntime) SetServerState(_ context.Context, _, server string, state haproxy.State) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commands++
	if state == haproxy.Drain {
		f.status[server] = "DRAIN"
	} else {
		f.status[server] = "UP"
	}
	return nil
}

func (f *soakRuntime) SetWeight(_ context.Context, _, server string, pct int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commands++
	f.weight[server] = pct
	return nil
}

// restart is an HAProxy reload that lost the runtime state.
func (f *soakRuntime) restart() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pid++
	for s := range f.status {
		f.status[s], f.weight[s] = "UP", 100
	}
}

func (f *soakRuntime) setRTime(server string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rtime[server] = d
}

// soakEdge is one rack's edge node as the collector sees it: a Sparkplug
// session on its own MQTT connection to the collector's embedded broker,
// with timestamps from the simulated clock.
type soakEdge struct {
	rack  int
	sess  *sparkplug.Session
	c     paho.Client
	next  uint64 // next sample number
	bd    uint8
	alive bool
}

func (e *soakEdge) connect(url string) error {
	e.sess.Reconnected(e.bd)
	will, err := e.sess.Will()
	if err != nil {
		return err
	}
	e.c = paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("soak-"+rackEdge(e.rack)).
		SetCleanSession(true).SetAutoReconnect(false).SetBinaryWill(will.Topic.String(), will.Payload, 1, false))
	if tok := e.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("edge %s: connect: %v", rackEdge(e.rack), tok.Error())
	}
	births, err := e.sess.Births(e.next)
	if err != nil {
		return err
	}
	e.alive = true
	return e.send(births)
}

// die is an edge that goes away. paho cannot drop a connection without
// the DISCONNECT that cancels the will, so the edge sends the NDEATH the
// broker would have published for it, then disconnects.
func (e *soakEdge) die() {
	will, _ := e.sess.Will()
	e.send([]sparkplug.Message{will})
	e.c.Disconnect(0)
	e.alive = false
	e.bd++
}

func (e *soakEdge) send(msgs []sparkplug.Message) error {
	for _, m := range msgs {
		if tok := e.c.Publish(m.Topic.String(), 1, false, m.Payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			return fmt.Errorf("edge %s: publish %s: %v", rackEdge(e.rack), m.Topic, tok.Error())
		}
	}
	return nil
}

func (e *soakEdge) data(dev string, ss []sample.Sample) error {
	msgs, err := e.sess.Data(dev, ss, e.next, false)
	if err != nil {
		return err
	}
	e.next += uint64(len(ss))
	return e.send(msgs)
}

// incidents says what is wrong at a simulated time. Each kind recurs every
// six hours at its own offset, so the middle and the last thirds of the
// run see the same trouble.
type incidents struct{ at time.Duration }

func (i incidents) phase(offset, length time.Duration) bool {
	p := (i.at - offset) % (6 * time.Hour)
	return i.at >= offset && p < length
}

// hotNode: r01n02 runs hot and slow for 20 minutes, so the engine sheds it
// and, once it has cooled, restores it.
func (i incidents) hotNode() bool { return i.phase(1*time.Hour, 20*time.Minute) }

// crcStorm: the switch port of r02n01 counts FCS errors for 15 minutes.
func (i incidents) crcStorm() bool { return i.phase(2*time.Hour, 15*time.Minute) }

// edgeDead: rack03's edge is gone for 10 minutes, then reborn.
func (i incidents) edgeDead() bool { return i.phase(3*time.Hour, 10*time.Minute) }

// haproxyRestart is the step at which the load balancer restarts in each
// cycle: while r01n02 is drained, so the collector has to put the drain
// back.
func (i incidents) haproxyRestart(step time.Duration) bool {
	return i.phase(time.Hour+15*time.Minute, step)
}

// soakCollectorConfig is the service's configuration for the soak fleet,
// with windows and holds in simulated time, long enough for the coarse
// step of the short run.
func soakCollectorConfig(stateDir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nstate_dir: %s\nmqtt: {listen: \"127.0.0.1:0\"}\n", stateDir)
	// The test polls the load balancer at each simulated step; the
	// watcher's own polls (in real time) would only repeat them.
	b.WriteString("haproxy:\n  - {name: lb1, address: /nonexistent/admin.sock, period: 1h}\nracks:\n")
	for r := range soakRacks {
		fmt.Fprintf(&b, "  - {name: %s, edge: %s, inlet: inlet}\n", rackEdge(r), rackEdge(r))
	}
	b.WriteString("nodes:\n")
	for r := range soakRacks {
		for n := range soakNodes {
			fmt.Fprintf(&b, "  - {name: %s, rack: %s, edge: %s, bmc: %s, switch: {device: tor, ifname: %s}, lb: [{haproxy: lb1, backend: api, server: %s}]}\n",
				nodeName(r, n), rackEdge(r), rackEdge(r), bmcDevice(n), portName(n), nodeName(r, n))
		}
	}
	// The tick is an hour of real time: every pass of the run is one that
	// the simulated samples (or the test, after each step) called for,
	// evaluated at the simulated time.
	b.WriteString("correlation: {window: 5m, baseline: 30m}\napi: {listen: \"\"}\n")
	b.WriteString("policy: {hot_celsius: 80, crit_celsius: 95, latency_min_delta: 5ms, min_samples: 2, hold: 2m, restore_hold: 5m, step_hold: 5m, drain_after: 10m, stale_after: 5m, verify_window: 1h, max_actions_per_hour: 100, tick: 1h}\n")
	return b.String()
}

// TestSoakCollector runs the collector for a compressed day: the real
// service (embedded broker, ingest, telemetry, correlation, engine,
// actuation, audit) fed over MQTT by three simulated rack edges, with the
// clock simulated. Each step publishes every device's samples stamped
// with the simulated time, polls the load balancer, and waits until the
// decision loop has started a pass after the samples were stored; then
// the clock jumps. Recurring incidents (a hot node, a CRC storm, an edge
// death and rebirth, an HAProxy restart) make the engine decide, record,
// raise alarms and restore. Memory is read every simulated hour.
//
// RACKWATCH_SOAK_HOURS (default 24) sets the simulated time and
// RACKWATCH_SOAK_STEP_SECONDS (default 60; 10 is the fleet's real poll)
// the step.
func TestSoakCollector(t *testing.T) {
	hours := testrig.EnvInt(t, "RACKWATCH_SOAK_HOURS", 24)
	step := time.Duration(testrig.EnvInt(t, "RACKWATCH_SOAK_STEP_SECONDS", 60)) * time.Second
	baseGoroutines := runtime.NumGoroutine()

	t0 := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	var clock atomic.Int64
	clock.Store(t0.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }

	cfg := loadTestConfig(t, soakCollectorConfig(filepath.Join(t.TempDir(), "state")))
	lb := newSoakRuntime()
	svc, err := New(cfg, Opts{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Runtimes: map[string]Runtime{"lb1": lb},
		Now: now, DecisionLog: soakDecisionLog, WakeInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := runService(t, svc)
	for deadline := time.Now().Add(10 * time.Second); !svc.Ingest().Stats().Connected; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the ingest never connected to the embedded broker")
		}
	}
	url := svc.broker.URL()

	edges := make([]*soakEdge, soakRacks)
	for r := range edges {
		sess, err := sparkplug.NewSession(sparkplug.SessionOpts{Group: cfg.MQTT.Group, EdgeNode: rackEdge(r), Now: now})
		if err != nil {
			t.Fatal(err)
		}
		edges[r] = &soakEdge{rack: r, sess: sess}
		if err := edges[r].connect(url); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, e := range edges {
			if e.alive {
				e.c.Disconnect(0)
			}
		}
	}()

	lbInstance := svc.instances["lb1"]
	var (
		buf          []sample.Sample
		fcs          uint64 // the stormy port's error counter
		octets       uint64
		mem          []testrig.MemSample
		shed, restor int
		alarms       int
		maxHistory   int
		restarts     int
	)
	steps := int(time.Duration(hours) * time.Hour / step)
	perHour := int(time.Hour / step)
	wallStart := time.Now()
	mem = append(mem, testrig.ReadMemory(0))
	for k := 1; k <= steps; k++ {
		clock.Add(int64(step))
		at := now()
		inc := incidents{at: at.Sub(t0)}

		if inc.haproxyRestart(step) {
			lb.restart()
			restarts++
		}
		hot := inc.hotNode()
		if hot {
			lb.setRTime(nodeName(0, 1), 40*time.Millisecond)
		} else {
			lb.setRTime(nodeName(0, 1), 5*time.Millisecond)
		}
		if err := svc.lbs.Poll(context.Background(), lbInstance); err != nil {
			t.Fatal(err)
		}

		// rack03's edge dies and comes back.
		e3 := edges[2]
		switch dead := inc.edgeDead(); {
		case dead && e3.alive:
			e3.die()
		case !dead && !e3.alive:
			if err := e3.connect(url); err != nil {
				t.Fatal(err)
			}
		}

		octets += uint64(step/time.Second) * 1_000_000
		if inc.crcStorm() {
			fcs += 50 * uint64(step/time.Second)
		}
		for r, e := range edges {
			if !e.alive {
				continue
			}
			buf = buf[:0]
			buf = append(buf, sample.Sample{Metric: sample.TemperatureCelsius, Labels: sample.L("sensor", "inlet0"), Value: sample.Float(22 + float64(k%4)*0.25), Unit: "celsius", TS: at})
			if err := e.data("inlet", buf); err != nil {
				t.Fatal(err)
			}
			buf = buf[:0]
			for p := range soakPorts {
				for c, m := range fleetCounters {
					v := uint64(1 + p + c)
					switch {
					case c < 2:
						v += octets
					case m == sample.IfFCSErrors && r == 1 && p == 0:
						v += fcs
					}
					buf = append(buf, sample.Sample{Metric: m, Labels: sample.L("ifname", portName(p)), Value: sample.Uint(v), Unit: "packets", TS: at})
				}
			}
			if err := e.data("tor", buf); err != nil {
				t.Fatal(err)
			}
			for n := range soakNodes {
				buf = buf[:0]
				for i := range soakCPUTemps {
					c := 45 + float64((k+n+i)%8)*0.5
					if hot && r == 0 && n == 1 {
						c = 90
					}
					buf = append(buf, sample.Sample{Metric: sample.TemperatureCelsius, Labels: sample.L("sensor", fmt.Sprintf("CPU%d", i)), Value: sample.Float(c), Unit: "celsius", TS: at})
				}
				if err := e.data(bmcDevice(n), buf); err != nil {
					t.Fatal(err)
				}
			}
		}
		waitStep(t, svc, edges, at)

		if h := len(svc.History()); h > maxHistory {
			maxHistory = h
		}
		if k%perHour == 0 {
			m := testrig.ReadMemory(at.Sub(t0))
			mem = append(mem, m)
			t.Logf("collector %s decisions=%d", m, svc.audit.Counters().Recorded)
		}
	}
	wall := time.Since(wallStart)

	// What the day did: the incidents were acted on.
	for _, c := range svc.audit.Decisions(audit.Filter{}) {
		switch c.Action {
		case decide.ActShed, decide.ActDrain:
			shed++
		case decide.ActRestore:
			restor++
		case decide.ActAlarm:
			alarms++
		}
	}
	ist := svc.Ingest().Stats()
	counters := svc.audit.Counters()
	t.Logf("collector soak: %d simulated hours at a %v step in %v; %d messages, %d samples, %d lost, %d decisions recorded (%d kept), %d load-balancer commands, %d HAProxy restarts",
		hours, step, wall.Round(time.Millisecond), ist.Messages, ist.Samples, ist.SamplesLost, counters.Recorded, counters.History, lb.commands, restarts)
	if counters.Recorded <= soakDecisionLog {
		t.Errorf("%d decisions over the run: the incidents should have caused more than the %d the history keeps", counters.Recorded, soakDecisionLog)
	}
	if shed == 0 || restor == 0 || alarms == 0 {
		t.Errorf("the last %d decisions hold %d sheds or drains, %d restores and %d alarms; want each", counters.History, shed, restor, alarms)
	}
	if ist.SamplesLost != 0 || ist.Dropped != 0 || ist.Malformed != 0 {
		t.Errorf("ingest stats %+v: lost, dropped or malformed", ist)
	}

	// Bounded structures stay within their caps.
	if maxHistory > soakDecisionLog || counters.History > soakDecisionLog {
		t.Errorf("decision history held %d (now %d), cap %d", maxHistory, counters.History, soakDecisionLog)
	}
	series := 0
	for r := range soakRacks {
		for _, d := range svc.store.Devices(rackEdge(r)) {
			series += len(svc.store.Latest(rackEdge(r), d))
		}
	}
	if want := soakRacks * (1 + soakPorts*len(fleetCounters) + soakNodes*soakCPUTemps); series != want {
		t.Errorf("the store holds %d series, want %d", series, want)
	}
	if d := svc.store.Dropped(); d != 0 {
		t.Errorf("the store dropped %d series", d)
	}
	svc.page.mu.Lock()
	for n, r := range svc.page.history {
		if len(r.points) > latencyPoints {
			t.Errorf("status page latency ring of %s holds %d points, cap %d", n, len(r.points), latencyPoints)
		}
	}
	pageNodes := len(svc.page.history)
	svc.page.mu.Unlock()
	if pageNodes != soakRacks*soakNodes {
		t.Errorf("status page keeps latency of %d nodes, want %d", pageNodes, soakRacks*soakNodes)
	}

	reportSoak(t, "collector", mem)
	if err := testrig.HeapBounded(mem); err != nil {
		t.Error(err)
	}

	for _, e := range edges {
		if e.alive {
			e.c.Disconnect(0)
			e.alive = false
		}
	}
	stop()
	if n := testrig.SettleGoroutines(baseGoroutines, 5*time.Second); n > baseGoroutines {
		t.Errorf("%d goroutines after the service stopped, %d before it started:\n%s", n, baseGoroutines, testrig.Stacks())
	}
}

// waitStep waits until the samples of the step at are in the store, then
// calls for a decision pass and waits for it to start: the pass then
// weighs this step's samples at this step's time.
func waitStep(t *testing.T, svc *Service, edges []*soakEdge, at time.Time) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, e := range edges {
		if !e.alive {
			continue
		}
		// Each edge publishes its devices in order on one connection, and
		// the ingest decodes in arrival order: the last device is the last
		// to arrive.
		last := bmcDevice(soakNodes - 1)
		for {
			if l := svc.store.Latest(rackEdge(e.rack), last); len(l) > 0 && !l[0].TS.Before(at) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the samples of %v from %s never reached the store", at, rackEdge(e.rack))
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	p := svc.passes.Load()
	select {
	case svc.wake <- struct{}{}:
	default:
	}
	for svc.passes.Load() <= p {
		if time.Now().After(deadline) {
			t.Fatalf("no decision pass after the samples of %v", at)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// reportSoak logs the memory readings of a run and their high-water marks.
func reportSoak(t *testing.T, name string, ms []testrig.MemSample) {
	t.Helper()
	peak := testrig.Peak(ms)
	t.Logf("%s high-water: heap_live=%s go_total=%s VmHWM=%s goroutines=%d; heap slope once warm %.1f KiB/h", name, testrig.MiB(peak.HeapLive), testrig.MiB(peak.Total), testrig.MiB(peak.HWM), peak.Goroutines,
		testrig.HeapSlope(ms[len(ms)/3:])/1024)
}
