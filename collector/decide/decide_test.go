package decide

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

const ms = time.Millisecond

var testPolicy = Policy{
	HotCelsius: 80, CritCelsius: 95, NearMargin: 10, CritMargin: 3, CoolMargin: 5,
	LatencyRatio: 1.5, LatencyMinDelta: 10 * ms, MinSamples: 10,
	Hold: 2 * time.Second, DrainAfter: 5 * time.Second, RestoreHold: 3 * time.Second, StepHold: 2 * time.Second,
	StaleAfter: 10 * time.Second, VerifyWindow: 4 * time.Second, RollbackCooldown: time.Minute,
	MaxFraction: 0.5, MaxActionsPerHour: 100, RackHotMin: 3, RackHotFraction: 0.6,
}

// node describes one node's signals in a scenario.
type node struct {
	temp     float64
	limit    float64
	latency  time.Duration
	throttle float64
	fcs      float64
	status   Status
	weight   int
	noTemp   bool
	rack     string
}

func cool() node                       { return node{temp: 50, latency: 5 * ms} }
func hotSlow() node                    { return node{temp: 88, throttle: 1, latency: 60 * ms} }
func (n node) with(f func(*node)) node { f(&n); return n }

// scenario turns nodes n1..nN of backend api (lb1) into observations.
func scenario(now time.Time, nodes ...node) []Observation {
	var obs []Observation
	for i, n := range nodes {
		name := string(rune('1' + i))
		o := Observation{
			Node: "n" + name, Rack: n.rack, LB: "lb1", Backend: "api", Server: "s" + name,
			LBKnown: true, Status: n.status, WeightPct: n.weight,
			CPUTemp: n.temp, CPUTempLimit: n.limit, CPUTempAt: now,
			ThrottleRate: n.throttle, HaveThrottle: true, FCSRate: n.fcs, HaveFCS: true,
			Latency: n.latency, LatencySamples: 100, HaveLatency: true,
		}
		if o.Status == StatusUnknown {
			o.Status = StatusUp
		}
		if o.WeightPct == 0 {
			o.WeightPct = 100
		}
		if n.noTemp {
			o.CPUTempAt = time.Time{}
		}
		obs = append(obs, o)
	}
	return obs
}

// follow makes the load balancer show what the engine wants, as an
// actuator would.
func follow(e *Engine, obs []Observation) []Observation {
	for i := range obs {
		d := e.Level(targetOf(obs[i])).Desired()
		if d.Drain {
			obs[i].Status = StatusDrain
		} else if obs[i].Status == StatusUp {
			obs[i].WeightPct = d.Weight
		}
	}
	return obs
}

func kinds(ds []Decision) string {
	var b []string
	for _, d := range ds {
		s := string(d.Action) + ":" + d.Node
		if d.Node == "" {
			s = string(d.Action) + ":" + d.Rack
		}
		if !d.Taken {
			s += "(withheld)"
		}
		b = append(b, s)
	}
	return strings.Join(b, ",")
}

func mustEngine(t *testing.T, p Policy) *Engine {
	t.Helper()
	e, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// run evaluates the same nodes every second for d and returns every
// decision, with the load balancer following the engine.
func run(e *Engine, from time.Time, d time.Duration, nodes ...node) ([]Decision, time.Time) {
	var all []Decision
	now := from
	for ; !now.After(from.Add(d)); now = now.Add(time.Second) {
		all = append(all, e.Evaluate(now, follow(e, scenario(now, nodes...)))...)
	}
	return all, now
}

func TestAttributionNeedsRegressionAndEvidence(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes []node
		want  string
	}{
		{"hot, throttling and slow", []node{hotSlow(), cool(), cool(), cool()}, "shed:n1"},
		{"link errors and slow", []node{cool().with(func(n *node) { n.fcs = 50; n.latency = 60 * ms }), cool(), cool(), cool()}, "shed:n1"},
		{"warm below limits, not slow", []node{cool().with(func(n *node) { n.temp = 75 }), cool(), cool(), cool()}, ""},
		{"hot but not slow", []node{hotSlow().with(func(n *node) { n.latency = 6 * ms }), cool(), cool(), cool()}, ""},
		{"slow with no physical evidence", []node{cool().with(func(n *node) { n.latency = 80 * ms }), cool(), cool(), cool()}, ""},
		{"no temperature: no data, no action", []node{hotSlow().with(func(n *node) { n.noTemp = true; n.throttle = 0 }), cool(), cool(), cool()}, ""},
		{"no peers to compare", []node{hotSlow()}, ""},
		{"budget: half the backend already out", []node{hotSlow(), cool().with(func(n *node) { n.status = StatusMaint }), cool(), cool().with(func(n *node) { n.status = StatusDown })}, "pinned:n2,shed:n1(withheld)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := mustEngine(t, testPolicy)
			ds, _ := run(e, t0, testPolicy.Hold, tc.nodes...)
			if got := kinds(ds); got != tc.want {
				t.Errorf("decisions %q, want %q", got, tc.want)
			}
			for _, d := range ds {
				if (d.Action == ActShed || d.Action == ActDrain) && (len(d.Evidence) == 0 || d.FirstFired == "") {
					t.Errorf("%s without evidence: %+v", d.Action, d)
				}
			}
		})
	}
}

func TestShedDrainRestoreRamp(t *testing.T) {
	e := mustEngine(t, testPolicy)
	ds, now := run(e, t0, testPolicy.Hold, hotSlow(), cool(), cool(), cool())
	if kinds(ds) != "shed:n1" {
		t.Fatalf("got %q", kinds(ds))
	}
	if d := ds[0]; d.Desired.Weight != 50 || d.FirstFired != "cpu_temperature" || !strings.Contains(d.String(), "throttle_rate 1 events/s ≥ 0.1") {
		t.Errorf("shed decision %s (first %s)", d, d.FirstFired)
	}
	// Still hot after the shed, and its latency improved (so no rollback):
	// drained once DrainAfter has passed.
	better := hotSlow().with(func(n *node) { n.latency = 30 * ms })
	ds, now = run(e, now, testPolicy.DrainAfter, better, cool(), cool(), cool())
	if kinds(ds) != "drain:n1" {
		t.Fatalf("after the shed: %q", kinds(ds))
	}
	// Cooled down: restore hold, then 25 → 50 → 100 with step holds.
	ds, _ = run(e, now, 20*time.Second, cool(), cool(), cool(), cool())
	var steps []Level
	for _, d := range ds {
		steps = append(steps, d.To)
	}
	if kinds(ds) != "restore:n1,restore:n1,restore:n1" || steps[0] != Ramp25 || steps[1] != Ramp50 || steps[2] != Full {
		t.Errorf("restore: %q %v", kinds(ds), steps)
	}
	if gap := ds[1].At.Sub(ds[0].At); gap < testPolicy.StepHold {
		t.Errorf("ramp steps %s apart, step hold %s", gap, testPolicy.StepHold)
	}
}

func TestRollbackWhenTheShedDoesNotHelp(t *testing.T) {
	e := mustEngine(t, Policy(testPolicy).with(func(p *Policy) { p.DrainAfter = time.Hour }))
	ds, now := run(e, t0, testPolicy.Hold, hotSlow(), cool(), cool(), cool())
	if kinds(ds) != "shed:n1" {
		t.Fatalf("got %q", kinds(ds))
	}
	ds, now = run(e, now, testPolicy.VerifyWindow, hotSlow(), cool(), cool(), cool()) // no better
	if kinds(ds) != "rollback:n1" || ds[0].Alarm != AlarmRollback || e.Level(Target{"n1", "lb1", "api", "s1"}) != Full {
		t.Fatalf("got %q", kinds(ds))
	}
	ds, _ = run(e, now, 10*time.Second, hotSlow(), cool(), cool(), cool())
	if kinds(ds) != "" {
		t.Errorf("re-shed during the cooldown: %q", kinds(ds))
	}
}

func TestHardwareProtectionWithoutRegression(t *testing.T) {
	e := mustEngine(t, testPolicy)
	critical := node{temp: 98, limit: 100, latency: 5 * ms}
	ds, now := run(e, t0, testPolicy.Hold, critical, cool(), cool(), cool())
	if kinds(ds) != "shed:n1" || ds[0].Alarm != AlarmHardware {
		t.Fatalf("got %q", kinds(ds))
	}
	ds, _ = run(e, now, testPolicy.DrainAfter, critical, cool(), cool(), cool())
	if kinds(ds) != "drain:n1" {
		t.Errorf("got %q", kinds(ds))
	}
}

func TestRackWideHeatRaisesOneAlarm(t *testing.T) {
	e := mustEngine(t, testPolicy)
	hot := hotSlow().with(func(n *node) { n.rack = "r2" })
	c := cool().with(func(n *node) { n.rack = "r2" })
	ds, _ := run(e, t0, 20*time.Second, hot, hot, hot, c, cool())
	if kinds(ds) != "alarm:r2" || !ds[0].AlarmActive || ds[0].Alarm != AlarmRackCooling {
		t.Errorf("decisions %q: want one rack alarm and no drain", kinds(ds))
	}
}

func TestPinsAndOperators(t *testing.T) {
	e := mustEngine(t, testPolicy)
	e.SetPin("n1", true, "alice", "firmware update", t0)
	if ds, _ := run(e, t0, 20*time.Second, hotSlow(), cool(), cool(), cool()); kinds(ds) != "" {
		t.Fatalf("acted on a pinned node: %q", kinds(ds))
	}
	e.SetPin("n1", false, "alice", "", t0)
	ds, now := run(e, t0.Add(time.Minute), testPolicy.Hold, hotSlow(), cool(), cool(), cool())
	if kinds(ds) != "shed:n1" {
		t.Fatalf("after unpin: %q", kinds(ds))
	}
	// The load balancer confirms the shed, then an operator sets 100 %.
	e.Evaluate(now, follow(e, scenario(now, hotSlow(), cool(), cool(), cool())))
	now = now.Add(time.Second)
	ds = e.Evaluate(now, scenario(now, hotSlow(), cool(), cool(), cool()))
	if kinds(ds) != "pinned:n1" {
		t.Fatalf("operator's change: %q", kinds(ds))
	}
	for i := 0; i < 20; i++ { // the operator's 80 % stays
		now = now.Add(time.Second)
		if ds := e.Evaluate(now, scenario(now, hotSlow().with(func(n *node) { n.weight = 80 }), cool(), cool(), cool())); len(ds) > 0 {
			t.Fatalf("acted against the operator: %q", kinds(ds))
		}
	}
	// Back at 100 %: the operator is done, the engine resumes.
	now = now.Add(time.Second)
	if ds := e.Evaluate(now, scenario(now, hotSlow(), cool(), cool(), cool())); kinds(ds) != "pinned:n1" {
		t.Errorf("release: %q", kinds(ds))
	}
}

func TestStaleLBReadingIsNotAnOperator(t *testing.T) {
	e := mustEngine(t, testPolicy)
	_, now := run(e, t0, testPolicy.Hold, hotSlow(), cool(), cool(), cool())
	// The next reading predates the command: still 100 %.
	if ds := e.Evaluate(now, scenario(now, hotSlow(), cool(), cool(), cool())); kinds(ds) != "" {
		t.Errorf("a stale reading was taken for an operator: %q", kinds(ds))
	}
}

// TestStaleLBReadingAfterTheRestoreIsNotAnOperator: the last ramp step
// shows in the load balancer a poll, or an agent check, after the engine
// took it; until a step hold has passed, the old weight is the engine's
// own and not an operator's.
func TestStaleLBReadingAfterTheRestoreIsNotAnOperator(t *testing.T) {
	e := mustEngine(t, testPolicy)
	_, now := run(e, t0, testPolicy.Hold, hotSlow(), cool(), cool(), cool())
	_, now = run(e, now, testPolicy.DrainAfter, hotSlow().with(func(n *node) { n.latency = 30 * ms }), cool(), cool(), cool())
	n1 := Target{"n1", "lb1", "api", "s1"}
	var restored time.Time
	for i := 0; e.Level(n1) != Full; i++ {
		if i == 30 {
			t.Fatalf("no return to full service; level %v", e.Level(n1))
		}
		restored = now
		e.Evaluate(now, follow(e, scenario(now, cool(), cool(), cool(), cool())))
		now = now.Add(time.Second)
	}
	lagging := cool().with(func(n *node) { n.weight = 50 })
	for ; now.Sub(restored) < testPolicy.StepHold; now = now.Add(time.Second) {
		if ds := e.Evaluate(now, scenario(now, lagging, cool(), cool(), cool())); len(ds) > 0 {
			t.Fatalf("%s after the restore, a reading of 50 %%: %q", now.Sub(restored), kinds(ds))
		}
	}
	// Still 50 % a step hold later: someone else set it.
	if ds := e.Evaluate(now, scenario(now, lagging, cool(), cool(), cool())); kinds(ds) != "pinned:n1" {
		t.Errorf("a step hold after the restore, a reading of 50 %%: %q, want an operator's pin", kinds(ds))
	}
}

func TestGlobalStopAndDryRun(t *testing.T) {
	e := mustEngine(t, testPolicy)
	e.SetStop(true, "bob", t0)
	ds, _ := run(e, t0, 10*time.Second, hotSlow(), cool(), cool(), cool())
	if kinds(ds) != "shed:n1(withheld)" || ds[0].Withheld != "global stop" {
		t.Fatalf("under stop: %q", kinds(ds))
	}
	e2 := mustEngine(t, testPolicy)
	e2.SetDryRun(true, "bob", t0)
	var all []Decision
	now := t0
	for ; now.Before(t0.Add(10 * time.Second)); now = now.Add(time.Second) {
		all = append(all, e2.Evaluate(now, scenario(now, hotSlow(), cool(), cool(), cool()))...) // the LB never changes
	}
	if kinds(all) != "shed:n1,drain:n1" || !all[0].DryRun || !all[1].DryRun || len(e2.Desired()) != 0 {
		t.Errorf("dry run: %q, desired %v", kinds(all), e2.Desired())
	}
}

func TestRateLimit(t *testing.T) {
	e := mustEngine(t, Policy(testPolicy).with(func(p *Policy) { p.MaxActionsPerHour = 1; p.MaxFraction = 1 }))
	ds, _ := run(e, t0, testPolicy.Hold, hotSlow(), hotSlow(), cool(), cool())
	if kinds(ds) != "shed:n1,shed:n2(withheld)" || !strings.HasPrefix(ds[1].Withheld, "rate limit") {
		t.Errorf("got %q", kinds(ds))
	}
}

func (p Policy) with(f func(*Policy)) Policy { f(&p); return p }

func TestPolicyValidate(t *testing.T) {
	for _, p := range []Policy{
		{HotCelsius: 90, CritCelsius: 80},
		{LatencyRatio: 0.5},
		{MaxFraction: 2},
	} {
		if _, err := New(p); err == nil {
			t.Errorf("New(%+v) accepted", p)
		}
	}
}

func TestLoadBalancerRestartIsNotAnOperator(t *testing.T) {
	e := mustEngine(t, Policy(testPolicy).with(func(p *Policy) { p.VerifyWindow = time.Hour; p.DrainAfter = time.Hour }))
	_, now := run(e, t0, testPolicy.Hold, hotSlow(), cool(), cool(), cool())
	e.Evaluate(now, follow(e, scenario(now, hotSlow(), cool(), cool(), cool()))) // confirmed at 50 %
	// HAProxy reloads: back to 100 % until the reconciler re-applies.
	for i, restarted := range []bool{true, false, false} {
		now = now.Add(time.Second)
		obs := scenario(now, hotSlow(), cool(), cool(), cool())
		for k := range obs {
			obs[k].LBRestarted = restarted
		}
		if ds := e.Evaluate(now, obs); strings.Contains(kinds(ds), "pinned") {
			t.Fatalf("tick %d after the restart: %q", i, kinds(ds))
		}
	}
	if got := e.Desired()[Target{"n1", "lb1", "api", "s1"}]; got.Weight != 50 {
		t.Errorf("desired after the restart = %v, want the shed kept", got)
	}
}

// TestRackCoolingRestartsTheHold: while a rack alarm speaks for a node's
// heat, the node's hold does not run. When the rack cools, heat evidence
// that lingers for a moment (here the throttle rate of a slow node whose
// CPU has cooled) does not shed the node at once; evidence that persists
// for a hold does.
func TestRackCoolingRestartsTheHold(t *testing.T) {
	for _, tc := range []struct {
		name   string
		linger time.Duration
		wantN1 string
	}{
		{"a moment", time.Second, ""},
		{"a hold", testPolicy.Hold + time.Second, "shed:n1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := mustEngine(t, testPolicy)
			hot := hotSlow().with(func(n *node) { n.rack = "r2" })
			c := cool().with(func(n *node) { n.rack = "r2" })
			// Slower than its peers elsewhere, n1 has all it takes to be
			// shed but for the rack alarm.
			ds, now := run(e, t0, 20*time.Second, hot, hot, hot, c, cool(), cool(), cool(), cool())
			if kinds(ds) != "alarm:r2" {
				t.Fatalf("while the rack is hot: %q, want the rack alarm alone", kinds(ds))
			}
			lingering := hot.with(func(n *node) { n.temp = c.temp })
			ds, now = run(e, now, tc.linger-time.Second, lingering, c, c, c, cool(), cool(), cool(), cool())
			more, _ := run(e, now, 5*time.Second, c, c, c, c, cool(), cool(), cool(), cool())
			got := kinds(append(ds, more...))
			want := "alarm:r2"
			if tc.wantN1 != "" {
				want += "," + tc.wantN1
			}
			if !strings.HasPrefix(got, want) || (tc.wantN1 == "" && got != want) {
				t.Errorf("once the rack cooled: %q, want %q first", got, want)
			}
		})
	}
}
