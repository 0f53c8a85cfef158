// Package configfiletest checks the error contract of edge/configfile in
// the tests of the packages that load configuration files with it.
package configfiletest

import (
	"errors"
	"strings"
	"testing"

	"github.com/rackwatch/rackwatch/edge/configfile"
)

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
