package service

import (
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/collector/metrics"
	"github.com/rackwatch/rackwatch/collector/statuspage"
	"github.com/rackwatch/rackwatch/edge/sample"
)

func TestLatencyRing(t *testing.T) {
	t0 := time.Unix(1000, 0)
	v := func(f float64) *float64 { return &f }
	tests := []struct {
		name string
		at   []time.Duration // offsets from t0 of the adds, each with value i+1
		want []float64       // NaN: a gap
	}{
		{name: "one", at: []time.Duration{0}, want: []float64{1}},
		{name: "within a step", at: []time.Duration{0, latencyStep / 2}, want: []float64{1}},
		{name: "steps", at: []time.Duration{0, latencyStep, 2 * latencyStep}, want: []float64{1, 2, 3}},
		{name: "gap", at: []time.Duration{0, 3 * latencyStep}, want: []float64{1, math.NaN(), math.NaN(), 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r latencyRing
			for i, d := range tt.at {
				r.add(t0.Add(d), v(float64(i+1)))
			}
			if len(r.points) != len(tt.want) {
				t.Fatalf("%d points, want %d", len(r.points), len(tt.want))
			}
			for i, w := range tt.want {
				if got := r.points[i]; (got == nil) != math.IsNaN(w) || (got != nil && *got != w) {
					t.Errorf("point %d = %v, want %v", i, got, w)
				}
			}
		})
	}
	t.Run("bounded", func(t *testing.T) {
		var r latencyRing
		for i := range 3 * latencyPoints {
			r.add(t0.Add(time.Duration(i)*latencyStep), v(float64(i)))
		}
		r.add(t0.Add(time.Duration(10*latencyPoints)*latencyStep), nil) // a long outage
		if len(r.points) != latencyPoints {
			t.Errorf("%d points, want %d", len(r.points), latencyPoints)
		}
	})
}

func TestTemperatureBands(t *testing.T) {
	p := decide.DefaultPolicy
	tests := []struct {
		c, limit float64
		want     string
	}{
		{math.NaN(), 0, statuspage.BandNone},
		{40, 0, statuspage.BandCool},
		{p.HotCelsius - p.CoolMargin, 0, statuspage.BandWarm},
		{p.HotCelsius, 0, statuspage.BandHot},
		{p.CritCelsius, 0, statuspage.BandCritical},
		// With the sensor's own limit, the margins count from it.
		{100 - p.NearMargin - 1, 100, statuspage.BandWarm},
		{100 - p.NearMargin, 100, statuspage.BandHot},
		{100 - p.CritMargin, 100, statuspage.BandCritical},
	}
	for _, tt := range tests {
		if got := cpuBand(p, tt.c, tt.limit).Band; got != tt.want {
			t.Errorf("cpuBand(%v, limit %v) = %s, want %s", tt.c, tt.limit, got, tt.want)
		}
	}
	if got := inletBand(p, p.InletHotCelsius).Band; got != statuspage.BandHot {
		t.Errorf("inlet at its threshold: %s", got)
	}
	if got := cpuBand(p, 93, 100).Limit; got == nil || *got != 100 {
		t.Errorf("limit %v", got)
	}
}

// TestSnapshotFollowsTheLoop runs the service until it sheds a node and
// checks what the status page is given, and that the API serves the page.
func TestSnapshotFollowsTheLoop(t *testing.T) {
	lb := upServers(true)
	svc := newTestService(t, loadTestConfig(t, strings.Replace(cfgText, `api: {listen: ""}`, `api: {listen: "127.0.0.1:0"}`, 1)), lb)
	node := func(s statuspage.Snapshot, name string) statuspage.Node {
		t.Helper()
		for _, r := range s.Racks {
			for _, n := range r.Nodes {
				if n.Name == name {
					return n
				}
			}
		}
		t.Fatalf("no node %s in %+v", name, s)
		return statuspage.Node{}
	}

	before := svc.Snapshot()
	if len(before.Racks) != 1 || before.Racks[0].Name != "" || len(before.Racks[0].Nodes) != 3 || len(before.Decisions) != 0 {
		t.Fatalf("before any pass: %+v", before)
	}
	for _, n := range before.Racks[0].Nodes {
		if n.State != statuspage.StateNoData || n.CPU.Band != statuspage.BandNone || n.CPU.C != nil || n.LatencyMs != nil || len(n.History) != 0 {
			t.Errorf("%s before any sample: %+v", n.Name, n)
		}
	}
	// The API serves the page beside its JSON.
	for path, want := range map[string]string{"/": "text/html; charset=utf-8", "/nope": "application/json; charset=utf-8"} {
		rec := httptest.NewRecorder()
		svc.API().Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if got := rec.Header().Get("Content-Type"); got != want {
			t.Errorf("GET %s: %d, Content-Type %q, want %q", path, rec.Code, got, want)
		}
	}

	changed := svc.Changed()
	runService(t, svc)
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("no change signalled after the loop started")
	}
	feed := func(c ...float64) {
		for i, v := range c {
			svc.Store().Add("rack1", "b"+strconv.Itoa(i+1), []sample.Sample{{Metric: sample.TemperatureCelsius,
				Labels: sample.L("sensor", "CPU"), Value: sample.Float(v), TS: time.Now()}})
		}
	}
	var snap statuspage.Snapshot
	for deadline := time.Now().Add(10 * time.Second); ; {
		feed(40, 90, 40)
		time.Sleep(50 * time.Millisecond)
		snap = svc.Snapshot()
		if n := node(snap, "n2"); n.State == statuspage.StateShed && n.WeightPct != nil && *n.WeightPct == 50 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("n2 never shown shed at 50 %%: %+v", node(snap, "n2"))
		}
	}
	hot, cool := node(snap, "n2"), node(snap, "n1")
	if hot.CPU.C == nil || *hot.CPU.C != 90 || hot.CPU.Band != statuspage.BandHot {
		t.Errorf("hot node's CPU: %+v", hot.CPU)
	}
	if hot.LatencyMs == nil || *hot.LatencyMs != 40 {
		t.Errorf("hot node's latency: %v", hot.LatencyMs)
	}
	if len(hot.History) == 0 || hot.History[len(hot.History)-1] == nil || hot.HistoryStepS != latencyStep.Seconds() {
		t.Errorf("hot node's history: %v every %vs", hot.History, hot.HistoryStepS)
	}
	firing := map[string]bool{}
	for _, e := range hot.Firing {
		firing[e.Signal] = e.Firing
	}
	if !firing["cpu_temperature"] {
		t.Errorf("hot node's firing evidence: %+v", hot.Firing)
	}
	if cool.State != statuspage.StateOK || cool.CPU.Band != statuspage.BandCool || len(cool.Firing) != 0 || cool.WeightPct == nil || *cool.WeightPct != 100 {
		t.Errorf("cool node: %+v", cool)
	}
	if len(snap.Decisions) == 0 || snap.Decisions[0].Action != "shed" || snap.Decisions[0].Node != "n2" || len(snap.Decisions[0].Evidence) == 0 {
		t.Errorf("decisions: %+v", snap.Decisions)
	}
	if snap.Stop || snap.DryRun || snap.At.IsZero() {
		t.Errorf("switches or time: %+v", snap)
	}
}

// TestPageStatesAreThoseOfMetrics: the page shows a node's state by the
// name /metrics gives it.
func TestPageStatesAreThoseOfMetrics(t *testing.T) {
	t.Parallel()
	page := []string{statuspage.StateOK, statuspage.StateShed, statuspage.StateDrained, statuspage.StateRestoring, statuspage.StatePinned, statuspage.StateNoData}
	if !slices.Equal(page, metrics.States) {
		t.Errorf("page states %q, /metrics states %q", page, metrics.States)
	}
}
