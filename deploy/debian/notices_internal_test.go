package debian

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEscapeModule(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"github.com/gosnmp/gosnmp":    "github.com/gosnmp/gosnmp",
		"github.com/BurntSushi/toml":  "github.com/!burnt!sushi/toml",
		"v0.0.0-20191010083416-a7dC8": "v0.0.0-20191010083416-a7d!c8",
	} {
		if got := escapeModule(in); got != want {
			t.Errorf("escapeModule(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNotices(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	withLicense := filepath.Join(dir, "a")
	if err := os.MkdirAll(withLicense, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"LICENSE":   "Copyright (c) 2020 A Authors\n\nPermission is granted.\n",
		"NOTICE.md": "Copyright [yyyy] [name of copyright owner]\n",
		"README.md": "Copyright 2021 not a license file\n",
	} {
		if err := os.WriteFile(filepath.Join(withLicense, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := notices([]linked{{name: "example.com/a", version: "v1.0.0", dir: withLicense, comment: "Go module example.com/a v1.0.0."}})
	if err != nil {
		t.Fatal(err)
	}
	want := "\nFiles: example.com/a/*\nCopyright: Copyright (c) 2020 A Authors\nComment: Go module example.com/a v1.0.0.\nLicense: other\n" +
		" Copyright (c) 2020 A Authors\n .\n Permission is granted.\n .\n" +
		" Copyright [yyyy] [name of copyright owner]\n"
	if string(got) != want {
		t.Errorf("notices:\n%s\nwant:\n%s", got, want)
	}

	// A module without a license file stops the build rather than ship
	// without its notice.
	bare := filepath.Join(dir, "b")
	if err := os.MkdirAll(bare, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := notices([]linked{{name: "example.com/b", version: "v1.0.0", dir: bare}}); err == nil || !strings.Contains(err.Error(), "example.com/b v1.0.0: no license file") {
		t.Errorf("module without a license: %v", err)
	}
}
