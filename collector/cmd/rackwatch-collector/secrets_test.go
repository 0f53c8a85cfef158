package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckConfigSecrets: check-config prints the secret files' names,
// never what they or inline keys hold, warns of inline secrets, and fails
// on a secret file others can read.
func TestCheckConfigSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pass := filepath.Join(dir, "mqtt.pass")
	toks := filepath.Join(dir, "api-tokens")
	for p, content := range map[string]string{pass: "s3cret-from-file\n", toks: "ops:ops-token-0123456789abcdef\n"} {
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("version: 1\nmqtt: {password_file: "+pass+"}\napi: {tokens_file: "+toks+"}\n"+
		"influxdb: {url: 'http://127.0.0.1:8086', database: rw, password: inline-influx-pass}\n"), 0o600)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"check-config", cfg}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	all := stdout.String() + stderr.String()
	for _, leak := range []string{"s3cret-from-file", "inline-influx-pass", "ops-token-0123456789abcdef"} {
		if strings.Contains(all, leak) {
			t.Errorf("check-config output leaks %q:\n%s", leak, all)
		}
	}
	for _, want := range []string{"password_file: " + pass, "tokens_file: " + toks, "password: <secret>",
		"warning: " + cfg + ":4: influxdb.password: holds a secret inline"} {
		if !strings.Contains(all, want) {
			t.Errorf("check-config output lacks %q:\n%s", want, all)
		}
	}
	if err := os.Chmod(toks, 0o644); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"check-config", cfg}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), cfg+":3: api.tokens_file: ") || !strings.Contains(stderr.String(), "chmod 600 "+toks) {
		t.Errorf("world-readable token file: exit %d, %s", code, stderr.String())
	}
}
