package snmpemu

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/gosnmp/gosnmp"
)

// Value is the value of one object instance, in gosnmp's representation so
// that it goes on the wire unchanged: V is an int for Integer; a uint32
// for Counter32, Gauge32 and TimeTicks; a uint64 for Counter64; a []byte
// for OctetString and Opaque; a dotted string for ObjectIdentifier and for
// IPAddress (IPv4 only, RFC 2578 §7.1.5). Build values with the
// constructors below.
type Value struct {
	Type gosnmp.Asn1BER
	V    any
}

// Value constructors, one per SMIv2 base type (RFC 2578 §7.1).
func Integer(v int) Value             { return Value{gosnmp.Integer, v} }
func Counter32(v uint32) Value        { return Value{gosnmp.Counter32, v} }
func Counter64(v uint64) Value        { return Value{gosnmp.Counter64, v} }
func Gauge32(v uint32) Value          { return Value{gosnmp.Gauge32, v} }
func TimeTicks(v uint32) Value        { return Value{gosnmp.TimeTicks, v} }
func OctetString(s string) Value      { return Value{gosnmp.OctetString, []byte(s)} }
func Bytes(b []byte) Value            { return Value{gosnmp.OctetString, slices.Clone(b)} }
func ObjectIdentifier(s string) Value { return Value{gosnmp.ObjectIdentifier, s} }
func IPAddress(s string) Value        { return Value{gosnmp.IPAddress, s} }

// Int returns an Integer, Counter or Gauge value as an int64, for tests
// and models that read back what they wrote.
func (v Value) Int() (int64, bool) {
	switch x := v.V.(type) {
	case int:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	}
	return 0, false
}

// check reports whether gosnmp can encode v, so that a bad value fails
// where it is set rather than in a response.
func (v Value) check() error {
	ok := false
	switch v.Type {
	case gosnmp.Integer:
		x, isInt := v.V.(int)
		ok = isInt && x >= math.MinInt32 && x <= math.MaxInt32
	case gosnmp.Counter32, gosnmp.Gauge32, gosnmp.TimeTicks:
		_, ok = v.V.(uint32)
	case gosnmp.Counter64:
		_, ok = v.V.(uint64)
	case gosnmp.OctetString, gosnmp.Opaque:
		_, ok = v.V.([]byte)
	case gosnmp.ObjectIdentifier:
		s, isStr := v.V.(string)
		if isStr {
			_, err := parseOID(s)
			ok = err == nil
		}
	case gosnmp.IPAddress:
		s, isStr := v.V.(string)
		if isStr {
			a, err := netip.ParseAddr(s)
			ok = err == nil && a.Is4()
		}
	default:
		return fmt.Errorf("snmpemu: unsupported type %v", v.Type)
	}
	if !ok {
		return fmt.Errorf("snmpemu: %v value %v (%T) not encodable", v.Type, v.V, v.V)
	}
	return nil
}

// ErrNoSuchObject is returned by the Table's mutators for an OID it does
// not hold.
var ErrNoSuchObject = errors.New("snmpemu: no such object")

// entry is one object instance.
type entry struct {
	oid  oid
	name string // oid.String(), kept for responses
	// objLen is the length of the object's OID: the instance minus its
	// index. The Table does not know MIBs and takes the last sub-identifier
	// as the index, which is exact for scalars and single-index tables.
	objLen int
	val    Value
	fn     func(now time.Time) Value

	// A counter ramp: the value at t is base + ⌊rate·(t − since)⌋, modulo
	// 2^32 for a Counter32.
	base  uint64
	rate  float64
	since time.Time
}

// value returns the entry's value at now.
func (e *entry) value(now time.Time) Value {
	if e.fn != nil {
		return e.fn(now)
	}
	switch e.val.Type {
	case gosnmp.Counter32:
		return Counter32(uint32(e.counter(now)))
	case gosnmp.Counter64:
		return Counter64(e.counter(now))
	}
	return e.val
}

func (e *entry) counter(now time.Time) uint64 {
	if e.rate == 0 {
		return e.base
	}
	d := now.Sub(e.since).Seconds()
	if d <= 0 {
		return e.base
	}
	return e.base + uint64(e.rate*d)
}

// Table is an in-memory MIB view: object instances sorted in OID order,
// which an Agent serves and models mutate while it runs. Counters can
// ramp at a rate, computed from elapsed time at read time, so that a
// poller sees exactly rate × interval whatever its timing. All methods are
// safe for concurrent use.
type Table struct {
	now func() time.Time

	mu      sync.RWMutex
	entries []*entry
}

// NewTable returns an empty table whose counter ramps and functions read
// the clock now (nil means time.Now).
func NewTable(now func() time.Time) *Table {
	if now == nil {
		now = time.Now
	}
	return &Table{now: now}
}

// Now returns the table's clock.
func (t *Table) Now() time.Time { return t.now() }

// find returns the position of o, or where it would go.
func (t *Table) find(o oid) (int, bool) {
	return slices.BinarySearchFunc(t.entries, o, func(e *entry, o oid) int { return e.oid.compare(o) })
}

// put inserts or replaces the entry at o; the caller holds mu.
func (t *Table) put(o oid, e *entry) {
	e.oid, e.name, e.objLen = o, o.String(), len(o)-1
	i, ok := t.find(o)
	if ok {
		t.entries[i] = e
		return
	}
	t.entries = slices.Insert(t.entries, i, e)
}

// Set stores v at the OID, replacing any value, counter ramp or function
// there.
func (t *Table) Set(oidText string, v Value) error {
	o, err := parseOID(oidText)
	if err != nil {
		return err
	}
	if err := v.check(); err != nil {
		return fmt.Errorf("snmpemu: set %s: %w", oidText, err)
	}
	e := &entry{val: v}
	switch x := v.V.(type) {
	case uint32:
		e.base = uint64(x)
	case uint64:
		e.base = x
	}
	t.mu.Lock()
	t.put(o, e)
	t.mu.Unlock()
	return nil
}

// SetFunc makes the value at the OID whatever f returns at the time of
// each read. f runs with the table's read lock held, so it must not call
// the table's methods; it may take its own locks. A value f returns that
// cannot be encoded answers genErr.
func (t *Table) SetFunc(oidText string, f func(now time.Time) Value) error {
	o, err := parseOID(oidText)
	if err != nil {
		return err
	}
	if f == nil {
		return fmt.Errorf("snmpemu: set %s: nil function", oidText)
	}
	t.mu.Lock()
	t.put(o, &entry{fn: f})
	t.mu.Unlock()
	return nil
}

// counterEntry returns the counter at the OID; the caller holds mu.
func (t *Table) counterEntry(oidText string) (*entry, error) {
	o, err := parseOID(oidText)
	if err != nil {
		return nil, err
	}
	i, ok := t.find(o)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNoSuchObject, oidText)
	}
	e := t.entries[i]
	if e.fn != nil || (e.val.Type != gosnmp.Counter32 && e.val.Type != gosnmp.Counter64) {
		return nil, fmt.Errorf("snmpemu: %s is not a counter", oidText)
	}
	return e, nil
}

// AddCounter adds delta to the Counter32 or Counter64 at the OID (a
// Counter32 wraps modulo 2^32 when read, RFC 2578 §7.1.6).
func (t *Table) AddCounter(oidText string, delta uint64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, err := t.counterEntry(oidText)
	if err != nil {
		return err
	}
	e.base += delta
	return nil
}

// SetCounterRate makes the counter at the OID grow by perSecond from now
// on, by the table's clock (0 stops it). What it counted so far is kept.
func (t *Table) SetCounterRate(oidText string, perSecond float64) error {
	if perSecond < 0 || math.IsNaN(perSecond) || math.IsInf(perSecond, 0) {
		return fmt.Errorf("snmpemu: counter rate %v: counters only grow", perSecond)
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e, err := t.counterEntry(oidText)
	if err != nil {
		return err
	}
	e.base, e.since, e.rate = e.counter(now), now, perSecond
	return nil
}

// Get returns the value at the OID now.
func (t *Table) Get(oidText string) (Value, bool) {
	o, err := parseOID(oidText)
	if err != nil {
		return Value{}, false
	}
	now := t.now()
	t.mu.RLock()
	defer t.mu.RUnlock()
	i, ok := t.find(o)
	if !ok {
		return Value{}, false
	}
	return t.entries[i].value(now), true
}

// Delete removes the instance at the OID and reports whether it was there.
func (t *Table) Delete(oidText string) bool {
	o, err := parseOID(oidText)
	if err != nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	i, ok := t.find(o)
	if ok {
		t.entries = slices.Delete(t.entries, i, i+1)
	}
	return ok
}

// Len returns the number of instances.
func (t *Table) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.entries)
}

// OIDs returns the instances' OIDs in order, with a leading dot.
func (t *Table) OIDs() []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]string, len(t.entries))
	for i, e := range t.entries {
		out[i] = e.name
	}
	return out
}

// The lookups below are the agent's; the caller holds mu for reading.

// exact returns the entry at o, or nil.
func (t *Table) exact(o oid) *entry {
	if i, ok := t.find(o); ok {
		return t.entries[i]
	}
	return nil
}

// isInstanceOf reports whether o names an instance of an object the table
// has (noSuchInstance rather than noSuchObject, RFC 3416 §4.2.1): all the
// instances of an object sort together, so only o's neighbours can be.
func (t *Table) isInstanceOf(o oid) bool {
	i, _ := t.find(o)
	for _, j := range []int{i - 1, i} {
		if j >= 0 && j < len(t.entries) {
			e := t.entries[j]
			if o.hasPrefix(e.oid[:e.objLen]) {
				return true
			}
		}
	}
	return false
}

// next returns the position of the first entry after o (strictly), or
// len(entries).
func (t *Table) next(o oid) int {
	i, ok := t.find(o)
	if ok {
		i++
	}
	return i
}
