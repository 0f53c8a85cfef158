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
