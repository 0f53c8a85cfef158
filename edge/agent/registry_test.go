package agent

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/edge/config"
)

func loadConfig(t *testing.T, body string) *config.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "edge.yaml")
	if err := os.WriteFile(p, []byte("version: 1\nedge: {node: rack1, state_dir: /tmp/x}\nsnmp_security: {allow_community: true}\n"+body), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const baseConfig = `i2c:
  - bus: emulated
    sensors:
      - {name: inlet, chip: tmp102, address: 0x48}
      - {name: outlet, chip: tmp102, address: 0x49}
snmp:
  - {name: tor1, address: 127.0.0.1:1161, profiles: [if-mib]}
  - {name: tor2, address: 127.0.0.1:1162, profiles: [if-mib]}
host: {enabled: true, root: /tmp/none, kmsg: false}
`

func TestEntriesCoverEveryKind(t *testing.T) {
	got := map[string][]string{}
	for _, e := range Entries(loadConfig(t, baseConfig)) {
		got[e.Kind] = append(got[e.Kind], e.Device)
	}
	want := map[string][]string{"i2c": {"inlet", "outlet"}, "snmp": {"tor1", "tor2"}, "host": {"host"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries by kind %v, want %v", got, want)
	}
	if k := Kinds(); !slices.Equal(k, []string{"host", "i2c", "snmp"}) {
		t.Errorf("kinds %v", k)
	}
}

// TestDiff is the reload's decision: which sources keep running, which
// are rebuilt, removed and added.
func TestDiff(t *testing.T) {
	base := loadConfig(t, baseConfig)
	for _, tc := range []struct {
		name string
		body string
		want Plan
	}{
		{"identical", baseConfig, Plan{Keep: []string{"host", "inlet", "outlet", "tor1", "tor2"}}},
		{"an I2C sensor's period", `i2c:
  - bus: emulated
    sensors:
      - {name: inlet, chip: tmp102, address: 0x48, period: 2s}
      - {name: outlet, chip: tmp102, address: 0x49}
snmp:
  - {name: tor1, address: 127.0.0.1:1161, profiles: [if-mib]}
  - {name: tor2, address: 127.0.0.1:1162, profiles: [if-mib]}
host: {enabled: true, root: /tmp/none, kmsg: false}
`, Plan{Keep: []string{"host", "outlet", "tor1", "tor2"}, Restart: []string{"inlet"}}},
		{"a community, a removed target, a new sensor, host off", `i2c:
  - bus: emulated
    sensors:
      - {name: inlet, chip: tmp102, address: 0x48}
      - {name: outlet, chip: tmp102, address: 0x49}
      - {name: psu, chip: tmp102, address: 0x4a}
snmp:
  - {name: tor1, address: 127.0.0.1:1161, profiles: [if-mib], community: private}
`, Plan{Keep: []string{"inlet", "outlet"}, Restart: []string{"tor1"}, Remove: []string{"host", "tor2"}, Add: []string{"psu"}}},
		{"profile directories restart every SNMP target", baseConfig + "snmp_profiles: [" + t.TempDir() + "]\n",
			Plan{Keep: []string{"host", "inlet", "outlet"}, Restart: []string{"tor1", "tor2"}}},
		{"a sensor moved to another bus, a device changing kind", `i2c:
  - bus: "1"
    sensors:
      - {name: inlet, chip: tmp102, address: 0x48}
  - bus: emulated
    sensors:
      - {name: outlet, chip: tmp102, address: 0x49}
      - {name: tor2, chip: tmp102, address: 0x4a}
snmp:
  - {name: tor1, address: 127.0.0.1:1161, profiles: [if-mib]}
host: {enabled: true, root: /tmp/none, kmsg: false}
`, Plan{Keep: []string{"host", "outlet", "tor1"}, Restart: []string{"inlet", "tor2"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Diff(Entries(base), Entries(loadConfig(t, tc.body)))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Diff:\n got %+v\nwant %+v", got, tc.want)
			}
			if got.Changed() != (tc.name != "identical") {
				t.Errorf("Changed() = %v", got.Changed())
			}
		})
	}
}

// TestBuilderKeepsEmulatedModels: a sensor rebuilt after a reload reads
// the same model on the same bus, so what a demo set on it stays; an
// address no longer configured stops answering.
func TestBuilderKeepsEmulatedModels(t *testing.T) {
	b := NewBuilder(BuilderOpts{Now: time.Now})
	defer b.Close()
	first := Entries(loadConfig(t, "i2c:\n  - bus: emulated\n    sensors: [{name: inlet, chip: tmp102, address: 0x48}, {name: outlet, chip: tmp102, address: 0x49}]\n"))
	srcs, err := b.Build(first)
	if err != nil {
		t.Fatal(err)
	}
	model, ok := b.Emulated("inlet")
	if !ok {
		t.Fatal("no model for inlet")
	}
	bus, _ := b.EmulatedBus(EmulatedBus)
	second := Entries(loadConfig(t, "i2c:\n  - bus: emulated\n    sensors: [{name: inlet, chip: tmp102, address: 0x48, period: 1s}]\n"))
	rebuilt, err := b.Build(second)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range srcs {
		s.Close()
	}
	b.Prune(second)
	if m, _ := b.Emulated("inlet"); m != model {
		t.Error("the rebuilt sensor got a new model")
	}
	if _, ok := b.Emulated("outlet"); ok {
		t.Error("the removed sensor still has a model")
	}
	if nb, _ := b.EmulatedBus(EmulatedBus); nb != bus {
		t.Error("the emulated bus was replaced")
	}
	if src := rebuilt[0].(*I2CSource); src.Bus != srcs[0].(*I2CSource).Bus {
		t.Error("the rebuilt sensor does not share the running bus")
	}
	if err := bus.Tx(0x49, []byte{0}, make([]byte, 2)); err == nil {
		t.Error("the removed sensor's address still answers")
	}
	if _, err := rebuilt[0].Collect(t.Context()); err != nil {
		t.Errorf("rebuilt sensor: %v", err)
	}
	// Pruning everything closes the bus.
	b.Prune(nil)
	if _, ok := b.EmulatedBus(EmulatedBus); ok {
		t.Error("the unused emulated bus was kept")
	}
}
