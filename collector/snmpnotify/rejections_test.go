package snmpnotify

import (
	"strings"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/edge/command"
	"github.com/rackwatch/rackwatch/edge/sample"
	"github.com/rackwatch/rackwatch/mibs"
)

func rejections(forged, replayed uint64) []sample.Sample {
	ts := time.UnixMilli(1_795_700_047_123)
	return []sample.Sample{
		{Metric: command.RejectionsMetric, Labels: sample.L("reason", "forged"), Value: sample.Uint(forged), Unit: "commands", TS: ts},
		{Metric: command.RejectionsMetric, Labels: sample.L("reason", "replayed"), Value: sample.Uint(replayed), Unit: "commands", TS: ts},
		{Metric: command.RejectionsMetric, Labels: sample.L("reason", "bogus"), Value: sample.Uint(99), Unit: "commands", TS: ts},
	}
}

func TestRejections(t *testing.T) {
	t.Parallel()
	if nReasons != len(command.Rejections) {
		t.Fatalf("nReasons %d, command.Rejections has %d", nReasons, len(command.Rejections))
	}
	sink := &fakeSink{}
	n := NewNotifier(NotifierOpts{Sink: sink, FirstID: 7, Locate: func(edge, device string) (string, string) { return "api-07", "r1" }})
	r := NewRejections(n.CommandRejected, 2)
	steps := []struct {
		edge, device     string
		forged, replayed uint64
		want             []string // evidence fragments of the alerts sent
	}{
		{"e1", "edge", 3, 0, nil}, // the baseline: refusals before the collector looked
		{"e1", "edge", 3, 0, nil}, // no change
		{"e1", "edge", 5, 1, []string{"2 more command(s) as forged (5 since", "1 more command(s) as replayed (1 since"}},
		{"e1", "inlet", 9, 9, nil}, // not the status device
		{"e1", "edge", 1, 1, nil},  // the edge restarted: a new baseline
		{"e1", "edge", 2, 1, []string{"1 more command(s) as forged (2 since"}},
		{"e2", "edge", 0, 0, nil},
		{"e3", "edge", 0, 0, nil}, // beyond maxEdges: untracked
		{"e3", "edge", 4, 0, nil},
	}
	for i, st := range steps {
		r.Samples(st.edge, st.device, rejections(st.forged, st.replayed))
		got := sink.take()
		if len(got) != len(st.want) {
			t.Fatalf("step %d: %d alerts %+v, want %d", i, len(got), got, len(st.want))
		}
		for j, a := range got {
			if a.Notification != mibs.CommandRejectedOID || a.State != mibs.AlertActive || a.Severity != mibs.SeverityMajor ||
				a.Edge != st.edge || a.Node != "api-07" || a.Rack != "r1" || !strings.Contains(a.Evidence, st.want[j]) {
				t.Errorf("step %d: alert %+v, want evidence %q", i, a, st.want[j])
			}
			if _, err := a.PDUs(time.Second); err != nil {
				t.Errorf("step %d: %v", i, err)
			}
		}
	}
	tot := r.Totals()
	if tot[command.ReasonForged] != 3 || tot[command.ReasonReplayed] != 1 || tot[command.ReasonUnsigned] != 0 {
		t.Errorf("totals %v", tot)
	}
	if r.Untracked() != 2 {
		t.Errorf("untracked %d, want 2", r.Untracked())
	}
}
