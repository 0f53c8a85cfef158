package snmppoll

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/rackwatch/rackwatch/deploy/testrig"
)

// TestIntegrationV3 polls net-snmp 5.9's snmpd (Debian 12) with SNMPv3 users
// of every authentication and privacy protocol it supports, including
// SHA-2 (RFC 7860) and both AES-192/256 key extensions, and checks that
// wrong credentials fail with the USM error, named.
func TestIntegrationV3(t *testing.T) {
	t.Parallel()
	agent := testrig.StartSnmpd(t, testrig.SnmpdOpts{Config: `
createUser md5des MD5 auth-md5-pass DES priv-des-pass
createUser shaaes SHA auth-sha-pass AES priv-aes-pass
createUser sha224auth SHA-224 auth-224-pass
createUser sha256aes192 SHA-256 auth-256-pass AES-192 priv-192-pass
createUser sha384aes256c SHA-384 auth-384-pass AES-256-C priv-256c-pass
createUser sha512aes256 SHA-512 auth-512-pass AES-256 priv-256-pass
createUser sha512aes192c SHA-512 auth-512-pass AES-192-C priv-192c-pass
createUser shaaes256 SHA auth-sha-pass AES-256 priv-256-pass
createUser shaaes256c SHA auth-sha-pass AES-256-C priv-256c-pass
createUser md5aes192 MD5 auth-md5-pass AES-192 priv-192-pass
createUser md5aes192c MD5 auth-md5-pass AES-192-C priv-192c-pass
rouser md5des priv
rouser shaaes priv
rouser sha224auth auth
rouser sha256aes192 priv
rouser sha384aes256c priv
rouser sha512aes256 priv
rouser sha512aes192c priv
rouser shaaes256 priv
rouser shaaes256c priv
rouser md5aes192 priv
rouser md5aes192c priv
`})
	type creds struct {
		user, auth, authPass, priv, privPass, level string
	}
	good := []creds{
		{"md5des", "MD5", "auth-md5-pass", "DES", "priv-des-pass", ""},
		{"shaaes", "SHA", "auth-sha-pass", "AES", "priv-aes-pass", ""},
		{"sha224auth", "SHA-224", "auth-224-pass", "", "", AuthNoPriv},
		{"sha256aes192", "SHA-256", "auth-256-pass", "AES-192", "priv-192-pass", AuthPriv},
		{"sha384aes256c", "SHA-384", "auth-384-pass", "AES-256-C", "priv-256c-pass", ""},
		{"sha512aes256", "SHA-512", "auth-512-pass", "AES-256", "priv-256-pass", ""},
		{"sha512aes192c", "SHA-512", "auth-512-pass", "AES-192-C", "priv-192c-pass", ""},
		// With a hash shorter than the privacy key, the key extensions
		// differ: Blumenthal (net-snmp's AES-256) and Reeder (AES-256-C).
		{"shaaes256", "SHA", "auth-sha-pass", "AES-256", "priv-256-pass", ""},
		{"shaaes256c", "SHA", "auth-sha-pass", "AES-256-C", "priv-256c-pass", ""},
		{"md5aes192", "MD5", "auth-md5-pass", "AES-192", "priv-192-pass", ""},
		{"md5aes192c", "MD5", "auth-md5-pass", "AES-192-C", "priv-192c-pass", ""},
	}
	newPoller := func(t *testing.T, c creds) *Poller {
		t.Helper()
		p, err := New(&Opts{Name: "host1", Address: agent.Addr, Version: "3", User: c.user,
			AuthProtocol: c.auth, AuthPassphrase: c.authPass, PrivProtocol: c.priv, PrivPassphrase: c.privPass, SecurityLevel: c.level,
			Timeout: time.Second, Retries: -1, Profiles: []string{"if-mib"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	}
	for _, c := range good {
		t.Run(c.user, func(t *testing.T) {
			t.Parallel()
			p := newPoller(t, c)
			checkLoopback(t, poll(t, p))
			// The engine's boots and time are known from now on.
			checkLoopback(t, poll(t, p))
		})
	}
	for _, tt := range []struct {
		name string
		c    creds
		is   error
		want string
	}{
		{"wrong auth passphrase", creds{"sha512aes256", "SHA-512", "not-the-pass", "AES-256", "priv-256-pass", ""},
			gosnmp.ErrWrongDigest, `usm: authentication failed for user "sha512aes256", check the auth protocol and passphrase: wrong digest`},
		{"wrong auth protocol", creds{"sha512aes256", "SHA-256", "auth-512-pass", "AES-256", "priv-256-pass", ""},
			gosnmp.ErrWrongDigest, "usm: authentication failed"},
		{"unknown user", creds{"nobody", "SHA", "auth-sha-pass", "", "", ""},
			gosnmp.ErrUnknownUsername, `usm: the agent has no user "nobody": unknown username`},
		{"privacy the user lacks", creds{"sha224auth", "SHA-224", "auth-224-pass", "AES", "priv-aes-pass", ""},
			gosnmp.ErrUnknownSecurityLevel, "usm: the agent does not accept this security level"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPoller(t, tt.c)
			ss, err := p.Poll(context.Background())
			if len(ss) != 0 || !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.want) ||
				!strings.HasPrefix(err.Error(), "snmppoll: host1 ("+agent.Addr+"): ") {
				t.Fatalf("poll: %d samples, %v; want %v, %q", len(ss), err, tt.is, tt.want)
			}
			t.Log(err)
		})
	}
	// A wrong privacy passphrase, or the other AES key extension, encrypts
	// what the agent cannot decrypt; net-snmp drops such requests.
	for _, tt := range []struct {
		name string
		c    creds
	}{
		{"wrong privacy passphrase", creds{"sha512aes256", "SHA-512", "auth-512-pass", "AES-256", "not-the-priv", ""}},
		{"Blumenthal for Reeder", creds{"shaaes256c", "SHA", "auth-sha-pass", "AES-256", "priv-256c-pass", ""}},
		{"Reeder for Blumenthal", creds{"md5aes192", "MD5", "auth-md5-pass", "AES-192-C", "priv-192-pass", ""}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPoller(t, tt.c)
			ss, err := p.Poll(context.Background())
			want := "snmppoll: host1 (" + agent.Addr + "): get sysUpTime, sysObjectID, sysDescr: "
			if len(ss) != 0 || err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("poll: %d samples, %v; want an error naming the target", len(ss), err)
			}
			if !errors.Is(err, gosnmp.ErrDecryption) && !strings.Contains(err.Error(), "a privacy protocol or passphrase that does not match") {
				t.Errorf("err = %v, want a decryption error, or silence explained", err)
			}
			t.Log(err)
		})
	}
}

// TestIntegrationV3DiscoversOnce: the engine discovery (RFC 3414 §4) is
// done once, so later polls cost the agent exactly what a poll needs.
func TestIntegrationV3DiscoversOnce(t *testing.T) {
	t.Parallel()
	agent := testrig.StartSnmpd(t, testrig.SnmpdOpts{Config: "createUser u1 SHA-256 auth-256-pass AES priv-aes-pass\nrouser u1 priv\n"})
	p, err := New(&Opts{Name: "host1", Address: agent.Addr, Version: "3", User: "u1",
		AuthProtocol: "SHA-256", AuthPassphrase: "auth-256-pass", PrivProtocol: "AES", PrivPassphrase: "priv-aes-pass",
		Timeout: time.Second, Retries: -1, Profiles: []string{"if-mib"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	v2 := &gosnmp.GoSNMP{Target: "127.0.0.1", Port: agent.Port, Community: agent.Community, Version: gosnmp.Version2c, Timeout: time.Second}
	if err := v2.Connect(); err != nil {
		t.Fatal(err)
	}
	defer v2.Close()
	counters := (&vsAgent{c: v2}).read
	var reqs []uint64
	for range 3 {
		before := counters(t).pkts
		poll(t, p)
		reqs = append(reqs, counters(t).pkts-before-1) // less the read of before
	}
	if reqs[0] != reqs[1]+1 || reqs[1] != reqs[2] {
		t.Errorf("requests per poll %v; want one discovery in the first poll, then the same count", reqs)
	}
}
