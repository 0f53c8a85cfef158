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

// fakeAgent is a map-driven snmpClient: it serves the PDUs it holds in OID
// order, as an agent would, and records what was asked.
type fakeAgent struct {
	mu   sync.Mutex
	pdus []gosnmp.SnmpPDU // sorted by OID
	// errFor makes the walk of a root fail.
	errFor map[string]error
	// onPDU runs before each PDU is handed to the walk function.
	onPDU func(gosnmp.SnmpPDU)

	connects, closes int
	walks            []string // "bulk ROOT" or "next ROOT"
}

func newFakeAgent(pdus ...gosnmp.SnmpPDU) *fakeAgent {
	f := &fakeAgent{errFor: map[string]error{}}
	f.set(pdus...)
	return f
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

// remove drops every PDU under any of the given OIDs.
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

func (f *fakeAgent) BulkWalk(root string, fn gosnmp.WalkFunc) error { return f.walk("bulk", root, fn) }
func (f *fakeAgent) Walk(root string, fn gosnmp.WalkFunc) error     { return f.walk("next", root, fn) }

func (f *fakeAgent) walk(kind, root string, fn gosnmp.WalkFunc) error {
	f.mu.Lock()
	f.walks = append(f.walks, kind+" "+root)
	err := f.errFor[root]
	if err == nil {
		err = f.errFor["*"]
	}
	var todo []gosnmp.SnmpPDU
	for _, p := range f.pdus {
		if strings.HasPrefix(p.Name, "."+root+".") {
			todo = append(todo, p)
		}
	}
	hook := f.onPDU
	f.mu.Unlock()
	if err != nil {
		return err
	}
	for _, p := range todo {
		if hook != nil {
			hook(p)
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeAgent) walked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.walks)
}

// compareOID orders dotted OIDs arc by arc, numerically.
func compareOID(a, b string) int {
	as := strings.Split(strings.TrimPrefix(a, "."), ".")
	bs := strings.Split(strings.TrimPrefix(b, "."), ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, _ := strconv.ParseUint(as[i], 10, 64)
		y, _ := strconv.ParseUint(bs[i], 10, 64)
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return len(as) - len(bs)
}

// PDU builders, with values typed as gosnmp decodes them off the wire.
func octets(oid, s string) gosnmp.SnmpPDU {
	return gosnmp.SnmpPDU{Name: "." + oid, Type: gosnmp.OctetString, Value: []byte(s)}
}
func integer(oid string, v int) gosnmp.SnmpPDU {
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
			octets(ifDescr.OID+ix, p.descr),
			integer(ifOperStatus.OID+ix, status),
			counter32(ifInDiscards.OID+ix, p.inDisc),
			counter32(ifInErrors.OID+ix, p.inErr),
			counter32(ifOutErrors.OID+ix, p.outErr),
		)
		if p.name != "" {
			out = append(out, octets(ifName.OID+ix, p.name))
		}
		if !p.noFCS {
			out = append(out, counter32(dot3FCSErrors.OID+ix, p.fcs))
		}
	}
	return out
}

var testNow = time.Date(2025, 11, 26, 12, 0, 0, 0, time.UTC)

// newTestPoller returns a Poller on a fake agent.
func newTestPoller(t testing.TB, f *fakeAgent, version string, profiles ...string) *Poller {
	t.Helper()
	return newTestPollerProfiles(t, f, version, mustProfiles(t, profiles...)...)
}

func newTestPollerProfiles(t testing.TB, f *fakeAgent, version string, profiles ...Profile) *Poller {
	t.Helper()
	p, err := newPoller(&Opts{Name: "tor1", Address: "127.0.0.1:1161", Version: version, Now: func() time.Time { return testNow }}, f, profiles)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustProfiles(t testing.TB, names ...string) []Profile {
	t.Helper()
	ps, err := lookupProfiles(names)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// render writes samples one per line, in order, so a diff is readable.
func render(ss []sample.Sample) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%s %s %s %s", s.Series(), s.Value.Kind(), s.Value, s.Unit)
	}
	return out
}
