package service

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/config"
	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/collector/haproxy"
	"github.com/rackwatch/rackwatch/edge/sample"
)

// fakeLB is a load balancer whose runtime API fails until told otherwise.
type fakeLB struct {
	mu       sync.Mutex
	down     bool
	status   map[string]string
	rtime    map[string]time.Duration
	commands []string
}

func (f *fakeLB) ShowStat(context.Context) ([]haproxy.Stat, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errors.New("dial unix /run/haproxy/admin.sock: connect: no such file or directory")
	}
	var out []haproxy.Stat
	for s, st := range f.status {
		out = append(out, haproxy.Stat{Proxy: "api", Server: s, Type: haproxy.Server, Status: st, RTime: f.rtime[s]})
	}
	return out, nil
}

func (f *fakeLB) SetServerState(_ context.Context, backend, server string, state haproxy.State) error {
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

func (f *fakeLB) set(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

func (f *fakeLB) sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.commands...)
}

const cfgText = `version: 1
haproxy:
  - {name: lb1, address: /run/haproxy/admin.sock, period: 100ms}
nodes:
  - {name: n1, edge: rack1, bmc: b1, lb: [{haproxy: lb1, backend: api, server: s1}]}
  - {name: n2, edge: rack1, bmc: b2, lb: [{haproxy: lb1, backend: api, server: s2}]}
  - {name: n3, edge: rack1, bmc: b3, lb: [{haproxy: lb1, backend: api, server: s3}]}
policy: {hot_celsius: 80, cool_celsius: 70, latency_min_delta: 5ms, hold: 300ms, restore_hold: 300ms, stale_after: 10s, tick: 50ms}
`

func temps(now time.Time, c ...float64) map[string][]sample.Sample {
	m := map[string][]sample.Sample{}
	for i, v := range c {
		m["b"+string(rune('1'+i))] = []sample.Sample{{Metric: sample.TemperatureCelsius, Labels: sample.L("sensor", "CPU"), Value: sample.Float(v), TS: now}}
	}
	return m
}

func TestServiceActsThroughTheLoadBalancerAndSurvivesItsOutage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte(cfgText), 0o600)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	lb := &fakeLB{down: true, status: map[string]string{"s1": "UP", "s2": "UP", "s3": "UP"},
		rtime: map[string]time.Duration{"s1": 2 * time.Millisecond, "s2": 40 * time.Millisecond, "s3": 3 * time.Millisecond}}
	svc, err := New(cfg, Opts{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), LoadBalancers: map[string]LoadBalancer{"lb1": lb}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	feed := func(c ...float64) {
		for dev, s := range temps(time.Now(), c...) {
			svc.Store().Add("rack1", dev, s)
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
	if got := lb.sent(); len(got) != 1 || got[0] != "api/s2 drain" {
		t.Fatalf("commands = %v, want api/s2 drain", got)
	}
	for len(lb.sent()) == 1 && time.Now().Before(deadline.Add(5*time.Second)) {
		feed(40, 60, 40)
		time.Sleep(50 * time.Millisecond)
	}
	if got := lb.sent(); len(got) != 2 || got[1] != "api/s2 ready" {
		t.Fatalf("commands = %v, want a restore of api/s2", got)
	}
	ds := svc.Decisions()
	if len(ds) != 2 || ds[0].Kind != decide.Drain || ds[1].Kind != decide.Restore {
		t.Errorf("decision log = %v", ds)
	}
}

func TestStatus(t *testing.T) {
	for in, want := range map[string]decide.Status{
		"UP": decide.StatusUp, "UP 1/3": decide.StatusUp, "no check": decide.StatusUp,
		"DOWN": decide.StatusDown, "DOWN 1/2": decide.StatusDown, "NOLB": decide.StatusDown,
		"DRAIN": decide.StatusDrain, "MAINT": decide.StatusMaint, "MAINT (via api/s1)": decide.StatusMaint,
		"": decide.StatusUnknown, "weird": decide.StatusUnknown,
	} {
		if got := Status(in); got != want {
			t.Errorf("Status(%q) = %v, want %v", in, got, want)
		}
	}
}
