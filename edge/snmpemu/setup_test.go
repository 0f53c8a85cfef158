package snmpemu_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/snmpemu"
)

// newClock returns a fake clock for a model and a poller to share.
func newClock() *testrig.Clock { return testrig.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) }

// start serves t on a loopback port until the test ends.
func start(t testing.TB, opts snmpemu.Opts) *snmpemu.Agent {
	t.Helper()
	a, err := snmpemu.Start(t.Context(), &opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Error(err)
		}
	})
	return a
}

// newSwitch48 is a 48-port switch.
func newSwitch48(t testing.TB) *snmpemu.Switch {
	t.Helper()
	sw, err := snmpemu.NewSwitch(&snmpemu.SwitchOpts{Ports: 48})
	if err != nil {
		t.Fatal(err)
	}
	return sw
}

// client returns a connected gosnmp client of the agent.
func client(t *testing.T, a *snmpemu.Agent, version gosnmp.SnmpVersion, community string) *gosnmp.GoSNMP {
	t.Helper()
	host, port, err := net.SplitHostPort(a.Addr())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	g := &gosnmp.GoSNMP{Target: host, Port: uint16(p), Community: community, Version: version,
		Timeout: 2 * time.Second, Retries: 0, MaxOids: gosnmp.MaxOids, Context: context.Background()}
	if err := g.Connect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Conn.Close() })
	return g
}
