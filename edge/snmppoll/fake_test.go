package snmppoll

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/rackwatch/rackwatch/edge/sample"
)

// fakeAgent is a map-driven snmpClient: it answers GET, GETNEXT and GETBULK
// from the PDUs it holds, in OID order, as an agent would (RFC 3416 §4.2),
// and records what was asked.
type fakeAgent struct {
	mu   sync.Mutex
	pdus []gosnmp.SnmpPDU // sorted by OID
	// v1 answers as an SNMPv1 agent: noSuchName errors instead of
	// exception values.
	v1 bool
	// maxVarbinds truncates GETBULK answers, as an agent does when the
	// message would be too large; 0 means no limit.
	maxVarbinds int
	// errFor makes any request that asks for an OID under a key fail; "*"
	// matches every request.
	errFor map[string]error
	// onRequest runs before each request is answered.
	onRequest func(kind string, oids []string)

	connects, closes int
	requests         []string // "get|next|bulk OID,OID,..."
}

func newFakeAgent(pdus ...gosnmp.SnmpPDU) *fakeAgent {
	f := &fakeAgent{errFor: map[string]error{}}
	f.set(systemPDUs("1.3.6.1.4.1.99999", "test agent", 100000)...)
	f.set(pdus...)
	return f
}

// systemPDUs are the SNMPv2-MIB system objects every poll reads.
func systemPDUs(objectID, descr string, uptime uint32) []gosnmp.SnmpPDU {
	return []gosnmp.SnmpPDU{
		octets("1.3.6.1.2.1.1.1.0", descr),
		{Name: ".1.3.6.1.2.1.1.2.0", Type: gosnmp.ObjectIdentifier, Value: "." + objectID},
		timeticks("1.3.6.1.2.1.1.3.0", uptime),
	}
}

// set adds or replaces PDUs.
func (f *fakeAgent) set(pdus ...gosnmp.SnmpPDU) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range pdus {
		i, found := slices.BinarySearchFunc(f.pdus, p.Name, func(e gosnmp.SnmpPDU, name string) int { return compareOID(e.Name, name) })
		if found {
			f.pdus[i] = p
		} else {
			f.pdus = slices.Insert(f.pdus, i, p)
		}
	}
}

// remove drops every PDU at or under any of the given OIDs.
func (f *fakeAgent) remove(oids ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pdus = slices.DeleteFunc(f.pdus, func(p gosnmp.SnmpPDU) bool {
		for _, o := range oids {
			if p.Name == "."+o || strings.HasPrefix(p.Name, "."+o+".") {
				return true
			}
		}
		return false
	})
}

func (f *fakeAgent) Connect() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.connects++
	return nil
}

func (f *fakeAgent) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closes++
	return nil
}

// begin records a request and returns the error it must fail with.
func (f *fakeAgent) begin(kind string, oids []string) error {
	if hook := f.hook(); hook != nil {
		hook(kind, oids)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, kind+" "+strings.Join(oids, ","))
	if err := f.errFor["*"]; err != nil {
		return err
	}
	for _, o := range oids {
		for k, err := range f.errFor {
			if k != "*" && (dotted(o) == "."+k || strings.HasPrefix(dotted(o), "."+k+".")) {
				return err
			}
		}
	}
	return nil
}

func (f *fakeAgent) hook() func(string, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.onRequest
}

func (f *fakeAgent) Get(oids []string) (*gosnmp.SnmpPacket, error) {
	if err := f.begin("get", oids); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	pkt := &gosnmp.SnmpPacket{PDUType: gosnmp.GetResponse}
	for i, o := range oids {
		j, found := slices.BinarySearchFunc(f.pdus, o, func(e gosnmp.SnmpPDU, name string) int { return compareOID(e.Name, name) })
		switch {
		case found:
			pkt.Variables = append(pkt.Variables, f.pdus[j])
		case f.v1:
			return &gosnmp.SnmpPacket{PDUType: gosnmp.GetResponse, Error: gosnmp.NoSuchName, ErrorIndex: uint8(i + 1)}, nil
		default:
			pkt.Variables = append(pkt.Variables, gosnmp.SnmpPDU{Name: dotted(o), Type: gosnmp.NoSuchObject})
		}
	}
	return pkt, nil
}

// next returns the first PDU after oid, or false at the end of the MIB.
func (f *fakeAgent) next(oid string) (gosnmp.SnmpPDU, bool) {
	j, found := slices.BinarySearchFunc(f.pdus, oid, func(e gosnmp.SnmpPDU, name string) int { return compareOID(e.Name, name) })
	if found {
		j++
	}
	if j >= len(f.pdus) {
		return gosnmp.SnmpPDU{}, false
	}
	return f.pdus[j], true
}

func (f *fakeAgent) GetNext(oids []string) (*gosnmp.SnmpPacket, error) {
	if err := f.begin("next", oids); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	pkt := &gosnmp.SnmpPacket{PDUType: gosnmp.GetResponse}
	for i, o := range oids {
		p, ok := f.next(o)
		switch {
		case ok:
			pkt.Variables = append(pkt.Variables, p)
		case f.v1:
			return &gosnmp.SnmpPacket{PDUType: gosnmp.GetResponse, Error: gosnmp.NoSuchName, ErrorIndex: uint8(i + 1)}, nil
		default:
			pkt.Variables = append(pkt.Variables, gosnmp.SnmpPDU{Name: dotted(o), Type: gosnmp.EndOfMibView})
		}
	}
	return pkt, nil
}

func (f *fakeAgent) GetBulk(oids []string, nonRepeaters uint8, maxRepetitions uint32) (*gosnmp.SnmpPacket, error) {
	if err := f.begin("bulk", oids); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.v1 {
		return nil, fmt.Errorf("fake: GETBULK to an SNMPv1 agent")
	}
	pkt := &gosnmp.SnmpPacket{PDUType: gosnmp.GetResponse}
	cur := slices.Clone(oids[nonRepeaters:])
	for range maxRepetitions {
		for i, o := range cur {
			if f.maxVarbinds > 0 && len(pkt.Variables) >= f.maxVarbinds {
				return pkt, nil
			}
			p, ok := f.next(o)
			if !ok {
				p = gosnmp.SnmpPDU{Name: dotted(o), Type: gosnmp.EndOfMibView}
			}
			pkt.Variables = append(pkt.Variables, p)
			cur[i] = p.Name
		}
	}
	return pkt, nil
}

func (f *fakeAgent) requestLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

func (f *fakeAgent) resetLog() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = nil
}

// PDU builders, with values typed as gosnmp decodes them off the wire.
func octets(oid, s string) gosnmp.SnmpPDU {
	return gosnmp.SnmpPDU{Name: "." + oid, Type: gosnmp.OctetString, Value: []byte(s)}
}
func intPDU(oid string, v int) gosnmp.SnmpPDU {
	return gosnmp.SnmpPDU{Name: "." + oid, Type: gosnmp.Integer, Value: v}
}
func counter32(oid string, v uint) gosnmp.SnmpPDU {
	return gosnmp.SnmpPDU{Name: "." + oid, Type: gosnmp.Counter32, Value: v}
}
func counter64(oid string, v uint64) gosnmp.SnmpPDU {
	return gosnmp.SnmpPDU{Name: "." + oid, Type: gosnmp.Counter64, Value: v}
}
func gauge32(oid string, v uint) gosnmp.SnmpPDU {
	return gosnmp.SnmpPDU{Name: "." + oid, Type: gosnmp.Gauge32, Value: v}
}
func timeticks(oid string, v uint32) gosnmp.SnmpPDU {
	return gosnmp.SnmpPDU{Name: "." + oid, Type: gosnmp.TimeTicks, Value: v}
}

// IF-MIB (RFC 2863) and EtherLike-MIB (RFC 3635) columns, as the if-mib
// profile names them.
const (
	oidIfDescr       = "1.3.6.1.2.1.2.2.1.2"
	oidIfOperStatus  = "1.3.6.1.2.1.2.2.1.8"
	oidIfLastChange  = "1.3.6.1.2.1.2.2.1.9"
	oidIfInOctets    = "1.3.6.1.2.1.2.2.1.10"
	oidIfInDiscards  = "1.3.6.1.2.1.2.2.1.13"
	oidIfInErrors    = "1.3.6.1.2.1.2.2.1.14"
	oidIfOutOctets   = "1.3.6.1.2.1.2.2.1.16"
	oidIfOutDiscards = "1.3.6.1.2.1.2.2.1.19"
	oidIfOutErrors   = "1.3.6.1.2.1.2.2.1.20"
	oidIfName        = "1.3.6.1.2.1.31.1.1.1.1"
	oidIfHCInOctets  = "1.3.6.1.2.1.31.1.1.1.6"
	oidIfHCOutOctets = "1.3.6.1.2.1.31.1.1.1.10"
	oidIfHighSpeed   = "1.3.6.1.2.1.31.1.1.1.15"
	oidIfDiscTime    = "1.3.6.1.2.1.31.1.1.1.19"
	oidDot3Align     = "1.3.6.1.2.1.10.7.2.1.2"
	oidDot3FCS       = "1.3.6.1.2.1.10.7.2.1.3"
	oidDot3HCAlign   = "1.3.6.1.2.1.10.7.11.1.1"
	oidDot3HCFCS     = "1.3.6.1.2.1.10.7.11.1.2"

	oidLmTempDevice = "1.3.6.1.4.1.2021.13.16.2.1.2"
	oidLmTempValue  = "1.3.6.1.4.1.2021.13.16.2.1.3"

	oidDracStatus  = "1.3.6.1.4.1.674.10892.5.4.700.20.1.5"
	oidDracReading = "1.3.6.1.4.1.674.10892.5.4.700.20.1.6"
	oidDracName    = "1.3.6.1.4.1.674.10892.5.4.700.20.1.8"
	oidDracCrit    = "1.3.6.1.4.1.674.10892.5.4.700.20.1.10"
	oidDracWarn    = "1.3.6.1.4.1.674.10892.5.4.700.20.1.11"
)

// port describes one interface row for ifRows.
type port struct {
	index                      int
	descr, name                string // name "" means no ifXTable row
	up                         bool
	inErr, outErr, inDisc, fcs uint
	noFCS                      bool
}

func ifRows(ports ...port) []gosnmp.SnmpPDU {
	var out []gosnmp.SnmpPDU
	for _, p := range ports {
		ix := "." + strconv.Itoa(p.index)
		status := 2
		if p.up {
			status = 1
		}
		out = append(out,
			octets(oidIfDescr+ix, p.descr),
			intPDU(oidIfOperStatus+ix, status),
			counter32(oidIfInDiscards+ix, p.inDisc),
			counter32(oidIfInErrors+ix, p.inErr),
			counter32(oidIfOutErrors+ix, p.outErr),
		)
		if p.name != "" {
			out = append(out, octets(oidIfName+ix, p.name))
		}
		if !p.noFCS {
			out = append(out, counter32(oidDot3FCS+ix, p.fcs))
		}
	}
	return out
}

var testNow = time.Date(2025, 11, 26, 12, 0, 0, 0, time.UTC)

// testClock is a settable clock for Opts.Now.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newTestPoller returns a Poller on a fake agent with the built-in
// profiles; no profile names means autodetection.
func newTestPoller(t testing.TB, f *fakeAgent, version string, profiles ...string) *Poller {
	t.Helper()
	return newTestPollerOpts(t, f, &Opts{Version: version, Profiles: profiles, Now: func() time.Time { return testNow }})
}

func newTestPollerOpts(t testing.TB, f *fakeAgent, o *Opts) *Poller {
	t.Helper()
	set, err := loadSet(o.ProfileDirs)
	if err != nil {
		t.Fatal(err)
	}
	if o.Name == "" {
		o.Name, o.Address = "tor1", "127.0.0.1:1161"
	}
	p, err := newPoller(o, f, set)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// render writes samples one per line, in order, so a diff is readable.
func render(ss []sample.Sample) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%s %s %s %s", s.Series(), s.Value.Kind(), s.Value, s.Unit)
	}
	return out
}
