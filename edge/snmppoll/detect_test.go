package snmppoll

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

func TestAutodetect(t *testing.T) {
	t.Parallel()
	lm := []gosnmp.SnmpPDU{octets(oidLmTempDevice+".1", "Package id 0"), gauge32(oidLmTempValue+".1", 43000)}
	drac := []gosnmp.SnmpPDU{octets(oidDracName+".1.1", "CPU1 Temp"), intPDU(oidDracReading+".1.1", 550)}
	iface := ifRows(port{index: 1, descr: "eth0", name: "eth0", noFCS: true})
	for _, tt := range []struct {
		name     string
		objectID string
		descr    string
		pdus     []gosnmp.SnmpPDU
		profiles []string
		want     []string
	}{
		// By sysObjectID: the iDRAC profile even though its table is
		// empty; IF-MIB because ifTable exists.
		{"idrac by sysObjectID", "1.3.6.1.4.1.674.10892.5", "", iface, nil, []string{"idrac", "if-mib"}},
		{"idrac by its table", "1.3.6.1.4.1.8072.3.2.10", "Linux", drac, nil, []string{"idrac"}},
		{"net-snmp host", "1.3.6.1.4.1.8072.3.2.10", "Linux san01", slices.Concat(lm, iface), nil, []string{"if-mib", "lm-sensors"}},
		// A prefix matches at arc boundaries only.
		{"prefix at arcs", "1.3.6.1.4.1.2320", "", iface, nil, []string{"if-mib"}},
		{"auto and a named profile", "1.3.6.1.4.1.8072.3.2.10", "", lm, []string{"lldp", "auto"}, []string{"lldp", "lm-sensors"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAgent(tt.pdus...)
			f.set(systemPDUs(tt.objectID, tt.descr, 1000)...)
			p := newTestPoller(t, f, "2c", tt.profiles...)
			_, err := p.Poll(context.Background())
			if err != nil && !errors.Is(err, ErrNoData) {
				t.Fatal(err)
			}
			if got := p.ActiveProfiles(); !slices.Equal(got, tt.want) {
				t.Errorf("profiles %v, want %v", got, tt.want)
			}
			// One GET for the system group, one request probing every
			// profile that did not match by identity.
			log := f.requestLog()
			if len(log) < 2 || !strings.HasPrefix(log[0], "get ") || !strings.HasPrefix(log[1], "bulk ") ||
				!strings.Contains(log[1], ".1.3.6.1.2.1.2.2.1,") || strings.Contains(log[1], ".1.3.6.1.4.1.674.10892.5.4.700.20.1") != !strings.HasPrefix(tt.objectID, "1.3.6.1.4.1.674.10892.5") {
				t.Errorf("requests %q", log)
			}
		})
	}
}

func TestAutodetectNothing(t *testing.T) {
	t.Parallel()
	t.Run("unknown agent", func(t *testing.T) {
		t.Parallel()
		f := newFakeAgent()
		f.set(systemPDUs("1.3.6.1.4.1.99999.1", "Toaster 2000", 1000)...)
		p := newTestPoller(t, f, "2c")
		ss, err := p.Poll(context.Background())
		if len(ss) != 0 || !errors.Is(err, ErrNoMatch) {
			t.Fatalf("poll: %v, %v; want ErrNoMatch", render(ss), err)
		}
		const want = `snmppoll: tor1 (127.0.0.1:1161): no profile matches the agent (sysObjectID .1.3.6.1.4.1.99999.1, sysDescr "Toaster 2000")`
		if err.Error() != want {
			t.Errorf("err = %q, want %q", err, want)
		}
	})
	// An agent that answers noSuchObject to every GET and endOfMibView to
	// every walk, in SNMPv2c, and noSuchName in SNMPv1.
	for _, v1 := range []bool{false, true} {
		name := "empty agent v2c"
		if v1 {
			name = "empty agent v1"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAgent()
			f.remove("1.3.6.1.2.1.1")
			f.v1 = v1
			version := "2c"
			if v1 {
				version = "1"
			}
			p := newTestPoller(t, f, version)
			ss, err := p.Poll(context.Background())
			if len(ss) != 0 || !errors.Is(err, ErrNoMatch) || !strings.Contains(err.Error(), `(sysObjectID absent, sysDescr "")`) {
				t.Fatalf("poll: %v, %v; want ErrNoMatch", render(ss), err)
			}
			// The explicit profiles say the same, differently.
			p = newTestPoller(t, f, version, "if-mib", "lm-sensors")
			ss, err = p.Poll(context.Background())
			if len(ss) != 0 || !errors.Is(err, ErrNoData) {
				t.Fatalf("poll: %v, %v; want ErrNoData", render(ss), err)
			}
		})
	}
}

func TestRedetect(t *testing.T) {
	t.Parallel()
	f := newFakeAgent(ifRows(port{index: 1, descr: "eth0", name: "eth0", noFCS: true})...)
	f.set(systemPDUs("1.3.6.1.4.1.8072.3.2.10", "Linux", 1000)...)
	clk := &testClock{t: testNow}
	p := newTestPollerOpts(t, f, &Opts{Now: clk.now})
	poll := func(step string, want ...string) {
		t.Helper()
		f.resetLog()
		if _, err := p.Poll(context.Background()); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if got := p.ActiveProfiles(); !slices.Equal(got, want) {
			t.Errorf("%s: profiles %v, want %v", step, got, want)
		}
	}
	probed := func() bool {
		for _, r := range f.requestLog() {
			if strings.Contains(r, ".1.3.6.1.2.1.2.2.1,") {
				return true
			}
		}
		return false
	}
	poll("first", "if-mib")
	clk.advance(time.Minute)
	f.set(timeticks("1.3.6.1.2.1.1.3.0", 7000))
	// lm-sensors appears, but nothing tells the poller to look.
	f.set(octets(oidLmTempDevice+".1", "temp1"), gauge32(oidLmTempValue+".1", 40000))
	poll("steady", "if-mib")
	if probed() {
		t.Error("steady poll probed the profiles")
	}
	// A restart (sysUpTime went back) is a reason to look again.
	clk.advance(time.Minute)
	f.set(timeticks("1.3.6.1.2.1.1.3.0", 500))
	poll("after restart", "if-mib", "lm-sensors")
	// A new sysObjectID (firmware upgrade, another device at the address).
	clk.advance(time.Minute)
	f.set(systemPDUs("1.3.6.1.4.1.674.10892.5", "", 6500)...)
	poll("new sysObjectID", "idrac", "if-mib", "lm-sensors")
	// And once an hour regardless.
	f.remove("1.3.6.1.4.1.2021.13.16")
	clk.advance(30 * time.Minute)
	f.set(timeticks("1.3.6.1.2.1.1.3.0", 6500+180000))
	poll("half an hour", "idrac", "if-mib", "lm-sensors")
	clk.advance(31 * time.Minute)
	f.set(timeticks("1.3.6.1.2.1.1.3.0", 6500+366000))
	poll("an hour", "idrac", "if-mib")
	if !probed() {
		t.Error("hourly poll did not probe")
	}
}

// TestAutodetectSysDescr matches a profile by a regular expression on
// sysDescr, from a profile directory.
func TestAutodetectSysDescr(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeProfile(t, dir, "cumulus.yaml", `version: 1
name: cumulus-temps
match:
  sys_descr: ['^Cumulus-Linux \d']
tables:
  - name: t
    columns: [{name: n, oid: 1.3.6.1.4.1.40310.1.1.2}, {name: v, oid: 1.3.6.1.4.1.40310.1.1.3}]
    labels: [{name: sensor, from: n}]
    metrics: [{name: temperature_celsius, from: v, type: gauge}]
`)
	f := newFakeAgent(octets("1.3.6.1.4.1.40310.1.1.2.1", "asic"), intPDU("1.3.6.1.4.1.40310.1.1.3.1", 61))
	f.set(systemPDUs("1.3.6.1.4.1.40310", "Cumulus-Linux 5.9.2 (Linux Kernel 6.1.94-1+cl5.9.2u6)", 1000)...)
	p := newTestPollerOpts(t, f, &Opts{ProfileDirs: []string{dir}, Now: func() time.Time { return testNow }})
	got, err := p.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkSamples(t, got, []string{`temperature_celsius{sensor="asic"} float 61 celsius`})
	if ap := p.ActiveProfiles(); !slices.Equal(ap, []string{"cumulus-temps"}) {
		t.Errorf("profiles %v", ap)
	}
}
