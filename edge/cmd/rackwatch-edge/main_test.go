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
	os.WriteFile(good, []byte("version: 1\nedge: {node: rack1, state_dir: "+dir+"}\nsnmp_security: {allow_community: true}\nsnmp:\n  - {name: tor1, address: 127.0.0.1, community: hush, profiles: [if-mib]}\ni2c:\n  - bus: emulated\n    sensors: [{name: inlet, chip: tmp102, address: 0x48}]\n"), 0o600)
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
			first, _, _ := bytes.Cut(stdout.Bytes(), []byte("\n"))
			if err := json.Unmarshal(first, &v); err != nil || v["value"].(float64) != 25 {
				t.Errorf("read printed %q (%v), want JSON lines starting with a sample of 25 °C", stdout.String(), err)
			}
		}
	}
}

func TestI2CFieldCommands(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"i2c", "scan", "--emulate"}, 0, "0x48  tmp102 (ID registers match)"},
		{[]string{"i2c", "read", "--chip", "tmp102", "--addr", "0x4a", "--emulate"}, 0, "tmp102 at 0x4a on emulated bus\n  temperature: 25 celsius"},
		{[]string{"i2c", "read", "--chip", "tmp102", "--addr", "0x60", "--emulate"}, 2, "tmp102 cannot be at 0x60"},
		{[]string{"i2c", "read", "--chip", "tmp999", "--addr", "0x48", "--emulate"}, 2, `unknown chip "tmp999"`},
		{[]string{"i2c", "read", "--chip", "tmp102", "--addr", "seventy", "--emulate"}, 2, "not a number"},
		{[]string{"i2c", "chips"}, 0, "tmp102"},
		{[]string{"i2c", "frob"}, 2, "usage"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		all := stdout.String() + stderr.String()
		if code != tc.code || !strings.Contains(all, tc.out) {
			t.Errorf("%v: exit %d, output %q; want exit %d containing %q", tc.args, code, all, tc.code, tc.out)
		}
	}
}

func TestReadHostMode(t *testing.T) {
	dir := t.TempDir()
	root, _ := filepath.Abs("../../hostsignals/testdata/intel")
	cfg := filepath.Join(dir, "edge.yaml")
	os.WriteFile(cfg, []byte("version: 1\nedge: {node: api7, state_dir: "+dir+"}\nhost: {enabled: true, root: "+root+", kmsg: false}\n"), 0o600)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"read", "-config", cfg}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{
		`{"metric":"cpu_throttle_count_total","labels":{"core":"package","package":"0"},"value":37,"unit":"events"`,
		`{"metric":"if_fcs_errors_total","labels":{"ifname":"eno1"},"value":15,"unit":"frames"`,
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("read output lacks %s:\n%s", want, stdout.String())
		}
	}
}
