package traps

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

var (
	testStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	// Engine IDs in the RFC 3411 format (enterprise, format 5, octets).
	localEngineHex = "80000000050102030405060708"
	engineAHex     = "800000000511111111"
	engineBHex     = "800000000522222222"
	localEngine    = mustHex(localEngineHex)
	engineA        = mustHex(engineAHex)
	engineB        = mustHex(engineBHex)
	unknownEngine  = mustHex("800000000533333333")
	peerA          = netip.MustParseAddrPort("127.0.0.1:40001")
)

func mustHex(s string) string {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// clock is a settable Opts.Now.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func testOpts(c *clock) Opts {
	return Opts{
		Communities: []string{"public", "second"},
		EngineID:    localEngineHex,
		Users: []User{
			{Name: "alice", EngineID: engineAHex, Auth: "SHA", AuthPassphrase: "alice-auth", Priv: "AES", PrivPassphrase: "alice-priv"},
			{Name: "alice", EngineID: "0x" + engineBHex, Auth: "MD5", AuthPassphrase: "alice-b-auth", Priv: "DES", PrivPassphrase: "alice-b-priv"},
			{Name: "nopriv", EngineID: engineAHex, Auth: "SHA-512", AuthPassphrase: "nopriv-auth"},
			{Name: "open", EngineID: engineAHex},
			{Name: "bob", Auth: "SHA-256", AuthPassphrase: "bob-auth-pass", Priv: "AES-256", PrivPassphrase: "bob-priv-pass"},
		},
		OIDs: []Notification{
			{OID: "1.3.6.1.4.1.9.9.41.2.0.1", Name: "clogMessageGenerated"},
			{OID: ".1.3.6.1.4.1.99999.0.7", Name: "vendorSeven"},
		},
		Handler: func(Event) {},
		Now:     c.now,
	}
}

// newUnit builds a Receiver whose receive path the test drives directly;
// events are read from its queue.
func newUnit(t *testing.T, opts Opts) *Receiver {
	t.Helper()
	r, err := New(&opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *Receiver) queued() []Event {
	var out []Event
	for {
		select {
		case e := <-r.queue:
			out = append(out, e)
		default:
			return out
		}
	}
}

func checkInvariant(t *testing.T, s Stats) {
	t.Helper()
	if sum := s.outcomes(); sum != s.Received {
		t.Errorf("outcomes add up to %d, received %d: %+v", sum, s.Received, s)
	}
	if s.Rejected != s.BadCommunity+s.UnknownEngineID+s.UnknownUser+s.AuthFailure+s.NotInTimeWindow+s.UnknownPeer {
		t.Errorf("rejections do not add up: %+v", s)
	}
}

// outcomes is the number of datagrams whose outcome is counted. The
// receiver counts a datagram as received before its outcome, so the two
// agree only once it is idle.
func (s Stats) outcomes() uint64 {
	return s.Accepted + s.Dropped + s.Ignored + s.Rejected + s.Malformed + s.Discovery
}

// outcome names the one counter a datagram should land in.
func outcome(s Stats) string {
	var names []string
	for _, c := range []struct {
		name string
		n    uint64
	}{
		{"accepted", s.Accepted}, {"dropped", s.Dropped}, {"ignored", s.Ignored}, {"malformed", s.Malformed},
		{"discovery", s.Discovery}, {"bad-community", s.BadCommunity}, {"unknown-engine", s.UnknownEngineID},
		{"unknown-user", s.UnknownUser}, {"auth-failure", s.AuthFailure}, {"not-in-time-window", s.NotInTimeWindow},
		{"unknown-peer", s.UnknownPeer},
	} {
		if c.n > 0 {
			names = append(names, fmt.Sprintf("%s=%d", c.name, c.n))
		}
	}
	return strings.Join(names, ",")
}

// summary projects the fields of an event a test states.
type summary struct {
	Version         string
	Community, User string
	EngineID        string
	Inform          bool
	TrapOID, Name   string
	Count           uint64
	IfIndex         int
	AdminUp, OperUp string
	Uptime          time.Duration
	Varbinds        int
	Device          string
}

func ptr(b *bool) string {
	if b == nil {
		return "nil"
	}
	return fmt.Sprint(*b)
}

func summarize(e Event) summary {
	return summary{
		Version: e.Version.String(), Community: e.Community, User: e.User, EngineID: e.EngineID, Inform: e.Inform,
		TrapOID: e.TrapOID, Name: e.Name, Count: e.Count, IfIndex: e.IfIndex, AdminUp: ptr(e.AdminUp), OperUp: ptr(e.OperUp),
		Uptime: e.Uptime, Varbinds: len(e.Varbinds), Device: e.Device,
	}
}

var (
	aliceA = v3sender{user: "alice", engine: engineA, auth: gosnmp.SHA, authPass: "alice-auth", priv: gosnmp.AES, privPass: "alice-priv",
		boots: 3, engineTime: 100, flags: gosnmp.AuthPriv}
	aliceB = v3sender{user: "alice", engine: engineB, auth: gosnmp.MD5, authPass: "alice-b-auth", priv: gosnmp.DES, privPass: "alice-b-priv",
		boots: 9, engineTime: 5, flags: gosnmp.AuthPriv}
	noprivA = v3sender{user: "nopriv", engine: engineA, auth: gosnmp.SHA512, authPass: "nopriv-auth", flags: gosnmp.AuthNoPriv}
	openA   = v3sender{user: "open", engine: engineA, flags: gosnmp.NoAuthNoPriv}
	// bob sends INFORMs to the receiver's engine; the tests run 10 s after
	// the receiver started, with engine boots 1.
	bobLocal = v3sender{user: "bob", engine: localEngine, auth: gosnmp.SHA256, authPass: "bob-auth-pass", priv: gosnmp.AES256, privPass: "bob-priv-pass",
		boots: 1, engineTime: 12, flags: gosnmp.AuthPriv | gosnmp.Reportable}
)

func with(s v3sender, f func(*v3sender)) v3sender {
	f(&s)
	return s
}

var linkDownVBs = notificationVarbinds(OIDLinkDown, linkVarbinds(3, 1, 2)...)

func TestHandle(t *testing.T) {
	linkDown := summary{Version: "2c", Community: "public", TrapOID: OIDLinkDown, Name: NameLinkDown, Count: 1,
		IfIndex: 3, AdminUp: "true", OperUp: "false", Uptime: 123450 * time.Millisecond, Varbinds: 3}
	v3 := func(s summary, user, engineHex string) summary {
		s.Version, s.Community, s.User, s.EngineID = "3", "", user, engineHex
		return s
	}
	tests := []struct {
		name    string
		msg     func(t *testing.T) []byte
		outcome string
		event   *summary
		// reply checks the datagram sent back; nil means none is expected.
		reply func(t *testing.T, b []byte)
	}{
		{
			name:    "v2c linkDown",
			msg:     func(t *testing.T) []byte { return v2cMsg(t, "public", gosnmp.SNMPv2Trap, 7, linkDownVBs) },
			outcome: "accepted=1",
			event:   &linkDown,
		},
		{
			name: "v2c linkUp, second community",
			msg: func(t *testing.T) []byte {
				return v2cMsg(t, "second", gosnmp.SNMPv2Trap, 8, notificationVarbinds(OIDLinkUp, linkVarbinds(5, 1, 1)...))
			},
			outcome: "accepted=1",
			event: &summary{Version: "2c", Community: "second", TrapOID: OIDLinkUp, Name: NameLinkUp, Count: 1,
				IfIndex: 5, AdminUp: "true", OperUp: "true", Uptime: 123450 * time.Millisecond, Varbinds: 3},
		},
		{
			name:    "v2c INFORM is acknowledged",
			msg:     func(t *testing.T) []byte { return v2cMsg(t, "public", gosnmp.InformRequest, 4242, linkDownVBs) },
			outcome: "accepted=1",
			event:   &summary{Version: "2c", Community: "public", Inform: true, TrapOID: OIDLinkDown, Name: NameLinkDown, Count: 1, IfIndex: 3, AdminUp: "true", OperUp: "false", Uptime: 123450 * time.Millisecond, Varbinds: 3},
			reply: func(t *testing.T, b []byte) {
				p := decodeNoAuth(t, b)
				if p.Version != gosnmp.Version2c || p.PDUType != gosnmp.GetResponse || p.RequestID != 4242 || p.Community != "public" || p.Error != gosnmp.NoError {
					t.Errorf("response: version %v pdu %v request-id %d community %q error %v", p.Version, p.PDUType, p.RequestID, p.Community, p.Error)
				}
				if len(p.Variables) != len(linkDownVBs) {
					t.Errorf("response has %d bindings, the INFORM %d", len(p.Variables), len(linkDownVBs))
				}
			},
		},
		{
			name:    "v2c wrong community",
			msg:     func(t *testing.T) []byte { return v2cMsg(t, "private", gosnmp.SNMPv2Trap, 7, linkDownVBs) },
			outcome: "bad-community=1",
		},
		{
			name:    "v2c INFORM with a wrong community is not acknowledged",
			msg:     func(t *testing.T) []byte { return v2cMsg(t, "publi", gosnmp.InformRequest, 7, linkDownVBs) },
			outcome: "bad-community=1",
		},
		{
			name: "v2c notification not configured",
			msg: func(t *testing.T) []byte {
				return v2cMsg(t, "public", gosnmp.SNMPv2Trap, 7, notificationVarbinds("1.3.6.1.6.3.1.1.5.1"))
			},
			outcome: "ignored=1",
		},
		{
			name: "v2c INFORM not configured is still acknowledged",
			msg: func(t *testing.T) []byte {
				return v2cMsg(t, "public", gosnmp.InformRequest, 99, notificationVarbinds("1.3.6.1.6.3.1.1.5.1"))
			},
			outcome: "ignored=1",
			reply: func(t *testing.T, b []byte) {
				if p := decodeNoAuth(t, b); p.PDUType != gosnmp.GetResponse || p.RequestID != 99 {
					t.Errorf("response: pdu %v request-id %d", p.PDUType, p.RequestID)
				}
			},
		},
		{
			name: "v2c configured notification",
			msg: func(t *testing.T) []byte {
				return v2cMsg(t, "public", gosnmp.SNMPv2Trap, 7, notificationVarbinds(".1.3.6.1.4.1.9.9.41.2.0.1",
					gosnmp.SnmpPDU{Name: ".1.3.6.1.4.1.9.9.41.1.2.3.1.5.1", Type: gosnmp.OctetString, Value: []byte("%LINK-3-UPDOWN")}))
			},
			outcome: "accepted=1",
			event: &summary{Version: "2c", Community: "public", TrapOID: "1.3.6.1.4.1.9.9.41.2.0.1", Name: "clogMessageGenerated", Count: 1,
				AdminUp: "nil", OperUp: "nil", Uptime: 123450 * time.Millisecond, Varbinds: 1},
		},
		{
			name: "v2c without snmpTrapOID.0",
			msg: func(t *testing.T) []byte {
				return v2cMsg(t, "public", gosnmp.SNMPv2Trap, 7, notificationVarbinds("", linkVarbinds(3, 1, 2)...))
			},
			outcome: "malformed=1",
		},
		{
			name: "v2c snmpTrapOID.0 not an OID",
			msg: func(t *testing.T) []byte {
				return v2cMsg(t, "public", gosnmp.SNMPv2Trap, 7, []gosnmp.SnmpPDU{{Name: ".1.3.6.1.6.3.1.1.4.1.0", Type: gosnmp.OctetString, Value: []byte("linkDown")}})
			},
			outcome: "malformed=1",
		},
		{
			name: "v2c GetRequest",
			msg: func(t *testing.T) []byte {
				return v2cMsg(t, "public", gosnmp.GetRequest, 7, []gosnmp.SnmpPDU{{Name: ".1.3.6.1.2.1.1.3.0", Type: gosnmp.Null}})
			},
			outcome: "malformed=1",
		},
		{
			name: "v1 linkDown (generic-trap 2)",
			msg: func(t *testing.T) []byte {
				return v1Msg(t, "public", ".1.3.6.1.4.1.8072.3.2.10", "192.0.2.1", 2, 0, linkVarbinds(4, 1, 2))
			},
			outcome: "accepted=1",
			event: &summary{Version: "1", Community: "public", TrapOID: OIDLinkDown, Name: NameLinkDown, Count: 1,
				IfIndex: 4, AdminUp: "true", OperUp: "false", Uptime: 42 * time.Second, Varbinds: 3},
		},
		{
			name: "v1 linkUp (generic-trap 3)",
			msg: func(t *testing.T) []byte {
				return v1Msg(t, "second", ".1.3.6.1.4.1.8072.3.2.10", "192.0.2.1", 3, 0, linkVarbinds(4, 1, 1))
			},
			outcome: "accepted=1",
			event: &summary{Version: "1", Community: "second", TrapOID: OIDLinkUp, Name: NameLinkUp, Count: 1,
				IfIndex: 4, AdminUp: "true", OperUp: "true", Uptime: 42 * time.Second, Varbinds: 3},
		},
		{
			name:    "v1 enterprise-specific trap mapped as RFC 3584",
			msg:     func(t *testing.T) []byte { return v1Msg(t, "public", ".1.3.6.1.4.1.99999", "192.0.2.1", 6, 7, nil) },
			outcome: "accepted=1",
			event: &summary{Version: "1", Community: "public", TrapOID: "1.3.6.1.4.1.99999.0.7", Name: "vendorSeven", Count: 1,
				AdminUp: "nil", OperUp: "nil", Uptime: 42 * time.Second},
		},
		{
			name: "v1 coldStart not configured",
			msg: func(t *testing.T) []byte {
				return v1Msg(t, "public", ".1.3.6.1.4.1.8072.3.2.10", "192.0.2.1", 0, 0, nil)
			},
			outcome: "ignored=1",
		},
		{
			name: "v1 generic-trap out of range",
			msg: func(t *testing.T) []byte {
				return v1Msg(t, "public", ".1.3.6.1.4.1.8072.3.2.10", "192.0.2.1", 9, 0, nil)
			},
			outcome: "malformed=1",
		},
		{
			name: "v1 wrong community",
			msg: func(t *testing.T) []byte {
				return v1Msg(t, "private", ".1.3.6.1.4.1.8072.3.2.10", "192.0.2.1", 2, 0, nil)
			},
			outcome: "bad-community=1",
		},
		{
			name:    "v3 authPriv SHA/AES trap, engine A",
			msg:     func(t *testing.T) []byte { return aliceA.msg(t, gosnmp.SNMPv2Trap, 1, 2, linkDownVBs) },
			outcome: "accepted=1",
			event:   ptrTo(v3(linkDown, "alice", engineAHex)),
		},
		{
			name:    "v3 same user name, engine B, MD5/DES",
			msg:     func(t *testing.T) []byte { return aliceB.msg(t, gosnmp.SNMPv2Trap, 1, 2, linkDownVBs) },
			outcome: "accepted=1",
			event:   ptrTo(v3(linkDown, "alice", engineBHex)),
		},
		{
			name:    "v3 authNoPriv SHA-512",
			msg:     func(t *testing.T) []byte { return noprivA.msg(t, gosnmp.SNMPv2Trap, 1, 2, linkDownVBs) },
			outcome: "accepted=1",
			event:   ptrTo(v3(linkDown, "nopriv", engineAHex)),
		},
		{
			name:    "v3 noAuthNoPriv",
			msg:     func(t *testing.T) []byte { return openA.msg(t, gosnmp.SNMPv2Trap, 1, 2, linkDownVBs) },
			outcome: "accepted=1",
			event:   ptrTo(v3(linkDown, "open", engineAHex)),
		},
		{
			name: "v3 wrong authentication passphrase",
			msg: func(t *testing.T) []byte {
				return with(aliceA, func(s *v3sender) { s.authPass = "alice-wrong" }).msg(t, gosnmp.SNMPv2Trap, 1, 2, linkDownVBs)
			},
			outcome: "auth-failure=1",
		},
		{
			name: "v3 wrong privacy passphrase",
			msg: func(t *testing.T) []byte {
				return with(aliceA, func(s *v3sender) { s.privPass = "alice-wrong" }).msg(t, gosnmp.SNMPv2Trap, 1, 2, linkDownVBs)
			},
			outcome: "auth-failure=1",
		},
		{
			name: "v3 engine B's credentials under engine A",
			msg: func(t *testing.T) []byte {
				return with(aliceB, func(s *v3sender) { s.engine = engineA }).msg(t, gosnmp.SNMPv2Trap, 1, 2, linkDownVBs)
			},
			outcome: "auth-failure=1",
		},
		{
			name: "v3 engine A's passphrases under engine B",
			msg: func(t *testing.T) []byte {
				return with(aliceA, func(s *v3sender) { s.engine = engineB; s.auth, s.priv = gosnmp.MD5, gosnmp.DES }).msg(t, gosnmp.SNMPv2Trap, 1, 2, linkDownVBs)
			},
			outcome: "auth-failure=1",
		},
		{
			name: "v3 unknown engine",
			msg: func(t *testing.T) []byte {
				return with(aliceA, func(s *v3sender) { s.engine = unknownEngine }).msg(t, gosnmp.SNMPv2Trap, 1, 2, linkDownVBs)
			},
			outcome: "unknown-engine=1",
		},
		{
			name: "v3 unknown engine, reportable: report our engine ID",
			msg: func(t *testing.T) []byte {
				return with(aliceA, func(s *v3sender) { s.engine = unknownEngine; s.flags |= gosnmp.Reportable }).msg(t, gosnmp.InformRequest, 77, 2, linkDownVBs)
			},
			outcome: "unknown-engine=1",
			reply:   checkReport(oidUsmStatsUnknownEngineIDs, 77),
		},
		{
			name: "v3 unknown user",
			msg: func(t *testing.T) []byte {
				return with(aliceA, func(s *v3sender) { s.user = "mallory" }).msg(t, gosnmp.SNMPv2Trap, 1, 2, linkDownVBs)
			},
			outcome: "unknown-user=1",
		},
		{
			name: "v3 user of another engine",
			msg: func(t *testing.T) []byte {
				return with(noprivA, func(s *v3sender) { s.engine = engineB }).msg(t, gosnmp.SNMPv2Trap, 1, 2, linkDownVBs)
			},
			outcome: "unknown-user=1",
		},
		{
			name: "v3 authNoPriv from an authPriv user",
			msg: func(t *testing.T) []byte {
				return with(aliceA, func(s *v3sender) { s.flags = gosnmp.AuthNoPriv }).msg(t, gosnmp.SNMPv2Trap, 1, 2, linkDownVBs)
			},
			outcome: "auth-failure=1",
		},
		{
			name: "v3 noAuthNoPriv claiming an authenticated user",
			msg: func(t *testing.T) []byte {
				return with(noprivA, func(s *v3sender) { s.flags = gosnmp.NoAuthNoPriv }).msg(t, gosnmp.SNMPv2Trap, 1, 2, linkDownVBs)
			},
			outcome: "auth-failure=1",
		},
		{
			name:    "v3 engine ID discovery",
			msg:     func(t *testing.T) []byte { return discoveryProbe(t, 555, 556) },
			outcome: "discovery=1",
			reply:   checkReport(oidUsmStatsUnknownEngineIDs, 555),
		},
		{
			name:    "v3 INFORM to our engine, authPriv, in the time window",
			msg:     func(t *testing.T) []byte { return bobLocal.msg(t, gosnmp.InformRequest, 31, 32, linkDownVBs) },
			outcome: "accepted=1",
			event: &summary{Version: "3", User: "bob", EngineID: localEngineHex, Inform: true, TrapOID: OIDLinkDown, Name: NameLinkDown, Count: 1,
				IfIndex: 3, AdminUp: "true", OperUp: "false", Uptime: 123450 * time.Millisecond, Varbinds: 3},
			reply: func(t *testing.T, b []byte) {
				p := decodeAs(t, b, bobLocal)
				sp := p.SecurityParameters.(*gosnmp.UsmSecurityParameters)
				if p.PDUType != gosnmp.GetResponse || p.RequestID != 32 || p.MsgID != 31 || p.MsgFlags != gosnmp.AuthPriv {
					t.Errorf("response: pdu %v request-id %d msg-id %d flags %v", p.PDUType, p.RequestID, p.MsgID, p.MsgFlags)
				}
				if sp.AuthoritativeEngineID != localEngine || sp.AuthoritativeEngineBoots != 1 || sp.AuthoritativeEngineTime != 10 {
					t.Errorf("response engine %x boots %d time %d, want ours, 1, 10", sp.AuthoritativeEngineID, sp.AuthoritativeEngineBoots, sp.AuthoritativeEngineTime)
				}
				if len(p.Variables) != len(linkDownVBs) {
					t.Errorf("response has %d bindings, want %d", len(p.Variables), len(linkDownVBs))
				}
			},
		},
		{
			name: "v3 INFORM to a sender's engine is acknowledged from that engine",
			msg: func(t *testing.T) []byte {
				return with(aliceA, func(s *v3sender) { s.flags |= gosnmp.Reportable }).msg(t, gosnmp.InformRequest, 41, 42, linkDownVBs)
			},
			outcome: "accepted=1",
			event:   ptrTo(func() summary { s := v3(linkDown, "alice", engineAHex); s.Inform = true; return s }()),
			reply: func(t *testing.T, b []byte) {
				p := decodeAs(t, b, aliceA)
				if p.PDUType != gosnmp.GetResponse || p.RequestID != 42 {
					t.Errorf("response: pdu %v request-id %d", p.PDUType, p.RequestID)
				}
			},
		},
		{
			name: "v3 time synchronization probe",
			msg: func(t *testing.T) []byte {
				return with(bobLocal, func(s *v3sender) { s.boots, s.engineTime = 0, 0 }).msg(t, gosnmp.GetRequest, 51, 52, nil)
			},
			outcome: "discovery=1",
			reply:   checkTimeReport(51),
		},
		{
			name: "v3 INFORM outside the time window",
			msg: func(t *testing.T) []byte {
				return with(bobLocal, func(s *v3sender) { s.engineTime = 10 + 151 }).msg(t, gosnmp.InformRequest, 61, 62, linkDownVBs)
			},
			outcome: "not-in-time-window=1",
			reply:   checkTimeReport(61),
		},
		{
			name: "v3 INFORM from an earlier boot",
			msg: func(t *testing.T) []byte {
				return with(bobLocal, func(s *v3sender) { s.boots = 0; s.engineTime = 10 }).msg(t, gosnmp.InformRequest, 71, 72, linkDownVBs)
			},
			outcome: "not-in-time-window=1",
			reply:   checkTimeReport(71),
		},
		{
			name: "v3 INFORM at the edge of the time window",
			msg: func(t *testing.T) []byte {
				return with(bobLocal, func(s *v3sender) { s.engineTime = 10 + 150 }).msg(t, gosnmp.InformRequest, 71, 72, linkDownVBs)
			},
			outcome: "accepted=1",
			event: &summary{Version: "3", User: "bob", EngineID: localEngineHex, Inform: true, TrapOID: OIDLinkDown, Name: NameLinkDown, Count: 1,
				IfIndex: 3, AdminUp: "true", OperUp: "false", Uptime: 123450 * time.Millisecond, Varbinds: 3},
			reply: func(t *testing.T, b []byte) { decodeAs(t, b, bobLocal) },
		},
		{
			name: "v3 trap to our engine outside the time window, not reportable",
			msg: func(t *testing.T) []byte {
				return with(bobLocal, func(s *v3sender) { s.flags = gosnmp.AuthPriv; s.engineTime = 999 }).msg(t, gosnmp.SNMPv2Trap, 81, 82, linkDownVBs)
			},
			outcome: "not-in-time-window=1",
		},
		{
			name:    "v3 authenticated GetRequest",
			msg:     func(t *testing.T) []byte { return bobLocal.msg(t, gosnmp.GetRequest, 91, 92, nil) },
			outcome: "malformed=1",
		},
		{
			name:    "empty datagram",
			msg:     func(*testing.T) []byte { return nil },
			outcome: "malformed=1",
		},
		{
			name:    "not BER",
			msg:     func(*testing.T) []byte { return []byte("GET / HTTP/1.1\r\n\r\n") },
			outcome: "malformed=1",
		},
		{
			name: "SNMP version 5",
			msg: func(t *testing.T) []byte {
				b := v2cMsg(t, "public", gosnmp.SNMPv2Trap, 7, linkDownVBs)
				b[4] = 5 // the version INTEGER's value
				return b
			},
			outcome: "malformed=1",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{t: testStart}
			r := newUnit(t, testOpts(c))
			c.t = testStart.Add(10 * time.Second)
			msg := tc.msg(t)
			reply := r.handle(msg, peerA, c.t)
			s := r.Stats()
			checkInvariant(t, s)
			if s.Received != 1 {
				t.Errorf("received %d, want 1", s.Received)
			}
			if got := outcome(s); got != tc.outcome {
				t.Errorf("outcome %s, want %s", got, tc.outcome)
			}
			evs := r.queued()
			switch {
			case tc.event == nil && len(evs) > 0:
				t.Errorf("unexpected event %+v", summarize(evs[0]))
			case tc.event != nil && len(evs) != 1:
				t.Errorf("%d events, want 1", len(evs))
			case tc.event != nil:
				if got := summarize(evs[0]); got != *tc.event {
					t.Errorf("event\n got %+v\nwant %+v", got, *tc.event)
				}
				if evs[0].At != c.t || evs[0].Peer != peerA {
					t.Errorf("event at %v from %v, want %v from %v", evs[0].At, evs[0].Peer, c.t, peerA)
				}
			}
			switch {
			case tc.reply == nil && reply != nil:
				t.Errorf("unexpected reply % x", reply)
			case tc.reply != nil && reply == nil:
				t.Error("no reply")
			case tc.reply != nil:
				tc.reply(t, reply)
			}
			informAcked := tc.reply != nil && s.Discovery == 0 && s.Rejected == 0
			if (s.InformsAcked == 1) != informAcked {
				t.Errorf("informs acked %d", s.InformsAcked)
			}
		})
	}
}

func ptrTo[T any](v T) *T { return &v }

// checkReport checks an unauthenticated Report answering msgID.
func checkReport(oid string, msgID uint32) func(*testing.T, []byte) {
	return func(t *testing.T, b []byte) {
		t.Helper()
		p := decodeNoAuth(t, b)
		sp := p.SecurityParameters.(*gosnmp.UsmSecurityParameters)
		if p.PDUType != gosnmp.Report || p.MsgID != msgID || p.MsgFlags&gosnmp.AuthPriv != gosnmp.NoAuthNoPriv || p.MsgFlags&gosnmp.Reportable != 0 {
			t.Errorf("report: pdu %v msg-id %d flags %v", p.PDUType, p.MsgID, p.MsgFlags)
		}
		if len(p.Variables) != 1 || p.Variables[0].Name != oid || p.Variables[0].Type != gosnmp.Counter32 {
			t.Errorf("report bindings %+v, want one Counter32 %s", p.Variables, oid)
		}
		if sp.AuthoritativeEngineID != localEngine || sp.AuthoritativeEngineBoots != 1 || sp.AuthoritativeEngineTime != 10 {
			t.Errorf("report engine %x boots %d time %d, want %s, 1, 10", sp.AuthoritativeEngineID, sp.AuthoritativeEngineBoots, sp.AuthoritativeEngineTime, localEngineHex)
		}
	}
}

// checkTimeReport checks the authenticated usmStatsNotInTimeWindows Report
// that lets bob synchronize to the receiver's engine time.
func checkTimeReport(msgID uint32) func(*testing.T, []byte) {
	return func(t *testing.T, b []byte) {
		t.Helper()
		p := decodeAs(t, b, with(bobLocal, func(s *v3sender) { s.flags = gosnmp.AuthNoPriv }))
		sp := p.SecurityParameters.(*gosnmp.UsmSecurityParameters)
		if p.PDUType != gosnmp.Report || p.MsgID != msgID || p.MsgFlags != gosnmp.AuthNoPriv {
			t.Errorf("report: pdu %v msg-id %d flags %v", p.PDUType, p.MsgID, p.MsgFlags)
		}
		if len(p.Variables) != 1 || p.Variables[0].Name != oidUsmStatsNotInTimeWindows {
			t.Errorf("report bindings %+v", p.Variables)
		}
		if sp.AuthoritativeEngineID != localEngine || sp.AuthoritativeEngineBoots != 1 || sp.AuthoritativeEngineTime != 10 {
			t.Errorf("report engine %x boots %d time %d, want ours, 1, 10", sp.AuthoritativeEngineID, sp.AuthoritativeEngineBoots, sp.AuthoritativeEngineTime)
		}
	}
}

// The receiver relies on gosnmp's SnmpDecodePacket returning the header it
// read when it cannot authenticate the rest; this pins that behaviour.
func TestPeekReadsAuthenticatedHeader(t *testing.T) {
	r := newUnit(t, testOpts(&clock{t: testStart}))
	msg := aliceB.msg(t, gosnmp.SNMPv2Trap, 1234, 2, linkDownVBs)
	orig := string(msg)
	p, err := r.peek.SnmpDecodePacket(msg)
	if err == nil {
		t.Fatal("header reader decoded an authPriv message without keys")
	}
	usm, _ := p.SecurityParameters.(*gosnmp.UsmSecurityParameters)
	if usm == nil || usm.UserName != "alice" || usm.AuthoritativeEngineID != engineB || p.MsgID != 1234 ||
		p.MsgFlags != gosnmp.AuthPriv || p.SecurityModel != gosnmp.UserSecurityModel || p.Version != gosnmp.Version3 {
		t.Fatalf("header read: %+v, security parameters %+v", p, usm)
	}
	if string(msg) != orig {
		t.Error("reading the header changed the message")
	}
}
