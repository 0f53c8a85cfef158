package snmpnotify_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/collector/snmpnotify"
	"github.com/rackwatch/rackwatch/mibs"
)

// A Sender with one SNMPv2c trap target, fed by a Notifier: the drain of a
// node raises an alert, and its return to full service clears it with the
// same rwAlertId. A bare UDP socket stands in for the management station.
// An SNMPv3 INFORM target is configured the same way, with Version "3",
// User and the USM protocols and passphrases, Timeout and Retries.
func Example() {
	nms, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer nms.Close()

	s, err := snmpnotify.New(&snmpnotify.Opts{Targets: []snmpnotify.Target{
		{Name: "nms", Address: nms.LocalAddr().String(), Version: "2c", Community: "public"},
	}})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()

	n := snmpnotify.NewNotifier(snmpnotify.NotifierOpts{Sink: s, FirstID: 1})
	drain := decide.Decision{Node: "api-7", Rack: "r3", LB: "lb1", Backend: "api", Server: "s7",
		Action: decide.ActDrain, From: decide.Shed, To: decide.Drained, Desired: decide.Drained.Desired(), Taken: true,
		Cause: "the cause persisted after the shed"}
	n.Decision(drain)
	restore := drain
	restore.Action, restore.From, restore.To, restore.Desired = decide.ActRestore, decide.Ramp50, decide.Full, decide.Full.Desired()
	n.Decision(restore)

	names := map[string]string{"." + mibs.NodeDrainedOID: "rwNodeDrained", "." + mibs.NodeRestoredOID: "rwNodeRestored"}
	buf := make([]byte, 4096)
	for i := 0; i < 2; i++ {
		nms.SetReadDeadline(time.Now().Add(5 * time.Second))
		k, _, err := nms.ReadFrom(buf)
		if err != nil {
			log.Fatal(err)
		}
		pkt, err := (&gosnmp.GoSNMP{Version: gosnmp.Version2c}).SnmpDecodePacket(buf[:k])
		if err != nil {
			log.Fatal(err)
		}
		// Varbinds: sysUpTime.0, snmpTrapOID.0, then the OBJECTS clause:
		// rwAlertId.0, rwAlertState.0, rwSeverity.0, rwNode.0, ...
		v := pkt.Variables
		fmt.Println(names[v[1].Value.(string)], "id", v[2].Value, "state", mibs.AlertState(v[3].Value.(int)),
			"severity", mibs.Severity(v[4].Value.(int)), "node", string(v[5].Value.([]byte)))
	}
	// Output:
	// rwNodeDrained id 1 state active severity major node api-7
	// rwNodeRestored id 1 state clear severity major node api-7
}
