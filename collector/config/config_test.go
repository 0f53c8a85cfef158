package config

import (
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.body)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}
