package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, body string) (*Config, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "collector.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(p)
}

const base = `version: 1
haproxy:
  - {name: lb1, address: /run/haproxy/admin.sock}
nodes:
  - name: api1
    edge: rack1
    bmc: api1-bmc
    lb: [{haproxy: lb1, backend: api, server: s1}]
`

func TestDefaults(t *testing.T) {
	c, err := load(t, base)
	if err != nil {
		t.Fatal(err)
	}
	p := c.Policy.Decide()
	if c.MQTT.Broker != "" || c.MQTT.Listen != "" {
		t.Errorf("mqtt broker %q, listen %q; want both empty: the embedded broker on its default address", c.MQTT.Broker, c.MQTT.Listen)
	}
	if c.HAProxy[0].Period != 2*time.Second || c.Policy.Tick != time.Second || p.HotCelsius != 85 || p.MaxFraction != 0.34 {
		t.Errorf("defaults not applied: %+v %+v", c, p)
	}
}

func TestErrorsNameLineAndKey(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"unknown key", base + "policy:\n  hot: 90\n", `collector.yaml:10: policy.hot: unknown key "hot"`},
		{"unknown haproxy", strings.Replace(base, "{haproxy: lb1,", "{haproxy: lb9,", 1), `collector.yaml:8: nodes[0].lb[0].haproxy: unknown HAProxy instance "lb9"`},
		{"crit below hot", base + "policy:\n  hot_celsius: 90\n  crit_celsius: 80\n", "collector.yaml:9: policy: decide: crit_celsius 80.0 must be above hot_celsius 90.0"},
		{"server twice", base + "  - {name: api2, edge: rack1, bmc: b2, lb: [{haproxy: lb1, backend: api, server: s1}]}\n", `nodes[1].lb[0]: server api/s1 is already node "api1"'s`},
		{"missing bmc", strings.Replace(base, "    bmc: api1-bmc\n", "", 1), "collector.yaml:5: nodes[0].bmc: required"},
		{"no version", strings.Replace(base, "version: 1\n", "", 1), "version: missing format version"},
		{"bad influx", base + "influxdb: {url: nowhere}\n", "influxdb.url"},
		{"bad broker", base + "mqtt: {broker: broker:1883}\n", `collector.yaml:9: mqtt.broker: "broker:1883" is not a broker URL`},
		{"client key without certificate", base + "mqtt:\n  broker: ssl://b:8883\n  key_file: /nonexistent/collector.key\n", "collector.yaml:9: mqtt.cert_file: required with key_file"},
		{"client certificate missing", base + "mqtt:\n  broker: ssl://b:8883\n  cert_file: /nonexistent/collector.crt\n  key_file: /nonexistent/collector.key\n", "collector.yaml:11: mqtt.cert_file: open /nonexistent/collector.crt: no such file"},
		{"client certificate on the embedded broker", base + "mqtt:\n  cert_file: /nonexistent/collector.crt\n  key_file: /nonexistent/collector.key\n", `collector.yaml:10: mqtt.cert_file: a client certificate needs a TLS broker URL (ssl://, tls:// or wss://), but the broker is ""`},
		{"embedded broker on the network", base + "mqtt: {listen: \"0.0.0.0:1883\"}\n", `collector.yaml:9: mqtt.listen: broker: listen address "0.0.0.0:1883": the embedded broker authenticates nobody`},
		{"listen with an external broker", base + "mqtt: {broker: \"tcp://b:1883\", listen: \"127.0.0.1:1883\"}\n", "mqtt.listen: is the embedded broker's address, which runs only when mqtt.broker is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.body)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestSNMPNotify(t *testing.T) {
	good := base + `snmp_notify:
  targets:
    - {name: nms1, address: 192.0.2.10, version: v2c, community: s3cret-community}
    - name: nms2
      address: "nms2.example:10162"
      version: v3
      user: rackwatch
      auth_protocol: SHA-256
      auth_passphrase: auth-passphrase
      priv_protocol: AES
      priv_passphrase: priv-passphrase
      timeout: 3s
      retries: 0
`
	c, err := load(t, good)
	if err != nil {
		t.Fatal(err)
	}
	a, b := c.SNMPNotify.Targets[0].Target(), c.SNMPNotify.Targets[1].Target()
	if a.Community != "s3cret-community" || a.Retries != 0 || b.Retries != -1 || b.Timeout != 3*time.Second || b.PrivPassphrase != "priv-passphrase" {
		t.Errorf("targets %+v %+v", a, b)
	}
	if s := fmt.Sprintf("%v", c.SNMPNotify.Targets); strings.Contains(s, "s3cret") || strings.Contains(s, "auth-passphrase") {
		t.Errorf("a secret prints: %s", s)
	}

	for _, tc := range []struct{ name, body, want string }{
		{"no targets", "snmp_notify: {targets: []}\n", "snmp_notify.targets: at least one target is required"},
		{"bad version", "snmp_notify:\n  targets:\n    - {address: nms, version: v1}\n", `collector.yaml:11: snmp_notify.targets[0].version: unsupported SNMP version "v1"`},
		{"no address", "snmp_notify:\n  targets:\n    - {version: v2c}\n", "snmp_notify.targets[0].address: empty address"},
		{"short passphrase", "snmp_notify:\n  targets:\n    - {address: nms, version: v3, user: u, auth_protocol: SHA, auth_passphrase: short}\n", "snmp_notify.targets[0].auth_passphrase: auth passphrase shorter than 8"},
		{"unknown priv", "snmp_notify:\n  targets:\n    - {address: nms, version: v3, user: u, auth_protocol: SHA, auth_passphrase: 12345678, priv_protocol: ROT13, priv_passphrase: 12345678}\n", "snmp_notify.targets[0].priv_protocol: traps: unknown privacy protocol"},
		{"v3 without user", "snmp_notify:\n  targets:\n    - {address: nms, version: v3}\n", "snmp_notify.targets[0].user: SNMPv3 needs a user"},
		{"user on v2c", "snmp_notify:\n  targets:\n    - {address: nms, version: v2c, user: u}\n", "snmp_notify.targets[0].user:"},
		{"retries", "snmp_notify:\n  targets:\n    - {address: nms, version: v2c, retries: 50}\n", "snmp_notify.targets[0].retries: must be 0 to 10"},
		{"timeout", "snmp_notify:\n  targets:\n    - {address: nms, version: v2c, timeout: 1ms}\n", "snmp_notify.targets[0].timeout: must be between"},
		{"same name", "snmp_notify:\n  targets:\n    - {address: nms, version: v2c}\n    - {address: nms, version: v2c, inform: true}\n", `snmp_notify.targets[1].name: "nms" is used by another target`},
		{"unknown key", "snmp_notify:\n  targets:\n    - {address: nms, version: v2c, password: x}\n", `unknown key "password"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, base+tc.body)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}
