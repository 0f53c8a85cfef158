package testrig

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// shippedSecret matches a secret-file reference of a shipped configuration:
// a *_file key, in block style, that names a file holding a password,
// passphrase, community or token.
var shippedSecret = regexp.MustCompile(`(?m)^(\s*(?:-\s+)?(?:password_file|community_file|auth_passphrase_file|priv_passphrase_file|tokens_file|token_file):\s+)(/etc/rackwatch/[^\s#]+)`)

// ShippedSecret is what ShippedConfig writes in each secret file: a
// "name:token" line, which passes both as a password and as an API token
// file.
const ShippedSecret = "example:0123456789abcdef0123456789abcdef"

// ShippedConfig copies a shipped configuration to a temporary directory
// with its secret files, which are under /etc/rackwatch/ on a real host,
// moved there too and created with mode 0600, so that the copy loads as
// the binaries load the original on a provisioned host. It returns the
// copy's path.
func ShippedConfig(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := shippedSecret.ReplaceAllStringFunc(string(b), func(m string) string {
		sm := shippedSecret.FindStringSubmatch(m)
		p := filepath.Join(dir, "etc-rackwatch", strings.TrimPrefix(sm[2], "/etc/rackwatch/"))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(ShippedSecret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return sm[1] + p
	})
	dst := filepath.Join(dir, filepath.Base(path))
	if err := os.WriteFile(dst, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}
