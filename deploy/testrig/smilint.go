package testrig

import "testing"

// Smilint returns the path of libsmi's smilint, or skips the test (fails it
// under CI) when it is not installed. smilint exits 0 even when it reports
// errors: a MIB is clean when the output is empty.
func Smilint(t testing.TB) string {
	t.Helper()
	return Require(t, "smilint", "smitools")
}
