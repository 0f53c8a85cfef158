package decide

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestPropertiesOverRandomScenarios drives the engine through random
// scenarios — random signals, operators changing the load balancer, pins,
// the stop switch, a load balancer that lags or ignores commands — and
// checks after every tick that the safety properties hold.
func TestPropertiesOverRandomScenarios(t *testing.T) {
	scenarios := 100_000
	if testing.Short() {
		scenarios = 5_000
	}
	r := rand.New(rand.NewPCG(7, 11))
	pol := Policy(testPolicy).with(func(p *Policy) { p.MaxActionsPerHour = 5 })
	for sc := 0; sc < scenarios; sc++ {
		if err := scenarioHolds(r, pol); err != nil {
			t.Fatalf("scenario %d: %v", sc, err)
		}
	}
}

func scenarioHolds(r *rand.Rand, pol Policy) error {
	e, _ := New(pol)
	n := 2 + r.IntN(5)
	obs := make([]Observation, n)
	for i := range obs {
		obs[i] = Observation{Node: fmt.Sprintf("n%d", i), Rack: fmt.Sprintf("r%d", r.IntN(2)), LB: "lb1", Backend: "api",
			Server: fmt.Sprintf("s%d", i), LBKnown: true, Status: StatusUp, WeightPct: 100}
	}
	pinned := map[string]bool{}
	now := t0
	var escalations []time.Time
	for tick := 0; tick < 12; tick++ {
		now = now.Add(time.Duration(1+r.IntN(4)) * time.Second)
		switch r.IntN(20) {
		case 0:
			node := obs[r.IntN(n)].Node
			on := !pinned[node]
			e.SetPin(node, on, "prop", "random", now)
			pinned[node] = on
		case 1:
			e.SetStop(!e.Stopped(), "prop", now)
		}
		for i := range obs {
			o := &obs[i]
			o.CPUTemp = 40 + r.Float64()*65
			o.CPUTempAt = now
			if r.IntN(10) == 0 {
				o.CPUTempAt = time.Time{} // no data
			}
			o.CPUTempLimit = []float64{0, 100}[r.IntN(2)]
			o.ThrottleRate, o.HaveThrottle = r.Float64()*0.3, true
			o.FCSRate, o.HaveFCS = r.Float64()*2, r.IntN(2) == 0
			o.Latency = time.Duration(1+r.IntN(80)) * time.Millisecond
			o.LatencySamples, o.HaveLatency = r.IntN(200), true
			o.HaveBaseline, o.Baseline = r.IntN(2) == 0, time.Duration(1+r.IntN(20))*time.Millisecond
			// The load balancer: mostly follows the engine, sometimes lags,
			// sometimes an operator or a health check intervenes.
			switch r.IntN(12) {
			case 0:
				o.Status = StatusMaint
			case 1:
				o.Status = StatusDown
			case 2:
				o.Status, o.WeightPct = StatusUp, 100
			case 3: // lag: keep what it showed
			default:
				d := e.Level(targetOf(*o)).Desired()
				if d.Drain {
					o.Status = StatusDrain
				} else {
					o.Status, o.WeightPct = StatusUp, d.Weight
				}
			}
		}
		before := map[Target]Level{}
		for _, o := range obs {
			before[targetOf(o)] = e.Level(targetOf(o))
		}
		stopped := e.Stopped()
		for _, d := range e.Evaluate(now, obs) {
			if !d.Taken || d.Action == ActAlarm || d.Action == ActPinned {
				continue
			}
			if len(d.Evidence) == 0 {
				return fmt.Errorf("%s without evidence: %s", d.Action, d)
			}
			if pinned[d.Node] {
				return fmt.Errorf("acted on a pinned node: %s", d)
			}
			if stopped {
				return fmt.Errorf("acted under the global stop: %s", d)
			}
			if (d.Action == ActShed || d.Action == ActDrain) && before[Target{d.Node, d.LB, d.Backend, d.Server}] == Full {
				escalations = append(escalations, now)
				out, healthy := 0, 0
				for _, o := range obs {
					t := targetOf(o)
					l := e.Level(t)
					if l != Full || o.Status != StatusUp || o.WeightPct < 100 {
						out++
					} else {
						healthy++
					}
				}
				if out > int(pol.MaxFraction*float64(n)) {
					return fmt.Errorf("budget exceeded: %d of %d out after %s", out, n, d)
				}
				if healthy == 0 {
					return fmt.Errorf("the last healthy server was taken: %s", d)
				}
			}
		}
		recent := 0
		for _, at := range escalations {
			if now.Sub(at) < time.Hour {
				recent++
			}
		}
		if recent > pol.MaxActionsPerHour {
			return fmt.Errorf("%d escalations within an hour", recent)
		}
	}
	return nil
}
