package snmpemu_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/snmpemu"
)

// net-snmp's tools walk the emulated switch like a real agent: every
// instance, in order, with v1 GETNEXT, v2c GETNEXT and v2c GETBULK. They
// print "OID = TYPE: value" lines with -On (numeric names) and -m ""
// (no MIBs), and check ordering themselves (-Cc off).
func TestNetSNMPTools(t *testing.T) {
	t.Parallel()
	walk := testrig.Require(t, "snmpwalk", "snmp")
	bulk := testrig.Require(t, "snmpbulkwalk", "snmp")
	get := testrig.Require(t, "snmpget", "snmp")
	sw, err := snmpemu.NewSwitch(&snmpemu.SwitchOpts{Ports: 24})
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.SetNeighbor(2, snmpemu.Neighbor{SysName: "node2", PortID: "eth0"}); err != nil {
		t.Fatal(err)
	}
	a := start(t, snmpemu.Opts{Table: sw.Table()})
	all := sw.Table().OIDs()
	var v1 []string
	for _, o := range all {
		if v, _ := sw.Table().Get(o); v.Type.String() != "Counter64" {
			v1 = append(v1, o)
		}
	}
	for _, tt := range []struct {
		name string
		bin  string
		args []string
		want []string
	}{
		{"snmpwalk v1", walk, []string{"-v1"}, v1},
		{"snmpwalk v2c", walk, []string{"-v2c"}, all},
		{"snmpbulkwalk v2c", bulk, []string{"-v2c", "-Cr30"}, all},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append(tt.args, "-c", "public", "-On", "-m", "", "-t", "2", "-r", "0", "udp:"+a.Addr(), ".1")
			out, err := exec.CommandContext(t.Context(), tt.bin, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s %v: %v\n%s", tt.bin, args, err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			var got []string
			for _, l := range lines {
				if strings.Contains(l, "No more variables left in this MIB View") || l == "End of MIB" {
					continue // how net-snmp prints endOfMibView and v1's end
				}
				oid, _, _ := strings.Cut(l, " = ")
				got = append(got, oid)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d instances, want %d; output starts\n%s", len(got), len(tt.want), strings.Join(lines[:min(10, len(lines))], "\n"))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("instance %d: %s, want %s", i, got[i], tt.want[i])
				}
			}
			if !strings.Contains(string(out), `.1.0.8802.1.1.2.1.4.1.1.9.0.2.1 = STRING: "node2"`) {
				t.Errorf("no LLDP neighbour in the walk")
			}
		})
	}
	// A GET of an absent instance prints net-snmp's noSuchInstance text.
	out, err := exec.CommandContext(t.Context(), get, "-v2c", "-c", "public", "-On", "-m", "", "udp:"+a.Addr(),
		".1.3.6.1.2.1.2.2.1.2.99", ".1.3.6.1.2.1.2.2.1.8.1").CombinedOutput()
	if err != nil {
		t.Fatalf("snmpget: %v\n%s", err, out)
	}
	for _, want := range []string{"No Such Instance currently exists at this OID", ".1.3.6.1.2.1.2.2.1.8.1 = INTEGER: 1"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("snmpget output lacks %q:\n%s", want, out)
		}
	}
}
