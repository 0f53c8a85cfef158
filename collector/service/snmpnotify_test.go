package service

import (
	"strings"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/config"
	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/sample"
)

const snmpCfgText = cfgText + `racks:
  - {name: r1, edge: rack1, inlet: inlet1}
snmp_notify:
  targets:
    - {name: nms, address: ADDR, version: v2c, community: public}
`

func TestLocator(t *testing.T) {
	cfg := &config.Config{
		Racks: []config.Rack{{Name: "r1", Edge: "rack1", Inlet: "inlet1"}},
		Nodes: []config.Node{
			{Name: "n1", Rack: "r1", Edge: "rack1", BMC: "b1", Host: &config.HostRef{Edge: "n1-host", Device: "host"}},
			{Name: "n2", Rack: "r2", Edge: "rack2", BMC: "b2"},
		},
	}
	locate := locator(cfg)
	for _, tc := range []struct{ edge, device, node, rack string }{
		{"rack1", "b1", "n1", "r1"},
		{"n1-host", "host", "n1", "r1"},
		{"rack1", "inlet1", "", "r1"},
		{"rack1", "", "", "r1"},
		{"rack1", "tor1", "", "r1"}, // another device of the rack's edge
		{"rack2", "b2", "n2", "r2"},
		{"rack2", "", "", "r2"}, // the rack of the nodes the edge reads
		{"elsewhere", "x", "", ""},
	} {
		if node, rack := locate(tc.edge, tc.device); node != tc.node || rack != tc.rack {
			t.Errorf("locate(%s, %s) = %q, %q; want %q, %q", tc.edge, tc.device, node, rack, tc.node, tc.rack)
		}
	}
}

// TestSNMPNotificationsWired: decisions, sensor faults and edge deaths
// reach a real snmptrapd as RACKWATCH-MIB notifications.
func TestSNMPNotificationsWired(t *testing.T) {
	r := testrig.StartSnmptrapd(t, testrig.SnmptrapdOpts{MIBDirs: []string{"../../mibs", "../../mibs/testdata/smi"}, MIBs: "RACKWATCH-MIB"})
	svc := newTestService(t, loadTestConfig(t, strings.Replace(snmpCfgText, "ADDR", r.Addr, 1)), upServers(false))
	runService(t, svc)

	svc.record(decide.Decision{At: time.Now(), Node: "n2", LB: "lb1", Backend: "api", Server: "s2", Action: decide.ActDrain,
		From: decide.Shed, To: decide.Drained, Desired: decide.Drained.Desired(), Taken: true, Actor: "engine", Cause: "test"})
	if line := r.WaitFor(t, "RACKWATCH-MIB::rwNodeDrained", 10*time.Second); !strings.Contains(line, "rwNode.0 = STRING: n2") {
		t.Errorf("drain: %s", line)
	}
	sink{svc}.Add("rack1", "b1", []sample.Sample{{Metric: sample.SensorStatus, Labels: sample.L("sensor", "cpu"), Value: sample.Uint(2), TS: time.Now()}})
	line := r.WaitFor(t, "RACKWATCH-MIB::rwSensorFault", 10*time.Second)
	for _, want := range []string{"rwNode.0 = STRING: n1", "rwSensor.0 = STRING: b1/cpu", "rwEdge.0 = STRING: rack1"} {
		if !strings.Contains(line, want) {
			t.Errorf("sensor fault lacks %q: %s", want, line)
		}
	}
	svc.edges().EdgeOffline("rack1", time.Now())
	if line := r.WaitFor(t, "RACKWATCH-MIB::rwEdgeOffline", 10*time.Second); !strings.Contains(line, "rwRack.0 = STRING: r1") {
		t.Errorf("edge offline: %s", line)
	}
	deadline := time.Now().Add(5 * time.Second)
	for st := svc.SNMPNotifyStats(); st[0].Sent != 3; st = svc.SNMPNotifyStats() {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v, want 3 sent", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
