package actuate

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/decide"
)

func TestStateRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "desired.json")
	saved := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	in := State{
		Saved: saved,
		Levels: map[decide.Target]decide.Level{
			{Node: "n2", LB: "lb1", Backend: "api", Server: "n2"}: decide.Drained,
			{Node: "n1", LB: "lb1", Backend: "api", Server: "n1"}: decide.Shed,
			{Node: "n1", LB: "lb2", Backend: "api", Server: "n1"}: decide.Ramp25,
			{Node: "n3", LB: "lb1", Backend: "api", Server: "n3"}: decide.Full, // the default: not written
		},
		Versions: map[string]uint64{"n1/lb": 1795700047123},
	}
	if err := SaveState(path, in); err != nil {
		t.Fatal(err)
	}
	want := `{
  "format": "rackwatch-desired-state",
  "version": 1,
  "saved": "2026-11-03T10:00:00Z",
  "targets": [
    {
      "node": "n1",
      "lb": "lb1",
      "backend": "api",
      "server": "n1",
      "level": "shed"
    },
    {
      "node": "n1",
      "lb": "lb2",
      "backend": "api",
      "server": "n1",
      "level": "ramp-25"
    },
    {
      "node": "n2",
      "lb": "lb1",
      "backend": "api",
      "server": "n2",
      "level": "drained"
    }
  ],
  "command_versions": {
    "n1/lb": 1795700047123
  }
}
`
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Errorf("file:\n%s\nwant:\n%s", b, want)
	}
	out, err := LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	delete(in.Levels, decide.Target{Node: "n3", LB: "lb1", Backend: "api", Server: "n3"})
	if !out.Saved.Equal(saved) || !maps.Equal(out.Levels, in.Levels) || !maps.Equal(out.Versions, in.Versions) {
		t.Errorf("loaded %+v, want %+v", out, in)
	}
	// Overwriting leaves no temporary file behind.
	if err := SaveState(path, State{}); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the state file", len(entries))
	}
	out, err = LoadState(path)
	if err != nil || len(out.Levels) != 0 || !out.Saved.IsZero() {
		t.Errorf("empty state loaded as %+v, %v", out, err)
	}
	// The engine is rebuilt from the levels.
	e, err := decide.New(decide.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	e.Restore(map[decide.Target]decide.Level{{Node: "n2", LB: "lb1", Backend: "api", Server: "n2"}: decide.Drained}, saved)
	if d := e.Desired(); len(d) != 1 || !d[decide.Target{Node: "n2", LB: "lb1", Backend: "api", Server: "n2"}].Drain {
		t.Errorf("restored engine desires %v", d)
	}
}

func TestLoadStateErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := LoadState(filepath.Join(dir, "missing.json")); !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrCorruptState) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	head := `{"format":"rackwatch-desired-state","version":1,"targets":[`
	tests := map[string]struct{ content, want string }{
		"empty":          {"", "EOF"},
		"torn":           {head + `{"node":"n1","lb"`, "unexpected EOF"},
		"not json":       {"drained\n", "invalid character"},
		"other format":   {`{"format":"something","version":1,"targets":[]}`, "format"},
		"newer layout":   {`{"format":"rackwatch-desired-state","version":2,"targets":[]}`, "layout version 2"},
		"unknown level":  {head + `{"node":"n1","lb":"lb1","backend":"api","server":"n1","level":"half"}]}`, `unknown level "half"`},
		"missing server": {head + `{"node":"n1","lb":"lb1","backend":"api","level":"shed"}]}`, "required"},
		"twice": {head + `{"node":"n1","lb":"lb1","backend":"api","server":"n1","level":"shed"},` +
			`{"node":"n1","lb":"lb1","backend":"api","server":"n1","level":"drained"}]}`, "listed twice"},
		"unknown key":   {`{"format":"rackwatch-desired-state","version":1,"targets":[],"extra":1}`, "unknown field"},
		"trailing data": {`{"format":"rackwatch-desired-state","version":1,"targets":[]}{}`, "data after"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".json")
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadState(path)
			if !errors.Is(err, ErrCorruptState) {
				t.Fatalf("error %v, want ErrCorruptState", err)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name the file and %q", err, tc.want)
			}
		})
	}
}

func TestSaveStateError(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "state.json")
	if err := SaveState(path, State{}); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v, want one naming %s", err, path)
	}
}
