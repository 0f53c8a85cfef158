package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "edge.yaml")
	os.WriteFile(good, []byte("version: 1\nedge: {node: rack1, state_dir: "+dir+"}\nsnmp:\n  - {name: tor1, address: 127.0.0.1, community: hush, profiles: [if-mib]}\ni2c:\n  - bus: emulated\n    sensors: [{name: inlet, chip: tmp102, address: 0x48}]\n"), 0o600)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\nedge: {node: rack1}\nmqtt: {qos: 7}\n"), 0o600)
	emu := filepath.Join(dir, "emu.yaml")
	os.WriteFile(emu, []byte("version: 1\nedge: {node: rack1, state_dir: "+dir+"}\ni2c:\n  - bus: emulated\n    sensors: [{name: inlet, chip: tmp102, address: 0x48}]\n"), 0o600)
	for _, tc := range []struct {
		args       []string
		code       int
		out, noOut string
	}{
		{[]string{"version"}, 0, "rackwatch-edge dev", ""},
		{[]string{"check-config", good}, 0, "ok", "hush"},
		{[]string{"check-config", bad}, 1, "bad.yaml:3: mqtt.qos: must be 0 or 1", ""},
		{[]string{"check-config"}, 2, "usage", ""},
		{[]string{"read", "-config", emu}, 0, `"metric":"temperature_celsius"`, ""},
		{[]string{"frobnicate"}, 2, "unknown command", ""},
		{[]string{"-config", filepath.Join(dir, "missing.yaml")}, 1, "missing.yaml", ""},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		all := stdout.String() + stderr.String()
		if code != tc.code || !strings.Contains(all, tc.out) || (tc.noOut != "" && strings.Contains(all, tc.noOut)) {
			t.Errorf("%v: exit %d, output %q; want exit %d containing %q", tc.args, code, all, tc.code, tc.out)
		}
		if tc.args[0] == "read" {
			var v map[string]any
			if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &v); err != nil || v["value"].(float64) != 25 {
				t.Errorf("read printed %q (%v), want one JSON sample of 25 °C", stdout.String(), err)
			}
		}
	}
}
