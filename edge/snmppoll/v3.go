package snmppoll

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gosnmp/gosnmp"
)

// Security levels of SNMPv3 (RFC 3411 §3.4.3), as net-snmp spells them.
const (
	NoAuthNoPriv = "noAuthNoPriv"
	AuthNoPriv   = "authNoPriv"
	AuthPriv     = "authPriv"
)

// authProtocols maps the names Opts.AuthProtocol accepts, upper-cased and
// without dashes, to gosnmp's. SHA-2 is RFC 7860 (HMAC-SHA-2 for USM).
var authProtocols = map[string]gosnmp.SnmpV3AuthProtocol{
	"MD5":    gosnmp.MD5,
	"SHA":    gosnmp.SHA,
	"SHA1":   gosnmp.SHA,
	"SHA224": gosnmp.SHA224,
	"SHA256": gosnmp.SHA256,
	"SHA384": gosnmp.SHA384,
	"SHA512": gosnmp.SHA512,
}

// privProtocols maps the names Opts.PrivProtocol accepts, upper-cased and
// without dashes, to gosnmp's. AES is RFC 3826 (AES-128 CFB). AES-192 and
// AES-256 extend the key as draft-blumenthal-aes-usm-04 does, which
// net-snmp calls AES-192 and AES-256; the "C" variants extend it as
// draft-reeder-snmpv3-usm-3desede does, as Cisco devices and net-snmp's
// AES-192-C and AES-256-C do. The two differ only when the authentication
// hash is shorter than the privacy key (MD5 or SHA-1 with AES-192 or
// AES-256); then a device configured for one cannot decrypt the other.
var privProtocols = map[string]gosnmp.SnmpV3PrivProtocol{
	"DES":     gosnmp.DES,
	"AES":     gosnmp.AES,
	"AES128":  gosnmp.AES,
	"AES192":  gosnmp.AES192,
	"AES256":  gosnmp.AES256,
	"AES192C": gosnmp.AES192C,
	"AES256C": gosnmp.AES256C,
}

// minPassphrase is the shortest passphrase RFC 3414 §11.2 allows; net-snmp
// refuses shorter ones.
const minPassphrase = 8

func protoKey(s string) string {
	return strings.ToUpper(strings.ReplaceAll(strings.ReplaceAll(s, "-", ""), "_", ""))
}

// configureV3 sets up g for the User-based Security Model (RFC 3414).
func configureV3(g *gosnmp.GoSNMP, o *Opts) error {
	if o.User == "" {
		return errors.New("SNMPv3 needs a user")
	}
	if o.Community != "" {
		return errors.New("a community is for SNMPv1 and v2c; SNMPv3 uses a user")
	}
	usm := &gosnmp.UsmSecurityParameters{UserName: o.User, AuthenticationProtocol: gosnmp.NoAuth, PrivacyProtocol: gosnmp.NoPriv}
	if o.AuthProtocol != "" {
		p, ok := authProtocols[protoKey(o.AuthProtocol)]
		if !ok {
			return fmt.Errorf("unknown auth protocol %q (want MD5, SHA, SHA-224, SHA-256, SHA-384 or SHA-512)", o.AuthProtocol)
		}
		if len(o.AuthPassphrase) < minPassphrase {
			return fmt.Errorf("auth passphrase shorter than %d characters (RFC 3414 §11.2)", minPassphrase)
		}
		usm.AuthenticationProtocol, usm.AuthenticationPassphrase = p, o.AuthPassphrase
	}
	if o.PrivProtocol != "" {
		p, ok := privProtocols[protoKey(o.PrivProtocol)]
		if !ok {
			return fmt.Errorf("unknown privacy protocol %q (want DES, AES, AES-192, AES-256, AES-192-C or AES-256-C)", o.PrivProtocol)
		}
		if len(o.PrivPassphrase) < minPassphrase {
			return fmt.Errorf("privacy passphrase shorter than %d characters (RFC 3414 §11.2)", minPassphrase)
		}
		usm.PrivacyProtocol, usm.PrivacyPassphrase = p, o.PrivPassphrase
	}
	level := o.SecurityLevel
	if level == "" {
		switch {
		case o.PrivProtocol != "":
			level = AuthPriv
		case o.AuthProtocol != "":
			level = AuthNoPriv
		default:
			level = NoAuthNoPriv
		}
	}
	hasAuth, hasPriv := o.AuthProtocol != "", o.PrivProtocol != ""
	switch {
	case strings.EqualFold(level, NoAuthNoPriv) && !hasAuth && !hasPriv:
		g.MsgFlags = gosnmp.NoAuthNoPriv
	case strings.EqualFold(level, AuthNoPriv) && hasAuth && !hasPriv:
		g.MsgFlags = gosnmp.AuthNoPriv
	case strings.EqualFold(level, AuthPriv) && hasAuth && hasPriv:
		g.MsgFlags = gosnmp.AuthPriv
	case strings.EqualFold(level, AuthPriv) && hasPriv && !hasAuth:
		return errors.New("privacy needs authentication: set an auth protocol (RFC 3414 §3.1.1)")
	case strings.EqualFold(level, NoAuthNoPriv), strings.EqualFold(level, AuthNoPriv), strings.EqualFold(level, AuthPriv):
		return fmt.Errorf("security level %s does not fit the protocols given (auth %q, privacy %q)", level, o.AuthProtocol, o.PrivProtocol)
	default:
		return fmt.Errorf("unknown security level %q (want noAuthNoPriv, authNoPriv or authPriv)", level)
	}
	g.Version = gosnmp.Version3
	g.SecurityModel = gosnmp.UserSecurityModel
	g.SecurityParameters = usm
	g.ContextName = o.ContextName
	g.Community = ""
	return nil
}

// explain adds what an operator should check to the errors gosnmp reports
// for USM failures (RFC 3414 §3.2) and silence, keeping the cause.
func (p *Poller) explain(err error) error {
	if u, ok := p.client.(*usmClient); ok && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		if rep := u.report(); rep != nil && !errors.Is(err, rep) {
			// gosnmp discarded the unauthenticated report.
			err = fmt.Errorf("%w (%w)", rep, err)
		}
	}
	return explain(err, p.v3, p.user)
}

func explain(err error, v3 bool, user string) error {
	switch {
	case errors.Is(err, gosnmp.ErrWrongDigest):
		return fmt.Errorf("usm: authentication failed for user %q, check the auth protocol and passphrase: %w", user, err)
	case errors.Is(err, gosnmp.ErrUnknownUsername):
		return fmt.Errorf("usm: the agent has no user %q: %w", user, err)
	case errors.Is(err, gosnmp.ErrDecryption):
		return fmt.Errorf("usm: the agent cannot decrypt the request of user %q, check the privacy protocol (AES-256 and AES-256-C differ) and passphrase: %w", user, err)
	case errors.Is(err, gosnmp.ErrUnknownSecurityLevel):
		return fmt.Errorf("usm: the agent does not accept this security level for user %q: %w", user, err)
	case errors.Is(err, gosnmp.ErrNotInTimeWindow), errors.Is(err, gosnmp.ErrUnknownEngineID):
		return fmt.Errorf("usm: engine discovery failed: %w", err)
	case errors.Is(err, gosnmp.ErrMaxRetriesExceeded) && !v3:
		return fmt.Errorf("no answer (wrong community, or target down): %w", err)
	case errors.Is(err, gosnmp.ErrMaxRetriesExceeded):
		// net-snmp drops a request it decrypts to garbage, without a
		// report.
		return fmt.Errorf("no answer (target down, or a privacy protocol or passphrase that does not match the agent's): %w", err)
	}
	return err
}
