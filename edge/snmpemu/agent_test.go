package snmpemu_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/rackwatch/rackwatch/edge/snmpemu"
)

// smallTable has a scalar, a two-row column and a Counter64.
func smallTable(t *testing.T) *snmpemu.Table {
	t.Helper()
	tb := snmpemu.NewTable(nil)
	for oid, v := range map[string]snmpemu.Value{
		"1.3.6.1.2.1.1.1.0":        snmpemu.OctetString("emulated"),
		"1.3.6.1.2.1.2.2.1.2.1":    snmpemu.OctetString("swp1"),
		"1.3.6.1.2.1.2.2.1.2.2":    snmpemu.OctetString("swp2"),
		"1.3.6.1.2.1.2.2.1.14.1":   snmpemu.Counter32(7),
		"1.3.6.1.2.1.31.1.1.1.6.1": snmpemu.Counter64(1 << 40),
	} {
		if err := tb.Set(oid, v); err != nil {
			t.Fatal(err)
		}
	}
	return tb
}

func TestGet(t *testing.T) {
	t.Parallel()
	a := start(t, snmpemu.Opts{Table: smallTable(t)})
	tests := []struct {
		name    string
		version gosnmp.SnmpVersion
		oids    []string
		want    []gosnmp.SnmpPDU
		err     gosnmp.SNMPError
		index   uint8
	}{
		{
			name: "v2c values", version: gosnmp.Version2c,
			oids: []string{".1.3.6.1.2.1.1.1.0", ".1.3.6.1.2.1.2.2.1.14.1", ".1.3.6.1.2.1.31.1.1.1.6.1"},
			want: []gosnmp.SnmpPDU{
				{Name: ".1.3.6.1.2.1.1.1.0", Type: gosnmp.OctetString, Value: []byte("emulated")},
				{Name: ".1.3.6.1.2.1.2.2.1.14.1", Type: gosnmp.Counter32, Value: uint(7)},
				{Name: ".1.3.6.1.2.1.31.1.1.1.6.1", Type: gosnmp.Counter64, Value: uint64(1 << 40)},
			},
		},
		{
			// RFC 3416 §4.2.1: an instance of an object the agent has is
			// noSuchInstance; anything else noSuchObject.
			name: "v2c exceptions", version: gosnmp.Version2c,
			oids: []string{".1.3.6.1.2.1.2.2.1.2.9", ".1.3.6.1.2.1.2.2.1.99.1", ".1.3.6.1.2.1.1.1.0"},
			want: []gosnmp.SnmpPDU{
				{Name: ".1.3.6.1.2.1.2.2.1.2.9", Type: gosnmp.NoSuchInstance},
				{Name: ".1.3.6.1.2.1.2.2.1.99.1", Type: gosnmp.NoSuchObject},
				{Name: ".1.3.6.1.2.1.1.1.0", Type: gosnmp.OctetString, Value: []byte("emulated")},
			},
		},
		{
			name: "v1 noSuchName", version: gosnmp.Version1,
			oids:  []string{".1.3.6.1.2.1.1.1.0", ".1.3.6.1.2.1.2.2.1.2.9"},
			err:   gosnmp.NoSuchName,
			index: 2,
			want:  []gosnmp.SnmpPDU{{Name: ".1.3.6.1.2.1.1.1.0", Type: gosnmp.Null}, {Name: ".1.3.6.1.2.1.2.2.1.2.9", Type: gosnmp.Null}},
		},
		{
			// RFC 2576 §4.2.2.1: a Counter64 does not exist for SNMPv1.
			name: "v1 counter64", version: gosnmp.Version1,
			oids: []string{".1.3.6.1.2.1.31.1.1.1.6.1"}, err: gosnmp.NoSuchName, index: 1,
			want: []gosnmp.SnmpPDU{{Name: ".1.3.6.1.2.1.31.1.1.1.6.1", Type: gosnmp.Null}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := client(t, a, tt.version, "public")
			r, err := g.Get(tt.oids)
			if err != nil {
				t.Fatal(err)
			}
			if r.Error != tt.err || r.ErrorIndex != tt.index {
				t.Errorf("error %v index %d, want %v %d", r.Error, r.ErrorIndex, tt.err, tt.index)
			}
			if got := fmt.Sprint(r.Variables); got != fmt.Sprint(tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestGetNext(t *testing.T) {
	t.Parallel()
	a := start(t, snmpemu.Opts{Table: smallTable(t)})
	g := client(t, a, gosnmp.Version2c, "public")
	r, err := g.GetNext([]string{".1.3.6.1.2.1.2.2.1.2", ".1.3.6.1.2.1.2.2.1.2.2", ".1.3.6.1.2.1.31.1.1.1.6.1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []gosnmp.SnmpPDU{
		{Name: ".1.3.6.1.2.1.2.2.1.2.1", Type: gosnmp.OctetString, Value: []byte("swp1")},
		{Name: ".1.3.6.1.2.1.2.2.1.14.1", Type: gosnmp.Counter32, Value: uint(7)},
		{Name: ".1.3.6.1.2.1.31.1.1.1.6.1", Type: gosnmp.EndOfMibView},
	}
	if fmt.Sprint(r.Variables) != fmt.Sprint(want) {
		t.Errorf("got  %v\nwant %v", r.Variables, want)
	}

	// SNMPv1 skips the Counter64 and ends with noSuchName.
	g1 := client(t, a, gosnmp.Version1, "public")
	r, err = g1.GetNext([]string{".1.3.6.1.2.1.2.2.1.14.1"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Error != gosnmp.NoSuchName || r.ErrorIndex != 1 {
		t.Errorf("v1 past the last object: %v %d, want noSuchName 1", r.Error, r.ErrorIndex)
	}
}

func TestGetBulk(t *testing.T) {
	t.Parallel()
	a := start(t, snmpemu.Opts{Table: smallTable(t)})
	g := client(t, a, gosnmp.Version2c, "public")
	// One non-repeater, two repeaters, three repetitions (RFC 3416
	// §4.2.3): 1 + 2×3 bindings; the second repeater runs off the end and
	// repeats endOfMibView.
	r, err := g.GetBulk([]string{".1.3.6.1.2.1.1", ".1.3.6.1.2.1.2.2.1.2", ".1.3.6.1.2.1.2.2.1.14"}, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range r.Variables {
		got = append(got, fmt.Sprintf("%s %v", v.Name, v.Type))
	}
	want := []string{
		".1.3.6.1.2.1.1.1.0 OctetString",
		".1.3.6.1.2.1.2.2.1.2.1 OctetString", ".1.3.6.1.2.1.2.2.1.14.1 Counter32",
		".1.3.6.1.2.1.2.2.1.2.2 OctetString", ".1.3.6.1.2.1.31.1.1.1.6.1 Counter64",
		".1.3.6.1.2.1.2.2.1.14.1 Counter32", ".1.3.6.1.2.1.31.1.1.1.6.1 EndOfMibView",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}

	// A walk with gosnmp returns every instance in order.
	tb := smallTable(t)
	pdus, err := g.BulkWalkAll(".1.3")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pdus {
		names = append(names, p.Name)
	}
	if !slices.Equal(names, tb.OIDs()) {
		t.Errorf("walk %q\nwant %q", names, tb.OIDs())
	}
}

// A switch's whole view walked with GETBULK, GETNEXT (v2c) and GETNEXT
// (v1) gives the same instances, in order, but for v1's lack of Counter64.
func TestWalkSwitch(t *testing.T) {
	t.Parallel()
	sw := newSwitch48(t)
	a := start(t, snmpemu.Opts{Table: sw.Table()})
	all := sw.Table().OIDs()
	walk := func(g *gosnmp.GoSNMP, bulk bool) []string {
		var out []string
		f := g.WalkAll
		if bulk {
			f = g.BulkWalkAll
		}
		// gosnmp needs two sub-identifiers in a root; LLDP-MIB is
		// under 1.0, the rest under 1.3.
		for _, root := range []string{".1.0", ".1.3"} {
			pdus, err := f(root)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pdus {
				out = append(out, p.Name)
			}
		}
		return out
	}
	g := client(t, a, gosnmp.Version2c, "public")
	g.MaxRepetitions = 50
	if got := walk(g, true); !slices.Equal(got, all) {
		t.Errorf("bulk walk: %d instances, want %d", len(got), len(all))
	}
	if got := walk(g, false); !slices.Equal(got, all) {
		t.Errorf("getnext walk: %d instances, want %d", len(got), len(all))
	}
	var v1 []string
	for _, o := range all {
		if v, _ := sw.Table().Get(o); v.Type != gosnmp.Counter64 {
			v1 = append(v1, o)
		}
	}
	if got := walk(client(t, a, gosnmp.Version1, "public"), false); !slices.Equal(got, v1) {
		t.Errorf("v1 walk: %d instances, want %d", len(got), len(v1))
	}
}

// A GETBULK response that would exceed the message size is cut to fit
// (RFC 3416 §4.2.3); a GET response that would is tooBig.
func TestMessageSize(t *testing.T) {
	t.Parallel()
	sw := newSwitch48(t)
	a := start(t, snmpemu.Opts{Table: sw.Table(), MaxMessageSize: 484})
	g := client(t, a, gosnmp.Version2c, "public")
	r, err := g.GetBulk([]string{".1.3.6.1.2.1.2.2.1.2"}, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(r.Variables); n == 0 || n >= 48 {
		t.Errorf("bulk of 100 ifDescr in 484 bytes: %d bindings", n)
	}
	if st := a.Stats(); st.Truncated != 1 {
		t.Errorf("truncated %d, want 1", st.Truncated)
	}
	// The walk still completes, in more requests.
	pdus, err := g.BulkWalkAll(".1.3.6.1.2.1.2.2.1.2")
	if err != nil || len(pdus) != 48 {
		t.Errorf("walk: %d, %v", len(pdus), err)
	}
	var oids []string
	for i := 1; i <= 48; i++ {
		oids = append(oids, fmt.Sprintf(".1.3.6.1.2.1.2.2.1.2.%d", i))
	}
	g.MaxOids = 100
	r, err = g.Get(oids)
	if err != nil {
		t.Fatal(err)
	}
	if r.Error != gosnmp.TooBig || len(r.Variables) != 0 {
		t.Errorf("get of 48 names: %v with %d bindings, want tooBig with none", r.Error, len(r.Variables))
	}
}

func TestCommunityAndSet(t *testing.T) {
	t.Parallel()
	a := start(t, snmpemu.Opts{Table: smallTable(t), Community: "s3cret"})
	g := client(t, a, gosnmp.Version2c, "public")
	g.Timeout = 200 * time.Millisecond
	if _, err := g.Get([]string{".1.3.6.1.2.1.1.1.0"}); err == nil {
		t.Error("a wrong community was answered")
	}
	g = client(t, a, gosnmp.Version2c, "s3cret")
	r, err := g.Set([]gosnmp.SnmpPDU{{Name: ".1.3.6.1.2.1.1.1.0", Type: gosnmp.OctetString, Value: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Error != gosnmp.NoAccess {
		t.Errorf("set: %v, want noAccess", r.Error)
	}
	st := a.Stats()
	if st.BadCommunity != 1 || st.Answered != 1 || st.Received != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	for _, o := range []*snmpemu.Opts{
		nil,
		{},
		{Table: snmpemu.NewTable(nil), MaxMessageSize: 100},
		{Table: snmpemu.NewTable(nil), Addr: "256.0.0.1:0"},
		{Table: snmpemu.NewTable(nil), TrapAddr: "nowhere"},
	} {
		if a, err := snmpemu.Start(t.Context(), o); err == nil {
			a.Close()
			t.Errorf("Start(%+v) succeeded", o)
		}
	}
	a := start(t, snmpemu.Opts{Table: snmpemu.NewTable(nil)})
	if err := a.Notify(snmpemu.OIDLinkDown); !errors.Is(err, snmpemu.ErrNoTrapAddr) {
		t.Errorf("notify without address: %v", err)
	}
}
