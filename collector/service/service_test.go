package service

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/config"
	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/collector/haproxy"
	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/sample"
)

// fakeRuntime answers like an HAProxy runtime API that is unreachable until
// told otherwise, and applies what it is told.
type fakeRuntime struct {
	mu       sync.Mutex
	down     bool
	status   map[string]string
	weight   map[string]int
	rtime    map[string]time.Duration
	stot     uint64
	commands []string
}

func (f *fakeRuntime) ShowInfo(context.Context) (haproxy.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return haproxy.Info{}, errors.New("dial unix /run/haproxy/admin.sock: connect: no such file or directory")
	}
	return haproxy.Info{Pid: 42, StartTimeSec: 1}, nil
}

func (f *fakeRuntime) ShowStat(context.Context) ([]haproxy.Stat, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stot += 100 // steady traffic
	var out []haproxy.Stat
	for s, st := range f.status {
		out = append(out, haproxy.Stat{Proxy: "api", Server: s, Type: haproxy.Server, Status: st, RTime: f.rtime[s], Stot: f.stot})
	}
	return out, nil
}

func (f *fakeRuntime) ShowServersState(context.Context) ([]haproxy.ServerState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []haproxy.ServerState
	for s := range f.status {
		out = append(out, haproxy.ServerState{Backend: "api", Server: s, OpState: 2, Weight: f.weight[s], InitialWeight: 100})
	}
	return out, nil
}

func (f *fakeRuntime) SetServerState(_ context.Context, backend, server string, state haproxy.State) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commands = append(f.commands, backend+"/"+server+" "+state.String())
	if state == haproxy.Drain {
		f.status[server] = "DRAIN"
	} else {
		f.status[server] = "UP"
	}
	return nil
}

func (f *fakeRuntime) SetWeight(_ context.Context, backend, server string, pct int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commands = append(f.commands, backend+"/"+server+" weight "+strconv.Itoa(pct))
	f.weight[server] = pct
	return nil
}

func (f *fakeRuntime) set(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

func (f *fakeRuntime) sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.commands...)
}

const cfgText = `version: 1
state_dir: STATE
mqtt: {listen: "127.0.0.1:0"}
haproxy:
  - {name: lb1, address: /run/haproxy/admin.sock, period: 100ms}
nodes:
  - {name: n1, edge: rack1, bmc: b1, lb: [{haproxy: lb1, backend: api, server: s1}]}
  - {name: n2, edge: rack1, bmc: b2, lb: [{haproxy: lb1, backend: api, server: s2}]}
  - {name: n3, edge: rack1, bmc: b3, lb: [{haproxy: lb1, backend: api, server: s3}]}
correlation: {window: 2s, baseline: 10s}
api: {listen: ""}
policy: {hot_celsius: 80, crit_celsius: 95, latency_min_delta: 5ms, min_samples: 10, hold: 300ms, drain_after: 1h, restore_hold: 300ms, step_hold: 200ms, stale_after: 10s, verify_window: 1h, tick: 50ms}
`

// loadTestConfig writes text, its STATE replaced by a fresh directory, to
// collector.yaml and loads it.
func loadTestConfig(t testing.TB, text string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "collector.yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(text, "STATE", t.TempDir(), 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// upServers is lb1 with api/s1, s2 and s3 up at full weight. With slowS2,
// s2 answers in 40 ms where the others take 2 and 3 ms.
func upServers(slowS2 bool) *fakeRuntime {
	lb := &fakeRuntime{status: map[string]string{"s1": "UP", "s2": "UP", "s3": "UP"}, weight: map[string]int{"s1": 100, "s2": 100, "s3": 100}}
	if slowS2 {
		lb.rtime = map[string]time.Duration{"s1": 2 * time.Millisecond, "s2": 40 * time.Millisecond, "s3": 3 * time.Millisecond}
	}
	return lb
}

// newTestService builds the service of cfg on lb as lb1, logging nowhere.
func newTestService(t testing.TB, cfg *config.Config, lb *fakeRuntime) *Service {
	t.Helper()
	svc, err := New(cfg, Opts{Logger: slog.New(slog.DiscardHandler), Runtimes: map[string]Runtime{"lb1": lb}})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// runService runs svc until stop is called, or the test ends.
func runService(t testing.TB, svc *Service) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func TestServiceActsThroughTheLoadBalancerAndSurvivesItsOutage(t *testing.T) {
	lb := upServers(true)
	lb.down = true
	svc := newTestService(t, loadTestConfig(t, cfgText), lb)
	runService(t, svc)

	feed := func(c ...float64) {
		for i, v := range c {
			svc.Store().Add("rack1", "b"+strconv.Itoa(i+1), []sample.Sample{{Metric: sample.TemperatureCelsius,
				Labels: sample.L("sensor", "CPU"), Value: sample.Float(v), TS: time.Now()}})
		}
	}
	// Hot and slow, but HAProxy is unreachable: no latency, no action.
	for i := 0; i < 10; i++ {
		feed(40, 90, 40)
		time.Sleep(50 * time.Millisecond)
	}
	if got := lb.sent(); len(got) != 0 {
		t.Fatalf("acted without load-balancer data: %v", got)
	}
	lb.set(func() { lb.down = false })
	deadline := time.Now().Add(5 * time.Second)
	for len(lb.sent()) == 0 && time.Now().Before(deadline) {
		feed(40, 90, 40)
		time.Sleep(50 * time.Millisecond)
	}
	if got := lb.sent(); len(got) != 2 || got[0] != "api/s2 weight 50" || got[1] != "api/s2 ready" {
		t.Fatalf("commands = %v, want a shed of api/s2 to 50 %%", got)
	}
	lb.set(func() { lb.rtime["s2"] = 3 * time.Millisecond })
	for len(lb.sent()) < 4 && time.Now().Before(deadline.Add(5*time.Second)) {
		feed(40, 60, 40)
		time.Sleep(50 * time.Millisecond)
	}
	if got := lb.sent(); len(got) < 4 || got[2] != "api/s2 weight 100" {
		t.Fatalf("commands = %v, want api/s2 back to 100 %%", got)
	}
	var kinds []decide.Action
	for _, d := range svc.History() {
		kinds = append(kinds, d.Action)
	}
	if len(kinds) != 2 || kinds[0] != decide.ActShed || kinds[1] != decide.ActRestore {
		t.Errorf("decision log = %v", kinds)
	}
}

func TestInventoryServerUnknownToHAProxyIsReported(t *testing.T) {
	cfg := loadTestConfig(t, strings.Replace(cfgText, "server: s3}", "server: s9}", 1))
	var logs testrig.Buffer
	svc, err := New(cfg, Opts{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Runtimes: map[string]Runtime{"lb1": upServers(false)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	svc.Run(ctx)
	if out := logs.String(); !strings.Contains(out, "collector.yaml:9: nodes[2].lb[0]: HAProxy lb1 has no server api/s9") || strings.Count(out, "no server api/s9") != 1 {
		t.Errorf("the unknown server is not reported once with its file and line:\n%s", out)
	}
}
