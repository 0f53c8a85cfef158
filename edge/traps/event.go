package traps

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/rackwatch/rackwatch/edge/sample"
)

// Notification OIDs from SNMPv2-MIB and IF-MIB (RFC 2863 section 6).
const (
	OIDLinkDown = "1.3.6.1.6.3.1.1.5.3"
	OIDLinkUp   = "1.3.6.1.6.3.1.1.5.4"
)

// Names given to the IF-MIB notifications.
const (
	NameLinkDown = "linkDown"
	NameLinkUp   = "linkUp"
)

// MetricTraps counts accepted notifications by name. It is not in
// sample.Catalogue yet: its entry is {MetricTraps, Counter, "notifications",
// KindUint, "SNMP notifications accepted from the device.", ["trap"]}.
const MetricTraps = "snmp_traps_total"

// UnitNotifications is the unit of MetricTraps.
const UnitNotifications = "notifications"

// Notification is an extra notification OID to accept, and the name events
// of that kind get.
type Notification struct {
	// OID is numeric, such as "1.3.6.1.4.1.9.9.41.2.0.1"; a leading dot is
	// accepted.
	OID  string
	Name string
}

// Event is one accepted notification.
type Event struct {
	// At is when the receiver read the message.
	At time.Time
	// Peer is the UDP source of the message.
	Peer netip.AddrPort
	// Device is the target the sender matched, or "" when Opts.Targets is
	// empty.
	Device  string
	Version gosnmp.SnmpVersion
	// Community is the community of a v1 or v2c message.
	Community string
	// User and EngineID (hex) are the USM user and authoritative engine of
	// a v3 message.
	User     string
	EngineID string
	// Inform is set for an InformRequest, which the receiver acknowledged.
	Inform bool
	// TrapOID is the snmpTrapOID.0 of the notification, numeric without a
	// leading dot; for SNMPv1 it is derived as RFC 3584 3.1 specifies.
	TrapOID string
	// Name is NameLinkDown, NameLinkUp or the configured name.
	Name string
	// Count is how many notifications of this Name from this Device the
	// receiver has accepted since it started, this one included.
	Count uint64
	// Uptime is the sender's sysUpTime.0 (v1: time-stamp) when it sent the
	// notification.
	Uptime time.Duration
	// IfIndex is the interface the notification is about (IF-MIB ifIndex),
	// or 0 when it names none.
	IfIndex int
	// AdminUp and OperUp are ifAdminStatus = up(1) and ifOperStatus = up(1)
	// when the notification carries them, else nil.
	AdminUp, OperUp *bool
	// Varbinds are the notification's variable bindings, without
	// sysUpTime.0 and snmpTrapOID.0.
	Varbinds []Varbind
}

// Varbind is one variable binding as gosnmp decodes it. Value is one of
// int, uint, uint32, uint64, []byte, string (OIDs and IP addresses),
// float32, float64 or nil, depending on Type.
type Varbind struct {
	// OID is numeric without a leading dot.
	OID   string
	Type  gosnmp.Asn1BER
	Value any
}

// Samples converts e into the samples the edge publishes under the
// Sparkplug device e.Device. ifName maps an ifIndex of a device to the
// interface name the poller uses in its ifname label; it may be nil.
func (e Event) Samples(ifName func(device string, ifIndex int) (string, bool)) []sample.Sample {
	out := make([]sample.Sample, 0, 2)
	out = append(out, sample.Sample{
		Metric: MetricTraps,
		Labels: sample.Labels{{Name: "trap", Value: e.Name}},
		Value:  sample.Uint(e.Count),
		Unit:   UnitNotifications,
		TS:     e.At,
	})
	up, known := e.operUp()
	if !known || e.IfIndex <= 0 || ifName == nil {
		return out
	}
	name, ok := ifName(e.Device, e.IfIndex)
	if !ok || name == "" {
		return out
	}
	return append(out, sample.Sample{
		Metric: sample.IfOperUp,
		Labels: sample.Labels{{Name: "ifname", Value: name}},
		Value:  sample.Bool(up),
		Unit:   "bool",
		TS:     e.At,
	})
}

// operUp reports the interface's operational state as far as the
// notification tells it.
func (e Event) operUp() (up, known bool) {
	if e.OperUp != nil {
		return *e.OperUp, true
	}
	// RFC 2863: linkDown means ifOperStatus is entering down. linkUp only
	// means it is leaving down, possibly for dormant or testing.
	if e.TrapOID == OIDLinkDown {
		return false, true
	}
	return false, false
}

// String gives a short description for logs.
func (e Event) String() string {
	b := make([]byte, 0, 96)
	b = append(b, e.Name...)
	if e.Device != "" {
		b = append(b, " device="...)
		b = append(b, e.Device...)
	}
	b = append(b, " peer="...)
	b = e.Peer.AppendTo(b)
	if e.IfIndex > 0 {
		b = append(b, " ifindex="...)
		b = strconv.AppendInt(b, int64(e.IfIndex), 10)
	}
	if e.OperUp != nil {
		b = append(b, " oper_up="...)
		b = strconv.AppendBool(b, *e.OperUp)
	}
	return string(b)
}
