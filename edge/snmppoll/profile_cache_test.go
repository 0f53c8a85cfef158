package snmppoll

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestProfileSetIsSharedUntilAFileChanges(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("profiles/lm-sensors.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "lm-sensors.yaml")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := loadSet([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := loadSet([]string{dir})
	if a != b {
		t.Error("the same directories were compiled twice")
	}
	later := time.Now().Add(time.Minute)
	os.Chtimes(path, later, later)
	c, err := loadSet([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if c == a {
		t.Error("an edited profile file was not compiled again")
	}
}
