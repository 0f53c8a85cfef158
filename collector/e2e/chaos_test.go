package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/rackwatch/rackwatch/collector/haproxy"
	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/sample"
	"github.com/rackwatch/rackwatch/edge/sparkplug"
)

// recoverWithin bounds how long a component may take to come back by
// itself after a fault ends: the edge's reconnection backoff
// (mqtt.backoff_max 2s), the SNMP circuit breaker's probe backoff, the
// collector's reconnection interval and the InfluxDB writer's retry
// backoff all fit in it with room for a loaded CI machine.
const recoverWithin = 20 * time.Second

// observer is a privileged MQTT subscriber that sees everything the edges
// publish, as a second primary host would, and accounts for it with its
// own sparkplug.Host: the 64-bit sample sequence tells of any sample lost
// on the way. Its session is persistent (clean session off, on a broker
// with persistence, as deploy/mosquitto runs it), so a broker restart
// loses nothing queued for it.
type observer struct {
	c paho.Client

	mu      sync.Mutex
	host    *sparkplug.Host
	ready   bool               // rack1's birth was seen: from here on all must decode
	inlet   map[int64]struct{} // timestamps (ms) of rack1's inlet temperature samples
	last    map[string]time.Time
	errs    []string
	samples int
}

func newObserver(t *testing.T, url string) *observer {
	o := &observer{host: sparkplug.NewHost(sparkplug.HostOpts{}), inlet: map[int64]struct{}{}, last: map[string]time.Time{}}
	opts := paho.NewClientOptions().AddBroker(url).SetClientID("chaos-observer").
		SetCleanSession(false).SetAutoReconnect(true).SetMaxReconnectInterval(500 * time.Millisecond).
		SetConnectRetry(true).SetConnectRetryInterval(500 * time.Millisecond).
		SetOnConnectHandler(func(c paho.Client) { c.Subscribe("spBv1.0/site1/#", 1, o.receive) })
	o.c = paho.NewClient(opts)
	if tok := o.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("observer: connect: %v", tok.Error())
	}
	t.Cleanup(func() { o.c.Disconnect(100) })
	return o
}

func (o *observer) receive(_ paho.Client, m paho.Message) {
	o.mu.Lock()
	defer o.mu.Unlock()
	u, err := o.host.Handle(m.Topic(), m.Payload(), time.Now())
	if u.Topic.Type == sparkplug.NBIRTH && u.Topic.EdgeNode == "rack1" {
		o.ready = true
	}
	if err != nil {
		// A redelivery is at-least-once at work, not a fault: a message
		// this client handled but whose acknowledgement a broker restart
		// cut off comes again, possibly after the NDEATH that ended its
		// session.
		if o.ready && !m.Duplicate() {
			o.errs = append(o.errs, fmt.Sprintf("%s: %v", m.Topic(), err))
		}
		return
	}
	if u.Topic.EdgeNode != "rack1" || len(u.Samples) == 0 {
		return
	}
	o.samples += len(u.Samples)
	o.last[u.Topic.Device] = time.Now()
	if u.Topic.Device == "inlet" {
		for _, s := range u.Samples {
			if s.Metric == sample.TemperatureCelsius {
				o.inlet[s.TS.UnixMilli()] = struct{}{}
			}
		}
	}
}

func (o *observer) stats() (sparkplug.EdgeStats, []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	st, _ := o.host.Stats("site1", "rack1")
	return st, slices.Clone(o.errs)
}

// lastFrom returns when data of device last arrived.
func (o *observer) lastFrom(device string) time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last[device]
}

// inletBetween returns the inlet sample timestamps in [from, to), sorted.
func (o *observer) inletBetween(from, to time.Time) []int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []int64
	for ts := range o.inlet {
		if ts >= from.UnixMilli() && ts < to.UnixMilli() {
			out = append(out, ts)
		}
	}
	slices.Sort(out)
	return out
}

// influxInlet returns the timestamps (ms) of rack1's inlet temperature
// points in InfluxDB in [from, to).
func (l *loop) influxInlet(t *testing.T, from, to time.Time) []int64 {
	q := fmt.Sprintf(`SELECT value FROM temperature_celsius WHERE edge = 'rack1' AND device = 'inlet' AND time >= %d AND time < %d`,
		from.UnixNano(), to.UnixNano())
	var r struct {
		Results []struct {
			Series []struct {
				Values [][]any `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	b := l.influx.Query(t, "rackwatch", q)
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("influx answer %s: %v", b, err)
	}
	var out []int64
	for _, res := range r.Results {
		for _, s := range res.Series {
			for _, v := range s.Values {
				str, _ := v[0].(string)
				ts, err := time.Parse(time.RFC3339Nano, str)
				if err != nil {
					t.Fatalf("influx time %v: %v", v[0], err)
				}
				out = append(out, ts.UnixMilli())
			}
		}
	}
	slices.Sort(out)
	return out
}

// missing returns the elements of want absent from got (both sorted).
func missing(want, got []int64) []int64 {
	var out []int64
	for _, w := range want {
		if _, ok := slices.BinarySearch(got, w); !ok {
			out = append(out, w)
		}
	}
	return out
}

// waitUntil polls cond until it holds or recoverWithin passes, and returns
// how long it took.
func waitUntil(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	return waitWithin(t, recoverWithin, what, cond)
}

func waitWithin(t *testing.T, bound time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > bound {
			t.Fatalf("%s: not within %s", what, bound)
		}
		time.Sleep(100 * time.Millisecond)
	}
	d := time.Since(start)
	t.Logf("%s after %s", what, d.Round(10*time.Millisecond))
	return d
}

func (l *loop) metric(t *testing.T, line string) bool {
	resp, err := http.Get("http://" + l.apiAddr + "/metrics")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.Contains(string(b), "\n"+line+"\n")
}

var actionRE = regexp.MustCompile(`action=(\S+) node=(\S+).* taken=true`)

// acts returns the load-balancer actions taken among decisions, as
// "action node", without repeats.
func acts(decisions []string) []string {
	var out []string
	for _, d := range decisions {
		m := actionRE.FindStringSubmatch(d)
		if m == nil || m[1] == "alarm" || m[1] == "pinned" {
			continue
		}
		if a := m[1] + " " + m[2]; !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

// allUp is every server of the loop in service at its configured weight.
var allUp = []string{"s1 UP 100", "s2 UP 100", "s3 UP 100"}

// lbState is HAProxy's view of each server, such as "s1 UP 100", or nil
// when the runtime API does not answer.
func (l *loop) lbState(t *testing.T) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	stats, err := l.lb.ShowStat(ctx)
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range haproxy.Servers(stats) {
		out = append(out, fmt.Sprintf("%s %s %d", s.Server, strings.Fields(s.Status + " ")[0], s.Weight))
	}
	slices.Sort(out)
	return out
}

// hotEpisode heats node2 until the collector drains it, runs drained
// (if not nil) while it is, cools it until it is restored, and returns the
// actions taken meanwhile, by every collector run of the episode.
func (l *loop) hotEpisode(t *testing.T, drained func()) []string {
	t.Helper()
	col, before := l.collector, len(l.decisions())
	l.bmcs[1].setTemp(t, 92)
	l.nodes[1].delay.Store(int64(40 * time.Millisecond))
	waitStatus(t, l.lb, "s2", "DRAIN", 30*time.Second)
	var earlier []string
	if drained != nil {
		drained()
		if l.collector != col {
			earlier, before = col.decisionsFrom(before), 0
		}
	}
	l.bmcs[1].setTemp(t, 50)
	l.nodes[1].delay.Store(0)
	// Restored is back to full weight, through the ramp's steps.
	deadline := time.Now().Add(30 * time.Second)
	for st := l.lbState(t); !slices.Equal(st, allUp); st = l.lbState(t) {
		if time.Now().After(deadline) {
			t.Fatalf("HAProxy %v 30s after node2 cooled, want %v", st, allUp)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The last step's decision is logged after HAProxy shows it.
	time.Sleep(500 * time.Millisecond)
	return acts(append(earlier, l.decisions()[before:]...))
}

// watcher polls HAProxy in the background and records every state that
// judge finds wrong.
type watcher struct {
	stop func()
	mu   sync.Mutex
	bad  []string
}

func (l *loop) watch(t *testing.T, judge func(st []string) bool) *watcher {
	w := &watcher{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			// Reads fail while the socket is gone: nothing to judge then.
			if st := l.lbState(t); st != nil && !judge(st) {
				w.mu.Lock()
				w.bad = append(w.bad, fmt.Sprintf("%s %v", time.Now().Format("15:04:05.000"), st))
				w.mu.Unlock()
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	w.stop = func() { cancel(); <-done }
	t.Cleanup(w.stop)
	return w
}

// wrong stops the watcher and returns what it found.
func (w *watcher) wrong() []string {
	w.stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.bad)
}

// restartCollector stops the collector as systemd does (SIGTERM), leaves it
// down for a while, starts it again and waits until it has the edge's
// births and reads HAProxy. top owns the new process; the old one is
// returned, for its log.
func (l *loop) restartCollector(t, top *testing.T) *proc {
	t.Helper()
	edgeBirths := strings.Count(l.edge.output(), "births published")
	old := l.collector
	if err := old.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	old.cmd.Wait()
	time.Sleep(2 * time.Second) // the edge sees STATE offline and spools
	l.collector = start(top, "rackwatch-collector", "-config", l.collCfg)
	waitUntil(t, "restarted collector sees the edge", func() bool {
		return strings.Contains(l.collector.output(), `msg="edge online" edge=rack1`)
	})
	waitUntil(t, "edge published births to the restarted collector", func() bool {
		return strings.Count(l.edge.output(), "births published") > edgeBirths
	})
	waitUntil(t, "restarted collector reads HAProxy", func() bool {
		return l.metric(t, `rackwatch_collector_haproxy_up{haproxy="lb1"} 1`)
	})
	return old
}

// restartBroker stops Mosquitto for down and starts it again; the
// collector and the edge must reconnect by themselves.
func (l *loop) restartBroker(t *testing.T, obs *observer, down time.Duration) {
	t.Helper()
	edgeBirths := strings.Count(l.edge.output(), "births published")
	colConn := strings.Count(l.collector.output(), "primary host online")
	l.broker.Stop()
	time.Sleep(down) // the edge spools meanwhile
	back := time.Now()
	l.broker.Restart(t)
	waitUntil(t, "collector reconnected", func() bool {
		return strings.Count(l.collector.output(), "primary host online") > colConn
	})
	waitUntil(t, "edge reconnected and published births", func() bool {
		return strings.Count(l.edge.output(), "births published") > edgeBirths
	})
	waitUntil(t, "inlet data flows again", func() bool { return obs.lastFrom("inlet").After(back) })
}

// reloadHAProxy removes the stats socket, so the collector's reads fail,
// and reloads HAProxy, which creates it again.
func (l *loop) reloadHAProxy(t *testing.T) {
	t.Helper()
	if err := os.Remove(l.lbProc.Socket); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "collector notices the socket is gone", func() bool {
		return l.metric(t, `rackwatch_collector_haproxy_up{haproxy="lb1"} 0`)
	})
	time.Sleep(time.Second)
	l.lbProc.Reload(t) // what `systemctl reload haproxy` does
	waitUntil(t, "collector reads HAProxy again", func() bool {
		return l.metric(t, `rackwatch_collector_haproxy_up{haproxy="lb1"} 1`)
	})
}

// killSnmpd stops a BMC's snmpd for longer than policy.stale_after (5s)
// and starts it again; the edge must poll it again by itself.
func (l *loop) killSnmpd(t *testing.T, obs *observer, node int) {
	t.Helper()
	l.bmcs[node].agent.Stop()
	time.Sleep(6 * time.Second)
	back := time.Now()
	l.bmcs[node].agent.Restart(t)
	// The edge's circuit breaker opened during the outage and probes at a
	// backoff that doubles from two periods (600 ms): after 6 s down, the
	// next probe can be nearly 10 s away.
	dev := fmt.Sprintf("node%d-bmc", node+1)
	waitWithin(t, 2*recoverWithin, dev+" polled again", func() bool { return obs.lastFrom(dev).After(back) })
}

// TestChaos runs the whole loop on real components and restarts
// Mosquitto, kills a BMC's snmpd, removes HAProxy's stats socket until a
// reload re-creates it, stops InfluxDB and restarts the collector, one
// after the other: first in a steady scenario, then (all but InfluxDB)
// while a hot node is drained. Every component must come back by itself,
// no node may be drained by mistake nor a hot one put back, every sample
// must reach both a privileged subscriber and InfluxDB, and the hot-node
// episode must end as the same episode without faults did.
func TestChaos(t *testing.T) {
	// Persistence on, as deploy/mosquitto/mosquitto.conf runs the broker:
	// retained STATE and queued QoS 1 messages survive a restart.
	persist := t.TempDir()
	l := newLoopWith(t, loopOpts{influx: true, mosquitto: &testrig.MosquittoOpts{
		Config: "persistence true\npersistence_location " + persist + "/\n",
	}})
	obs := newObserver(t, l.brokerURL)
	// The observer joined after the edge's births: ask for new ones, as a
	// primary host would.
	req, err := sparkplug.RebirthRequest("site1", "rack1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if tok := obs.c.Publish(req.Topic.String(), 0, false, req.Payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("rebirth request: %v", tok.Error())
	}
	waitUntil(t, "observer has rack1's births", func() bool { obs.mu.Lock(); defer obs.mu.Unlock(); return obs.ready })
	from := time.Now()

	// The run without faults: a hot-node episode.
	want := l.hotEpisode(t, nil)
	wantLB := l.lbState(t)
	t.Logf("without faults: actions %v, HAProxy %v", want, wantLB)
	if !slices.Equal(wantLB, allUp) {
		t.Fatalf("HAProxy %v after the episode without faults, want %v", wantLB, allUp)
	}
	if !slices.Contains(want, "drain node2") || !slices.Contains(want, "restore node2") {
		t.Fatalf("the episode without faults took %v, want node2 drained and restored", want)
	}

	// A steady scenario: nothing may be drained or shed.
	steady := len(l.decisions())
	w := l.watch(t, func(st []string) bool { return slices.Equal(st, allUp) })
	top := t // a restarted collector outlives its subtest
	var runs []*proc
	t.Run("mosquitto restart", func(t *testing.T) { l.restartBroker(t, obs, 3*time.Second) })
	t.Run("snmpd killed", func(t *testing.T) { l.killSnmpd(t, obs, 0) })
	t.Run("haproxy socket removed", func(t *testing.T) { l.reloadHAProxy(t) })
	t.Run("influxdb stopped", func(t *testing.T) {
		l.influx.Stop()
		time.Sleep(4 * time.Second)
		l.influx.Restart(t)
		// Caught up: every inlet sample the observer got until a moment ago
		// is in InfluxDB, those written while it was down included. The
		// collector restart that follows would lose what is still queued.
		waitUntil(t, "InfluxDB holds every inlet sample", func() bool {
			to := time.Now().Add(-2 * time.Second)
			return len(missing(obs.inletBetween(from, to), l.influxInlet(t, from, to))) == 0
		})
	})
	t.Run("collector restart", func(t *testing.T) { runs = append(runs, l.restartCollector(t, top)) })
	// The new collector's latency baseline forms again before heat is
	// judged, as at the start of the loop.
	time.Sleep(2 * time.Second)
	if bad := w.wrong(); len(bad) > 0 {
		t.Errorf("in the steady scenario HAProxy left %v:\n%s", allUp, strings.Join(bad, "\n"))
	}
	if a := acts(runs[0].decisionsFrom(steady)); len(a) > 0 {
		t.Errorf("the first collector acted in the steady scenario: %v", a)
	}
	if a := acts(l.decisions()); len(a) > 0 {
		t.Errorf("the restarted collector acted in the steady scenario: %v", a)
	}

	// The same episode with the faults while node2 is drained: the cool
	// nodes stay in service, and node2 stays drained but for the moment
	// between a reload that forgets the drain and the collector putting it
	// back.
	var reloading atomic.Bool
	var got []string
	t.Run("faults while drained", func(t *testing.T) {
		got = l.hotEpisode(t, func() {
			w := l.watch(t, func(st []string) bool {
				return len(st) == 3 && st[0] == "s1 UP 100" && st[2] == "s3 UP 100" &&
					(strings.HasPrefix(st[1], "s2 DRAIN") || reloading.Load())
			})
			t.Run("haproxy socket removed", func(t *testing.T) {
				reloading.Store(true)
				reapplied := strings.Count(l.collector.output(), "re-applied after an HAProxy restart")
				l.reloadHAProxy(t)
				waitStatus(t, l.lb, "s2", "DRAIN", recoverWithin)
				reloading.Store(false)
				// The reload forgot the drain: the collector put it back.
				if strings.Count(l.collector.output(), "re-applied after an HAProxy restart") == reapplied {
					t.Error("the collector did not re-apply the drain the reload lost")
				}
			})
			// The hot node's readings go stale: not a reason to put it back.
			t.Run("snmpd of the hot node killed", func(t *testing.T) { l.killSnmpd(t, obs, 1) })
			t.Run("mosquitto restart", func(t *testing.T) { l.restartBroker(t, obs, 2*time.Second) })
			t.Run("collector restart", func(t *testing.T) { runs = append(runs, l.restartCollector(t, top)) })
			time.Sleep(time.Second)
			if bad := w.wrong(); len(bad) > 0 {
				t.Errorf("with node2 drained HAProxy showed:\n%s", strings.Join(bad, "\n"))
			}
		})
	})
	runs = append(runs, l.collector)
	if gotLB := l.lbState(t); !slices.Equal(gotLB, wantLB) || !slices.Equal(got, want) {
		t.Errorf("after the faults: actions %v, HAProxy %v; without faults: %v, %v", got, gotLB, want, wantLB)
	}

	// Every sample arrived: none lost by sample sequence at the observer,
	// every inlet sample in InfluxDB, and no collector run lost any.
	to := time.Now().Add(-2 * time.Second)
	time.Sleep(3 * time.Second) // InfluxDB's writer flushes every second
	st, errs := obs.stats()
	t.Logf("observer: %+v", st)
	if st.SamplesLost > 0 || len(errs) > 0 {
		t.Errorf("observer lost %d samples (%d seq gaps); decode errors: %v", st.SamplesLost, st.SeqGaps, errs)
	}
	wantTS := obs.inletBetween(from, to)
	gotTS := l.influxInlet(t, from, to)
	if m := missing(wantTS, gotTS); len(m) > 0 {
		t.Errorf("InfluxDB lacks %d of %d inlet samples, first at %v", len(m), len(wantTS), time.UnixMilli(m[0]).UTC().Format(time.RFC3339Nano))
	}
	// The inlet is sampled every 500 ms and nothing stops it: a longer
	// gap between the samples received is samples lost before the wire.
	for i := 1; i < len(wantTS); i++ {
		if d := time.Duration(wantTS[i]-wantTS[i-1]) * time.Millisecond; d > 1500*time.Millisecond {
			t.Errorf("no inlet sample between %s and %s (%s)", time.UnixMilli(wantTS[i-1]).Format("15:04:05.000"), time.UnixMilli(wantTS[i]).Format("15:04:05.000"), d)
		}
	}
	t.Logf("%d inlet samples from %s to %s, %d in InfluxDB", len(wantTS), from.Format("15:04:05"), to.Format("15:04:05"), len(gotTS))
	for i, p := range runs {
		for _, bad := range []string{"samples lost", "ignoring payload"} {
			if strings.Contains(p.output(), bad) {
				t.Errorf("collector run %d logged %q", i+1, bad)
			}
		}
	}
	l.failures.check(t, "through HAProxy during the run")
}

// decisionsFrom returns the decision log lines of p after the first n.
func (p *proc) decisionsFrom(n int) []string {
	var out []string
	for _, line := range strings.Split(p.output(), "\n") {
		if strings.Contains(line, "msg=decision") {
			out = append(out, line)
		}
	}
	if n > len(out) {
		return nil
	}
	return out[n:]
}
