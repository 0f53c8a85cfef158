package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func load(t *testing.T, body string) (*Config, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "edge.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(p)
}

const minimal = "version: 1\nedge: {node: rack1, state_dir: /tmp/x}\n"

func TestDefaults(t *testing.T) {
	c, err := load(t, minimal+"i2c:\n  - bus: emulated\n    sensors: [{name: inlet, chip: tmp102, address: 0x48}]\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Sources != (Sources{MaxConcurrent: 16, BreakerFailures: 3, BreakerBackoffMax: 5 * time.Minute}) {
		t.Errorf("sources defaults: %+v", c.Sources)
	}
	if *c.MQTT.QoS != 1 || c.MQTT.ClientID != "rackwatch-edge-rack1" || c.I2C[0].Sensors[0].Period != 5*time.Second || c.I2C[0].Sensors[0].Address != 0x48 {
		t.Errorf("defaults not applied: %+v", c)
	}
}

func TestErrorsNameLineAndKey(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"unknown key", minimal + "mqtt:\n  brokr: tcp://x:1883\n", `edge.yaml:4: mqtt.brokr: unknown key "brokr"`},
		{"bad broker", minimal + "mqtt:\n  broker: localhost\n", `edge.yaml:4: mqtt.broker: "localhost" is not a broker URL`},
		{"missing CA file", minimal + "mqtt:\n  ca_file: /nonexistent/ca.pem\n", `edge.yaml:4: mqtt.ca_file: open /nonexistent/ca.pem: no such file`},
		{"bad qos", minimal + "mqtt:\n  qos: 2\n", "edge.yaml:4: mqtt.qos: must be 0 or 1"},
		{"client certificate without key", minimal + "mqtt:\n  broker: ssl://b:8883\n  cert_file: /nonexistent/rack1.crt\n", "edge.yaml:3: mqtt.key_file: required with cert_file"},
		{"client certificate missing", minimal + "mqtt:\n  broker: tcp://b:1883\n  cert_file: /nonexistent/rack1.crt\n  key_file: /nonexistent/rack1.key\n", "edge.yaml:5: mqtt.cert_file: open /nonexistent/rack1.crt: no such file"},
		{"client certificate over plain TCP", minimal + "mqtt:\n  broker: tcp://b:1883\n  cert_file: /nonexistent/rack1.crt\n  key_file: /nonexistent/rack1.key\n", `edge.yaml:5: mqtt.cert_file: a client certificate needs a TLS broker URL (ssl://, tls:// or wss://), but the broker is "tcp://b:1883"`},
		{"node missing", "version: 1\n", "edge.node"},
		{"unknown chip", minimal + "i2c:\n  - bus: '1'\n    sensors:\n      - {name: a, chip: lm99, address: 0x48}\n", `edge.yaml:6: i2c[0].sensors[0].chip: chips: unknown chip "lm99" (known: tmp102`},
		{"address out of range", minimal + "i2c:\n  - bus: '1'\n    sensors:\n      - {name: a, chip: tmp102, address: 0x50}\n", "edge.yaml:6: i2c[0].sensors[0].address: chips: tmp102 cannot be at 0x50 (its addresses: 0x48–0x4b)"},
		{"duplicate device", minimal + "i2c:\n  - bus: emulated\n    sensors:\n      - {name: a, chip: tmp102, address: 0x48}\nsnmp:\n  - {name: a, address: 127.0.0.1, profiles: [if-mib]}\n", `edge.yaml:8: snmp[0].name: device name "a" already used`},
		{"unknown profile", minimal + "snmp:\n  - {name: t, address: 127.0.0.1, profiles: [nope]}\n", "edge.yaml:4: snmp[0]:"},
		{"bad duration", minimal + "snmp:\n  - name: t\n    address: 127.0.0.1\n    period: often\n", "edge.yaml:6: snmp[0].period:"},
		{"device with slash", minimal + "snmp:\n  - {name: a/b, address: 127.0.0.1, profiles: [if-mib]}\n", "snmp[0].name"},
		{"reserved device", minimal + "snmp:\n  - {name: edge, address: 127.0.0.1, profiles: [if-mib]}\n", `edge.yaml:4: snmp[0].name: device name "edge" is reserved`},
		{"address used twice on a bus", minimal + "i2c:\n  - bus: emulated\n    sensors:\n      - {name: a, chip: tmp102, address: 0x48}\n  - bus: emulated\n    sensors:\n      - {name: b, chip: tmp102, address: 0x48}\n",
			`edge.yaml:9: i2c[1].sensors[0].address: 0x48 already used on bus "emulated" by i2c[0].sensors[0]`},
		{"no concurrency", minimal + "sources: {max_concurrent: 0}\n", "edge.yaml:3: sources.max_concurrent: must be 1 to 1024"},
		{"breaker never opens", minimal + "sources:\n  breaker_failures: 0\n", "edge.yaml:4: sources.breaker_failures: must be at least 1"},
		{"breaker backoff too short", minimal + "sources:\n  breaker_backoff_max: 10ms\n", "edge.yaml:4: sources.breaker_backoff_max: must be at least 1s"},
		{"metrics address without port", minimal + "metrics:\n  listen: 0.0.0.0\n", `edge.yaml:4: metrics.listen: "0.0.0.0" is not host:port`},
		{"metrics port not a number", minimal + "metrics: {listen: ':http'}\n", `edge.yaml:3: metrics.listen: ":http": the port must be a number`},
		{"metrics unknown key", minimal + "metrics:\n  addr: :9471\n", `edge.yaml:4: metrics.addr: unknown key "addr"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.body)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestSecretsAreRedacted(t *testing.T) {
	c, err := load(t, minimal+"mqtt: {username: rack1, password: p4ssw0rd}\nsnmp:\n  - {name: t, address: 127.0.0.1, community: s3cret, allow_community: true, profiles: [if-mib]}\n")
	if err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "p4ssw0rd") || strings.Contains(string(out), "s3cret") || !strings.Contains(string(out), "username: rack1") {
		t.Errorf("printed configuration leaks a secret or lost the username:\n%s", out)
	}
	if c.MQTT.Password != "p4ssw0rd" {
		t.Errorf("publisher gets password %q", c.MQTT.Password)
	}
	if s := c.SNMP[0].Community.String(); s != "<secret>" {
		t.Errorf("community prints as %q", s)
	}
	if got := c.SNMP[0].PollerOpts().Community; got != "s3cret" {
		t.Errorf("poller gets community %q", got)
	}
}
