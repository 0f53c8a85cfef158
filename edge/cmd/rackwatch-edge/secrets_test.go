package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rackwatch/rackwatch/edge/configfile/configfiletest"
	"github.com/rackwatch/rackwatch/edge/snmppoll"
)

func TestSNMPPollSecretSources(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	comm := configfiletest.WriteMode(t, filepath.Join(dir, "community"), "fromfile-community\n", 0o600)
	auth := configfiletest.WriteMode(t, filepath.Join(dir, "auth"), "fromfile-auth\n", 0o600)
	loose := configfiletest.WriteMode(t, filepath.Join(dir, "loose"), "loose-secret\n", 0o644)
	env := map[string]string{envCommunity: "env-community", envAuthPass: "env-auth", envPrivPass: "env-priv"}
	for _, tc := range []struct {
		name             string
		flags            secretFlags
		opts             snmppoll.Opts
		env              bool
		comm, auth, priv string
		err              string
	}{
		{name: "files", flags: secretFlags{community: comm, auth: auth}, comm: "fromfile-community", auth: "fromfile-auth"},
		{name: "environment", env: true, comm: "env-community", auth: "env-auth", priv: "env-priv"},
		{name: "flags win over the environment", env: true, opts: snmppoll.Opts{Community: "flag"}, comm: "flag", auth: "env-auth", priv: "env-priv"},
		{name: "files win over the environment", env: true, flags: secretFlags{auth: auth}, comm: "env-community", auth: "fromfile-auth", priv: "env-priv"},
		{name: "flag and file", flags: secretFlags{community: comm}, opts: snmppoll.Opts{Community: "flag"}, err: "--community and --community-file exclude each other"},
		{name: "loose file", flags: secretFlags{priv: loose}, err: "--priv-pass-file: configfile: secret file mode: " + loose + " has mode 0644"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) (string, bool) {
				v, ok := env[k]
				return v, ok && tc.env
			}
			o := tc.opts
			err := tc.flags.resolve(&o, getenv)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "loose-secret") {
					t.Errorf("error leaks the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.Community != tc.comm || o.AuthPassphrase != tc.auth || o.PrivPassphrase != tc.priv {
				t.Errorf("community %q, auth %q, priv %q", o.Community, o.AuthPassphrase, o.PrivPassphrase)
			}
		})
	}
}

func TestSNMPPollHelpWarnsOfSecretFlags(t *testing.T) {
	t.Parallel()
	code, _, stderr := runSNMP(t, "-h")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"-community-file", "-auth-pass-file", "-priv-pass-file", envAuthPass, "lab use"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("help lacks %q:\n%s", want, stderr)
		}
	}
}

// TestCheckConfigSecrets: check-config prints the file names, never what
// they hold, and warns of inline secrets without repeating them.
func TestCheckConfigSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pass := configfiletest.WriteMode(t, filepath.Join(dir, "mqtt.pass"), "s3cret-from-file\n", 0o600)
	cfg := configfiletest.WriteMode(t, filepath.Join(dir, "edge.yaml"), "version: 1\nedge: {node: rack1, state_dir: "+dir+"}\n"+
		"mqtt: {username: rack1, password_file: "+pass+"}\nsnmp_security: {allow_community: true}\n"+
		"snmp:\n  - {name: tor1, address: 127.0.0.1, community: inline-community, profiles: [if-mib]}\n", 0o600)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"check-config", cfg}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	all := stdout.String() + stderr.String()
	for _, leak := range []string{"s3cret-from-file", "inline-community"} {
		if strings.Contains(all, leak) {
			t.Errorf("check-config output leaks %q:\n%s", leak, all)
		}
	}
	for _, want := range []string{"password_file: " + pass, "password: <secret>", "warning: " + cfg + ":6: snmp[0].community: holds a secret inline"} {
		if !strings.Contains(all, want) {
			t.Errorf("check-config output lacks %q:\n%s", want, all)
		}
	}
	configfiletest.WriteMode(t, pass, "s3cret-from-file\n", 0o644)
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"check-config", cfg}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), cfg+":3: mqtt.password_file: secret file mode: "+pass+" has mode 0644") ||
		!strings.Contains(stderr.String(), "chmod 600 "+pass) {
		t.Errorf("world-readable password file: exit %d, %s", code, stderr.String())
	}
}
