package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "c.yaml")
	os.WriteFile(good, []byte("version: 1\nmqtt: {password: hush}\n"), 0o600)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\nnodes:\n  - {name: a, edge: r, bmc: b, lb: [{haproxy: nope, backend: x, server: y}]}\n"), 0o600)
	for _, tc := range []struct {
		args       []string
		code       int
		out, noOut string
	}{
		{[]string{"version"}, 0, "rackwatch-collector dev", ""},
		{[]string{"check-config", good}, 0, "ok", "hush"},
		{[]string{"check-config", bad}, 1, `bad.yaml:3: nodes[0].lb[0].haproxy: unknown HAProxy instance "nope"`, ""},
		{[]string{"frobnicate"}, 2, "unknown command", ""},
		{[]string{"run", "-config", filepath.Join(dir, "missing.yaml")}, 1, "missing.yaml", ""},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		all := stdout.String() + stderr.String()
		if code != tc.code || !strings.Contains(all, tc.out) || (tc.noOut != "" && strings.Contains(all, tc.noOut)) {
			t.Errorf("%v: exit %d, output %q; want exit %d containing %q", tc.args, code, all, tc.code, tc.out)
		}
	}
}
