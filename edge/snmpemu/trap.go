package snmpemu

import (
	"errors"
	"fmt"

	"github.com/gosnmp/gosnmp"
)

// SNMPv2-MIB objects a notification starts with (RFC 3416 §4.2.6).
const (
	oidSysUpTime0   = ".1.3.6.1.2.1.1.3.0"
	oidSnmpTrapOID0 = ".1.3.6.1.6.3.1.1.4.1.0"
)

// ErrNoTrapAddr is returned by Notify when Opts.TrapAddr was empty.
var ErrNoTrapAddr = errors.New("snmpemu: no trap address")

// Notify sends an SNMPv2-Trap (RFC 3416 §4.2.6) to Opts.TrapAddr from the
// agent's own socket, so that a receiver sees the agent's address as the
// sender: sysUpTime.0 (the table's, else 0), snmpTrapOID.0 = trapOID, then
// vars. A trap is unconfirmed; an error means it could not be sent.
func (a *Agent) Notify(trapOID string, vars ...gosnmp.SnmpPDU) error {
	if a.trapAddr == nil {
		return ErrNoTrapAddr
	}
	if _, err := parseOID(trapOID); err != nil {
		return fmt.Errorf("snmpemu: notify: %w", err)
	}
	up := uint32(0)
	if v, ok := a.table.Get(oidSysUpTime0); ok {
		if t, ok := v.V.(uint32); ok {
			up = t
		}
	}
	pkt := &gosnmp.SnmpPacket{
		Version:   gosnmp.Version2c,
		Community: a.community,
		PDUType:   gosnmp.SNMPv2Trap,
		RequestID: a.trapID.Add(1) & 0x7fffffff,
		Variables: append([]gosnmp.SnmpPDU{
			{Name: oidSysUpTime0, Type: gosnmp.TimeTicks, Value: up},
			{Name: oidSnmpTrapOID0, Type: gosnmp.ObjectIdentifier, Value: trapOID},
		}, vars...),
	}
	b, err := pkt.MarshalMsg()
	if err != nil {
		return fmt.Errorf("snmpemu: notify %s: %w", trapOID, err)
	}
	if _, err := a.conn.WriteTo(b, a.trapAddr); err != nil {
		a.stats.writeErrors.Add(1)
		return fmt.Errorf("snmpemu: notify %s: %w", trapOID, err)
	}
	a.stats.trapsSent.Add(1)
	return nil
}
