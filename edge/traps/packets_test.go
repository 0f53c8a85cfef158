package traps

import (
	"strconv"
	"testing"

	"github.com/gosnmp/gosnmp"
)

// Wire encodings of notifications, built with gosnmp's encoder, for the
// unit tests.

func linkVarbinds(ifIndex, admin, oper int) []gosnmp.SnmpPDU {
	i := strconv.Itoa(ifIndex)
	return []gosnmp.SnmpPDU{
		{Name: ".1.3.6.1.2.1.2.2.1.1." + i, Type: gosnmp.Integer, Value: ifIndex},
		{Name: ".1.3.6.1.2.1.2.2.1.7." + i, Type: gosnmp.Integer, Value: admin},
		{Name: ".1.3.6.1.2.1.2.2.1.8." + i, Type: gosnmp.Integer, Value: oper},
	}
}

// notificationVarbinds prepends sysUpTime.0 and snmpTrapOID.0 (RFC 3416
// 4.2.6); an empty trapOID leaves snmpTrapOID.0 out.
func notificationVarbinds(trapOID string, vbs ...gosnmp.SnmpPDU) []gosnmp.SnmpPDU {
	out := []gosnmp.SnmpPDU{{Name: ".1.3.6.1.2.1.1.3.0", Type: gosnmp.TimeTicks, Value: uint32(12345)}}
	if trapOID != "" {
		out = append(out, gosnmp.SnmpPDU{Name: ".1.3.6.1.6.3.1.1.4.1.0", Type: gosnmp.ObjectIdentifier, Value: trapOID})
	}
	return append(out, vbs...)
}

func marshal(t testing.TB, p *gosnmp.SnmpPacket) []byte {
	t.Helper()
	b, err := p.MarshalMsg()
	if err != nil {
		t.Fatalf("marshal %v: %v", p.PDUType, err)
	}
	return b
}

func v2cMsg(t testing.TB, community string, pdu gosnmp.PDUType, reqID uint32, vbs []gosnmp.SnmpPDU) []byte {
	return marshal(t, &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: community, PDUType: pdu, RequestID: reqID, Variables: vbs})
}

func v1Msg(t testing.TB, community, enterprise, agent string, generic, specific int, vbs []gosnmp.SnmpPDU) []byte {
	return marshal(t, &gosnmp.SnmpPacket{
		Version: gosnmp.Version1, Community: community, PDUType: gosnmp.Trap, Variables: vbs,
		SnmpTrap: gosnmp.SnmpTrap{Enterprise: enterprise, AgentAddress: agent, GenericTrap: generic, SpecificTrap: specific, Timestamp: 4200},
	})
}

// v3sender encodes v3 messages as one USM user of one engine.
type v3sender struct {
	user, engine      string // engine: raw octets
	auth              gosnmp.SnmpV3AuthProtocol
	authPass          string
	priv              gosnmp.SnmpV3PrivProtocol
	privPass          string
	boots, engineTime uint32
	flags             gosnmp.SnmpV3MsgFlags // security level and reportable
	contextEngineID   string
}

func (s v3sender) msg(t testing.TB, pdu gosnmp.PDUType, msgID, reqID uint32, vbs []gosnmp.SnmpPDU) []byte {
	t.Helper()
	auth, priv := s.auth, s.priv
	if auth == 0 {
		auth = gosnmp.NoAuth
	}
	if priv == 0 {
		priv = gosnmp.NoPriv
	}
	sp := &gosnmp.UsmSecurityParameters{
		AuthoritativeEngineID:    s.engine,
		AuthoritativeEngineBoots: s.boots,
		AuthoritativeEngineTime:  s.engineTime,
		UserName:                 s.user,
		AuthenticationProtocol:   auth,
		AuthenticationPassphrase: s.authPass,
		PrivacyProtocol:          priv,
		PrivacyPassphrase:        s.privPass,
		PrivacyParameters:        []byte{0, 0, 0, 1, 2, 3, 4, 5},
	}
	if err := sp.InitSecurityKeys(); err != nil {
		t.Fatal(err)
	}
	ctx := s.contextEngineID
	if ctx == "" {
		ctx = s.engine
	}
	return marshal(t, &gosnmp.SnmpPacket{
		Version: gosnmp.Version3, MsgFlags: s.flags, SecurityModel: gosnmp.UserSecurityModel,
		SecurityParameters: sp, ContextEngineID: ctx, PDUType: pdu, MsgID: msgID, RequestID: reqID, Variables: vbs,
	})
}

// discoveryProbe is the unauthenticated engine ID discovery request of
// RFC 3414 section 4, as gosnmp and net-snmp send it.
func discoveryProbe(t testing.TB, msgID, reqID uint32) []byte {
	return v3sender{flags: gosnmp.Reportable}.msg(t, gosnmp.GetRequest, msgID, reqID, nil)
}

// decodeNoAuth decodes an unauthenticated message, such as a discovery
// Report or a v2c Response.
func decodeNoAuth(t testing.TB, b []byte) *gosnmp.SnmpPacket {
	t.Helper()
	x := &gosnmp.GoSNMP{
		Version: gosnmp.Version3, SecurityModel: gosnmp.UserSecurityModel,
		SecurityParameters: &gosnmp.UsmSecurityParameters{UserName: "-", AuthenticationProtocol: gosnmp.NoAuth, PrivacyProtocol: gosnmp.NoPriv},
	}
	p, err := x.SnmpDecodePacket(b)
	if err != nil {
		t.Fatalf("decode reply: %v", err)
	}
	return p
}

// decodeAs authenticates and decrypts a message as user u of engine, the
// way the sender of an INFORM checks the Response.
func decodeAs(t testing.TB, b []byte, s v3sender) *gosnmp.SnmpPacket {
	t.Helper()
	x := &gosnmp.GoSNMP{
		Version: gosnmp.Version3, SecurityModel: gosnmp.UserSecurityModel, MsgFlags: s.flags &^ gosnmp.Reportable,
		SecurityParameters: &gosnmp.UsmSecurityParameters{
			AuthoritativeEngineID: s.engine, UserName: s.user,
			AuthenticationProtocol: s.auth, AuthenticationPassphrase: s.authPass,
			PrivacyProtocol: s.priv, PrivacyPassphrase: s.privPass,
		},
	}
	p, err := x.UnmarshalTrap(b, true)
	if err != nil {
		t.Fatalf("reply does not authenticate as %s: %v", s.user, err)
	}
	return p
}
