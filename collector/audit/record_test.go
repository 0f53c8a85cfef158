package audit_test

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/audit"
	"github.com/rackwatch/rackwatch/collector/decide"
	goldenfile "github.com/rackwatch/rackwatch/deploy/testrig/golden"
)

// t0 is a fixed instant: 2026-11-26T12:00:00.123456789Z.
var t0 = time.Date(2026, 11, 26, 12, 0, 0, 123456789, time.UTC)

// decisions covers every shape of decision the engine and the operators
// make.
func decisions() []decide.Decision {
	berlin := time.FixedZone("CET", 3600)
	ev := []decide.Evidence{
		{Signal: "cpu_temperature", Value: 93.5, Threshold: 90, Unit: "°C", Firing: true, Since: t0.Add(-2 * time.Minute).In(berlin)},
		{Signal: "fcs_error_rate", Value: 0, Threshold: 1, Unit: "frames/s"},
		{Signal: "latency_vs_peers", Value: 182.25, Threshold: 120, Unit: "ms", Firing: true, Since: t0.Add(-90 * time.Second)},
	}
	return []decide.Decision{
		{At: t0, Node: "api-3", Rack: "r1", LB: "edge-lb", Backend: "api", Server: "api-3", Action: decide.ActShed,
			From: decide.Full, To: decide.Shed, Desired: decide.Shed.Desired(), Taken: true,
			Cause: "latency regression with physical evidence on the same node", Evidence: ev, FirstFired: "cpu_temperature", Actor: "engine"},
		{At: t0.Add(time.Minute), Node: "api-3", Rack: "r1", LB: "edge-lb", Backend: "api", Server: "api-3", Action: decide.ActDrain,
			From: decide.Shed, To: decide.Drained, Desired: decide.Drained.Desired(), Taken: false, Withheld: "global stop",
			Cause: "the cause persisted after the shed", Evidence: ev[:1], FirstFired: "cpu_temperature", DryRun: true, Actor: "engine"},
		{At: t0.Add(2 * time.Minute), Node: "api-4", LB: "edge-lb", Backend: "api", Server: "api-4", Action: decide.ActRollback,
			From: decide.Shed, To: decide.Full, Desired: decide.Full.Desired(), Taken: true, Alarm: decide.AlarmRollback, AlarmActive: true,
			Cause: "the shed did not improve the node's latency or the backend's p99", Actor: "engine"},
		{At: t0.Add(3 * time.Minute), Rack: "r2", Action: decide.ActAlarm, Alarm: decide.AlarmRackCooling, AlarmActive: false, Taken: true,
			Cause: "rack cooled down", Evidence: []decide.Evidence{{Signal: "hot_nodes", Value: 1, Threshold: 3, Unit: "nodes"}}, Actor: "engine"},
		{At: t0.Add(4 * time.Minute), Node: "api-5", Action: decide.ActPinned, Taken: true, Cause: "pinned by alice: <kernel upgrade> & reboot", Actor: "alice"},
		{At: t0.Add(5 * time.Minute), Node: "api-6", LB: "edge-lb", Backend: "api", Server: "api-6", Action: decide.ActPinned,
			From: decide.Shed, To: decide.Full, Taken: true, Cause: "the load balancer shows maint, which the engine did not set: treated as an operator's pin", Actor: "engine"},
		{At: t0.Add(6 * time.Minute), Action: decide.ActAlarm, Alarm: "global_stop", AlarmActive: true, Taken: true, Cause: "global stop engaged by bob", Actor: "bob"},
		{At: t0.Add(7 * time.Minute), Node: "api-7", Action: decide.ActRestore, From: decide.Drained, To: decide.Ramp25, Desired: decide.Ramp25.Desired(),
			Taken: true, Cause: "the cause has been gone for the restore hold: ramping up", Actor: "engine",
			Evidence: []decide.Evidence{{Signal: "throttle_rate", Value: math.NaN(), Threshold: math.Inf(1), Unit: "events/s"}}},
	}
}

func TestMarshalDecisionGolden(t *testing.T) {
	var b bytes.Buffer
	for _, d := range decisions() {
		b.Write(audit.MarshalDecision(d))
		b.WriteByte('\n')
	}
	goldenfile.Check(t, "decisions.golden.jsonl", b.Bytes())
}

func TestRecordKeys(t *testing.T) {
	tests := []struct {
		name    string
		d       decide.Decision
		present []string
		absent  []string
	}{
		{"shed", decisions()[0],
			[]string{"at", "node", "rack", "lb", "backend", "server", "action", "from", "to", "desired", "taken", "cause", "evidence", "first_fired", "dry_run", "actor"},
			[]string{"withheld", "alarm", "alarm_active"}},
		{"pin changes no level", decisions()[4],
			[]string{"at", "node", "action", "taken", "cause", "evidence", "dry_run", "actor"},
			[]string{"from", "to", "desired", "lb", "alarm_active"}},
		{"operator pin moves the level", decisions()[5],
			[]string{"from", "to"}, []string{"desired"}},
		{"cleared alarm keeps alarm_active false", decisions()[3],
			[]string{"rack", "alarm", "alarm_active"}, []string{"node", "from", "to"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(audit.MarshalDecision(tc.d), &m); err != nil {
				t.Fatal(err)
			}
			for _, k := range tc.present {
				if _, ok := m[k]; !ok {
					t.Errorf("key %q missing", k)
				}
			}
			for _, k := range tc.absent {
				if v, ok := m[k]; ok {
					t.Errorf("key %q = %s, want absent", k, v)
				}
			}
		})
	}
}

func TestRecordRoundTrip(t *testing.T) {
	d := decisions()[0]
	var r audit.Record
	if err := json.Unmarshal(audit.MarshalDecision(d), &r); err != nil {
		t.Fatal(err)
	}
	if !r.At.Equal(t0.Truncate(time.Millisecond)) {
		t.Errorf("at = %v, want %v at millisecond precision", r.At, t0)
	}
	if len(r.Evidence) != 3 || r.Evidence[0].Value != 93.5 || !r.Evidence[0].Since.Equal(t0.Add(-2*time.Minute).Truncate(time.Millisecond)) {
		t.Errorf("evidence = %+v", r.Evidence)
	}
	if r.Desired != "ready 50%" || r.From != "full" || r.To != "shed" {
		t.Errorf("levels = %q %q → %q", r.Desired, r.From, r.To)
	}
	var nan audit.Record
	if err := json.Unmarshal(audit.MarshalDecision(decisions()[7]), &nan); err != nil {
		t.Fatal(err)
	}
	if v := float64(nan.Evidence[0].Value); !math.IsNaN(v) {
		t.Errorf("null value read as %v, want NaN", v)
	}
}

func TestLevelNameOutOfRange(t *testing.T) {
	if got := audit.LevelName(decide.Level(42)); got != "level(42)" {
		t.Errorf("LevelName(42) = %q", got)
	}
	if got := audit.StatusName(decide.Status(-1)); got != "status(-1)" {
		t.Errorf("StatusName(-1) = %q", got)
	}
	if got := audit.LevelName(decide.Drained); got != "drained" {
		t.Errorf("LevelName(Drained) = %q", got)
	}
}
