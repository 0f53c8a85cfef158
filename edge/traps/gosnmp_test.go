package traps

import (
	"net/netip"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// These tests send with gosnmp's own sender, GoSNMP.SendTrap, the second
// implementation the receiver must interoperate with.

func gosnmpSender(t *testing.T, addr string, x *gosnmp.GoSNMP) *gosnmp.GoSNMP {
	t.Helper()
	ap := netip.MustParseAddrPort(addr)
	x.Target, x.Port = ap.Addr().String(), ap.Port()
	x.Timeout, x.Retries = 2*time.Second, 1
	if err := x.Connect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Conn.Close() })
	return x
}

func linkTrap(trapOID string, inform bool) gosnmp.SnmpTrap {
	return gosnmp.SnmpTrap{
		Variables: append([]gosnmp.SnmpPDU{{Name: ".1.3.6.1.6.3.1.1.4.1.0", Type: gosnmp.ObjectIdentifier, Value: trapOID}}, linkVarbinds(7, 1, 2)...),
		IsInform:  inform,
	}
}

func TestGoSNMPSender(t *testing.T) {
	const senderEngine = "\x80\x00\x00\x00\x05\xdd\x00\x00\x00\x04"
	r := startReceiver(t, Opts{
		Communities: []string{"public"},
		Users: []User{
			{Name: "gtrap", EngineID: "8000000005dd00000004", Auth: "SHA-256", AuthPassphrase: "gtrap-auth-pass", Priv: "AES", PrivPassphrase: "gtrap-priv-pass"},
			{Name: "ginform", Auth: "SHA-512", AuthPassphrase: "ginform-auth-pass", Priv: "AES-256-C", PrivPassphrase: "ginform-priv-pass"},
		},
	})
	usm := func(user string, auth gosnmp.SnmpV3AuthProtocol, authPass string, priv gosnmp.SnmpV3PrivProtocol, privPass, engine string) *gosnmp.UsmSecurityParameters {
		return &gosnmp.UsmSecurityParameters{UserName: user, AuthoritativeEngineID: engine, AuthoritativeEngineBoots: 1, AuthoritativeEngineTime: 1,
			AuthenticationProtocol: auth, AuthenticationPassphrase: authPass, PrivacyProtocol: priv, PrivacyPassphrase: privPass}
	}
	tests := []struct {
		name   string
		snmp   *gosnmp.GoSNMP
		trap   gosnmp.SnmpTrap
		user   string
		inform bool
	}{
		{name: "v2c trap", snmp: &gosnmp.GoSNMP{Version: gosnmp.Version2c, Community: "public"}, trap: linkTrap(OIDLinkDown, false)},
		{name: "v2c INFORM", snmp: &gosnmp.GoSNMP{Version: gosnmp.Version2c, Community: "public"}, trap: linkTrap(OIDLinkDown, true), inform: true},
		{name: "v1 trap", snmp: &gosnmp.GoSNMP{Version: gosnmp.Version1, Community: "public"}, trap: gosnmp.SnmpTrap{
			Variables: linkVarbinds(7, 1, 2), Enterprise: ".1.3.6.1.4.1.8072.3.2.10", AgentAddress: "127.0.0.1", GenericTrap: 2, Timestamp: 300,
		}},
		{name: "v3 trap from the sender's engine", snmp: &gosnmp.GoSNMP{Version: gosnmp.Version3, SecurityModel: gosnmp.UserSecurityModel, MsgFlags: gosnmp.AuthPriv,
			SecurityParameters: usm("gtrap", gosnmp.SHA256, "gtrap-auth-pass", gosnmp.AES, "gtrap-priv-pass", senderEngine)},
			trap: linkTrap(OIDLinkDown, false), user: "gtrap"},
		{name: "v3 INFORM after discovery", snmp: &gosnmp.GoSNMP{Version: gosnmp.Version3, SecurityModel: gosnmp.UserSecurityModel, MsgFlags: gosnmp.AuthPriv,
			SecurityParameters: usm("ginform", gosnmp.SHA512, "ginform-auth-pass", gosnmp.AES256C, "ginform-priv-pass", "")},
			trap: linkTrap(OIDLinkDown, true), user: "ginform", inform: true},
		// Without an engine ID, gosnmp discovers the receiver's before a
		// trap too, so the trap is sent to the receiver's engine.
		{name: "v3 trap after discovery", snmp: &gosnmp.GoSNMP{Version: gosnmp.Version3, SecurityModel: gosnmp.UserSecurityModel, MsgFlags: gosnmp.AuthPriv,
			SecurityParameters: usm("ginform", gosnmp.SHA512, "ginform-auth-pass", gosnmp.AES256C, "ginform-priv-pass", "")},
			trap: linkTrap(OIDLinkDown, false), user: "ginform"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := r.Stats()
			x := gosnmpSender(t, r.addr, tc.snmp)
			res, err := x.SendTrap(tc.trap)
			if err != nil {
				t.Fatalf("SendTrap: %v", err)
			}
			if tc.inform && (res == nil || res.PDUType != gosnmp.GetResponse || res.Error != gosnmp.NoError) {
				t.Fatalf("INFORM response %+v", res)
			}
			e := r.next(t)
			wantIf := 7
			if e.Name != NameLinkDown || e.IfIndex != wantIf || ptr(e.OperUp) != "false" || e.User != tc.user || e.Inform != tc.inform {
				t.Errorf("event %+v", summarize(e))
			}
			// The event can reach the handler a moment before its
			// datagram is counted.
			waitFor(t, "the datagram counted", func() bool { s := r.Stats(); return s.outcomes() == s.Received })
			s := r.Stats()
			if s.Rejected != before.Rejected || s.Accepted != before.Accepted+1 {
				t.Errorf("stats before %+v\nafter %+v", before, s)
			}
			if tc.inform && s.InformsAcked != before.InformsAcked+1 {
				t.Errorf("INFORM not counted as acknowledged: %+v", s)
			}
		})
	}
	checkInvariant(t, r.Stats())
}

func TestGoSNMPInformWrongPassphraseFails(t *testing.T) {
	r := startReceiver(t, Opts{Users: []User{{Name: "ginform", Auth: "SHA", AuthPassphrase: "ginform-auth-pass"}}})
	x := gosnmpSender(t, r.addr, &gosnmp.GoSNMP{Version: gosnmp.Version3, SecurityModel: gosnmp.UserSecurityModel, MsgFlags: gosnmp.AuthNoPriv,
		SecurityParameters: &gosnmp.UsmSecurityParameters{UserName: "ginform", AuthenticationProtocol: gosnmp.SHA, AuthenticationPassphrase: "wrong-passphrase"}})
	x.Retries = 0
	x.Timeout = 300 * time.Millisecond
	if _, err := x.SendTrap(linkTrap(OIDLinkDown, true)); err == nil {
		t.Fatal("INFORM with a wrong passphrase was acknowledged")
	}
	if s := r.Stats(); s.AuthFailure != 1 || s.InformsAcked != 0 || s.Accepted != 0 {
		t.Errorf("stats %+v", s)
	}
}
