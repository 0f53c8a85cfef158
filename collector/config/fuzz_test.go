package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rackwatch/rackwatch/edge/configfile"
	"github.com/rackwatch/rackwatch/edge/configfile/configfiletest"
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
			configfiletest.CheckErrors(t, path, b, err)
			return
		}
		if err := c.Validate(&configfile.File{Path: path}); err != nil {
			t.Fatalf("a loaded configuration fails validation again: %v", err)
		}
	})
}
