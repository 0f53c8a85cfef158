package snmpemu

import (
	"sync/atomic"
	"time"
)

// SNMPv2-MIB system group (RFC 3418).
const (
	oidSysDescr    = ".1.3.6.1.2.1.1.1.0"
	oidSysObjectID = ".1.3.6.1.2.1.1.2.0"
	oidSysName     = ".1.3.6.1.2.1.1.5.0"
)

// system is the system group every model has. Its sysUpTime.0 runs on the
// table's clock from the last (re)start.
type system struct {
	table *Table
	boot  atomic.Int64 // UnixNano of the last start
}

func newSystem(t *Table, descr, objectID, name string) (*system, error) {
	s := &system{table: t}
	s.boot.Store(t.Now().UnixNano())
	for _, err := range []error{
		t.Set(oidSysDescr, OctetString(descr)),
		t.Set(oidSysObjectID, ObjectIdentifier(objectID)),
		t.SetFunc(oidSysUpTime0, func(now time.Time) Value { return TimeTicks(s.uptime(now)) }),
		t.Set(oidSysName, OctetString(name)),
	} {
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

// uptime is sysUpTime in hundredths of a second; TimeTicks wrap modulo
// 2^32 (RFC 2578 §7.1.8).
func (s *system) uptime(now time.Time) uint32 {
	d := now.UnixNano() - s.boot.Load()
	if d < 0 {
		return 0
	}
	return uint32(d / int64(10*time.Millisecond))
}

// restart makes sysUpTime start again from 0, which a poller takes as a
// counter discontinuity.
func (s *system) restart() { s.boot.Store(s.table.Now().UnixNano()) }
