package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/configfile/configfiletest"
)

func secretFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	return configfiletest.WriteMode(t, filepath.Join(t.TempDir(), "secret"), content+"\n", mode)
}

// certPair writes a self-signed certificate and its key (mode keyMode).
func certPair(t *testing.T, keyMode os.FileMode) (string, string) {
	cert, key, _ := testrig.WriteCert(t, t.TempDir(), "api", testrig.CertOpts{CommonName: "c", KeyMode: keyMode})
	return cert, key
}

func TestSecretFileKeys(t *testing.T) {
	t.Parallel()
	pass := secretFile(t, "mqtt-pass-1", 0o600)
	influx := secretFile(t, "influx-pass-2", 0o640)
	comm := secretFile(t, "nms-community-3", 0o600)
	auth := secretFile(t, "nms-auth-phrase-4", 0o600)
	priv := secretFile(t, "nms-priv-phrase-5", 0o600)
	toks := secretFile(t, "ops:ops-token-0123456789abcdef", 0o600)
	hook := secretFile(t, "webhook-token-6", 0o600)
	loose := secretFile(t, "loose-secret-7", 0o644)
	cert, key := certPair(t, 0o600)
	const v3 = "snmp_notify:\n  targets: [{name: n, address: 127.0.0.1, version: v3, user: u, auth_protocol: SHA, auth_passphrase_file: AUTH, priv_protocol: AES, priv_passphrase_file: PRIV}]\n"
	for _, tc := range []struct {
		key, body string
		secret    string // what the file holds, or "" when only checked
		get       func(*Config) string
	}{
		{"mqtt.password_file", "mqtt: {password_file: " + pass + "}\n", "mqtt-pass-1", func(c *Config) string { return string(c.MQTT.Password) }},
		{"influxdb.password_file", "influxdb: {url: 'http://127.0.0.1:8086', database: rw, password_file: " + influx + "}\n", "influx-pass-2", func(c *Config) string { return string(c.InfluxDB.Password) }},
		{"snmp_notify.targets[0].community_file", "snmp_notify:\n  targets: [{name: n, address: 127.0.0.1, version: v2c, community_file: " + comm + "}]\n", "nms-community-3",
			func(c *Config) string { return c.SNMPNotify.Targets[0].Target().Community }},
		{"snmp_notify.targets[0].auth_passphrase_file", strings.NewReplacer("AUTH", auth, "PRIV", priv).Replace(v3), "nms-auth-phrase-4",
			func(c *Config) string { return c.SNMPNotify.Targets[0].Target().AuthPassphrase }},
		{"snmp_notify.targets[0].priv_passphrase_file", strings.NewReplacer("AUTH", auth, "PRIV", priv).Replace(v3), "nms-priv-phrase-5",
			func(c *Config) string { return c.SNMPNotify.Targets[0].Target().PrivPassphrase }},
		{"api.tokens_file", "api: {tokens_file: " + toks + "}\n", "", nil},
		{"webhook.token_file", "webhook: {url: 'http://127.0.0.1:9', token_file: " + hook + "}\n", "", nil},
		{"api.tls_key_file", "api: {tls_cert_file: " + cert + ", tls_key_file: " + key + "}\n", "", nil},
	} {
		t.Run(tc.key, func(t *testing.T) {
			c, err := load(t, base+tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.get != nil {
				if got := tc.get(c); got != tc.secret {
					t.Errorf("secret %q, want %q", got, tc.secret)
				}
				out, _ := yaml.Marshal(c)
				if strings.Contains(string(out), tc.secret) {
					t.Errorf("check-config output leaks the secret:\n%s", out)
				}
			}
			if w := c.Warnings(); len(w) > 0 {
				t.Errorf("warnings: %q", w)
			}
			bad := strings.NewReplacer(pass, loose, influx, loose, comm, loose, auth, loose, priv, loose, toks, loose, hook, loose, key, loose).Replace(tc.body)
			_, err = load(t, base+bad)
			if err == nil || !strings.Contains(err.Error(), "collector.yaml:") || !strings.Contains(err.Error(), tc.key+": ") ||
				!strings.Contains(err.Error(), loose+" has mode 0644") || !strings.Contains(err.Error(), "chmod 600 "+loose) {
				t.Errorf("world-readable file: error %v", err)
			}
			if err != nil && strings.Contains(err.Error(), "loose-secret-7") {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
}

func TestInlineSecretsWarn(t *testing.T) {
	t.Parallel()
	c, err := load(t, base+"mqtt: {password: inl1ne-pass}\ninfluxdb: {url: 'http://127.0.0.1:8086', database: rw, password: inl1ne-pass}\n")
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Join(c.Warnings(), "\n")
	for _, want := range []string{"collector.yaml:9: mqtt.password: holds a secret inline; put it in a file of mode 0600 and name it with mqtt.password_file",
		"collector.yaml:10: influxdb.password: holds a secret inline"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings %q lack %q", w, want)
		}
	}
	if strings.Contains(w, "inl1ne-pass") {
		t.Errorf("warnings leak the secret")
	}
	if _, err := load(t, base+"mqtt: {password: x, password_file: /nonexistent}\n"); err == nil || !strings.Contains(err.Error(), "set either mqtt.password or mqtt.password_file, not both") {
		t.Errorf("both forms: %v", err)
	}
}

func TestAPISecurityKeys(t *testing.T) {
	t.Parallel()
	cert, key := certPair(t, 0o600)
	for _, tc := range []struct {
		name, body, want string
	}{
		{"defaults", "", ""},
		{"rate limit", "api: {rate_limit: {per_client: 2, per_client_burst: 5, global: 50, global_burst: 60}}\n", ""},
		{"zero rate", "api: {rate_limit: {per_client: 0}}\n", "collector.yaml:9: api.rate_limit: per_client and global must be positive"},
		{"zero burst", "api: {rate_limit: {global_burst: 0}}\n", "api.rate_limit: per_client and global must be positive, per_client_burst and global_burst at least 1"},
		{"tls", "api: {tls_cert_file: " + cert + ", tls_key_file: " + key + "}\n", ""},
		{"tls key without certificate", "api: {tls_key_file: " + key + "}\n", "api.tls_cert_file: required with api.tls_key_file"},
		{"tls certificate without key", "api: {tls_cert_file: " + cert + "}\n", "api.tls_key_file: required with api.tls_cert_file"},
		{"tls certificate missing", "api: {tls_cert_file: /nonexistent.crt, tls_key_file: " + key + "}\n", "api.tls_cert_file: stat /nonexistent.crt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, base+tc.body)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if r := c.API.APIRateLimit(); r.PerClient <= 0 || r.GlobalBurst < 1 {
					t.Errorf("rate limit %+v", r)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
