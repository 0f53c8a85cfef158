package snmpemu

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gosnmp/gosnmp"
)

// IF-MIB (RFC 2863) ifTable and ifXTable, EtherLike-MIB (RFC 3635)
// dot3StatsTable, all indexed by ifIndex.
const (
	oidIfEntry  = ".1.3.6.1.2.1.2.2.1"
	oidIfXEntry = ".1.3.6.1.2.1.31.1.1.1"
	oidDot3     = ".1.3.6.1.2.1.10.7.2.1"

	colIfIndex       = oidIfEntry + ".1"
	colIfDescr       = oidIfEntry + ".2"
	colIfType        = oidIfEntry + ".3"
	colIfMtu         = oidIfEntry + ".4"
	colIfSpeed       = oidIfEntry + ".5"
	colIfAdminStatus = oidIfEntry + ".7"
	colIfOperStatus  = oidIfEntry + ".8"
	colIfLastChange  = oidIfEntry + ".9"
	colIfInOctets    = oidIfEntry + ".10"
	colIfInDiscards  = oidIfEntry + ".13"
	colIfInErrors    = oidIfEntry + ".14"
	colIfOutOctets   = oidIfEntry + ".16"
	colIfOutDiscards = oidIfEntry + ".19"
	colIfOutErrors   = oidIfEntry + ".20"

	colIfName                     = oidIfXEntry + ".1"
	colIfHCInOctets               = oidIfXEntry + ".6"
	colIfHCOutOctets              = oidIfXEntry + ".10"
	colIfHighSpeed                = oidIfXEntry + ".15"
	colIfAlias                    = oidIfXEntry + ".18"
	colIfCounterDiscontinuityTime = oidIfXEntry + ".19"

	colDot3StatsIndex           = oidDot3 + ".1"
	colDot3StatsAlignmentErrors = oidDot3 + ".2"
	colDot3StatsFCSErrors       = oidDot3 + ".3"

	// LLDP-MIB (IEEE 802.1AB-2005): lldpLocPortTable indexed by
	// lldpLocPortNum, lldpRemTable by timeMark.localPortNum.index.
	colLldpLocPortIDSubtype = ".1.0.8802.1.1.2.1.3.7.1.2"
	colLldpLocPortID        = ".1.0.8802.1.1.2.1.3.7.1.3"
	colLldpLocPortDesc      = ".1.0.8802.1.1.2.1.3.7.1.4"
	oidLldpRemEntry         = ".1.0.8802.1.1.2.1.4.1.1"

	// IF-MIB notifications (RFC 2863 §6).
	OIDLinkDown = ".1.3.6.1.6.3.1.1.5.3"
	OIDLinkUp   = ".1.3.6.1.6.3.1.1.5.4"
)

// ifOperStatus and ifAdminStatus values (RFC 2863).
const (
	ifUp   = 1
	ifDown = 2
)

// Switch defaults.
const (
	DefaultSwitchPorts    = 8
	DefaultSwitchSpeed    = 25_000 // Mbit/s
	DefaultPortOctetsRate = 1_250_000
	// switchObjectID is Cumulus Linux's sysObjectID (CUMULUS-SNMP-MIB);
	// the if-mib and lldp profiles match by the tables, not by it.
	switchObjectID = ".1.3.6.1.4.1.40310"
)

// ErrNoSuchPort is returned for a port the switch does not have.
var ErrNoSuchPort = errors.New("snmpemu: no such port")

// Notifier sends a notification; *Agent implements it. A model calls it
// after a change, never while holding its own lock.
type Notifier interface {
	Notify(trapOID string, vars ...gosnmp.SnmpPDU) error
}

// SwitchOpts configures NewSwitch.
type SwitchOpts struct {
	// Name is sysName.0; "switch" when empty.
	Name string
	// Ports is the number of Ethernet ports, ifIndex 1..Ports;
	// DefaultSwitchPorts when 0.
	Ports int
	// PortName names port i (1-based) in ifName and ifDescr and as its
	// LLDP port ID; "swp<i>" when nil, as on Cumulus Linux.
	PortName func(i int) string
	// SpeedMbps is every port's ifHighSpeed; DefaultSwitchSpeed when 0.
	SpeedMbps uint32
	// OctetsPerSecond is the traffic each port counts in and out while
	// up; DefaultPortOctetsRate when 0, none when negative.
	OctetsPerSecond float64
	// Now is the switch's clock: counter ramps and sysUpTime. nil means
	// time.Now.
	Now func() time.Time
}

// Neighbor is what LLDP heard on a port (lldpRemTable).
type Neighbor struct {
	SysName   string // lldpRemSysName
	PortID    string // lldpRemPortId, an interface name (subtype 5)
	ChassisID []byte // lldpRemChassisId, a MAC address (subtype 4)
}

// Switch is a top-of-rack switch: IF-MIB ifTable and ifXTable,
// EtherLike-MIB dot3StatsTable and LLDP-MIB, which edge/snmppoll's if-mib
// and lldp profiles read. Link state, error counters, CRC storms and LLDP
// neighbours change at run time; a Notifier, when set, receives linkDown
// and linkUp. All methods are safe for concurrent use.
type Switch struct {
	table *Table
	sys   *system
	ports int
	rate  float64

	mu       sync.Mutex
	up       []bool // by ifIndex-1
	notifier Notifier
}

// NewSwitch returns a switch with every port up.
func NewSwitch(opts *SwitchOpts) (*Switch, error) {
	var o SwitchOpts
	if opts != nil {
		o = *opts
	}
	if o.Name == "" {
		o.Name = "switch"
	}
	if o.Ports == 0 {
		o.Ports = DefaultSwitchPorts
	}
	if o.Ports < 0 || o.Ports > 4096 {
		return nil, fmt.Errorf("snmpemu: switch: %d ports", o.Ports)
	}
	if o.PortName == nil {
		o.PortName = func(i int) string { return fmt.Sprintf("swp%d", i) }
	}
	if o.SpeedMbps == 0 {
		o.SpeedMbps = DefaultSwitchSpeed
	}
	switch {
	case o.OctetsPerSecond == 0:
		o.OctetsPerSecond = DefaultPortOctetsRate
	case o.OctetsPerSecond < 0:
		o.OctetsPerSecond = 0
	}
	t := NewTable(o.Now)
	sys, err := newSystem(t, "Cumulus Linux 5.4.0 (Linux Kernel 5.10) emulated by rackwatch", switchObjectID, o.Name)
	if err != nil {
		return nil, err
	}
	s := &Switch{table: t, sys: sys, ports: o.Ports, rate: o.OctetsPerSecond, up: make([]bool, o.Ports)}
	for i := 1; i <= o.Ports; i++ {
		name := o.PortName(i)
		ix := fmt.Sprintf(".%d", i)
		speed := uint32(min(uint64(o.SpeedMbps)*1_000_000, 1<<32-1))
		for _, set := range []struct {
			col string
			v   Value
		}{
			{colIfIndex, Integer(i)},
			{colIfDescr, OctetString(name)},
			{colIfType, Integer(6)}, // ethernetCsmacd
			{colIfMtu, Integer(9216)},
			{colIfSpeed, Gauge32(speed)},
			{colIfAdminStatus, Integer(ifUp)},
			{colIfOperStatus, Integer(ifUp)},
			{colIfLastChange, TimeTicks(0)},
			{colIfInOctets, Counter32(0)},
			{colIfInDiscards, Counter32(0)},
			{colIfInErrors, Counter32(0)},
			{colIfOutOctets, Counter32(0)},
			{colIfOutDiscards, Counter32(0)},
			{colIfOutErrors, Counter32(0)},
			{colIfName, OctetString(name)},
			{colIfHCInOctets, Counter64(0)},
			{colIfHCOutOctets, Counter64(0)},
			{colIfHighSpeed, Gauge32(o.SpeedMbps)},
			{colIfAlias, OctetString("")},
			{colIfCounterDiscontinuityTime, TimeTicks(0)},
			{colDot3StatsIndex, Integer(i)},
			{colDot3StatsAlignmentErrors, Counter32(0)},
			{colDot3StatsFCSErrors, Counter32(0)},
			{colLldpLocPortIDSubtype, Integer(5)}, // interfaceName
			{colLldpLocPortID, OctetString(name)},
			{colLldpLocPortDesc, OctetString(name)},
		} {
			if err := t.Set(set.col+ix, set.v); err != nil {
				return nil, err
			}
		}
		s.up[i-1] = true
		if err := s.setTraffic(i, true); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Table returns the switch's MIB view, for an Agent.
func (s *Switch) Table() *Table { return s.table }

// SetNotifier sets where linkDown and linkUp go; nil sends none.
func (s *Switch) SetNotifier(n Notifier) {
	s.mu.Lock()
	s.notifier = n
	s.mu.Unlock()
}

func (s *Switch) check(port int) error {
	if port < 1 || port > s.ports {
		return fmt.Errorf("%w: %d (have 1..%d)", ErrNoSuchPort, port, s.ports)
	}
	return nil
}

// setTraffic starts or stops a port's octet counters.
func (s *Switch) setTraffic(port int, up bool) error {
	r := 0.0
	if up {
		r = s.rate
	}
	ix := fmt.Sprintf(".%d", port)
	for _, col := range []string{colIfInOctets, colIfOutOctets, colIfHCInOctets, colIfHCOutOctets} {
		if err := s.table.SetCounterRate(col+ix, r); err != nil {
			return err
		}
	}
	return nil
}

// SetLink sets a port's ifOperStatus to up or down, with ifLastChange,
// and sends linkUp or linkDown (RFC 2863 §6: ifIndex, ifAdminStatus,
// ifOperStatus) when the state changed. Traffic stops while the link is
// down. The error is the notifier's, after the change was made.
func (s *Switch) SetLink(port int, up bool) error {
	if err := s.check(port); err != nil {
		return err
	}
	ix := fmt.Sprintf(".%d", port)
	status := ifDown
	trap := OIDLinkDown
	if up {
		status, trap = ifUp, OIDLinkUp
	}
	// The table changes under the switch's lock so that concurrent calls
	// leave ifOperStatus agreeing with the state; the table never calls
	// back into the switch. The notifier runs outside it.
	s.mu.Lock()
	if s.up[port-1] == up {
		s.mu.Unlock()
		return nil
	}
	s.up[port-1] = up
	n := s.notifier
	err := errors.Join(
		s.table.Set(colIfOperStatus+ix, Integer(status)),
		s.table.Set(colIfLastChange+ix, TimeTicks(s.sys.uptime(s.table.Now()))),
		s.setTraffic(port, up),
	)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if n == nil {
		return nil
	}
	return n.Notify(trap,
		gosnmp.SnmpPDU{Name: colIfIndex + ix, Type: gosnmp.Integer, Value: port},
		gosnmp.SnmpPDU{Name: colIfAdminStatus + ix, Type: gosnmp.Integer, Value: ifUp},
		gosnmp.SnmpPDU{Name: colIfOperStatus + ix, Type: gosnmp.Integer, Value: status},
	)
}

// LinkUp reports a port's ifOperStatus.
func (s *Switch) LinkUp(port int) (bool, error) {
	if err := s.check(port); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.up[port-1], nil
}

// Errors are increments of a port's error counters.
type Errors struct {
	In, Out, InDiscards, OutDiscards uint64 // ifInErrors, ifOutErrors, ifInDiscards, ifOutDiscards
	// FCS counts frames with a bad checksum: dot3StatsFCSErrors, and
	// ifInErrors too, as RFC 3635 §3.2.7 says they are input errors.
	FCS uint64
}

// AddErrors adds to a port's error counters.
func (s *Switch) AddErrors(port int, e Errors) error {
	if err := s.check(port); err != nil {
		return err
	}
	ix := fmt.Sprintf(".%d", port)
	for _, c := range []struct {
		col string
		n   uint64
	}{
		{colIfInErrors, e.In + e.FCS},
		{colIfOutErrors, e.Out},
		{colIfInDiscards, e.InDiscards},
		{colIfOutDiscards, e.OutDiscards},
		{colDot3StatsFCSErrors, e.FCS},
	} {
		if c.n == 0 {
			continue
		}
		if err := s.table.AddCounter(c.col+ix, c.n); err != nil {
			return err
		}
	}
	return nil
}

// CRCStorm makes a port count perSecond FCS errors, in dot3StatsFCSErrors
// and ifInErrors, from now on by the switch's clock; 0 ends the storm. The
// counters are computed from elapsed time when read, so a poller's rate is
// exactly perSecond whatever its timing.
func (s *Switch) CRCStorm(port int, perSecond float64) error {
	if err := s.check(port); err != nil {
		return err
	}
	ix := fmt.Sprintf(".%d", port)
	for _, col := range []string{colDot3StatsFCSErrors, colIfInErrors} {
		if err := s.table.SetCounterRate(col+ix, perSecond); err != nil {
			return fmt.Errorf("snmpemu: crc storm on port %d: %w", port, err)
		}
	}
	return nil
}

// SetNeighbor sets the LLDP neighbour heard on a port; a zero Neighbor
// removes it.
func (s *Switch) SetNeighbor(port int, n Neighbor) error {
	if err := s.check(port); err != nil {
		return err
	}
	// lldpRemTimeMark 0, lldpRemIndex 1: one neighbour per port.
	ix := fmt.Sprintf(".0.%d.1", port)
	cols := []struct {
		col int
		v   Value
	}{
		{4, Integer(4)}, // chassis ID subtype macAddress
		{5, Bytes(n.ChassisID)},
		{6, Integer(5)}, // port ID subtype interfaceName
		{7, OctetString(n.PortID)},
		{8, OctetString(n.PortID)},
		{9, OctetString(n.SysName)},
	}
	for _, c := range cols {
		o := fmt.Sprintf("%s.%d%s", oidLldpRemEntry, c.col, ix)
		if n.SysName == "" && n.PortID == "" && len(n.ChassisID) == 0 {
			s.table.Delete(o)
			continue
		}
		if err := s.table.Set(o, c.v); err != nil {
			return err
		}
	}
	return nil
}

// Restart makes the switch look rebooted: sysUpTime starts again from 0,
// which pollers take as a discontinuity of every counter.
func (s *Switch) Restart() { s.sys.restart() }
