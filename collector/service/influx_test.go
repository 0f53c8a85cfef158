package service

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/config"
	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/collector/influx"
	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/sample"
)

func TestNodeStates(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	stale := 90 * time.Second
	nodes := []config.Node{{Name: "n-ok", Rack: "r1"}, {Name: "n-shed", Rack: "r1"}, {Name: "n-drained", Rack: "r1"},
		{Name: "n-pinned", Rack: "r2"}, {Name: "n-nodata", Rack: "r2"}, {Name: "n-nolb", Rack: "r2"}}
	obs := []decide.Observation{
		{Node: "n-ok", Rack: "r1", LB: "lb1", Backend: "web", Server: "s1", CPUTemp: 60, CPUTempLimit: 95, CPUTempAt: now.Add(-time.Second),
			InletTemp: 24, InletTempAt: now.Add(-2 * time.Second), HaveThrottle: true, ThrottleRate: 0.5,
			HaveLatency: true, Latency: 20 * time.Millisecond},
		{Node: "n-ok", Rack: "r1", LB: "lb2", Backend: "web", Server: "s1", CPUTemp: 60, CPUTempAt: now.Add(-time.Second),
			HaveLatency: true, Latency: 30 * time.Millisecond, HaveBackendP99: true, BackendP99: 50 * time.Millisecond},
		{Node: "n-shed", LB: "lb1", Backend: "web", Server: "s2", HaveFCS: true, FCSRate: 3, HaveFlaps: true, Flaps: 2},
		{Node: "n-shed", LB: "lb2", Backend: "web", Server: "s2", HaveFCS: true, FCSRate: 3},
		{Node: "n-drained", LB: "lb1", Backend: "web", Server: "s3", HaveLatency: true, Latency: time.Second},
		{Node: "n-pinned", LB: "lb1", Backend: "web", Server: "s4"},
		// Stale signals are no data.
		{Node: "n-nodata", LB: "lb1", Backend: "web", Server: "s5", CPUTemp: 50, CPUTempAt: now.Add(-stale - time.Second)},
	}
	levels := map[string]decide.Level{"n-shed/lb2": decide.Ramp25, "n-drained/lb1": decide.Drained, "n-pinned/lb1": decide.Drained}
	level := func(tg decide.Target) decide.Level { return levels[tg.Node+"/"+tg.LB] }
	pins := map[string]decide.Pin{"n-pinned": {By: "op"}}

	got := nodeStates(now, nodes, obs, pins, level, stale)
	nan := math.NaN()
	want := []influx.NodeState{
		{Node: "n-ok", Rack: "r1", State: influx.NodeOK, WeightPct: 100, CPUTemp: 60, CPUTempLimit: 95, InletTemp: 24,
			ThrottleRate: 0.5, FCSRate: nan, Flaps: nan, Latency: 0.03, Baseline: nan, BackendP99: 0.05},
		{Node: "n-shed", Rack: "r1", State: influx.NodeShed, WeightPct: 25, CPUTemp: nan, CPUTempLimit: nan, InletTemp: nan,
			ThrottleRate: nan, FCSRate: 3, Flaps: 2, Latency: nan, Baseline: nan, BackendP99: nan},
		{Node: "n-drained", Rack: "r1", State: influx.NodeDrained, WeightPct: 0, CPUTemp: nan, CPUTempLimit: nan, InletTemp: nan,
			ThrottleRate: nan, FCSRate: nan, Flaps: nan, Latency: 1, Baseline: nan, BackendP99: nan},
		{Node: "n-pinned", Rack: "r2", State: influx.NodePinned, WeightPct: 0, CPUTemp: nan, CPUTempLimit: nan, InletTemp: nan,
			ThrottleRate: nan, FCSRate: nan, Flaps: nan, Latency: nan, Baseline: nan, BackendP99: nan},
		{Node: "n-nodata", Rack: "r2", State: influx.NodeNoData, WeightPct: 100, CPUTemp: nan, CPUTempLimit: nan, InletTemp: nan,
			ThrottleRate: nan, FCSRate: nan, Flaps: nan, Latency: nan, Baseline: nan, BackendP99: nan},
		{Node: "n-nolb", Rack: "r2", State: influx.NodeNoData, WeightPct: 100, CPUTemp: nan, CPUTempLimit: nan, InletTemp: nan,
			ThrottleRate: nan, FCSRate: nan, Flaps: nan, Latency: nan, Baseline: nan, BackendP99: nan},
	}
	if len(got) != len(want) {
		t.Fatalf("%d states, want %d: %+v", len(got), len(want), got)
	}
	same := func(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }
	for i, w := range want {
		g := got[i]
		w.TS = now
		if g.TS != w.TS || g.Node != w.Node || g.Rack != w.Rack || g.State != w.State || g.WeightPct != w.WeightPct ||
			!same(g.CPUTemp, w.CPUTemp) || !same(g.CPUTempLimit, w.CPUTempLimit) || !same(g.InletTemp, w.InletTemp) ||
			!same(g.ThrottleRate, w.ThrottleRate) || !same(g.FCSRate, w.FCSRate) || !same(g.Flaps, w.Flaps) ||
			!same(g.Latency, w.Latency) || !same(g.Baseline, w.Baseline) || !same(g.BackendP99, w.BackendP99) {
			t.Errorf("node %d:\ngot  %+v\nwant %+v", i, g, w)
		}
	}
}

// TestServiceWritesInfluxDB runs the collector with InfluxDB configured and
// checks what the dashboards read: the samples, each node's state after
// the passes, the decisions with their rack, and the edges' births and
// deaths.
func TestServiceWritesInfluxDB(t *testing.T) {
	rig := testrig.StartInfluxDB(t)
	rig.CreateDatabase(t, "rackwatch")
	text := cfgText +
		"influxdb: {url: \"" + rig.URL + "\", database: rackwatch}\n"
	text = strings.Replace(text, "{name: n2, edge: rack1,", "{name: n2, rack: r1, edge: rack1,", 1) +
		"racks:\n  - {name: r1, edge: rack1}\n"
	lb := upServers(true)
	svc := newTestService(t, loadTestConfig(t, text), lb)
	stop := runService(t, svc)

	// Fed as ingest feeds it.
	k := sink{svc}
	k.EdgeOnline("rack1", time.Now())
	deadline := time.Now().Add(10 * time.Second)
	for len(lb.sent()) == 0 && time.Now().Before(deadline) {
		for i, v := range []float64{40, 90, 40} {
			k.Add("rack1", "b"+strconv.Itoa(i+1), []sample.Sample{{Metric: sample.TemperatureCelsius,
				Labels: sample.L("sensor", "CPU"), Value: sample.Float(v), TS: time.Now()}})
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(lb.sent()) == 0 {
		t.Fatal("no decision within 10s")
	}
	k.EdgeOffline("rack1", time.Now())
	stop() // Run closes the writer, which flushes it

	for _, tc := range []struct{ q, want string }{
		{`SELECT count("value") FROM "temperature_celsius" WHERE "edge" = 'rack1' AND "device" = 'b2' AND "sensor" = 'CPU'`, `"count"`},
		{`SELECT "state", "weight_pct", "cpu_temp_celsius" FROM "rackwatch_node" WHERE "node" = 'n2' AND "rack" = 'r1' AND "state" = 'shed'`, `"shed",50,90`},
		{`SELECT "state" FROM "rackwatch_node" WHERE "node" = 'n1' AND "state" = 'ok'`, `"ok"`},
		{`SELECT "action", "reason" FROM "rackwatch_decision" WHERE "node" = 'n2' AND "rack" = 'r1' AND "server" = 's2'`, `"shed","shed n2 (lb1 api/s2) full → shed`},
	} {
		got := string(rig.Query(t, "rackwatch", tc.q))
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s:\ngot  %s\nwant %s in it", tc.q, got, tc.want)
		}
	}
	edges := string(rig.Query(t, "rackwatch", `SELECT "online" FROM "rackwatch_edge" WHERE "edge" = 'rack1'`))
	if !strings.Contains(edges, `,1]`) || !strings.Contains(edges, `,0]`) {
		t.Errorf("rackwatch_edge = %s, want the birth (1) and the death (0)", edges)
	}
}
