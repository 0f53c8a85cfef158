package traps

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// These tests send with net-snmp's snmptrap and snmpinform (Debian package
// snmp), the reference implementation most switches interoperate with.

const (
	ifLinkDownArgs = "1.3.6.1.6.3.1.1.5.3"
	ifLinkUpArgs   = "1.3.6.1.6.3.1.1.5.4"
)

// linkArgs are the IF-MIB bindings of a link notification for ifIndex 3.
func linkArgs(admin, oper string) []string {
	return []string{
		"1.3.6.1.2.1.2.2.1.1.3", "i", "3",
		"1.3.6.1.2.1.2.2.1.7.3", "i", admin,
		"1.3.6.1.2.1.2.2.1.8.3", "i", oper,
	}
}

func args(parts ...any) []string {
	var out []string
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			out = append(out, v)
		case []string:
			out = append(out, v...)
		}
	}
	return out
}

func mustSend(t *testing.T, tool string, a []string) {
	t.Helper()
	if out, err := netSNMP(t, tool, a...); err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(a, " "), err, out)
	}
}

func TestNetSNMPv2cAndV1(t *testing.T) {
	r := startReceiver(t, Opts{
		Communities: []string{"public", "tor-secret"},
		Targets:     map[netip.Addr]string{netip.MustParseAddr("127.0.0.1"): "tor1"},
		OIDs:        []Notification{{OID: "1.3.6.1.4.1.8072.2.3.0.1", Name: "netSnmpExampleHeartbeat"}},
	})

	mustSend(t, "snmptrap", args("-v", "2c", "-c", "public", r.addr, "", ifLinkDownArgs, linkArgs("1", "2")))
	e := r.next(t)
	if e.Version.String() != "2c" || e.Community != "public" || e.Device != "tor1" || e.Name != NameLinkDown ||
		e.TrapOID != OIDLinkDown || e.IfIndex != 3 || ptr(e.AdminUp) != "true" || ptr(e.OperUp) != "false" || e.Count != 1 || e.Inform {
		t.Errorf("v2c linkDown: %+v", summarize(e))
	}
	if e.Peer.Addr() != netip.MustParseAddr("127.0.0.1") || e.Uptime <= 0 {
		t.Errorf("v2c linkDown: peer %v uptime %v", e.Peer, e.Uptime)
	}

	mustSend(t, "snmptrap", args("-v", "2c", "-c", "tor-secret", r.addr, "", ifLinkUpArgs, linkArgs("1", "1")))
	if e := r.next(t); e.Name != NameLinkUp || ptr(e.OperUp) != "true" || e.Community != "tor-secret" || e.Count != 1 {
		t.Errorf("v2c linkUp: %+v", summarize(e))
	}

	// v1: enterprise, agent-addr, generic-trap 2 (linkDown), specific 0,
	// uptime (empty: the tool's own).
	mustSend(t, "snmptrap", args("-v", "1", "-c", "public", r.addr, "1.3.6.1.4.1.8072.3.2.10", "127.0.0.1", "2", "0", "", linkArgs("2", "2")))
	if e := r.next(t); e.Version.String() != "1" || e.Name != NameLinkDown || e.TrapOID != OIDLinkDown || e.IfIndex != 3 ||
		ptr(e.AdminUp) != "false" || e.Count != 2 || e.Device != "tor1" {
		t.Errorf("v1 linkDown: %+v", summarize(e))
	}
	// v1 enterprise-specific trap 1 of NET-SNMP-EXAMPLES-MIB's
	// netSnmpExampleNotifications, mapped per RFC 3584.
	mustSend(t, "snmptrap", args("-v", "1", "-c", "public", r.addr, "1.3.6.1.4.1.8072.2.3", "127.0.0.1", "6", "1", "",
		"1.3.6.1.4.1.8072.2.3.2.1", "i", "60"))
	if e := r.next(t); e.Name != "netSnmpExampleHeartbeat" || e.TrapOID != "1.3.6.1.4.1.8072.2.3.0.1" || len(e.Varbinds) != 1 {
		t.Errorf("v1 enterprise-specific: %+v", summarize(e))
	}

	// snmpinform exits 0 only once it has the Response.
	mustSend(t, "snmpinform", args("-v", "2c", "-c", "public", "-r", "0", "-t", "5", r.addr, "", ifLinkDownArgs, linkArgs("1", "2")))
	if e := r.next(t); !e.Inform || e.Name != NameLinkDown || e.Count != 3 {
		t.Errorf("v2c INFORM: %+v", summarize(e))
	}
	s := r.waitStats(t, "one INFORM acknowledged", func(s Stats) bool { return s.InformsAcked == 1 })
	if s.Received != 5 || s.Accepted != 5 || s.Rejected != 0 {
		t.Errorf("stats %+v", s)
	}
	checkInvariant(t, s)
}

func TestNetSNMPRejections(t *testing.T) {
	r := startReceiver(t, Opts{
		Communities: []string{"public"},
		Users: []User{
			{Name: "alice", EngineID: "0x8000000005aa00000001", Auth: "SHA", AuthPassphrase: "alice-auth-pass", Priv: "AES", PrivPassphrase: "alice-priv-pass"},
			{Name: "bob", Auth: "SHA-256", AuthPassphrase: "bob-auth-pass", Priv: "AES", PrivPassphrase: "bob-priv-pass"},
		},
	})
	alice := []string{"-v", "3", "-u", "alice", "-l", "authPriv", "-a", "SHA", "-x", "AES", "-X", "alice-priv-pass"}
	cases := []struct {
		name   string
		tool   string
		args   []string
		reason func(Stats) uint64
	}{
		{"v2c trap, wrong community", "snmptrap",
			args("-v", "2c", "-c", "private", r.addr, "", ifLinkDownArgs, linkArgs("1", "2")),
			func(s Stats) uint64 { return s.BadCommunity }},
		{"v1 trap, wrong community", "snmptrap",
			args("-v", "1", "-c", "private", r.addr, "1.3.6.1.4.1.8072.3.2.10", "127.0.0.1", "2", "0", ""),
			func(s Stats) uint64 { return s.BadCommunity }},
		{"v3 trap, wrong authentication passphrase", "snmptrap",
			args(alice, "-e", "0x8000000005aa00000001", "-A", "alice-wrong-pass", r.addr, "", ifLinkDownArgs),
			func(s Stats) uint64 { return s.AuthFailure }},
		{"v3 trap, engine ID not configured", "snmptrap",
			args(alice, "-e", "0x8000000005aa00000002", "-A", "alice-auth-pass", r.addr, "", ifLinkDownArgs),
			func(s Stats) uint64 { return s.UnknownEngineID }},
		{"v3 trap, user not configured for the engine", "snmptrap",
			args("-v", "3", "-u", "carol", "-l", "authNoPriv", "-a", "SHA", "-A", "carol-auth-pass", "-e", "0x8000000005aa00000001", r.addr, "", ifLinkDownArgs),
			func(s Stats) uint64 { return s.UnknownUser }},
		{"v3 trap, security level below the user's", "snmptrap",
			args("-v", "3", "-u", "alice", "-l", "authNoPriv", "-a", "SHA", "-A", "alice-auth-pass", "-e", "0x8000000005aa00000001", r.addr, "", ifLinkDownArgs),
			func(s Stats) uint64 { return s.AuthFailure }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.reason(r.Stats())
			mustSend(t, tc.tool, tc.args)
			r.waitStats(t, "the rejection", func(s Stats) bool { return tc.reason(s) == before+1 })
			r.none(t, 50*time.Millisecond)
		})
	}

	// An INFORM that fails authentication is never acknowledged: the tool
	// times out and fails.
	informs := []struct {
		name string
		args []string
	}{
		{"v2c INFORM, wrong community", args("-v", "2c", "-c", "private")},
		{"v3 INFORM, wrong authentication passphrase", args("-v", "3", "-u", "bob", "-l", "authPriv", "-a", "SHA-256", "-A", "bob-wrong-pass", "-x", "AES", "-X", "bob-priv-pass")},
		{"v3 INFORM, wrong privacy passphrase", args("-v", "3", "-u", "bob", "-l", "authPriv", "-a", "SHA-256", "-A", "bob-auth-pass", "-x", "AES", "-X", "bob-wrong-pass")},
		{"v3 INFORM, unknown user", args("-v", "3", "-u", "mallory", "-l", "authNoPriv", "-a", "SHA-256", "-A", "bob-auth-pass")},
	}
	for _, tc := range informs {
		t.Run(tc.name, func(t *testing.T) {
			before := r.Stats()
			out, err := netSNMP(t, "snmpinform", args(tc.args, "-r", "0", "-t", "1", r.addr, "", ifLinkDownArgs)...)
			if err == nil {
				t.Fatalf("snmpinform succeeded: %s", out)
			}
			s := r.Stats()
			if s.InformsAcked != before.InformsAcked || s.Accepted != before.Accepted || s.Rejected == before.Rejected {
				t.Errorf("stats before %+v\nafter %+v", before, s)
			}
			r.none(t, 10*time.Millisecond)
		})
	}
	checkInvariant(t, r.Stats())
}

// TestNetSNMPv3 sends v3 traps as two users under different engine IDs, one
// user name under two engines, and INFORMs after engine discovery, over
// every authentication and privacy protocol net-snmp and gosnmp share.
func TestNetSNMPv3(t *testing.T) {
	const engA, engB = "0x8000000005aa00000001", "0x8000000005bb00000002"
	users := []User{
		{Name: "alice", EngineID: engA, Auth: "SHA", AuthPassphrase: "alice-auth-pass", Priv: "AES", PrivPassphrase: "alice-priv-pass"},
		{Name: "carol", EngineID: engB, Auth: "MD5", AuthPassphrase: "carol-auth-pass", Priv: "DES", PrivPassphrase: "carol-priv-pass"},
		// The same name under engine B, with other secrets and protocols.
		{Name: "alice", EngineID: engB, Auth: "SHA-512", AuthPassphrase: "alice-b-auth-pass", Priv: "AES-256", PrivPassphrase: "alice-b-priv-pass"},
		{Name: "dave", EngineID: engA, Auth: "SHA-224", AuthPassphrase: "dave-auth-pass", Priv: "AES-192", PrivPassphrase: "dave-priv-pass"},
		{Name: "erin", EngineID: engA, Auth: "SHA-384", AuthPassphrase: "erin-auth-pass"},
		{Name: "frank", EngineID: engA},
		// INFORM users, localized to the receiver's engine.
		{Name: "bob", Auth: "SHA-256", AuthPassphrase: "bob-auth-pass", Priv: "AES-256", PrivPassphrase: "bob-priv-pass"},
		{Name: "mike", Auth: "MD5", AuthPassphrase: "mike-auth-pass", Priv: "DES", PrivPassphrase: "mike-priv-pass"},
		{Name: "nina", Auth: "SHA", AuthPassphrase: "nina-auth-pass"},
	}
	r := startReceiver(t, Opts{Users: users, EngineID: "0x8000000005cc00000003"})
	sec := func(u User) []string {
		a := []string{"-v", "3", "-u", u.Name}
		switch {
		case u.Priv != "":
			a = append(a, "-l", "authPriv", "-a", u.Auth, "-A", u.AuthPassphrase, "-x", u.Priv, "-X", u.PrivPassphrase)
		case u.Auth != "":
			a = append(a, "-l", "authNoPriv", "-a", u.Auth, "-A", u.AuthPassphrase)
		default:
			a = append(a, "-l", "noAuthNoPriv")
		}
		return a
	}
	engineHex := func(u User) string {
		if u.EngineID == "" {
			return r.EngineID()
		}
		return strings.TrimPrefix(u.EngineID, "0x")
	}
	for i, u := range users {
		t.Run(u.String(), func(t *testing.T) {
			tool := "snmptrap"
			a := sec(u)
			if u.EngineID != "" {
				a = append(a, "-e", u.EngineID)
			} else {
				// No -e: snmpinform discovers the receiver's engine ID and
				// time first (RFC 3414 section 4).
				tool = "snmpinform"
				a = append(a, "-r", "0", "-t", "5")
			}
			before := r.Stats()
			mustSend(t, tool, args(a, r.addr, "", ifLinkDownArgs, linkArgs("1", "2")))
			e := r.next(t)
			if e.Version.String() != "3" || e.User != u.Name || e.EngineID != engineHex(u) || e.Name != NameLinkDown ||
				e.IfIndex != 3 || ptr(e.OperUp) != "false" || e.Inform != (tool == "snmpinform") {
				t.Errorf("user %d: event %+v", i, summarize(e))
			}
			s := r.Stats()
			if tool == "snmpinform" {
				if s.InformsAcked != before.InformsAcked+1 || s.Discovery <= before.Discovery {
					t.Errorf("INFORM: stats before %+v\nafter %+v", before, s)
				}
			}
			if s.Rejected != 0 {
				t.Errorf("rejections: %+v", s)
			}
		})
	}
	checkInvariant(t, r.Stats())
}

func TestNetSNMPOverIPv6(t *testing.T) {
	if c, err := net.ListenPacket("udp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback on this machine: %v", err)
	} else {
		c.Close()
	}
	r := startReceiver(t, Opts{Addr: "[::1]:0", Communities: []string{"public"},
		Targets: map[netip.Addr]string{netip.MustParseAddr("::1"): "tor6"}})
	mustSend(t, "snmpinform", args("-v", "2c", "-c", "public", "-r", "0", "-t", "5", "udp6:"+r.addr, "", ifLinkDownArgs, linkArgs("1", "2")))
	if e := r.next(t); e.Device != "tor6" || !e.Peer.Addr().Is6() || e.Name != NameLinkDown {
		t.Errorf("event %+v from %v", summarize(e), e.Peer)
	}
}
