// Package configfiletest checks the error contract of edge/configfile in
// the tests of the packages that load configuration files with it.
package configfiletest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rackwatch/rackwatch/edge/configfile"
)

// WriteMode writes content to path with exactly mode, which the umask
// does not narrow, and returns path: a secret file for a test of the
// mode checks.
func WriteMode(t testing.TB, path, content string, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// CheckErrors fails t unless err is made only of *configfile.Error, each
// naming path and, when it has one, a line that b has.
func CheckErrors(t testing.TB, path string, b []byte, err error) {
	t.Helper()
	// YAML breaks lines at \r, NEL, LS and PS too (YAML 1.2 §5.4), so
	// the count is an upper bound rather than what an editor shows.
	lines := 1
	for _, r := range string(b) {
		switch r {
		case '\n', '\r', '\u0085', '\u2028', '\u2029':
			lines++
		}
	}
	for _, e := range leaves(err) {
		var fe *configfile.Error
		if !errors.As(e, &fe) {
			t.Fatalf("error %q (%T) is not a *configfile.Error", e, e)
		}
		if fe.Path != path || !strings.HasPrefix(e.Error(), path) {
			t.Fatalf("error %q does not name %s", e, path)
		}
		if fe.Line < 0 || fe.Line > lines {
			t.Fatalf("error %q names line %d of a %d-line file", e, fe.Line, lines)
		}
	}
}

// leaves flattens the trees errors.Join builds.
func leaves(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	return []error{err}
}

// Loader is a configuration that validates itself, as edge/config's and
// collector/config's do.
type Loader interface {
	Validate(f *configfile.File) error
}

// FuzzLoad fuzzes load with files named name, seeded with the shipped
// example at example (skipped when unreadable) and seeds. Besides not
// panicking, every problem must pass CheckErrors, and a configuration that
// loads must validate again without complaint: the defaults Validate
// fills in are themselves valid.
func FuzzLoad[C Loader](f *testing.F, name, example string, load func(path string) (C, error), seeds ...string) {
	if b, err := os.ReadFile(example); err == nil {
		f.Add(b)
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	// One file per worker process, rewritten on each input: a directory per
	// input would cost more than the decoding.
	dir, err := os.MkdirTemp("", "configfuzz")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, name)
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := load(path)
		if err != nil {
			CheckErrors(t, path, b, err)
			return
		}
		if err := c.Validate(&configfile.File{Path: path}); err != nil {
			t.Fatalf("a loaded configuration fails validation again: %v", err)
		}
	})
}
