package decide

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func alarmKinds(ds []Decision) string {
	var b []string
	for _, d := range ds {
		state := "cleared"
		if d.AlarmActive {
			state = "raised"
		}
		b = append(b, fmt.Sprintf("%s:%s:%s", d.Alarm, d.Node, state))
	}
	return strings.Join(b, ",")
}

func TestSignalAlarms(t *testing.T) {
	e := mustEngine(t, testPolicy) // thresholds: throttle 0.1/s, FCS 1/s, flaps 2
	obs := func(throttle, fcs, flaps float64, have bool) []Observation {
		o := Observation{Node: "n1", Rack: "r1", LB: "lb1", Backend: "api", Server: "s1",
			ThrottleRate: throttle, HaveThrottle: have, FCSRate: fcs, HaveFCS: have, Flaps: flaps, HaveFlaps: have}
		o2 := o // the same node in a second load balancer counts once
		o2.LB = "lb2"
		return []Observation{o, o2}
	}
	for i, step := range []struct {
		obs  []Observation
		want string
	}{
		{obs(0, 0, 0, true), ""},
		{obs(0.5, 0, 0, true), "throttling_detected:n1:raised"},
		{obs(0.5, 0, 0, true), ""},
		{obs(0.5, 0, 3, true), "link_errors_degrading:n1:raised"},
		{obs(0.5, 5, 3, true), ""},
		{obs(0, 0, 0, false), ""}, // no data is no recovery
		{obs(0, 5, 0, true), "throttling_detected:n1:cleared"},
		{obs(0, 0, 0, true), "link_errors_degrading:n1:cleared"},
	} {
		ds := e.SignalAlarms(t0.Add(time.Duration(i)*time.Second), step.obs)
		if got := alarmKinds(ds); got != step.want {
			t.Errorf("step %d: %q, want %q", i, got, step.want)
		}
		for _, d := range ds {
			if d.Action != ActAlarm || !d.Taken || len(d.Evidence) == 0 || d.Rack != "r1" {
				t.Errorf("step %d: %+v", i, d)
			}
		}
	}
	// Evaluate's decisions are unchanged by the alarms: they are the
	// engine's actions alone.
	if ds := e.Evaluate(t0, obs(0.5, 5, 3, true)); len(ds) != 0 {
		t.Errorf("Evaluate: %v", ds)
	}
}
