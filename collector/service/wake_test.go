package service

import (
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/config"
	"github.com/rackwatch/rackwatch/edge/sample"
)

// wakeConfig ticks once an hour: any decision within the test comes from
// a pass a sample called for.
const wakeConfig = `version: 1
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
policy: {hot_celsius: 80, crit_celsius: 95, hold: 1ms, restore_hold: 1ms, step_hold: 1ms, drain_after: 1h, max_actions_per_hour: 1000, tick: 1h}
`

func startWakeService(t *testing.T) (*Service, *fakeRuntime) {
	t.Helper()
	lb := upServers(false)
	svc := newTestService(t, loadTestConfig(t, wakeConfig), lb)
	runService(t, svc)
	for deadline := time.Now().Add(5 * time.Second); !svc.lbs.Seen("lb1"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the load balancer was never read")
		}
	}
	return svc, lb
}

func cpuTemp(c float64) []sample.Sample {
	return []sample.Sample{{Metric: sample.TemperatureCelsius, Labels: sample.L("sensor", "CPU"), Value: sample.Float(c), TS: time.Now()}}
}

// TestSampleWakesTheDecisionLoop: a critical temperature is acted on
// within milliseconds, not at the next tick; samples of devices outside
// the inventory wake nothing.
func TestSampleWakesTheDecisionLoop(t *testing.T) {
	svc, lb := startWakeService(t)
	k := sink{svc}
	before := svc.passes.Load()
	k.Add("rack1", "unrelated", cpuTemp(99))
	k.Add("rack9", "b2", cpuTemp(99))
	time.Sleep(100 * time.Millisecond)
	if got := svc.passes.Load() - before; got != 0 {
		t.Errorf("%d passes for devices the inventory does not read", got)
	}
	for _, b := range []string{"b1", "b3"} {
		k.Add("rack1", b, cpuTemp(40))
	}
	start := time.Now()
	k.Add("rack1", "b2", cpuTemp(99))
	for len(lb.sent()) < 2 && time.Since(start) < 5*time.Second {
		time.Sleep(time.Millisecond)
	}
	took := time.Since(start)
	if got := lb.sent(); len(got) != 2 || got[0] != "api/s2 weight 50" {
		t.Fatalf("commands = %v, want a shed of api/s2", got)
	}
	// One pass starts the 1 ms hold, the next (WakeInterval later) ends it.
	if took > time.Second {
		t.Errorf("the shed took %v after the sample", took)
	}
	t.Logf("critical sample to shed: %v", took)
}

// TestSampleFloodIsCoalesced: however many samples arrive, passes are at
// least WakeInterval apart.
func TestSampleFloodIsCoalesced(t *testing.T) {
	svc, _ := startWakeService(t)
	k := sink{svc}
	before := svc.passes.Load()
	start := time.Now()
	for time.Since(start) < 300*time.Millisecond {
		k.Add("rack1", "b1", cpuTemp(40))
		time.Sleep(50 * time.Microsecond)
	}
	elapsed := time.Since(start)
	n := svc.passes.Load() - before
	// Each pass may be followed by one follow-up pass for the holds.
	if limit := uint64(elapsed/svc.opts.WakeInterval) + 2; n == 0 || n > limit {
		t.Errorf("%d passes in %v of samples, want 1 to %d", n, elapsed, limit)
	}
}

func TestFollowUps(t *testing.T) {
	for _, tc := range []struct {
		name             string
		hold, restore    time.Duration
		step, drainAfter time.Duration
		tick             time.Duration
		want             []time.Duration
	}{
		{"production holds are left to the tick", 30 * time.Second, 2 * time.Minute, time.Minute, 2 * time.Minute, time.Second, nil},
		{"short holds, sorted once each", 300 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond, time.Hour, time.Second,
			[]time.Duration{100 * time.Millisecond, 300 * time.Millisecond}},
		{"a hold of one tick", time.Second, time.Second, time.Second, time.Second, time.Second, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Policy{Hold: tc.hold, RestoreHold: tc.restore, StepHold: tc.step, DrainAfter: tc.drainAfter}
			got := followUps(cfg.Decide(), tc.tick)
			if len(got) != len(tc.want) {
				t.Fatalf("followUps = %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("followUps = %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// TestPassPlan follows the schedule of woken and follow-up passes step by
// step, with a 10 ms gap and holds of 1 ms and 5 ms.
func TestPassPlan(t *testing.T) {
	ms := func(n int) time.Time { return time.Unix(0, 0).Add(time.Duration(n) * time.Millisecond) }
	show := func(at time.Time) string {
		if at.IsZero() {
			return "none"
		}
		return at.Sub(ms(0)).String()
	}
	type step struct {
		name string
		// A wake at at, or a pass from at to end (woken or not).
		wake         bool
		at, end      int
		woken        bool
		wantWait     int  // wake: the wait before the woken pass
		wantArm      bool // wake: whether a woken pass is armed
		wantFollowUp int  // pass: when the next follow-up is due, -1 for none
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"a sample's pass is followed at the end of each hold", []step{
			{name: "first sample", wake: true, at: 0, wantArm: true},
			{name: "its pass", at: 0, end: 2, woken: true, wantFollowUp: 1},
			{name: "first follow-up, after the gap", at: 10, end: 11, wantFollowUp: -1},
		}},
		{"samples during the gap are coalesced", []step{
			{name: "first sample", wake: true, at: 0, wantArm: true},
			{name: "its pass", at: 0, end: 1, woken: true, wantFollowUp: 1},
			{name: "sample in the gap", wake: true, at: 4, wantWait: 6, wantArm: true},
			{name: "another", wake: true, at: 5, wantArm: false},
			{name: "the woken pass", at: 10, end: 11, woken: true, wantFollowUp: 11},
		}},
		{"a long pass widens the gap", []step{
			{name: "first sample", wake: true, at: 0, wantArm: true},
			{name: "its pass", at: 0, end: 30, woken: true, wantFollowUp: 1},
			{name: "sample", wake: true, at: 30, wantWait: 0, wantArm: true},
		}},
		// A follow-up that runs while a woken pass waits sees that pass's
		// sample, and takes its place: it must schedule the follow-ups of
		// the holds the sample starts, or they wait for the tick.
		{"a follow-up takes a waiting woken pass's place", []step{
			{name: "first sample", wake: true, at: 0, wantArm: true},
			{name: "its pass", at: 0, end: 2, woken: true, wantFollowUp: 1},
			{name: "hot sample in the gap", wake: true, at: 3, wantWait: 7, wantArm: true},
			{name: "the follow-up runs first", at: 10, end: 11, woken: false, wantFollowUp: 11},
			{name: "its follow-up", at: 20, end: 21, wantFollowUp: -1},
		}},
		{"a tick pass with nothing waiting schedules nothing", []step{
			{name: "tick", at: 0, end: 1, wantFollowUp: -1},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPassPlan(10*time.Millisecond, []time.Duration{time.Millisecond, 5 * time.Millisecond})
			for _, s := range tc.steps {
				if s.wake {
					wait, arm := p.wake(ms(s.at))
					if arm != s.wantArm || (arm && wait != time.Duration(s.wantWait)*time.Millisecond) {
						t.Fatalf("%s: wake = %v, %v; want %v, %v", s.name, wait, arm, time.Duration(s.wantWait)*time.Millisecond, s.wantArm)
					}
					continue
				}
				due := p.ran(ms(s.at), ms(s.end), s.woken)
				want := time.Time{}
				if s.wantFollowUp >= 0 {
					want = ms(s.wantFollowUp)
				}
				if !due.Equal(want) {
					t.Fatalf("%s: next follow-up at %s, want %s", s.name, show(due), show(want))
				}
			}
		})
	}
}
