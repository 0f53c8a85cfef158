package snmpnotify

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gosnmp/gosnmp"
	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/mibs"
)

func TestPDUsFollowTheObjectsClause(t *testing.T) {
	a := Alert{Notification: mibs.NodeThrottlingOID, ID: 9, State: mibs.AlertActive, Severity: mibs.SeverityWarning,
		Node: "n1", Rack: "r1", Evidence: "ev", Action: "none",
		Values: []Value{{mibs.CPUTemperatureOID, -15}, {mibs.ThrottleRateOID, 250}}}
	pdus, err := a.PDUs(1234567 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pdus {
		v := p.Value
		if b, ok := v.([]byte); ok {
			v = string(b)
		}
		got = append(got, fmt.Sprintf("%s %v %v", p.Name, p.Type, v))
	}
	e := mibs.EnterpriseOID
	want := []string{
		"1.3.6.1.2.1.1.3.0 TimeTicks 123456",
		"1.3.6.1.6.3.1.1.4.1.0 ObjectIdentifier " + mibs.NodeThrottlingOID,
		e + ".1.1.1.0 Gauge32 9",
		e + ".1.1.2.0 Integer 1",
		e + ".1.1.3.0 Integer 6",
		e + ".1.1.4.0 OctetString n1",
		e + ".1.1.5.0 OctetString r1",
		e + ".1.1.6.0 OctetString ev",
		e + ".1.1.7.0 OctetString none",
		e + ".1.2.3.0 Gauge32 250", // rwThrottleRate, in the clause
		e + ".1.2.1.0 Integer -15", // rwCpuTemperature, appended
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("varbinds:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Every varbind encodes.
	pkt := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: "public", PDUType: gosnmp.SNMPv2Trap, Variables: pdus}
	if _, err := pkt.MarshalMsg(); err != nil {
		t.Errorf("marshal: %v", err)
	}
}

func TestPDUsRequiredValueMissing(t *testing.T) {
	// The clause of rwRackCoolingAlarm lists rwHotNodes: it is sent as 0
	// rather than left out when the evidence lacks it.
	pdus, err := Alert{Notification: mibs.RackCoolingAlarmOID, ID: 1}.PDUs(0)
	if err != nil {
		t.Fatal(err)
	}
	last := pdus[len(pdus)-1]
	if last.Name != mibs.HotNodesOID+".0" || last.Value != uint(0) {
		t.Errorf("last varbind %+v", last)
	}
}

func TestPDUsUnknownNotification(t *testing.T) {
	if _, err := (Alert{Notification: "1.3.6.1.4.1.32473.0.99"}).PDUs(0); err == nil {
		t.Error("no error for a notification the MIB does not define")
	}
}

func TestAdminStringCutAtRuneBoundary(t *testing.T) {
	s := strings.Repeat("a", 254) + "°C and more"
	got := adminString(s)
	if len(got) > mibs.MaxAdminString || !utf8.ValidString(got) || got != strings.Repeat("a", 254) {
		t.Errorf("cut to %d bytes, valid %v: %q", len(got), utf8.ValidString(got), got[250:])
	}
	if adminString("short") != "short" {
		t.Error("a short string was changed")
	}
}

func TestScaled(t *testing.T) {
	for _, tc := range []struct {
		oid   string
		v     float64
		scale float64
		want  int64
		ok    bool
	}{
		{mibs.CPUTemperatureOID, 88.25, 10, 883, true},
		{mibs.CPUTemperatureOID, -40.04, 10, -400, true},
		{mibs.CPUTemperatureOID, 1e12, 10, math.MaxInt32, true},
		{mibs.ThrottleRateOID, -1, 1000, 0, true},
		{mibs.ThrottleRateOID, 1e12, 1000, math.MaxUint32, true},
		{mibs.LatencyOID, math.NaN(), 1000, 0, false},
		{mibs.LatencyOID, math.Inf(1), 1000, 0, false},
	} {
		got, ok := scaled(tc.oid, tc.v, tc.scale)
		if got != tc.want || ok != tc.ok {
			t.Errorf("scaled(%s, %v) = %d, %v; want %d, %v", tc.oid, tc.v, got, ok, tc.want, tc.ok)
		}
	}
}

// TestSignalsCoverTheEngine keeps signalValue in step with the evidence
// the decision engine produces, so that a new signal gets a typed object.
func TestSignalsCoverTheEngine(t *testing.T) {
	e, err := decide.New(decide.DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var obs []decide.Observation
	for i := 0; i < 4; i++ {
		obs = append(obs, decide.Observation{Node: fmt.Sprint("n", i), Rack: "r1", LB: "lb1", Backend: "api", Server: fmt.Sprint("s", i),
			LBKnown: true, Status: decide.StatusUp, WeightPct: 100, CPUTemp: 50, CPUTempAt: now, InletTemp: 20, InletTempAt: now,
			HaveThrottle: true, HaveFCS: true, HaveFlaps: true, HaveKernel: true,
			Latency: 5 * time.Millisecond, LatencySamples: 1000, HaveLatency: true, Baseline: 5 * time.Millisecond, HaveBaseline: true})
	}
	e.Evaluate(now, obs)
	ev, _, _ := e.Evidence(decide.Target{Node: "n0", LB: "lb1", Backend: "api", Server: "s0"})
	seen := map[string]bool{}
	for _, x := range ev {
		seen[x.Signal] = true
		if _, ok := signalValue[x.Signal]; !ok {
			t.Errorf("the engine's signal %s (%s) has no RACKWATCH-MIB object", x.Signal, x.Unit)
		}
	}
	for _, x := range e.SignalAlarms(now, obs) {
		for _, y := range x.Evidence {
			seen[y.Signal] = true
		}
	}
	if len(seen) < 7 {
		t.Errorf("the engine gave only %v", seen)
	}
	for sig := range signalValue {
		if sig != "hot_nodes" && !seen[sig] {
			t.Errorf("signalValue maps %s, which the engine does not produce", sig)
		}
	}
}
