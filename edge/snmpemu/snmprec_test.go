package snmpemu_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/snmpemu"
)

func TestLoadSnmprec(t *testing.T) {
	t.Parallel()
	tb := snmpemu.NewTable(nil)
	n, err := tb.LoadSnmprec(strings.NewReader(`# comment
1.3.6.1.2.1.2.2.1.2.2|4|swp2
1.3.6.1.2.1.2.2.1.2.1|4x|73777031
1.3.6.1.2.1.4.20.1.1.10.0.0.1|64x|0a000001
1.3.6.1.2.1.4.20.1.1.10.0.0.2|64|10.0.0.2
1.3.6.1.2.1.2.2.1.14.1|65:numeric|rate=3,value=42
1.3.6.1.2.1.31.1.1.1.6.1|70|18446744073709551615
1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.674.10892.5
1.3.6.1.2.1.1.9.0|5|
`))
	if err != nil {
		t.Fatal(err)
	}
	if n != 7 {
		t.Errorf("loaded %d, want 7", n)
	}
	for oid, want := range map[string]string{
		"1.3.6.1.2.1.2.2.1.2.1":         "[115 119 112 49]",
		"1.3.6.1.2.1.4.20.1.1.10.0.0.1": "10.0.0.1",
		"1.3.6.1.2.1.4.20.1.1.10.0.0.2": "10.0.0.2",
		"1.3.6.1.2.1.2.2.1.14.1":        "42",
		"1.3.6.1.2.1.31.1.1.1.6.1":      "18446744073709551615",
	} {
		v, ok := tb.Get(oid)
		if !ok {
			t.Errorf("%s missing", oid)
			continue
		}
		if got := fmt.Sprint(v.V); got != want {
			t.Errorf("%s = %s, want %s", oid, got, want)
		}
	}
	if got := tb.OIDs(); got[0] != ".1.3.6.1.2.1.1.2.0" || got[1] != ".1.3.6.1.2.1.2.2.1.2.1" {
		t.Errorf("not in OID order: %v", got)
	}
	// Counters loaded from a recording ramp like any other.
	if err := tb.AddCounter("1.3.6.1.2.1.2.2.1.14.1", 8); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{
		"1.3.6|4",
		"1.3.x|4|a",
		"1.3.6|2|abc",
		"1.3.6|2|4294967296",
		"1.3.6|65:numeric|rate=3",
		"1.3.6|99|1",
		"1.3.6|4x|zz",
		"1.3.6|64|::1",
	} {
		if _, err := snmpemu.NewTable(nil).LoadSnmprec(strings.NewReader(bad + "\n")); err == nil {
			t.Errorf("%q loaded", bad)
		}
	}
}

// A real iDRAC recording served by the emulator is what the poller reads
// from the real device: the idrac profile, the recorded temperatures.
func TestRecordingPolled(t *testing.T) {
	t.Parallel()
	path := testrig.Recording(t, "drac_r640")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	clk := newClock()
	tb := snmpemu.NewTable(clk.Now)
	if _, err := tb.LoadSnmprec(f); err != nil {
		t.Fatal(err)
	}
	a := start(t, snmpemu.Opts{Table: tb, Community: "drac_r640"})
	p := pollerCommunity(t, a, clk, "2c", "drac_r640")
	got := poll(t, p)
	if !slices.Contains(p.ActiveProfiles(), "idrac") {
		t.Errorf("profiles %v lack idrac", p.ActiveProfiles())
	}
	expect(t, got, map[string]string{
		`temperature_celsius{sensor="CPU1 Temp"}`:               "55",
		`temperature_celsius{sensor="System Board Inlet Temp"}`: "25",
		`temperature_crit_celsius{sensor="CPU1 Temp"}`:          "98",
	})
}
