package snmpnotify

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/edge/sample"
	"github.com/rackwatch/rackwatch/mibs"
)

// fakeSink records alerts.
type fakeSink struct {
	mu     sync.Mutex
	alerts []Alert
}

func (f *fakeSink) Send(a Alert) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alerts = append(f.alerts, a)
}

func (f *fakeSink) take() []Alert {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.alerts
	f.alerts = nil
	return out
}

var names = map[string]string{
	mibs.NodeDrainedOID: "drained", mibs.NodeRestoredOID: "restored", mibs.NodeShedOID: "shed",
	mibs.NodeThrottlingOID: "throttling", mibs.LinkErrorsDegradingOID: "link", mibs.RackCoolingAlarmOID: "rack",
	mibs.SensorFaultOID: "sensor", mibs.EdgeOfflineOID: "offline", mibs.EdgeOnlineOID: "online",
	mibs.ActionRolledBackOID: "rolledback", mibs.CommandRejectedOID: "rejected",
}

// brief is "notification id state severity" for each alert.
func brief(as []Alert) string {
	var b []string
	for _, a := range as {
		b = append(b, fmt.Sprintf("%s %d %s %s", names[a.Notification], a.ID, a.State, a.Severity))
	}
	return strings.Join(b, ", ")
}

func lbDecision(act decide.Action, from, to decide.Level, server string) decide.Decision {
	return decide.Decision{Node: "n-" + server, Rack: "r1", LB: "lb1", Backend: "api", Server: server, Action: act,
		From: from, To: to, Desired: to.Desired(), Taken: true, Actor: "engine", Cause: "test"}
}

func alarm(name, node, rack string, active bool) decide.Decision {
	return decide.Decision{Node: node, Rack: rack, Action: decide.ActAlarm, Alarm: name, AlarmActive: active, Taken: true, Actor: "engine"}
}

func TestDecisionMapping(t *testing.T) {
	withheld := lbDecision(decide.ActShed, decide.Full, decide.Shed, "s9")
	withheld.Taken, withheld.Withheld = false, "budget"
	dry := lbDecision(decide.ActShed, decide.Full, decide.Shed, "s9")
	dry.DryRun = true
	hw := lbDecision(decide.ActShed, decide.Full, decide.Shed, "s3")
	hw.Alarm, hw.AlarmActive, hw.Cause = decide.AlarmHardware, true, "hardware protection: temperature at its critical limit"
	for _, tc := range []struct {
		name string
		ds   []decide.Decision
		want string
	}{
		{"shed, drain, ramp, restore share one id", []decide.Decision{
			lbDecision(decide.ActShed, decide.Full, decide.Shed, "s1"),
			lbDecision(decide.ActDrain, decide.Shed, decide.Drained, "s1"),
			lbDecision(decide.ActRestore, decide.Drained, decide.Ramp25, "s1"),
			lbDecision(decide.ActRestore, decide.Ramp25, decide.Ramp50, "s1"),
			lbDecision(decide.ActRestore, decide.Ramp50, decide.Full, "s1"),
		}, "shed 100 active minor, drained 100 active major, restored 100 clear major"},
		{"two nodes, two ids", []decide.Decision{
			lbDecision(decide.ActShed, decide.Full, decide.Shed, "s1"),
			lbDecision(decide.ActShed, decide.Full, decide.Shed, "s2"),
			lbDecision(decide.ActRestore, decide.Shed, decide.Full, "s2"),
			lbDecision(decide.ActRollback, decide.Shed, decide.Full, "s1"),
		}, "shed 100 active minor, shed 101 active minor, restored 101 clear minor, rolledback 100 clear minor"},
		{"hardware protection is critical", []decide.Decision{hw}, "shed 100 active critical"},
		{"withheld and dry-run send nothing", []decide.Decision{withheld, dry}, ""},
		{"a restore without a raise on record gets its own id", []decide.Decision{
			lbDecision(decide.ActRestore, decide.Shed, decide.Full, "s1"),
		}, "restored 100 clear minor"},
		{"alarms", []decide.Decision{
			alarm(decide.AlarmRackCooling, "", "r1", true),
			alarm(decide.AlarmThrottling, "n1", "r1", true),
			alarm(decide.AlarmLinkDegraded, "n1", "r1", true),
			alarm(decide.AlarmThrottling, "n1", "r1", false),
			alarm(decide.AlarmRackCooling, "", "r1", false),
			alarm(decide.AlarmLinkDegraded, "n1", "r1", false),
		}, "rack 100 active critical, throttling 101 active warning, link 102 active warning, throttling 101 clear warning, rack 100 clear critical, link 102 clear warning"},
		{"switches, pins and folded alarms send nothing", []decide.Decision{
			alarm("global_stop", "", "", true), alarm("dry_run", "", "", true),
			{Node: "n1", Action: decide.ActPinned, Taken: true},
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var sink fakeSink
			n := NewNotifier(NotifierOpts{Sink: &sink, FirstID: 100})
			for _, d := range tc.ds {
				n.Decision(d)
			}
			if got := brief(sink.take()); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestDecisionAlertContent(t *testing.T) {
	var sink fakeSink
	n := NewNotifier(NotifierOpts{Sink: &sink, FirstID: 1})
	d := lbDecision(decide.ActShed, decide.Full, decide.Shed, "s1")
	d.Cause = "latency regression with physical evidence on the same node"
	d.Evidence = []decide.Evidence{
		{Signal: "cpu_temperature", Value: 88.26, Threshold: 80, Unit: "°C", Firing: true},
		{Signal: "throttle_rate", Value: 0.25, Threshold: 0.1, Unit: "events/s", Firing: true},
		{Signal: "latency_vs_peers", Value: 61.2, Threshold: 15, Unit: "ms", Firing: true},
		{Signal: "latency_vs_baseline", Value: 61.2, Threshold: 20, Unit: "ms", Firing: true},
		{Signal: "unknown_signal", Value: 1},
	}
	n.Decision(d)
	as := sink.take()
	if len(as) != 1 {
		t.Fatalf("alerts: %v", as)
	}
	a := as[0]
	if a.Node != "n-s1" || a.Rack != "r1" || a.Action != "shed: ready 50% on lb1 api/s1" {
		t.Errorf("alert %+v", a)
	}
	if !strings.HasPrefix(a.Evidence, "latency regression with physical evidence on the same node: cpu_temperature 88.26 °C ≥ 80;") {
		t.Errorf("evidence %q", a.Evidence)
	}
	want := []Value{{mibs.CPUTemperatureOID, 883}, {mibs.ThrottleRateOID, 250}, {mibs.LatencyOID, 61200}}
	if fmt.Sprint(a.Values) != fmt.Sprint(want) {
		t.Errorf("values %v, want %v", a.Values, want)
	}
}

func TestEdgesAndSensors(t *testing.T) {
	var sink fakeSink
	n := NewNotifier(NotifierOpts{Sink: &sink, FirstID: 10, Locate: func(edge, device string) (string, string) {
		if device == "bmc1" {
			return "node1", "r1"
		}
		return "", "r1"
	}})
	now := time.Now()
	status := func(v uint64) []sample.Sample {
		return []sample.Sample{{Metric: sample.SensorStatus, Labels: sample.L("sensor", "cpu0"), Value: sample.Uint(v)},
			{Metric: sample.TemperatureCelsius, Labels: sample.L("sensor", "cpu0"), Value: sample.Float(40)}}
	}
	n.EdgeOnline("rack1", now) // a first birth is no recovery
	n.EdgeOffline("rack1", now)
	n.EdgeOffline("rack1", now) // still the same outage
	n.EdgeOnline("rack1", now)
	n.EdgeOnline("rack1", now) // a rebirth
	n.Samples("rack1", "bmc1", status(0))
	n.Samples("rack1", "bmc1", status(2))
	n.Samples("rack1", "bmc1", status(2))
	n.Samples("rack1", "bmc1", status(1)) // failing: neither raise nor clear
	n.Samples("rack1", "bmc1", status(0))
	as := sink.take()
	if got := brief(as); got != "offline 10 active major, online 10 clear major, sensor 11 active minor, sensor 11 clear minor" {
		t.Fatalf("alerts: %s", got)
	}
	if as[0].Edge != "rack1" || as[0].Rack != "r1" || as[0].Node != "" {
		t.Errorf("offline alert %+v", as[0])
	}
	if as[2].Edge != "rack1" || as[2].Sensor != "bmc1/cpu0" || as[2].Node != "node1" || as[2].Rack != "r1" {
		t.Errorf("sensor alert %+v", as[2])
	}
}

// TestOpenAlertsBounded: names from the network cannot grow the map of
// open alerts past MaxOpen; raises past it are still sent.
func TestOpenAlertsBounded(t *testing.T) {
	var sink fakeSink
	n := NewNotifier(NotifierOpts{Sink: &sink, MaxOpen: 3, FirstID: 1})
	for i := 0; i < 10; i++ {
		n.EdgeOffline(fmt.Sprint("edge", i), time.Time{})
	}
	if got := len(sink.take()); got != 10 {
		t.Errorf("%d offline alerts sent, want 10", got)
	}
	if len(n.open) != 3 || n.Untracked() != 7 {
		t.Errorf("%d open, %d untracked; want 3 and 7", len(n.open), n.Untracked())
	}
}

func TestAlertIDsSkipZero(t *testing.T) {
	var sink fakeSink
	n := NewNotifier(NotifierOpts{Sink: &sink, FirstID: 0xffffffff})
	n.EdgeOffline("a", time.Time{})
	n.EdgeOffline("b", time.Time{})
	if got := brief(sink.take()); got != "offline 4294967295 active major, offline 1 active major" {
		t.Errorf("ids: %s", got)
	}
	if NewNotifier(NotifierOpts{Sink: &sink}).next == 0 {
		t.Error("a random first id of 0")
	}
}
