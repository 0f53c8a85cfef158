package snmpnotify

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/mibs"
)

// trapd starts net-snmp's snmptrapd with RACKWATCH-MIB loaded. The IETF
// base modules it imports come from the machine when it has them, and
// from the stand-ins of mibs/testdata/smi otherwise (Debian ships none).
func trapd(t *testing.T, config string) *testrig.TrapReceiver {
	t.Helper()
	return testrig.StartSnmptrapd(t, testrig.SnmptrapdOpts{
		Config:  config,
		MIBDirs: []string{"../../mibs", "../../mibs/testdata/smi"},
		MIBs:    "RACKWATCH-MIB",
	})
}

// start runs a Sender for one target until the test ends.
func start(t *testing.T, tg Target) *Sender {
	t.Helper()
	s, err := New(&Opts{Targets: []Target{tg}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

// waitStats waits until cond holds for the first target's counters.
func waitStats(t *testing.T, s *Sender, what string, cond func(Stats) bool) Stats {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := s.Stats()[0]
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: stats %+v", what, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func drain(node string) decide.Decision {
	return decide.Decision{Node: node, Rack: "r1", LB: "lb1", Backend: "api", Server: "s1", Action: decide.ActDrain,
		From: decide.Shed, To: decide.Drained, Desired: decide.Drained.Desired(), Taken: true, Actor: "engine",
		Cause:    "the cause persisted after the shed",
		Evidence: []decide.Evidence{{Signal: "cpu_temperature", Value: 88.25, Threshold: 80, Unit: "°C", Firing: true}, {Signal: "latency_vs_peers", Value: 60.5, Threshold: 15, Unit: "ms", Firing: true}}}
}

func TestTrapV2cPrintsByName(t *testing.T) {
	r := trapd(t, "")
	s := start(t, Target{Address: r.Addr, Version: "2c", Community: "public"})
	n := NewNotifier(NotifierOpts{Sink: s, FirstID: 41})
	n.Decision(drain("node-a"))

	line := r.WaitFor(t, "RACKWATCH-MIB::rwNodeDrained", 10*time.Second)
	for _, want := range []string{
		"RACKWATCH-MIB::rwAlertId.0 = Gauge32: 41",
		"RACKWATCH-MIB::rwAlertState.0 = INTEGER: active(1)",
		"RACKWATCH-MIB::rwSeverity.0 = INTEGER: major(4)",
		`RACKWATCH-MIB::rwNode.0 = STRING: node-a`,
		`RACKWATCH-MIB::rwRack.0 = STRING: r1`,
		`RACKWATCH-MIB::rwAction.0 = STRING: drain: drain on lb1 api/s1`,
		"RACKWATCH-MIB::rwCpuTemperature.0 = INTEGER: 883 0.1 degrees Celsius",
		"RACKWATCH-MIB::rwLatency.0 = Gauge32: 60500 microseconds",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("snmptrapd's line lacks %q:\n%s", want, line)
		}
	}
	if st := waitStats(t, s, "trap sent", func(st Stats) bool { return st.Sent == 1 }); st.Failed != 0 || st.Acknowledged != 0 {
		t.Errorf("stats %+v, want one trap sent and nothing else", st)
	}

	// The restore that ends the episode clears it with the same id.
	n.Decision(decide.Decision{Node: "node-a", Rack: "r1", LB: "lb1", Backend: "api", Server: "s1", Action: decide.ActRestore,
		From: decide.Ramp50, To: decide.Full, Desired: decide.Full.Desired(), Taken: true, Cause: "cool and fast for the step hold"})
	line = r.WaitFor(t, "RACKWATCH-MIB::rwNodeRestored", 10*time.Second)
	for _, want := range []string{"rwAlertId.0 = Gauge32: 41", "rwAlertState.0 = INTEGER: clear(2)", "rwSeverity.0 = INTEGER: major(4)"} {
		if !strings.Contains(line, want) {
			t.Errorf("the restore lacks %q:\n%s", want, line)
		}
	}
}

func TestInformV3AcknowledgedBySnmptrapd(t *testing.T) {
	for _, tc := range []struct{ auth, priv string }{
		{"SHA", "AES"},
		{"SHA-512", "AES-256"},
		{"MD5", ""},
	} {
		t.Run(tc.auth+"/"+tc.priv, func(t *testing.T) {
			t.Parallel()
			user := "rwnms"
			conf := "createUser " + user + " " + tc.auth + " authpass-123"
			if tc.priv != "" {
				conf += " " + tc.priv + " privpass-456"
			}
			conf += "\nauthUser log,execute " + user + "\n"
			r := trapd(t, conf)
			s := start(t, Target{Address: r.Addr, Version: "3", User: user,
				AuthProtocol: tc.auth, AuthPassphrase: "authpass-123", PrivProtocol: tc.priv, PrivPassphrase: "privpass-456",
				Timeout: time.Second, Retries: 2})
			n := NewNotifier(NotifierOpts{Sink: s, FirstID: 7})
			n.Decision(decide.Decision{Rack: "r2", Action: decide.ActAlarm, Alarm: decide.AlarmRackCooling, AlarmActive: true, Taken: true,
				Cause: "many nodes hot at once", Evidence: []decide.Evidence{{Signal: "hot_nodes", Value: 4, Threshold: 3, Unit: "nodes", Firing: true}}})
			line := r.WaitFor(t, "RACKWATCH-MIB::rwRackCoolingAlarm", 10*time.Second)
			for _, want := range []string{"rwAlertId.0 = Gauge32: 7", "rwRack.0 = STRING: r2", "rwHotNodes.0 = Gauge32: 4 nodes", "rwSeverity.0 = INTEGER: critical(3)"} {
				if !strings.Contains(line, want) {
					t.Errorf("snmptrapd's line lacks %q:\n%s", want, line)
				}
			}
			st := waitStats(t, s, "INFORM acknowledged", func(st Stats) bool { return st.Acknowledged == 1 })
			if st.Sent != 1 || st.Failed != 0 {
				t.Errorf("stats %+v, want one INFORM sent and acknowledged", st)
			}
		})
	}
}

// TestInformV3WrongPassphraseFails: a receiver that cannot authenticate
// the INFORM does not acknowledge it; the sender counts a failure.
func TestInformV3WrongPassphraseFails(t *testing.T) {
	r := trapd(t, "createUser rwnms SHA authpass-123 AES privpass-456\nauthUser log rwnms\n")
	s := start(t, Target{Address: r.Addr, Version: "3", User: "rwnms", AuthProtocol: "SHA", AuthPassphrase: "wrong-pass",
		PrivProtocol: "AES", PrivPassphrase: "privpass-456", Timeout: 200 * time.Millisecond, Retries: -1})
	NewNotifier(NotifierOpts{Sink: s}).EdgeOffline("edge-1", time.Now())
	st := waitStats(t, s, "failure counted", func(st Stats) bool { return st.Failed == 1 })
	if st.Acknowledged != 0 {
		t.Errorf("stats %+v: acknowledged with a wrong passphrase", st)
	}
	if strings.Contains(r.Output(), "rwEdgeOffline") {
		t.Errorf("snmptrapd logged a notification it could not authenticate:\n%s", r.Output())
	}
}

// closedPort returns a loopback UDP port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	return addr
}

// TestDownNMSBoundedRetriesNeverBlocks: INFORMs to a port nobody answers
// are retried a bounded number of times, then counted as failed, while
// Send returns at once however many notifications pile up.
func TestDownNMSBoundedRetriesNeverBlocks(t *testing.T) {
	for _, tc := range []struct {
		name string
		tg   Target
	}{
		{"v2c inform", Target{Version: "2c", Inform: true}},
		{"v3 inform", Target{Version: "3", User: "rwnms", AuthProtocol: "SHA", AuthPassphrase: "authpass-123"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tg := tc.tg
			tg.Address, tg.Timeout, tg.Retries, tg.Queue = closedPort(t), 50*time.Millisecond, 2, 4
			s := start(t, tg)
			n := NewNotifier(NotifierOpts{Sink: s})
			begin := time.Now()
			for i := 0; i < 100; i++ {
				n.EdgeOffline("edge-"+string(rune('a'+i%26))+string(rune('a'+i/26)), begin)
			}
			if took := time.Since(begin); took > 50*time.Millisecond {
				t.Errorf("100 notifications to a down target took %v to hand over", took)
			}
			st := waitStats(t, s, "queue worked off", func(st Stats) bool {
				return st.Queued == 0 && st.Failed+st.Dropped == 100
			})
			if st.Acknowledged != 0 || st.Failed == 0 || st.Dropped == 0 {
				t.Errorf("stats %+v: want failures and drops, no acknowledgement", st)
			}
			// Each failed INFORM was retried at most Retries times (twice
			// more for SNMPv3: the engine discovery probe is retried too).
			perFailure := uint64(tg.Retries)
			if tg.Version == "3" {
				perFailure *= 2
			}
			if st.Retried == 0 || st.Retried > st.Failed*perFailure {
				t.Errorf("stats %+v: want between 1 and %d retries per failure", st, perFailure)
			}
		})
	}
}

// TestEveryNotificationPrintsByName sends each notification of the MIB,
// with every typed value, and finds it by name in snmptrapd's log.
func TestEveryNotificationPrintsByName(t *testing.T) {
	r := trapd(t, "")
	s := start(t, Target{Address: r.Addr, Version: "2c", Inform: true})
	all := []Value{{mibs.CPUTemperatureOID, -55}, {mibs.InletTemperatureOID, 312}, {mibs.ThrottleRateOID, 1},
		{mibs.FCSErrorRateOID, 2}, {mibs.CarrierFlapsOID, 3}, {mibs.KernelEventsOID, 4}, {mibs.LatencyOID, 5}, {mibs.HotNodesOID, 6}}
	want := map[string]string{
		mibs.NodeDrainedOID: "rwNodeDrained", mibs.NodeRestoredOID: "rwNodeRestored", mibs.NodeShedOID: "rwNodeShed",
		mibs.NodeThrottlingOID: "rwNodeThrottling", mibs.LinkErrorsDegradingOID: "rwLinkErrorsDegrading",
		mibs.RackCoolingAlarmOID: "rwRackCoolingAlarm", mibs.SensorFaultOID: "rwSensorFault",
		mibs.EdgeOfflineOID: "rwEdgeOffline", mibs.EdgeOnlineOID: "rwEdgeOnline", mibs.ActionRolledBackOID: "rwActionRolledBack",
		mibs.CommandRejectedOID: "rwCommandRejected",
	}
	if len(want) != len(mibs.NotificationObjects) {
		t.Fatalf("the test names %d notifications, the MIB has %d", len(want), len(mibs.NotificationObjects))
	}
	id := uint32(1000)
	for oid, name := range want {
		id++
		s.Send(Alert{Notification: oid, ID: id, State: mibs.AlertActive, Severity: mibs.SeverityWarning,
			Node: "n°1", Rack: "r1", Evidence: "ev", Action: "none", Edge: "e1", Sensor: "d/s", Values: all})
		line := r.WaitFor(t, "RACKWATCH-MIB::"+name+"\t", 10*time.Second)
		for _, v := range []string{
			fmt.Sprintf("rwAlertId.0 = Gauge32: %d", id),
			"rwCpuTemperature.0 = INTEGER: -55 0.1 degrees Celsius",
			"rwInletTemperature.0 = INTEGER: 312 0.1 degrees Celsius",
			"rwThrottleRate.0 = Gauge32: 1 0.001 events per second",
			"rwFcsErrorRate.0 = Gauge32: 2 0.001 frames per second",
			"rwCarrierFlaps.0 = Gauge32: 3 changes",
			"rwKernelEvents.0 = Gauge32: 4 events",
			"rwLatency.0 = Gauge32: 5 microseconds",
			"rwHotNodes.0 = Gauge32: 6 nodes",
		} {
			if !strings.Contains(line, v) {
				t.Errorf("%s lacks %q:\n%s", name, v, line)
			}
		}
	}
	st := waitStats(t, s, "all acknowledged", func(st Stats) bool { return st.Acknowledged == uint64(len(want)) })
	if st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}
}
