// Package deploy_test checks that every configuration shipped in deploy/
// loads and validates with the binaries' own loaders.
package deploy_test

import (
	"fmt"
	"path/filepath"
	"testing"

	collector "github.com/rackwatch/rackwatch/collector/config"
	"github.com/rackwatch/rackwatch/deploy/testrig"
	edge "github.com/rackwatch/rackwatch/edge/config"
)

func TestShippedConfigsLoad(t *testing.T) {
	// Each loader also fails on a warning: a shipped example holds no
	// inline secret, only references to secret files.
	loaders := map[string]func(string) error{
		"edge.yaml": func(p string) error {
			c, err := edge.Load(p)
			if err == nil && len(c.Warnings()) > 0 {
				err = fmt.Errorf("warnings: %q", c.Warnings())
			}
			return err
		},
		"collector.yaml": func(p string) error {
			c, err := collector.Load(p)
			if err == nil && len(c.Warnings()) > 0 {
				err = fmt.Errorf("warnings: %q", c.Warnings())
			}
			return err
		},
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
		// The secret files the example names are created, mode 0600, as
		// a provisioned host has them.
		if err := load(testrig.ShippedConfig(t, f)); err != nil {
			t.Errorf("%v", err)
		}
	}
}
