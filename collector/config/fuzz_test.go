package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rackwatch/rackwatch/edge/configfile"
)

// FuzzLoad loads arbitrary files as the collector's configuration. Besides not
// panicking, every problem must be an *configfile.Error naming the file and
// a line that exists, and a configuration that loads must validate again
// without complaint: the defaults Validate fills in are themselves valid.
// The seed corpus holds the shipped example and the error cases of the unit
// tests.
func FuzzLoad(f *testing.F) {
	if b, err := os.ReadFile("../../deploy/config/collector.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(base))
	// One file per worker process, rewritten on each input: a directory per
	// input would cost more than the decoding.
	dir, err := os.MkdirTemp("", "collectorconfig")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "collector.yaml")
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path)
		if err != nil {
			checkFileErrors(t, path, b, err)
			return
		}
		if err := c.Validate(&configfile.File{Path: path}); err != nil {
			t.Fatalf("a loaded configuration fails validation again: %v", err)
		}
	})
}

// checkFileErrors checks that err is made only of *configfile.Error, each
// naming path and, when it has one, a line of b.
func checkFileErrors(t *testing.T, path string, b []byte, err error) {
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
