package decide

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

var testPolicy = Policy{
	HotCelsius: 80, CoolCelsius: 70, LatencyRatio: 1.5, LatencyMinDelta: 10 * time.Millisecond,
	Hold: 2 * time.Second, RestoreHold: 3 * time.Second, StaleAfter: 5 * time.Second,
	MaxDrainedPerBackend: 1, OverrideHold: time.Minute,
}

type node struct {
	temp    float64
	latency time.Duration
	status  Status
	tempAge time.Duration
	noTemp  bool
}

// rack builds observations for nodes n1..nN in backend api of lb1.
func rack(now time.Time, nodes ...node) []Observation {
	var obs []Observation
	for i, n := range nodes {
		o := Observation{
			Node: "n" + string(rune('1'+i)), LB: "lb1", Backend: "api", Server: "s" + string(rune('1'+i)),
			Status: n.status, Temp: n.temp, TempAt: now.Add(-n.tempAge), Latency: n.latency, HaveLatency: true,
		}
		if o.Status == StatusUnknown {
			o.Status = StatusUp
		}
		if n.noTemp {
			o.TempAt = time.Time{}
		}
		obs = append(obs, o)
	}
	return obs
}

const ms = time.Millisecond

func kinds(as []Action) string {
	var b []string
	for _, a := range as {
		b = append(b, string(a.Kind)+":"+a.Node)
	}
	return strings.Join(b, ",")
}

func TestDrainNeedsHeatAndLatencyForHold(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes []node
		want  string
	}{
		{"hot and slow", []node{{temp: 90, latency: 50 * ms}, {temp: 40, latency: 5 * ms}, {temp: 40, latency: 6 * ms}}, "drain:n1"},
		{"hot but not slow", []node{{temp: 90, latency: 6 * ms}, {temp: 40, latency: 5 * ms}, {temp: 40, latency: 6 * ms}}, ""},
		{"slow but cool", []node{{temp: 60, latency: 50 * ms}, {temp: 40, latency: 5 * ms}, {temp: 40, latency: 6 * ms}}, ""},
		{"slow by ratio but not by delta", []node{{temp: 90, latency: 3 * ms}, {temp: 40, latency: 1 * ms}, {temp: 40, latency: 1 * ms}}, ""},
		{"stale temperature is no data", []node{{temp: 90, latency: 50 * ms, tempAge: 10 * time.Second}, {temp: 40, latency: 5 * ms}}, ""},
		{"no temperature at all", []node{{noTemp: true, latency: 50 * ms}, {temp: 40, latency: 5 * ms}}, ""},
		{"no peers to compare", []node{{temp: 90, latency: 50 * ms}}, ""},
		{"operator maintenance is left alone", []node{{temp: 90, latency: 50 * ms, status: StatusMaint}, {temp: 40, latency: 5 * ms}, {temp: 40, latency: 5 * ms}}, ""},
		{"budget: another server already out", []node{{temp: 90, latency: 50 * ms}, {temp: 40, latency: 5 * ms, status: StatusMaint}, {temp: 40, latency: 5 * ms}}, "hold:n1"},
		{"budget counts servers down for any reason", []node{{temp: 90, latency: 50 * ms}, {temp: 40, latency: 5 * ms, status: StatusDown}, {temp: 40, latency: 5 * ms}}, "hold:n1"},
		{"two hot nodes, budget of one", []node{{temp: 90, latency: 50 * ms}, {temp: 91, latency: 60 * ms}, {temp: 40, latency: 5 * ms}, {temp: 40, latency: 5 * ms}}, "drain:n1,hold:n2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(testPolicy)
			if err != nil {
				t.Fatal(err)
			}
			if got := kinds(e.Evaluate(t0, rack(t0, tc.nodes...))); got != "" {
				t.Fatalf("acted before the hold: %s", got)
			}
			now := t0.Add(testPolicy.Hold)
			if got := kinds(e.Evaluate(now, rack(now, tc.nodes...))); got != tc.want {
				t.Errorf("actions = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHoldRestartsWhenConditionBreaks(t *testing.T) {
	e, _ := New(testPolicy)
	hot := []node{{temp: 90, latency: 50 * ms}, {temp: 40, latency: 5 * ms}}
	cool := []node{{temp: 60, latency: 50 * ms}, {temp: 40, latency: 5 * ms}}
	e.Evaluate(t0, rack(t0, hot...))
	t1 := t0.Add(time.Second)
	e.Evaluate(t1, rack(t1, cool...))
	t2 := t0.Add(testPolicy.Hold)
	if got := kinds(e.Evaluate(t2, rack(t2, hot...))); got != "" {
		t.Errorf("drained although the condition broke during the hold: %s", got)
	}
}

func TestRestoreAfterCoolHold(t *testing.T) {
	e, _ := New(testPolicy)
	hot := []node{{temp: 90, latency: 50 * ms}, {temp: 40, latency: 5 * ms}, {temp: 40, latency: 5 * ms}}
	e.Evaluate(t0, rack(t0, hot...))
	now := t0.Add(testPolicy.Hold)
	as := e.Evaluate(now, rack(now, hot...))
	if kinds(as) != "drain:n1" {
		t.Fatalf("no drain: %v", as)
	}
	if !strings.Contains(as[0].Reason, "90.0 °C") || !strings.Contains(as[0].Reason, "50ms") {
		t.Errorf("reason lacks the evidence: %s", as[0].Reason)
	}
	drained := []node{{temp: 72, latency: 50 * ms, status: StatusDrain}, {temp: 40, latency: 5 * ms}, {temp: 40, latency: 5 * ms}}
	cooled := []node{{temp: 65, latency: 50 * ms, status: StatusDrain}, {temp: 40, latency: 5 * ms}, {temp: 40, latency: 5 * ms}}
	stale := []node{{temp: 65, latency: 50 * ms, status: StatusDrain, tempAge: time.Minute}, {temp: 40, latency: 5 * ms}, {temp: 40, latency: 5 * ms}}
	steps := []struct {
		after time.Duration
		nodes []node
		want  string
	}{
		{1 * time.Second, drained, ""}, // between cool and hot: stays drained
		{2 * time.Second, cooled, ""},  // cool run starts
		{3 * time.Second, stale, ""},   // no data: not cool, run restarts
		{4 * time.Second, cooled, ""},  // cool run starts again
		{6 * time.Second, cooled, ""},  // 2 s of 3
		{7 * time.Second, cooled, "restore:n1"},
		{8 * time.Second, cooled[:0], ""},
	}
	for _, st := range steps {
		at := now.Add(st.after)
		if got := kinds(e.Evaluate(at, rack(at, st.nodes...))); got != st.want {
			t.Errorf("at +%s: actions %q, want %q", st.after, got, st.want)
		}
	}
}

func TestOperatorOverride(t *testing.T) {
	e, _ := New(testPolicy)
	hot := []node{{temp: 90, latency: 50 * ms}, {temp: 40, latency: 5 * ms}, {temp: 40, latency: 5 * ms}}
	e.Evaluate(t0, rack(t0, hot...))
	now := t0.Add(testPolicy.Hold)
	if kinds(e.Evaluate(now, rack(now, hot...))) != "drain:n1" {
		t.Fatal("no drain")
	}
	// The load balancer still shows the server up right after the drain:
	// a stale reading, not an operator's restore.
	at := now.Add(100 * time.Millisecond)
	e.Evaluate(at, rack(at, hot...))
	if !e.Drained("n1", "lb1", "api") {
		t.Fatal("a stale UP reading undid the drain")
	}
	drained := append([]node{{temp: 90, latency: 50 * ms, status: StatusDrain}}, hot[1:]...)
	at = now.Add(500 * time.Millisecond)
	e.Evaluate(at, rack(at, drained...))
	// The operator sets the server ready although it is still hot.
	for i := 1; i <= 10; i++ {
		at := now.Add(time.Duration(i) * time.Second)
		if got := kinds(e.Evaluate(at, rack(at, hot...))); got != "" {
			t.Fatalf("re-drained %s after the operator's restore: %s", time.Duration(i)*time.Second, got)
		}
	}
	later := now.Add(testPolicy.OverrideHold + time.Second)
	e.Evaluate(later, rack(later, hot...))
	later = later.Add(testPolicy.Hold)
	if got := kinds(e.Evaluate(later, rack(later, hot...))); got != "drain:n1" {
		t.Errorf("after the override hold: %q, want drain:n1", got)
	}
}

func TestFailedActionFollowsTheLoadBalancer(t *testing.T) {
	e, _ := New(testPolicy)
	hot := []node{{temp: 90, latency: 50 * ms}, {temp: 40, latency: 5 * ms}, {temp: 40, latency: 5 * ms}}
	e.Evaluate(t0, rack(t0, hot...))
	now := t0.Add(testPolicy.Hold)
	as := e.Evaluate(now, rack(now, hot...))
	e.Failed(as[0])
	if e.Drained("n1", "lb1", "api") {
		t.Error("engine still believes n1 is drained after the drain failed")
	}
	now = now.Add(time.Second)
	if got := kinds(e.Evaluate(now, rack(now, hot...))); got != "drain:n1" {
		t.Errorf("retry after failure = %q, want drain:n1", got)
	}
}

func TestPolicyValidate(t *testing.T) {
	for _, p := range []Policy{
		{HotCelsius: 70, CoolCelsius: 80},
		{LatencyRatio: 0.5},
		{MaxDrainedPerBackend: -1},
	} {
		if _, err := New(p); err == nil {
			t.Errorf("New(%+v) accepted", p)
		}
	}
}

func TestBudgetCountsDrainsNotYetVisible(t *testing.T) {
	e, _ := New(testPolicy)
	n1hot := []node{{temp: 90, latency: 50 * ms}, {temp: 40, latency: 5 * ms}, {temp: 40, latency: 5 * ms}, {temp: 40, latency: 5 * ms}}
	e.Evaluate(t0, rack(t0, n1hot...))
	now := t0.Add(testPolicy.Hold)
	if got := kinds(e.Evaluate(now, rack(now, n1hot...))); got != "drain:n1" {
		t.Fatalf("got %q", got)
	}
	// n2 turns hot while the load balancer still reports n1 as UP.
	both := []node{{temp: 90, latency: 50 * ms}, {temp: 90, latency: 50 * ms}, {temp: 40, latency: 5 * ms}, {temp: 40, latency: 5 * ms}}
	for i := 1; i <= 3; i++ {
		at := now.Add(time.Duration(i) * time.Second)
		if got := kinds(e.Evaluate(at, rack(at, both...))); strings.Contains(got, "drain") {
			t.Fatalf("second drain past the budget at +%ds: %s", i, got)
		}
	}
}
