// Package deploy_test checks that every configuration shipped in deploy/
// loads and validates with the binaries' own loaders.
package deploy_test

import (
	"path/filepath"
	"testing"

	collector "github.com/rackwatch/rackwatch/collector/config"
	edge "github.com/rackwatch/rackwatch/edge/config"
)

func TestShippedConfigsLoad(t *testing.T) {
	loaders := map[string]func(string) error{
		"edge.yaml":      func(p string) error { _, err := edge.Load(p); return err },
		"collector.yaml": func(p string) error { _, err := collector.Load(p); return err },
	}
	files, err := filepath.Glob("config/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(loaders) {
		t.Fatalf("found %v; every shipped config needs a loader here", files)
	}
	for _, f := range files {
		load, ok := loaders[filepath.Base(f)]
		if !ok {
			t.Errorf("%s: no loader", f)
			continue
		}
		if err := load(f); err != nil {
			t.Errorf("%v", err)
		}
	}
}
