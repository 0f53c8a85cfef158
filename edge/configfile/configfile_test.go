package configfile

import (
	"errors"
	"strings"
	"testing"
	"time"
)

type target struct {
	Name    string        `yaml:"name"`
	Timeout time.Duration `yaml:"timeout"`
}

type conf struct {
	Version int      `yaml:"version"`
	Targets []target `yaml:"targets"`
}

func TestDecodeErrorsNameFileLineKey(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"unknown key", "version: 1\ntargets:\n  - name: a\n    timeot: 2s\n", []string{"edge.yaml:4: targets[0].timeot: unknown key \"timeot\""}},
		{"bad type", "version: 1\ntargets:\n  - name: a\n    timeout: soon\n", []string{"edge.yaml:4: targets[0].timeout: cannot unmarshal"}},
		{"missing version", "targets: []\n", []string{"edge.yaml:1: version: missing format version"}},
		{"future version", "version: 9\n", []string{"edge.yaml:1: version: unsupported format version \"9\""}},
		{"syntax", "version: 1\ntargets: [\n", []string{"edge.yaml:"}},
		{"not a mapping", "- 1\n", []string{"edge.yaml:1: the configuration must be a mapping"}},
		{"empty", "", []string{"edge.yaml: empty configuration"}},
		{"document marker alone", "---", []string{"edge.yaml: empty configuration"}},
		{"document marker and a comment", "--- # edge\n", []string{"edge.yaml: empty configuration"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c conf
			_, err := Decode("edge.yaml", []byte(tc.in), []int{1}, &c)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not an *Error", err)
			}
		})
	}
}

func TestDecodeAndErrorf(t *testing.T) {
	var c conf
	f, err := Decode("c.yaml", []byte("version: 1\ntargets:\n  - name: a\n    timeout: 2s\n  - name: b\n"), []int{1}, &c)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Targets) != 2 || c.Targets[0].Timeout != 2*time.Second {
		t.Fatalf("decoded %+v", c)
	}
	if got := f.Errorf("targets[1].name", "duplicate").Error(); got != "c.yaml:5: targets[1].name: duplicate" {
		t.Errorf("Errorf = %q", got)
	}
	// A missing key is reported at its parent's line.
	if got := f.Errorf("targets[1].timeout", "required").Error(); got != "c.yaml:5: targets[1].timeout: required" {
		t.Errorf("Errorf for a missing key = %q", got)
	}
}
