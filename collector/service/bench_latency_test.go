package service

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/sample"
	"github.com/rackwatch/rackwatch/edge/sparkplug"
)

// The decision latency benchmark runs the collector in-process against a
// real broker and a real HAProxy balancing live traffic over three HTTP
// servers, and an edge that publishes its BMC temperatures over MQTT with
// a Sparkplug session. It measures, for the sample that crosses a
// threshold, the time from the edge's publish to the arrival of the
// `set server api/s2 weight 50%` command at the HAProxy runtime API. A
// proxy in front of the admin socket stamps each command as it arrives,
// before handing it on: the figure is the collector's, not HAProxy's.
//
// The policy holds are 1 ms (zero would mean the defaults), so the shed
// follows the crossing sample at once: the engine starts a hold on the
// pass the sample wakes, and ends it on the pass that follows, at least
// WakeInterval (10 ms) later. With production holds of 30 s the hold
// itself is the latency, and this machinery decides within a tick of its
// end, or at once when it is shorter than the tick.

// latencyConfig is the collector's configuration; PROXY and STATE are
// filled in. The baseline is long enough that no node has one during the
// benchmark: a slow node is judged against its peers only.
const latencyConfig = `version: 1
state_dir: STATE
mqtt: {broker: BROKER, group: site1, host_id: collector-bench}
haproxy:
  - {name: lb1, address: PROXY, period: 100ms}
nodes:
  - {name: n1, edge: rack1, bmc: b1, lb: [{haproxy: lb1, backend: api, server: s1}]}
  - {name: n2, edge: rack1, bmc: b2, lb: [{haproxy: lb1, backend: api, server: s2}]}
  - {name: n3, edge: rack1, bmc: b3, lb: [{haproxy: lb1, backend: api, server: s3}]}
correlation: {window: 2s, baseline: 1h}
api: {listen: ""}
policy: {hot_celsius: 80, crit_celsius: 95, min_samples: 20, hold: 1ms, restore_hold: 1ms, step_hold: 1ms, drain_after: 1h, verify_window: 1h, max_actions_per_hour: 1000000}
`

// Temperatures the edge reports for the node under test.
const (
	coolCelsius     = 60
	hotCelsius      = 85 // near the limit: evidence, not an emergency
	criticalCelsius = 97 // at the limit: hardware protection
)

// stamped is a runtime API command and when it arrived.
type stamped struct {
	at   time.Time
	line string
}

// cmdProxy sits in front of HAProxy's admin socket and stamps every
// command on arrival. The runtime API client opens one connection per
// command (non-interactive mode), so the first line of a connection is
// its command.
type cmdProxy struct {
	ln       net.Listener
	upstream string
	wg       sync.WaitGroup

	mu   sync.Mutex
	cmds []stamped
}

func startProxy(b *testing.B, upstream string) (*cmdProxy, string) {
	// A short directory: a unix socket path is limited to 108 bytes.
	dir, err := os.MkdirTemp("", "rw-lat-")
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "admin.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	p := &cmdProxy{ln: ln, upstream: upstream}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.serve(c)
			}()
		}
	}()
	b.Cleanup(func() {
		ln.Close()
		p.wg.Wait()
		os.RemoveAll(dir)
	})
	return p, path
}

func (p *cmdProxy) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	at := time.Now()
	if err != nil {
		return
	}
	if strings.HasPrefix(line, "set ") {
		p.mu.Lock()
		p.cmds = append(p.cmds, stamped{at, strings.TrimSpace(line)})
		p.mu.Unlock()
	}
	u, err := net.DialTimeout("unix", p.upstream, 5*time.Second)
	if err != nil {
		return
	}
	defer u.Close()
	u.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(u, line); err != nil {
		return
	}
	io.Copy(c, u)
}

// waitFor returns the arrival of the first command cmd that arrived after
// since.
func (p *cmdProxy) waitFor(cmd string, since time.Time, timeout time.Duration) (time.Time, bool) {
	deadline := time.Now().Add(timeout)
	for {
		p.mu.Lock()
		for _, c := range p.cmds {
			if c.line == cmd && c.at.After(since) {
				p.mu.Unlock()
				return c.at, true
			}
		}
		p.mu.Unlock()
		if time.Now().After(deadline) {
			return time.Time{}, false
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// apiServer is a backend server whose service time the benchmark sets.
type apiServer struct {
	delay atomic.Int64 // nanoseconds
	srv   *httptest.Server
}

// latencyRig is everything the benchmark runs against.
type latencyRig struct {
	svc   *Service
	hap   *testrig.HAProxy
	proxy *cmdProxy
	s2    *apiServer
	edge  paho.Client
	sess  *sparkplug.Session
	next  uint64
}

var benchTarget = decide.Target{Node: "n2", LB: "lb1", Backend: "api", Server: "s2"}

func startLatencyRig(b *testing.B) *latencyRig {
	broker := testrig.StartMosquitto(b, nil)
	var servers []testrig.HAProxyServer
	var s2 *apiServer
	for i := range 3 {
		s := &apiServer{}
		s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(time.Duration(s.delay.Load()))
			fmt.Fprintln(w, "ok")
		}))
		b.Cleanup(s.srv.Close)
		servers = append(servers, testrig.HAProxyServer{Name: fmt.Sprintf("s%d", i+1), Addr: s.srv.URL})
		if i == 1 {
			s2 = s
		}
	}
	// Weights of 100 take a 50 % shed exactly (HAProxy rounds 50 % of the
	// default weight 1 away).
	hap := testrig.StartHAProxy(b, testrig.HAProxyOpts{Servers: servers, ServerOptions: "weight 100"})
	proxy, sock := startProxy(b, hap.Socket)

	cfg := loadTestConfig(b, strings.NewReplacer("BROKER", broker.URL, "PROXY", sock).Replace(latencyConfig))
	svc, err := New(cfg, Opts{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		svc.Run(ctx)
	}()
	// Live traffic, so HAProxy measures each server's response time.
	client := &http.Client{Timeout: 5 * time.Second}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+hap.FrontendAddr+"/", nil)
				if resp, err := client.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				} else if ctx.Err() == nil {
					time.Sleep(10 * time.Millisecond)
				}
			}
		}()
	}
	b.Cleanup(func() {
		cancel()
		wg.Wait()
	})

	r := &latencyRig{svc: svc, hap: hap, proxy: proxy, s2: s2}
	waitUntil(b, "the collector connected and HAProxy read", 15*time.Second, func() bool {
		if !svc.Ingest().Stats().Connected {
			return false
		}
		for _, s := range []string{"s1", "s2", "s3"} {
			if v, ok := svc.lbs.Server("lb1", "api", s); !ok || v.Status != "UP" {
				return false
			}
		}
		return true
	})
	r.edge = paho.NewClient(paho.NewClientOptions().AddBroker(broker.URL).SetClientID("rack1-edge"))
	if tok := r.edge.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("edge connect: %v", tok.Error())
	}
	b.Cleanup(func() { r.edge.Disconnect(100) })
	if r.sess, err = sparkplug.NewSession(sparkplug.SessionOpts{Group: "site1", EdgeNode: "rack1"}); err != nil {
		b.Fatal(err)
	}
	births, err := r.sess.Births(0)
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range births {
		r.send(b, m)
	}
	for _, bmc := range []string{"b1", "b2", "b3"} {
		r.publish(b, bmc, coolCelsius)
	}
	waitUntil(b, "the BMCs' temperatures in the store", 10*time.Second, func() bool {
		for _, bmc := range []string{"b1", "b2", "b3"} {
			if len(svc.Store().Latest("rack1", bmc)) == 0 {
				return false
			}
		}
		return true
	})
	return r
}

func waitUntil(b *testing.B, what string, timeout time.Duration, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *latencyRig) send(b *testing.B, m sparkplug.Message) {
	tok := r.edge.Publish(m.Topic.String(), 1, false, m.Payload)
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		b.Fatalf("publish %s: %v", m.Topic, tok.Error())
	}
}

// publish sends one temperature of a BMC, as the edge's poll would, and
// returns when the DDATA was handed to the MQTT client.
func (r *latencyRig) publish(b *testing.B, bmc string, celsius float64) time.Time {
	msgs, err := r.sess.Data(bmc, []sample.Sample{{Metric: sample.TemperatureCelsius, Labels: sample.L("sensor", "CPU"),
		Value: sample.Float(celsius), Unit: "celsius", TS: time.Now()}}, r.next, false)
	if err != nil {
		b.Fatal(err)
	}
	r.next++
	for _, m := range msgs[:len(msgs)-1] {
		r.send(b, m) // a DBIRTH the first time
	}
	at := time.Now()
	r.send(b, msgs[len(msgs)-1])
	return at
}

// level is what the engine holds for the node under test.
func (r *latencyRig) level() decide.Level {
	r.svc.mu.Lock()
	defer r.svc.mu.Unlock()
	return r.svc.engine.Level(benchTarget)
}

// weight is the node's weight as the collector last read it.
func (r *latencyRig) weight() int {
	v, _ := r.svc.lbs.Server("lb1", "api", "s2")
	return v.WeightPct
}

// BenchmarkDecisionLatency measures the time from the edge publishing the
// sample that crosses a threshold to the shed command arriving at
// HAProxy's runtime API. One op is one crossing; p50-ms, p99-ms and
// max-ms are over the ops of the run, and ns/op is their mean;
// wake-p50-ms is the median time from the publish to the pass that first
// saw the crossing (broker, ingest, store and wake-up). Run it with
// enough ops for a p99, e.g. -benchtime=200x:
//
//   - hardware: the node's temperature reaches its critical limit, which
//     sheds it without regard to latency; it cools and is restored
//     between ops.
//   - attribution: the node is slow (50 ms against its peers' ~0 ms, as
//     HAProxy measures live traffic) and its temperature rises near the
//     limit, the rule's physical evidence. Between ops it cools and an
//     operator puts its weight back; the engine takes that for a pin
//     and resumes once the weight is back in full.
func BenchmarkDecisionLatency(b *testing.B) {
	r := startLatencyRig(b)
	b.Run("hardware", func(b *testing.B) {
		r.s2.delay.Store(0)
		waitUntil(b, "the node's latency back with its peers'", 60*time.Second, func() bool { return !r.regressed(b) })
		r.measure(b, criticalCelsius, r.coolDown)
	})
	b.Run("attribution", func(b *testing.B) {
		r.s2.delay.Store(int64(50 * time.Millisecond))
		waitUntil(b, "HAProxy to measure the node as slow", 60*time.Second, func() bool { return r.regressed(b) })
		r.measure(b, hotCelsius, r.operatorReset)
	})
}

// regressed reports whether the collector sees the node's latency far
// above its peers'.
func (r *latencyRig) regressed(b *testing.B) bool {
	for _, o := range r.svc.Observations() {
		if o.Node == "n2" {
			return o.HaveLatency && o.LatencySamples >= 20 && o.Latency >= 30*time.Millisecond
		}
	}
	b.Fatal("no observation of n2")
	return false
}

func (r *latencyRig) measure(b *testing.B, celsius float64, reset func(*testing.B)) {
	if r.level() != decide.Full || r.weight() != 100 {
		reset(b)
	}
	var lat, wake []time.Duration
	b.ResetTimer()
	for range b.N {
		// Let the loop settle, so the crossing sample finds no pass
		// under way nor a gap to wait out.
		time.Sleep(50 * time.Millisecond)
		sent := r.publish(b, "b2", celsius)
		at, ok := r.proxy.waitFor("set server api/s2 weight 50%", sent, 10*time.Second)
		if !ok {
			b.Fatalf("no shed within 10s of a %v °C sample; decisions: %v", celsius, r.svc.History())
		}
		lat = append(lat, at.Sub(sent))
		b.StopTimer()
		if at.Sub(sent) > 100*time.Millisecond {
			hs := r.svc.History()
			for _, d := range hs[max(0, len(hs)-6):] {
				b.Logf("slow %v: %s at %v", at.Sub(sent), d.String(), d.At.Sub(sent))
			}
		}
		// The pass that first saw the crossing started the hold: from
		// the publish to it is the ingest's share.
		r.svc.mu.Lock()
		ev, _, _ := r.svc.engine.Evidence(benchTarget)
		r.svc.mu.Unlock()
		if i := slices.IndexFunc(ev, func(e decide.Evidence) bool { return e.Signal == "cpu_temperature" && e.Firing }); i >= 0 {
			wake = append(wake, ev[i].Since.Sub(sent))
		}
		reset(b)
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(lat)
	slices.Sort(wake)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(float64(sum.Nanoseconds())/float64(len(lat)), "ns/op")
	b.ReportMetric(ms(pct(0.50)), "p50-ms")
	b.ReportMetric(ms(pct(0.99)), "p99-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
	if len(wake) > 0 {
		b.ReportMetric(ms(wake[len(wake)/2]), "wake-p50-ms")
	}
	if len(lat) < 100 {
		b.Logf("%d crossings: p99 is the maximum below 100 ops; run with -benchtime=200x", len(lat))
	}
}

// coolDown reports a cool temperature and waits for the engine to restore
// the node in full.
func (r *latencyRig) coolDown(b *testing.B) {
	r.publish(b, "b2", coolCelsius)
	waitUntil(b, "the node restored", 10*time.Second, func() bool { return r.level() == decide.Full && r.weight() == 100 })
}

// operatorReset reports a cool temperature, then sets the weight back as
// an operator would; the engine, which still sees the node slow, takes it
// for a pin and stands back, and resumes once it sees full service. Cool
// samples meanwhile wake the passes that notice.
func (r *latencyRig) operatorReset(b *testing.B) {
	resumed := func() int {
		n := 0
		for _, d := range r.svc.History() {
			if d.Action == decide.ActPinned && strings.Contains(d.Cause, "resumes") {
				n++
			}
		}
		return n
	}
	before := resumed()
	sent := r.publish(b, "b2", coolCelsius)
	waitUntil(b, "the cool sample evaluated", 10*time.Second, func() bool {
		r.svc.mu.Lock()
		defer r.svc.mu.Unlock()
		ev, _, at := r.svc.engine.Evidence(benchTarget)
		i := slices.IndexFunc(ev, func(e decide.Evidence) bool { return e.Signal == "cpu_temperature" })
		return at.After(sent) && i >= 0 && !ev[i].Firing
	})
	r.hap.Command(b, "set server api/s2 weight 100%")
	deadline := time.Now().Add(15 * time.Second)
	waitUntil(b, "the engine to resume after the operator's reset", 20*time.Second, func() bool {
		if resumed() > before && r.level() == decide.Full && r.weight() == 100 {
			return true
		}
		if time.Now().After(deadline) {
			for _, d := range r.svc.History() {
				b.Log(d.String())
			}
			b.Fatalf("level %v, weight %d", r.level(), r.weight())
		}
		r.publish(b, "b2", coolCelsius)
		time.Sleep(20 * time.Millisecond)
		return false
	})
}
