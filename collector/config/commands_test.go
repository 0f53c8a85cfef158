package config

import (
	"os"
	"strings"
	"testing"

	"github.com/rackwatch/rackwatch/edge/cmdsign"
)

func TestCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	kp, err := cmdsign.WriteKeyPair(dir, "c1", nil)
	if err != nil {
		t.Fatal(err)
	}
	open, err := cmdsign.WriteKeyPair(dir, "c2", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open.PrivateFile, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, body, err string
	}{
		{"valid", "commands: {key_id: c1, signing_key_file: " + kp.PrivateFile + ", validity: 1m}\n", ""},
		{"no key file", "commands: {key_id: c1}\n", "commands.signing_key_file: required"},
		{"readable by others", "commands: {key_id: c2, signing_key_file: " + open.PrivateFile + "}\n", "mode 0644"},
		{"not a key", "commands: {key_id: c1, signing_key_file: " + kp.PublicFile + "}\n", "commands.signing_key_file"},
		{"bad id", "commands: {key_id: 'a b', signing_key_file: " + kp.PrivateFile + "}\n", "commands.key_id: cmdsign: key id"},
		{"validity", "commands: {key_id: c1, signing_key_file: " + kp.PrivateFile + ", validity: 2h}\n", "commands.validity: must be 10s to 1h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, "version: 1\n"+tc.body)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
		})
	}
}
