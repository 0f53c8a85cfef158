package apinode

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/deploy/testrig"
)

func startNode(t *testing.T, o Opts) *Node {
	t.Helper()
	n, err := Start(t.Context(), &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	})
	return n
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r, string(b)
}

// A throttled node answers in twice the time: the model's service time
// scales with 1/frequency, and the HTTP path really spends it. The fastest
// of 15 requests stands for each: scheduling delays on a busy machine only
// ever add to a latency.
func TestLatencyGrowsWhenThrottled(t *testing.T) {
	t.Parallel()
	clk := testrig.NewClock(t0)
	n := startNode(t, Opts{Name: "node1", Now: clk.Now, Params: Params{ServiceTime: 5 * time.Millisecond}})
	url := "http://" + n.Addr() + "/api"
	fastest := func() (time.Duration, string) {
		var ds []time.Duration
		var header string
		for range 15 {
			start := time.Now()
			r, body := get(t, url)
			ds = append(ds, time.Since(start))
			if r.StatusCode != http.StatusOK || body != "ok\n" || r.Header.Get("X-Node") != "node1" {
				t.Fatalf("%s: %d %q", url, r.StatusCode, body)
			}
			header = r.Header.Get("X-Service-Time")
		}
		return slices.Min(ds), header
	}
	cool, coolHeader := fastest()
	m := n.Model()
	m.SetBackgroundLoad(clk.Now(), 1)
	m.SetInlet(clk.Now(), 45)
	m.SetCooling(clk.Now(), 0.3)
	clk.Add(5 * time.Minute)
	hot, hotHeader := fastest()
	if coolHeader != "0.005000" || hotHeader != "0.010000" {
		t.Errorf("service times %s s cool, %s s throttled; want 0.005 and 0.010", coolHeader, hotHeader)
	}
	if hot < cool*3/2 || hot < 10*time.Millisecond {
		t.Errorf("fastest latency %v cool, %v throttled: want about twice", cool, hot)
	}
	t.Logf("fastest latency %v cool, %v throttled", cool, hot)
}

// gate is a Sleeper that holds each request until released.
type gate struct {
	started chan time.Duration
	release chan struct{}
}

func (g *gate) Sleep(ctx context.Context, d time.Duration) error {
	g.started <- d
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Overload queues behind the workers and, past the queue, is refused:
// latency first, then 503, never unbounded concurrency.
func TestQueueing(t *testing.T) {
	t.Parallel()
	g := &gate{started: make(chan time.Duration, 4), release: make(chan struct{})}
	n := startNode(t, Opts{Sleeper: g, Params: Params{Workers: 1, Queue: 1}})
	url := "http://" + n.Addr() + "/api"
	codes := make(chan int, 2)
	for range 2 {
		go func() {
			r, err := http.Get(url)
			if err != nil {
				codes <- 0
				return
			}
			r.Body.Close()
			codes <- r.StatusCode
		}()
	}
	<-g.started // one request holds the only worker
	deadline := time.Now().Add(5 * time.Second)
	for n.Stats().InFlight != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v, want 2 in flight", n.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	if r, _ := get(t, url); r.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("third request with one worker and a queue of one: %d, want 503", r.StatusCode)
	}
	select {
	case <-g.started:
		t.Fatal("a queued request started while the worker was busy")
	default:
	}
	g.release <- struct{}{}
	<-g.started
	g.release <- struct{}{}
	for range 2 {
		if c := <-codes; c != http.StatusOK {
			t.Errorf("queued request: %d", c)
		}
	}
	if st := n.Stats(); st.Served != 2 || st.Rejected != 1 || st.InFlight != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestHealthAndState(t *testing.T) {
	t.Parallel()
	clk := testrig.NewClock(t0)
	n := startNode(t, Opts{Name: "node2", Now: clk.Now})
	base := "http://" + n.Addr()
	if r, body := get(t, base+"/health"); r.StatusCode != 200 || body != "ok\n" {
		t.Errorf("health: %d %q", r.StatusCode, body)
	}
	n.SetHealthy(false)
	for _, p := range []string{"/health", "/api"} {
		if r, _ := get(t, base+p); r.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s while unhealthy: %d", p, r.StatusCode)
		}
	}
	n.SetHealthy(true)
	_, body := get(t, base+"/state")
	var st struct {
		Node       string  `json:"node"`
		CPUCelsius float64 `json:"cpu_celsius"`
		Throttled  bool    `json:"throttled"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if st.Node != "node2" || st.CPUCelsius != 37 || st.Throttled {
		t.Errorf("state %+v", st)
	}
}

// record is a Sleeper that returns at once and remembers what it was
// asked to spend.
type record struct {
	mu sync.Mutex
	ds []time.Duration
}

func (r *record) Sleep(_ context.Context, d time.Duration) error {
	r.mu.Lock()
	r.ds = append(r.ds, d)
	r.mu.Unlock()
	return nil
}

// A network delay is spent after the service time, outside the model: it
// slows the client, not the CPU.
func TestNetworkDelay(t *testing.T) {
	t.Parallel()
	rec := &record{}
	clk := testrig.NewClock(t0)
	n := startNode(t, Opts{Now: clk.Now, Sleeper: rec})
	n.SetNetworkDelay(20 * time.Millisecond)
	if r, _ := get(t, "http://"+n.Addr()+"/api"); r.StatusCode != http.StatusOK {
		t.Fatalf("status %d", r.StatusCode)
	}
	n.SetNetworkDelay(0)
	if r, _ := get(t, "http://"+n.Addr()+"/api"); r.StatusCode != http.StatusOK {
		t.Fatalf("status %d", r.StatusCode)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := []time.Duration{5 * time.Millisecond, 20 * time.Millisecond, 5 * time.Millisecond}
	if !slices.Equal(rec.ds, want) {
		t.Errorf("slept %v, want %v", rec.ds, want)
	}
	clk.Add(time.Minute)
	if u := n.Model().State(clk.Now()).Utilisation; u > 10e-3/(8*60)+1e-9 {
		t.Errorf("utilisation %v counts the network delay as CPU time", u)
	}
}
