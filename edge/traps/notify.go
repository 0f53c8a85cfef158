package traps

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gosnmp/gosnmp"
)

// OIDs of the variable bindings a notification is read from.
const (
	oidSysUpTime       = "1.3.6.1.2.1.1.3.0"     // SNMPv2-MIB sysUpTime.0
	oidSnmpTrapOID     = "1.3.6.1.6.3.1.1.4.1.0" // SNMPv2-MIB snmpTrapOID.0
	oidSnmpTrapAddress = "1.3.6.1.6.3.18.1.3.0"  // SNMP-COMMUNITY-MIB snmpTrapAddress.0
	oidSnmpTraps       = "1.3.6.1.6.3.1.1.5"     // SNMPv2-MIB snmpTraps
	// IF-MIB ifEntry columns (RFC 2863): ifIndex, ifAdminStatus,
	// ifOperStatus, each followed by the ifIndex instance.
	prefixIfIndex       = "1.3.6.1.2.1.2.2.1.1."
	prefixIfAdminStatus = "1.3.6.1.2.1.2.2.1.7."
	prefixIfOperStatus  = "1.3.6.1.2.1.2.2.1.8."
	// ifAdminStatus and ifOperStatus value up(1).
	ifStatusUp = 1
)

// parseNotification reads the notification OID, the sender's uptime and the
// IF-MIB objects from an authenticated Trap, SNMPv2-Trap or InformRequest.
// The event's variable bindings are copied out of the message buffer.
func parseNotification(pkt *gosnmp.SnmpPacket) (Event, error) {
	ev := Event{
		Version:  pkt.Version,
		Inform:   pkt.PDUType == gosnmp.InformRequest,
		Varbinds: make([]Varbind, 0, len(pkt.Variables)),
	}
	if pkt.PDUType == gosnmp.Trap {
		oid, err := v1TrapOID(pkt.Enterprise, pkt.GenericTrap, pkt.SpecificTrap)
		if err != nil {
			return Event{}, err
		}
		ev.TrapOID = oid
		// time-stamp is TimeTicks, hundredths of a second (RFC 1157 4.1.6).
		ev.Uptime = time.Duration(pkt.Timestamp) * 10 * time.Millisecond
	}
	for _, v := range pkt.Variables {
		vb := Varbind{OID: strings.TrimPrefix(v.Name, "."), Type: v.Type, Value: v.Value}
		if b, ok := v.Value.([]byte); ok {
			vb.Value = bytes.Clone(b)
		}
		if pkt.PDUType != gosnmp.Trap {
			switch vb.OID {
			case oidSysUpTime:
				if t, ok := asInt(vb.Value); ok && vb.Type == gosnmp.TimeTicks {
					ev.Uptime = time.Duration(t) * 10 * time.Millisecond
				}
				continue
			case oidSnmpTrapOID:
				s, ok := vb.Value.(string)
				if !ok || vb.Type != gosnmp.ObjectIdentifier {
					return Event{}, fmt.Errorf("snmpTrapOID.0 is %v, not an OID", vb.Type)
				}
				ev.TrapOID = strings.TrimPrefix(s, ".")
				continue
			}
		}
		ev.Varbinds = append(ev.Varbinds, vb)
		readIfMIB(&ev, vb)
	}
	if ev.TrapOID == "" {
		// RFC 3416 4.2.6: the second binding of an SNMPv2-Trap or InformRequest
		// is snmpTrapOID.0.
		return Event{}, errors.New("no snmpTrapOID.0")
	}
	return ev, nil
}

// v1TrapOID maps an SNMPv1 Trap to its SNMPv2 notification OID
// (RFC 3584 3.1, step 2).
func v1TrapOID(enterprise string, generic, specific int) (string, error) {
	switch {
	case generic >= 0 && generic <= 5:
		// coldStart(0) … egpNeighborLoss(5) are snmpTraps.1 … .6.
		return oidSnmpTraps + "." + strconv.Itoa(generic+1), nil
	case generic == 6:
		e := strings.TrimPrefix(enterprise, ".")
		if !validOID(e) || specific < 0 {
			return "", fmt.Errorf("v1 enterprise-specific trap with enterprise %q specific %d", enterprise, specific)
		}
		return e + ".0." + strconv.Itoa(specific), nil
	}
	return "", fmt.Errorf("v1 generic-trap %d out of range", generic)
}

// readIfMIB fills the interface fields of ev from one binding.
func readIfMIB(ev *Event, vb Varbind) {
	var prefix string
	switch {
	case strings.HasPrefix(vb.OID, prefixIfIndex):
		prefix = prefixIfIndex
	case strings.HasPrefix(vb.OID, prefixIfAdminStatus):
		prefix = prefixIfAdminStatus
	case strings.HasPrefix(vb.OID, prefixIfOperStatus):
		prefix = prefixIfOperStatus
	default:
		return
	}
	inst, err := strconv.Atoi(vb.OID[len(prefix):])
	if err != nil || inst <= 0 {
		return
	}
	v, ok := asInt(vb.Value)
	if !ok || vb.Type != gosnmp.Integer {
		return
	}
	switch prefix {
	case prefixIfIndex:
		// InterfaceIndex is 1..2147483647 (RFC 2863); the value, when valid,
		// wins over the instance.
		if v > 0 && v <= 1<<31-1 {
			ev.IfIndex = int(v)
		}
		return
	case prefixIfAdminStatus:
		up := v == ifStatusUp
		ev.AdminUp = &up
	case prefixIfOperStatus:
		up := v == ifStatusUp
		ev.OperUp = &up
	}
	if ev.IfIndex == 0 {
		ev.IfIndex = inst
	}
}

// asInt converts the integer types gosnmp decodes into.
func asInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint:
		if uint64(n) > 1<<63-1 {
			return 0, false
		}
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint64:
		if n > 1<<63-1 {
			return 0, false
		}
		return int64(n), true
	}
	return 0, false
}
