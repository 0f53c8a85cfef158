package snmpnotify

import (
	"fmt"
	"math"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/gosnmp/gosnmp"
	"github.com/rackwatch/rackwatch/mibs"
)

// Well-known OIDs of every SNMPv2 notification (RFC 3416, section 4.2.6):
// the first varbind is sysUpTime.0 and the second snmpTrapOID.0.
const (
	sysUpTimeOID   = "1.3.6.1.2.1.1.3.0"
	snmpTrapOIDOID = "1.3.6.1.6.3.1.1.4.1.0"
)

// Alert is the content of one notification, before it is encoded.
type Alert struct {
	// Notification is the notification's OID, one of mibs.*OID.
	Notification string
	ID           uint32
	State        mibs.AlertState
	Severity     mibs.Severity
	Node, Rack   string
	Evidence     string
	Action       string
	Edge, Sensor string
	// Values are typed evidence values. Those the notification's OBJECTS
	// clause lists go in its place; the others follow it.
	Values []Value
}

// Value is one typed evidence value: the object's OID (mibs.*OID) and its
// value in the object's UNITS.
type Value struct {
	OID string
	N   int64
}

// signalValue maps an evidence signal of the decision engine to its
// RACKWATCH-MIB object and the factor from the engine's unit to the
// object's UNITS.
var signalValue = map[string]struct {
	oid   string
	scale float64
}{
	"cpu_temperature":     {mibs.CPUTemperatureOID, 10},   // °C → 0.1 °C
	"inlet_temperature":   {mibs.InletTemperatureOID, 10}, // °C → 0.1 °C
	"throttle_rate":       {mibs.ThrottleRateOID, 1000},   // events/s → 0.001 events/s
	"fcs_error_rate":      {mibs.FCSErrorRateOID, 1000},   // frames/s → 0.001 frames/s
	"carrier_flaps":       {mibs.CarrierFlapsOID, 1},      // changes
	"kernel_events":       {mibs.KernelEventsOID, 1},      // events
	"latency_vs_peers":    {mibs.LatencyOID, 1000},        // ms → µs
	"latency_vs_baseline": {mibs.LatencyOID, 1000},        // ms → µs
	"hot_nodes":           {mibs.HotNodesOID, 1},          // nodes
}

// signed lists the objects whose syntax is Integer32; the others are
// Gauge32.
var signed = map[string]bool{mibs.CPUTemperatureOID: true, mibs.InletTemperatureOID: true}

// scaled converts v to an integer in the object's units, rounded and
// clamped to its syntax: a reading beyond the range is sent as the bound
// rather than wrapped, and a non-finite one is not sent.
func scaled(oid string, v, scale float64) (int64, bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	n := math.Round(v * scale)
	lo, hi := 0.0, float64(math.MaxUint32)
	if signed[oid] {
		lo, hi = math.MinInt32, math.MaxInt32
	}
	return int64(max(lo, min(hi, n))), true
}

// pdu returns the varbind of a value.
func (v Value) pdu() gosnmp.SnmpPDU {
	if signed[v.OID] {
		return gosnmp.SnmpPDU{Name: v.OID + ".0", Type: gosnmp.Integer, Value: int(v.N)}
	}
	return gosnmp.SnmpPDU{Name: v.OID + ".0", Type: gosnmp.Gauge32, Value: uint(v.N)}
}

// adminString cuts s to an SnmpAdminString's 255 octets at a UTF-8
// character boundary (RFC 3411: the text must stay valid UTF-8).
func adminString(s string) string {
	if len(s) <= mibs.MaxAdminString {
		return s
	}
	s = s[:mibs.MaxAdminString]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// PDUs returns the varbinds of the notification: sysUpTime.0 (uptime in
// hundredths of a second, wrapping as TimeTicks do), snmpTrapOID.0, the
// objects of its OBJECTS clause in order, then the other values. It fails
// for a notification RACKWATCH-MIB does not define.
func (a Alert) PDUs(uptime time.Duration) ([]gosnmp.SnmpPDU, error) {
	objs, ok := mibs.NotificationObjects[a.Notification]
	if !ok {
		return nil, fmt.Errorf("snmpnotify: %q is not a RACKWATCH-MIB notification", a.Notification)
	}
	ticks := uint32(uint64(uptime/(10*time.Millisecond)) & math.MaxUint32)
	pdus := make([]gosnmp.SnmpPDU, 0, 2+len(objs)+len(a.Values))
	pdus = append(pdus,
		gosnmp.SnmpPDU{Name: sysUpTimeOID, Type: gosnmp.TimeTicks, Value: ticks},
		gosnmp.SnmpPDU{Name: snmpTrapOIDOID, Type: gosnmp.ObjectIdentifier, Value: a.Notification})
	str := func(oid, s string) gosnmp.SnmpPDU {
		return gosnmp.SnmpPDU{Name: oid + ".0", Type: gosnmp.OctetString, Value: []byte(adminString(s))}
	}
	id := a.ID
	if id == 0 {
		id = 1 // rwAlertId is 1..4294967295
	}
	for _, oid := range objs {
		switch oid {
		case mibs.AlertIDOID:
			pdus = append(pdus, gosnmp.SnmpPDU{Name: oid + ".0", Type: gosnmp.Gauge32, Value: uint(id)})
		case mibs.AlertStateOID:
			pdus = append(pdus, gosnmp.SnmpPDU{Name: oid + ".0", Type: gosnmp.Integer, Value: int(a.State)})
		case mibs.SeverityOID:
			pdus = append(pdus, gosnmp.SnmpPDU{Name: oid + ".0", Type: gosnmp.Integer, Value: int(a.Severity)})
		case mibs.NodeOID:
			pdus = append(pdus, str(oid, a.Node))
		case mibs.RackOID:
			pdus = append(pdus, str(oid, a.Rack))
		case mibs.EvidenceOID:
			pdus = append(pdus, str(oid, a.Evidence))
		case mibs.ActionOID:
			pdus = append(pdus, str(oid, a.Action))
		case mibs.EdgeOID:
			pdus = append(pdus, str(oid, a.Edge))
		case mibs.SensorOID:
			pdus = append(pdus, str(oid, a.Sensor))
		default: // a typed evidence value the clause requires
			v := Value{OID: oid}
			if i := slices.IndexFunc(a.Values, func(v Value) bool { return v.OID == oid }); i >= 0 {
				v = a.Values[i]
			}
			pdus = append(pdus, v.pdu())
		}
	}
	for _, v := range a.Values {
		if !slices.Contains(objs, v.OID) {
			pdus = append(pdus, v.pdu())
		}
	}
	return pdus, nil
}
