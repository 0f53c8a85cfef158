package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rackwatch/rackwatch/collector/api"
	"github.com/rackwatch/rackwatch/edge/configfile/configfiletest"
)

func writeTokens(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	return configfiletest.WriteMode(t, filepath.Join(t.TempDir(), "tokens"), content, mode)
}

const goodFile = "# operators\r\nalice: " + aliceToken + "\r\n\n  bob:" + bobToken + "  \n"

func TestLoadTokensModes(t *testing.T) {
	tests := []struct {
		mode os.FileMode
		ok   bool
	}{
		{0o600, true},
		{0o640, true},
		{0o644, false},
		{0o660, false},
		{0o604, false},
		{0o400, false},
		{0o700, false},
		{0o666, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%04o", tc.mode), func(t *testing.T) {
			path := writeTokens(t, goodFile, tc.mode)
			toks, err := api.LoadTokens(path)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if len(toks) != 2 || toks["alice"] != aliceToken || toks["bob"] != bobToken {
					t.Errorf("tokens for %v", toks.Names())
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			for _, want := range []string{path, fmt.Sprintf("%04o", tc.mode), "must be 0600, or 0640", "chmod 600 " + path} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %q", msg, want)
				}
			}
			if strings.Contains(msg, aliceToken) {
				t.Errorf("error reveals a token: %q", msg)
			}
		})
	}
}

func TestLoadTokensContent(t *testing.T) {
	tests := []struct {
		name, content, wantErr string
	}{
		{"no colon", "alice " + aliceToken, "line 1: want name:token"},
		{"short token", "alice:hunter2hunter", "line 1: the token of \"alice\" is shorter than 16"},
		{"empty token", "alice:", "shorter than 16"},
		{"bad name", "alice smith:" + aliceToken, `line 1: name "alice smith"`},
		{"empty name", ":" + aliceToken, `line 1: name ""`},
		{"space in token", "alice:" + aliceToken + " " + bobToken, "spaces or control characters"},
		{"duplicate name", "alice:" + aliceToken + "\nalice:" + bobToken, `line 2: "alice" appears twice`},
		{"shared token", "alice:" + aliceToken + "\nbob:" + aliceToken, `"alice" and "bob" have the same token`},
		{"empty", "# nothing yet\n\n", "holds no tokens"},
		{"long line", "alice:" + strings.Repeat("x", 70<<10), "too long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTokens(t, tc.content, 0o600)
			_, err := api.LoadTokens(path)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q, want it to name %s and say %q", err, path, tc.wantErr)
			}
			for _, secret := range []string{aliceToken, bobToken, "hunter2"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error reveals a token: %q", err)
				}
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := api.LoadTokens(filepath.Join(t.TempDir(), "absent"))
		if err == nil || !os.IsNotExist(unwrapAll(err)) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(dir, 0o700)
		if _, err := api.LoadTokens(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("err = %v", err)
		}
	})
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestTokensNeverPrint(t *testing.T) {
	toks := api.Tokens{"alice": aliceToken, "bob": bobToken}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "tokens", toks)
	js, err := json.Marshal(toks)
	if err != nil {
		t.Fatal(err)
	}
	opts := api.Opts{Tokens: toks}
	for _, s := range []string{
		fmt.Sprint(toks), fmt.Sprintf("%v %+v %#v %s %q %x %d", toks, toks, toks, toks, toks, toks, toks),
		fmt.Sprintf("%+v %#v", opts, opts), logged.String(), string(js),
	} {
		if strings.Contains(s, "0123456789") || strings.Contains(s, "fedcba") {
			t.Errorf("a token was printed: %s", s)
		}
		if !strings.Contains(s, "alice") {
			t.Errorf("names missing: %s", s)
		}
	}
}
