package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rackwatch/rackwatch/deploy/testrig"
)

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "c.yaml")
	os.WriteFile(good, []byte("version: 1\nmqtt: {password: hush}\n"), 0o600)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\nnodes:\n  - {name: a, edge: r, bmc: b, lb: [{haproxy: nope, backend: x, server: y}]}\n"), 0o600)
	signed := filepath.Join(dir, "signed.yaml")
	os.WriteFile(signed, []byte("version: 1\ncommands: {key_id: c2027a, signing_key_file: "+filepath.Join(dir, "c2027a.key")+"}\n"), 0o600)
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
		{[]string{"demo", "--scenario", "meltdown"}, 1, "no scenario \"meltdown\"; the scenarios are: all, cooling-failure, crc-storm, hot-node, recovery", ""},
		{[]string{"demo", "--for", "soon"}, 2, "invalid value \"soon\" for flag -for", ""},
		{[]string{"keygen"}, 2, "usage: rackwatch-collector keygen", ""},
		{[]string{"keygen", "-id", "c2027a", "-dir", dir}, 0, "public_key:", ""},
		{[]string{"keygen", "-id", "c2027a", "-dir", dir}, 1, "exists", ""},
		{[]string{"check-config", signed}, 0, "ok", ""},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		all := stdout.String() + stderr.String()
		if code != tc.code || !strings.Contains(all, tc.out) || (tc.noOut != "" && strings.Contains(all, tc.noOut)) {
			t.Errorf("%v: exit %d, output %q; want exit %d containing %q", tc.args, code, all, tc.code, tc.out)
		}
	}
}

// The command the issue names: the demo ends by itself and its summary
// shows a node taken out and put back.
func TestDemoForAMinute(t *testing.T) {
	testrig.SkipUnderRace(t)
	t.Parallel()
	var stdout, stderr bytes.Buffer
	code := run([]string{"demo", "--for", "60s", "--listen", testrig.FreeAddr(t), "--mqtt-listen", testrig.FreeAddr(t)}, &stdout, &stderr)
	out := stdout.String()
	t.Logf("stdout:\n%s\nstderr:\n%s", out, stderr.String())
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	_, summary, ok := strings.Cut(out, "Summary of")
	if !ok {
		t.Fatal("no summary")
	}
	// The minute covers the hot-node scenario and the start of the next,
	// which may take out another node by the time the demo ends.
	line := func(name string) string {
		for _, l := range strings.Split(summary, "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] == name {
				return l
			}
		}
		return ""
	}
	if !strings.Contains(line("restored"), "r2n2") {
		t.Errorf("the summary shows no restore of r2n2: %q", line("restored"))
	}
	if !strings.Contains(line("shed"), "r2n2") && !strings.Contains(line("drained"), "r2n2") {
		t.Errorf("the summary shows no shed or drain of r2n2: %q, %q", line("shed"), line("drained"))
	}
}
