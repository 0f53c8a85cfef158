package snmpemu_test

import (
	"errors"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/rackwatch/rackwatch/edge/snmpemu"
)

func TestCounters(t *testing.T) {
	t.Parallel()
	clk := newClock()
	tb := snmpemu.NewTable(clk.Now)
	const c32, c64, g = "1.3.6.1.2.1.2.2.1.14.1", "1.3.6.1.2.1.31.1.1.1.6.1", "1.3.6.1.2.1.2.2.1.5.1"
	for oid, v := range map[string]snmpemu.Value{c32: snmpemu.Counter32(math.MaxUint32 - 5), c64: snmpemu.Counter64(0), g: snmpemu.Gauge32(10)} {
		if err := tb.Set(oid, v); err != nil {
			t.Fatal(err)
		}
	}
	read := func(oid string) any {
		v, ok := tb.Get(oid)
		if !ok {
			t.Fatalf("%s missing", oid)
		}
		return v.V
	}
	steps := []struct {
		name    string
		do      func() error
		advance time.Duration
		want32  uint32
		want64  uint64
	}{
		{"static", func() error { return nil }, time.Hour, math.MaxUint32 - 5, 0},
		{"ramp", func() error {
			return errors.Join(tb.SetCounterRate(c32, 2.5), tb.SetCounterRate(c64, 1e9))
		}, 4 * time.Second, 4, 4e9}, // 10 more wraps the Counter32 (RFC 2578 §7.1.6)
		{"step on a ramp", func() error { return tb.AddCounter(c64, 7) }, 0, 4, 4e9 + 7},
		{"partial seconds floor", func() error { return nil }, 300 * time.Millisecond, 4, 4.3e9 + 7},
		{"stop keeps the count", func() error {
			return errors.Join(tb.SetCounterRate(c32, 0), tb.SetCounterRate(c64, 0))
		}, time.Hour, 4, 4.3e9 + 7},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		clk.Add(s.advance)
		if got := read(c32); got != s.want32 {
			t.Errorf("%s: Counter32 %v, want %v", s.name, got, s.want32)
		}
		if got := read(c64); got != s.want64 {
			t.Errorf("%s: Counter64 %v, want %v", s.name, got, s.want64)
		}
	}
	for _, err := range []error{
		tb.AddCounter(g, 1),
		tb.SetCounterRate(g, 1),
		tb.SetCounterRate(c32, -1),
		tb.SetCounterRate(c32, math.Inf(1)),
	} {
		if err == nil {
			t.Error("a non-counter or a bad rate was accepted")
		}
	}
	if err := tb.AddCounter("1.3.6.1.9", 1); !errors.Is(err, snmpemu.ErrNoSuchObject) {
		t.Errorf("absent counter: %v", err)
	}
}

func TestTableValues(t *testing.T) {
	t.Parallel()
	tb := snmpemu.NewTable(nil)
	for _, bad := range []struct {
		oid string
		v   snmpemu.Value
	}{
		{"", snmpemu.Integer(1)},
		{"1.3.x", snmpemu.Integer(1)},
		{"1.3.4294967296", snmpemu.Integer(1)},
		{"1.3.6", snmpemu.Integer(math.MaxInt32 + 1)},
		{"1.3.6", snmpemu.Value{Type: gosnmp.Counter32, V: 5}},
		{"1.3.6", snmpemu.ObjectIdentifier("not.an.oid")},
		{"1.3.6", snmpemu.IPAddress("::1")},
		{"1.3.6", snmpemu.Value{Type: gosnmp.Null}},
	} {
		if err := tb.Set(bad.oid, bad.v); err == nil {
			t.Errorf("Set(%q, %+v) accepted", bad.oid, bad.v)
		}
	}
	if tb.Len() != 0 {
		t.Errorf("%d entries after refusals", tb.Len())
	}
	// Instances sort by sub-identifier, not as text.
	for _, o := range []string{"1.3.6.1.10", "1.3.6.1.9", "1.3.6.1.9.1", ".1.3.6.1.2"} {
		if err := tb.Set(o, snmpemu.Integer(1)); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{".1.3.6.1.2", ".1.3.6.1.9", ".1.3.6.1.9.1", ".1.3.6.1.10"}
	if got := tb.OIDs(); len(got) != 4 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
		t.Errorf("order %v, want %v", got, want)
	}
	if !tb.Delete("1.3.6.1.9") || tb.Delete("1.3.6.1.9") || tb.Len() != 3 {
		t.Error("delete")
	}
	n := 0
	if err := tb.SetFunc("1.3.6.1.9", func(time.Time) snmpemu.Value { n++; return snmpemu.Gauge32(uint32(n)) }); err != nil {
		t.Fatal(err)
	}
	tb.Get("1.3.6.1.9")
	if v, _ := tb.Get("1.3.6.1.9"); v.V != uint32(2) {
		t.Errorf("function read twice: %v", v.V)
	}
}

// A value function that returns what cannot be encoded costs its request
// a genErr, not the agent.
func TestBadFunctionValue(t *testing.T) {
	t.Parallel()
	tb := snmpemu.NewTable(nil)
	tb.SetFunc("1.3.6.1.2.1.1.3.0", func(time.Time) snmpemu.Value { return snmpemu.Value{Type: gosnmp.TimeTicks, V: "soon"} })
	a := start(t, snmpemu.Opts{Table: tb})
	r, err := client(t, a, gosnmp.Version2c, "public").Get([]string{".1.3.6.1.2.1.1.3.0"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Error != gosnmp.GenErr || r.ErrorIndex != 1 {
		t.Errorf("%v %d, want genErr 1", r.Error, r.ErrorIndex)
	}
}

// Close stops every goroutine the agent started (not parallel: it counts
// the process's goroutines).
func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	a, err := snmpemu.Start(t.Context(), &snmpemu.Opts{Table: snmpemu.NewTable(nil), Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	if runtime.NumGoroutine() < before+4 {
		t.Fatalf("%d goroutines after start, %d before", runtime.NumGoroutine(), before)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after close, %d before", n, before)
	}
}

// A value function that panics costs its request, not the agent nor the
// table's lock.
func TestPanickingFunction(t *testing.T) {
	t.Parallel()
	tb := snmpemu.NewTable(nil)
	tb.SetFunc("1.3.6.1.2.1.1.3.0", func(time.Time) snmpemu.Value { panic("model bug") })
	tb.Set("1.3.6.1.2.1.1.5.0", snmpemu.OctetString("sw"))
	a := start(t, snmpemu.Opts{Table: tb, Workers: 1})
	g := client(t, a, gosnmp.Version2c, "public")
	g.Timeout = 200 * time.Millisecond
	if _, err := g.Get([]string{".1.3.6.1.2.1.1.3.0"}); err == nil {
		t.Error("a panicking value was answered")
	}
	if err := tb.Set("1.3.6.1.2.1.1.6.0", snmpemu.OctetString("rack 2")); err != nil {
		t.Fatal(err)
	}
	r, err := g.Get([]string{".1.3.6.1.2.1.1.6.0"})
	if err != nil || len(r.Variables) != 1 || string(r.Variables[0].Value.([]byte)) != "rack 2" {
		t.Fatalf("after a panic: %v %v", r, err)
	}
	if st := a.Stats(); st.Panics != 1 {
		t.Errorf("panics %d, want 1", st.Panics)
	}
}
