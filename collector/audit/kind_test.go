package audit_test

import (
	"testing"

	"github.com/rackwatch/rackwatch/collector/audit"
	"github.com/rackwatch/rackwatch/collector/decide"
)

func TestDecisionsCountedByKind(t *testing.T) {
	t.Parallel()
	r := newRecorder(t, audit.Opts{})
	for _, d := range []decide.Decision{
		{Node: "n1", Action: decide.ActShed, Taken: true},
		{Node: "n2", Action: decide.ActShed, Taken: true},
		{Node: "n3", Action: decide.ActShed, Taken: false, Withheld: "rate limit"},
		{Node: "n1", Action: decide.ActDrain, Taken: true, DryRun: true},
		{Node: "n1", Action: decide.ActDrain, Taken: false, DryRun: true, Withheld: "global stop"},
	} {
		r.Record(d)
	}
	got := r.Counters().Decisions
	want := map[audit.Kind]uint64{
		{Action: decide.ActShed, Outcome: audit.OutcomeTaken}:     2,
		{Action: decide.ActShed, Outcome: audit.OutcomeWithheld}:  1,
		{Action: decide.ActDrain, Outcome: audit.OutcomeDryRun}:   1,
		{Action: decide.ActDrain, Outcome: audit.OutcomeWithheld}: 1,
	}
	if len(got) != len(want) {
		t.Errorf("counts %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%v: %d, want %d", k, got[k], n)
		}
	}
	// The snapshot is a copy: recording more does not change it.
	r.Record(decide.Decision{Node: "n1", Action: decide.ActShed, Taken: true})
	if got[audit.Kind{Action: decide.ActShed, Outcome: audit.OutcomeTaken}] != 2 {
		t.Error("Counters shares its map with the recorder")
	}
}
