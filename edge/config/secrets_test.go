package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/rackwatch/rackwatch/edge/configfile/configfiletest"
)

// secretFile writes content to a file of the given mode and returns its path.
func secretFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	return configfiletest.WriteMode(t, filepath.Join(t.TempDir(), "secret"), content+"\n", mode)
}

const v3Target = "  - {name: sw, address: 127.0.0.1, user: rw, auth_protocol: SHA, auth_passphrase_file: %AUTH%, priv_protocol: AES, priv_passphrase_file: %PRIV%, profiles: [if-mib]}\n"

func TestSecretFileKeys(t *testing.T) {
	t.Parallel()
	pass := secretFile(t, "mqtt-pass-1", 0o600)
	comm := secretFile(t, "comm-secret-2", 0o600)
	auth := secretFile(t, "auth-phrase-3", 0o600)
	priv := secretFile(t, "priv-phrase-4", 0o640)
	tcomm := secretFile(t, "trap-comm-5", 0o600)
	loose := secretFile(t, "loose-secret-6", 0o644)
	for _, tc := range []struct {
		name, body string
		get        func(*Config) string
		want       string
	}{
		{"mqtt.password_file", "mqtt: {password_file: " + pass + "}\n",
			func(c *Config) string { return string(c.MQTT.Password) }, "mqtt-pass-1"},
		{"snmp[0].community_file", "snmp:\n  - {name: sw, address: 127.0.0.1, community_file: " + comm + ", allow_community: true, profiles: [if-mib]}\n",
			func(c *Config) string { return c.SNMP[0].PollerOpts().Community }, "comm-secret-2"},
		{"snmp[0].auth_passphrase_file", "snmp:\n" + strings.NewReplacer("%AUTH%", auth, "%PRIV%", priv).Replace(v3Target),
			func(c *Config) string { return c.SNMP[0].PollerOpts().AuthPassphrase }, "auth-phrase-3"},
		{"snmp[0].priv_passphrase_file", "snmp:\n" + strings.NewReplacer("%AUTH%", auth, "%PRIV%", priv).Replace(v3Target),
			func(c *Config) string { return c.SNMP[0].PollerOpts().PrivPassphrase }, "priv-phrase-4"},
		{"traps.community_files[0]", "traps: {listen: '127.0.0.1:0', allow_community: true, community_files: [" + tcomm + "]}\n",
			func(c *Config) string { return c.Traps.TrapOpts().Communities[0] }, "trap-comm-5"},
		{"traps.users[0].auth_passphrase_file", "traps: {listen: '127.0.0.1:0', users: [{name: u, engine_id: 8000000001020304, auth_protocol: SHA, auth_passphrase_file: " + auth + ", priv_protocol: AES, priv_passphrase_file: " + priv + "}]}\n",
			func(c *Config) string { return c.Traps.TrapOpts().Users[0].AuthPassphrase }, "auth-phrase-3"},
		{"traps.users[0].priv_passphrase_file", "traps: {listen: '127.0.0.1:0', users: [{name: u, engine_id: 8000000001020304, auth_protocol: SHA, auth_passphrase_file: " + auth + ", priv_protocol: AES, priv_passphrase_file: " + priv + "}]}\n",
			func(c *Config) string { return c.Traps.TrapOpts().Users[0].PrivPassphrase }, "priv-phrase-4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, minimal+tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.get(c); got != tc.want {
				t.Errorf("secret = %q, want %q", got, tc.want)
			}
			if w := c.Warnings(); len(w) > 0 {
				t.Errorf("warnings for a secret file: %q", w)
			}
			out, _ := yaml.Marshal(c)
			if strings.Contains(string(out), tc.want) {
				t.Errorf("check-config output leaks %q:\n%s", tc.want, out)
			}
			// The same key naming a world-readable file is refused, with
			// the file, line and key.
			bad := strings.NewReplacer(pass, loose, comm, loose, auth, loose, priv, loose, tcomm, loose).Replace(tc.body)
			_, err = load(t, minimal+bad)
			if err == nil || !strings.Contains(err.Error(), tc.name+": secret file mode: "+loose+" has mode 0644") || !strings.Contains(err.Error(), "chmod 600 "+loose) {
				t.Errorf("loose file: error %v", err)
			} else if !strings.Contains(err.Error(), "edge.yaml:") {
				t.Errorf("error %v does not name the configuration file and line", err)
			}
		})
	}
}

func TestInlineSecretsWarn(t *testing.T) {
	t.Parallel()
	c, err := load(t, minimal+"mqtt: {password: inl1ne}\nsnmp_security: {allow_community: true}\nsnmp:\n  - {name: sw, address: 127.0.0.1, community: inl1ne, profiles: [if-mib]}\n")
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Join(c.Warnings(), "\n")
	for _, want := range []string{"edge.yaml:3: mqtt.password: holds a secret inline; put it in a file of mode 0600 and name it with mqtt.password_file",
		"edge.yaml:6: snmp[0].community: holds a secret inline"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings %q lack %q", w, want)
		}
	}
	if strings.Contains(w, "inl1ne") {
		t.Errorf("warnings leak the secret: %q", w)
	}
}

func TestSNMPSecurity(t *testing.T) {
	t.Parallel()
	auth := secretFile(t, "auth-phrase-3", 0o600)
	priv := secretFile(t, "priv-phrase-4", 0o600)
	const v2c = "  - {name: sw, address: 127.0.0.1, version: 2c, community: c, profiles: [if-mib]}\n"
	for _, tc := range []struct {
		name, body, want string
	}{
		{"v2c refused", "snmp:\n" + v2c, `edge.yaml:4: snmp[0].version: SNMP 2c is refused`},
		{"v1 refused", "snmp:\n  - {name: sw, address: 127.0.0.1, version: '1', community: c, profiles: [if-mib]}\n", `snmp[0].version: SNMP 1 is refused`},
		{"no version, no user refused", "snmp:\n  - {name: sw, address: 127.0.0.1, community: c, profiles: [if-mib]}\n", `snmp[0].version: SNMP 2c (the default without a user) is refused`},
		{"allowed per target", "snmp:\n  - {name: sw, address: 127.0.0.1, version: 2c, community: c, allow_community: true, profiles: [if-mib]}\n", ""},
		{"allowed globally", "snmp_security: {allow_community: true}\nsnmp:\n" + v2c, ""},
		{"v3 authPriv accepted", "snmp:\n" + strings.NewReplacer("%AUTH%", auth, "%PRIV%", priv).Replace(v3Target), ""},
		{"v3 with explicit version", "snmp:\n  - {name: sw, address: 127.0.0.1, version: '3', user: rw, auth_protocol: SHA, auth_passphrase_file: " + auth + ", priv_protocol: AES, priv_passphrase_file: " + priv + ", profiles: [if-mib]}\n", ""},
		{"trap communities refused", "traps: {listen: '127.0.0.1:0', communities: [c]}\n", `edge.yaml:3: traps.communities: SNMP v1 and v2c notifications are refused`},
		{"trap community files refused", "traps: {listen: '127.0.0.1:0', community_files: [" + auth + "]}\n", `edge.yaml:3: traps.community_files: SNMP v1 and v2c notifications are refused`},
		{"trap communities allowed", "traps: {listen: '127.0.0.1:0', allow_community: true, communities: [c]}\n", ""},
		{"trap communities allowed globally", "snmp_security: {allow_community: true}\ntraps: {listen: '127.0.0.1:0', communities: [c]}\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, minimal+tc.body)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v\nwant it to contain %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "allow_community: true") {
				t.Errorf("error %v does not say how to allow it", err)
			}
		})
	}
}

func TestSNMPv3WithoutPrivacyWarns(t *testing.T) {
	t.Parallel()
	auth := secretFile(t, "auth-phrase-3", 0o600)
	c, err := load(t, minimal+"snmp:\n  - {name: sw, address: 127.0.0.1, user: rw, auth_protocol: SHA, auth_passphrase_file: "+auth+", profiles: [if-mib]}\n")
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, "snmp[0].priv_passphrase_file: SNMPv3 without privacy") {
		t.Errorf("warnings %q", w)
	}
}

func TestSecretFilesAreNotInTheFile(t *testing.T) {
	t.Parallel()
	// The file names stay in the configuration printed by check-config;
	// only the secrets they hold are redacted.
	pass := secretFile(t, "mqtt-pass-1", 0o600)
	c, err := load(t, minimal+"mqtt: {password_file: "+pass+"}\n")
	if err != nil {
		t.Fatal(err)
	}
	out, _ := yaml.Marshal(c)
	if !strings.Contains(string(out), "password_file: "+filepath.Clean(pass)) || !strings.Contains(string(out), "password: <secret>") {
		t.Errorf("printed configuration:\n%s", out)
	}
}
