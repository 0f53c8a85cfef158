package decide

import (
	"testing"
	"time"
)

func TestStatusAndBudget(t *testing.T) {
	e := mustEngine(t, Policy(testPolicy).with(func(p *Policy) { p.MaxActionsPerHour = 5 }))
	n1 := Target{Node: "n1", LB: "lb1", Backend: "api", Server: "s1"}
	if st := e.Status(n1); st.Level != Full || !st.Since.IsZero() || st.HaveTemperature {
		t.Errorf("unknown target: %+v", st)
	}
	ds, now := run(e, t0, testPolicy.Hold, hotSlow(), cool(), cool(), cool())
	if kinds(ds) != "shed:n1" {
		t.Fatalf("got %q", kinds(ds))
	}
	st := e.Status(n1)
	if st.Level != Shed || st.Since.IsZero() || !st.HaveTemperature || st.OperatorPinned || st.Evaluated.IsZero() {
		t.Errorf("shed target: %+v", st)
	}
	if used, limit := e.Budget(now); used != 1 || limit != 5 {
		t.Errorf("budget %d of %d, want 1 of 5", used, limit)
	}
	if used, _ := e.Budget(now.Add(time.Hour)); used != 0 {
		t.Errorf("an hour later %d actions still count", used)
	}
	// Without a temperature the evaluation has none to weigh.
	run(e, now, 2*time.Second, hotSlow().with(func(n *node) { n.noTemp = true }), cool(), cool(), cool())
	if st := e.Status(n1); st.HaveTemperature {
		t.Errorf("no temperature, yet %+v", st)
	}
}
