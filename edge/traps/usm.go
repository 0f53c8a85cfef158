package traps

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/gosnmp/gosnmp"
)

// User is an SNMPv3 USM user (RFC 3414) allowed to send notifications.
type User struct {
	Name string
	// EngineID is the hex authoritative engine ID of the sender ("0x"
	// prefix optional) for traps. Empty means the receiver's own engine ID,
	// which INFORM senders discover.
	EngineID string
	// Auth is the authentication protocol: "" (none), "MD5", "SHA",
	// "SHA-224", "SHA-256", "SHA-384" or "SHA-512" (RFC 3414, RFC 7860).
	Auth           string
	AuthPassphrase string
	// Priv is the privacy protocol: "" (none), "DES", "AES" (RFC 3826),
	// "AES-192", "AES-256" (key extension as net-snmp and
	// draft-blumenthal-aes-usm), or "AES-192-C", "AES-256-C" (key
	// extension as Cisco and draft-reeder-snmpv3-usm-3desede). Privacy
	// needs authentication.
	Priv           string
	PrivPassphrase string
}

// String names the user without its passphrases.
func (u User) String() string {
	e := u.EngineID
	if e == "" {
		e = "local"
	}
	return fmt.Sprintf("%s@%s(auth=%s,priv=%s)", u.Name, e, orNone(u.Auth), orNone(u.Priv))
}

// LogValue keeps passphrases out of structured logs.
func (u User) LogValue() slog.Value { return slog.StringValue(u.String()) }

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// ParseAuthProtocol maps a protocol name, as net-snmp's -a option spells it
// (case and dashes are not significant), to gosnmp's constant. The empty
// string is no authentication.
func ParseAuthProtocol(s string) (gosnmp.SnmpV3AuthProtocol, error) {
	switch normProto(s) {
	case "", "NONE":
		return gosnmp.NoAuth, nil
	case "MD5":
		return gosnmp.MD5, nil
	case "SHA", "SHA1":
		return gosnmp.SHA, nil
	case "SHA224":
		return gosnmp.SHA224, nil
	case "SHA256":
		return gosnmp.SHA256, nil
	case "SHA384":
		return gosnmp.SHA384, nil
	case "SHA512":
		return gosnmp.SHA512, nil
	}
	return 0, fmt.Errorf("traps: unknown authentication protocol %q (want MD5, SHA, SHA-224, SHA-256, SHA-384 or SHA-512)", s)
}

// ParsePrivProtocol maps a privacy protocol name, as net-snmp's -x option
// spells it, to gosnmp's constant. The empty string is no privacy.
func ParsePrivProtocol(s string) (gosnmp.SnmpV3PrivProtocol, error) {
	switch normProto(s) {
	case "", "NONE":
		return gosnmp.NoPriv, nil
	case "DES":
		return gosnmp.DES, nil
	case "AES", "AES128":
		return gosnmp.AES, nil
	case "AES192":
		return gosnmp.AES192, nil
	case "AES256":
		return gosnmp.AES256, nil
	case "AES192C":
		return gosnmp.AES192C, nil
	case "AES256C":
		return gosnmp.AES256C, nil
	}
	return 0, fmt.Errorf("traps: unknown privacy protocol %q (want DES, AES, AES-192, AES-256, AES-192-C or AES-256-C)", s)
}

func normProto(s string) string {
	return strings.ToUpper(strings.NewReplacer("-", "", "_", "").Replace(strings.TrimSpace(s)))
}

// ParseEngineID decodes a hex engine ID ("0x" prefix, ':' and ' '
// separators optional) and checks its length: an SnmpEngineID is 5 to 32
// octets (RFC 3411 section 5).
func ParseEngineID(s string) (string, error) {
	h := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0x"), "0X")
	h = strings.NewReplacer(":", "", " ", "").Replace(h)
	b, err := hex.DecodeString(h)
	if err != nil {
		return "", fmt.Errorf("traps: engine ID %q: %w", s, err)
	}
	if len(b) < 5 || len(b) > 32 {
		return "", fmt.Errorf("traps: engine ID %q: %d octets, want 5 to 32 (RFC 3411)", s, len(b))
	}
	return string(b), nil
}

// NewEngineID returns a random engine ID in hex, for a receiver that does
// not persist one. It uses the RFC 3411 format "octets, administratively
// assigned" (5) with enterprise number 0, since the product has no private
// enterprise number, and 12 random octets. INFORM senders discover the
// engine ID at every session, so a new one at each start is fine.
func NewEngineID(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, 17)
	copy(b, []byte{0x80, 0x00, 0x00, 0x00, 0x05})
	if _, err := io.ReadFull(r, b[5:]); err != nil {
		return "", fmt.Errorf("traps: generate engine ID: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// credential is one user localized to one engine.
type credential struct {
	user     string
	engineID string // raw octets
	level    gosnmp.SnmpV3MsgFlags
	// snmp decodes messages of this user only: its SecurityParameters hold
	// the keys localized to engineID, so gosnmp never re-localizes them.
	snmp *gosnmp.GoSNMP
	usm  *gosnmp.UsmSecurityParameters
}

type credKey struct{ engineID, user string }

// peekUser is the user name of the decoder that only reads v3 headers. A
// NUL cannot appear in a configured user name, so a header that stops
// before its user name field is never taken for a user.
const peekUser = "\x00peek"

func newCredential(u User, localEngine string) (*credential, error) {
	if u.Name == "" || len(u.Name) > 32 || strings.ContainsRune(u.Name, 0) {
		return nil, errors.New("user name must be 1 to 32 octets without NUL (RFC 3414 usmUserName)")
	}
	engine := localEngine
	if u.EngineID != "" {
		var err error
		if engine, err = ParseEngineID(u.EngineID); err != nil {
			return nil, err
		}
	}
	auth, err := ParseAuthProtocol(u.Auth)
	if err != nil {
		return nil, err
	}
	priv, err := ParsePrivProtocol(u.Priv)
	if err != nil {
		return nil, err
	}
	level := gosnmp.NoAuthNoPriv
	if auth != gosnmp.NoAuth {
		level = gosnmp.AuthNoPriv
		// RFC 3414 section 11.2: passphrases are at least 8 octets, and
		// net-snmp refuses shorter ones.
		if len(u.AuthPassphrase) < 8 {
			return nil, errors.New("authentication passphrase must be at least 8 octets (RFC 3414 11.2)")
		}
	}
	if priv != gosnmp.NoPriv {
		if auth == gosnmp.NoAuth {
			return nil, errors.New("privacy needs an authentication protocol (RFC 3414)")
		}
		if len(u.PrivPassphrase) < 8 {
			return nil, errors.New("privacy passphrase must be at least 8 octets (RFC 3414 11.2)")
		}
		level = gosnmp.AuthPriv
	}
	usm := &gosnmp.UsmSecurityParameters{
		AuthoritativeEngineID:    engine,
		UserName:                 u.Name,
		AuthenticationProtocol:   auth,
		AuthenticationPassphrase: u.AuthPassphrase,
		PrivacyProtocol:          priv,
		PrivacyPassphrase:        u.PrivPassphrase,
	}
	if err := usm.InitSecurityKeys(); err != nil {
		return nil, fmt.Errorf("localize keys: %w", err)
	}
	return &credential{
		user:     u.Name,
		engineID: engine,
		level:    level,
		usm:      usm,
		snmp: &gosnmp.GoSNMP{
			Version:            gosnmp.Version3,
			SecurityModel:      gosnmp.UserSecurityModel,
			MsgFlags:           level,
			SecurityParameters: usm,
		},
	}, nil
}

// responseParams returns security parameters to send a message as this
// user from engine engineID at the given boots and time. A privacy salt
// is drawn at random for each message (RFC 3826 3.1.2.1 needs it never to
// repeat under one key; 64 random bits make a repeat negligible, and
// unlike a counter they survive a restart).
func (c *credential) responseParams(engineID string, boots, engineTime uint32, flags gosnmp.SnmpV3MsgFlags) (*gosnmp.UsmSecurityParameters, error) {
	sp := &gosnmp.UsmSecurityParameters{
		AuthoritativeEngineID:    engineID,
		AuthoritativeEngineBoots: boots,
		AuthoritativeEngineTime:  engineTime,
		UserName:                 c.user,
		AuthenticationProtocol:   c.usm.AuthenticationProtocol,
		PrivacyProtocol:          c.usm.PrivacyProtocol,
		SecretKey:                c.usm.SecretKey,
		PrivacyKey:               c.usm.PrivacyKey,
	}
	if flags&gosnmp.AuthPriv == gosnmp.AuthPriv {
		salt := make([]byte, 8)
		if _, err := rand.Read(salt); err != nil {
			return nil, fmt.Errorf("privacy salt: %w", err)
		}
		if c.usm.PrivacyProtocol == gosnmp.DES {
			// RFC 3414 8.1.1.1: the DES salt starts with snmpEngineBoots.
			salt[0], salt[1], salt[2], salt[3] = byte(boots>>24), byte(boots>>16), byte(boots>>8), byte(boots)
		}
		sp.PrivacyParameters = salt
	}
	return sp, nil
}
