package actuate

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/edge/atomicfile"
)

// State is what the collector persists so that a restart forgets no
// drain: the engine's levels below full service and the last version of
// the commands sent to each edge responder.
type State struct {
	// Saved is when the state was taken, written as given (the caller's
	// clock); zero leaves it out.
	Saved  time.Time
	Levels map[decide.Target]decide.Level
	// Versions holds the last command version issued per edge responder,
	// keyed "<edge node>/<device>" (Sparkplug.Versions).
	Versions map[string]uint64
}

// stateFormat names the file's content, and stateVersion its layout: a
// reader refuses other versions rather than guess.
const (
	stateFormat  = "rackwatch-desired-state"
	stateVersion = 1
)

// ErrCorruptState marks a state file that exists but cannot be read as
// one: the collector must not start as if nothing were drained.
var ErrCorruptState = errors.New("actuate: corrupt state file")

type stateFile struct {
	Format   string            `json:"format"`
	Version  int               `json:"version"`
	Saved    time.Time         `json:"saved,omitzero"`
	Targets  []stateTarget     `json:"targets"`
	Versions map[string]uint64 `json:"command_versions,omitempty"`
}

type stateTarget struct {
	Node    string `json:"node"`
	LB      string `json:"lb"`
	Backend string `json:"backend"`
	Server  string `json:"server"`
	Level   string `json:"level"`
}

// levels lists every level, to read them back by name: the file stores
// names, not the Level numbers, which may be reordered.
var levels = []decide.Level{decide.Full, decide.Shed, decide.Drained, decide.Ramp25, decide.Ramp50}

func levelByName(name string) (decide.Level, bool) {
	for _, l := range levels {
		if l.String() == name {
			return l, true
		}
	}
	return 0, false
}

// SaveState writes s to path atomically: to a temporary file in the same
// directory, synced, renamed over path, and the directory synced, so that
// a crash leaves either the old file or the new one, never a torn one.
// Levels at full service are left out: they are the default.
func SaveState(path string, s State) error {
	f := stateFile{Format: stateFormat, Version: stateVersion, Saved: s.Saved.UTC(), Targets: []stateTarget{}, Versions: s.Versions}
	for t, l := range s.Levels {
		if l == decide.Full {
			continue
		}
		f.Targets = append(f.Targets, stateTarget{Node: t.Node, LB: t.LB, Backend: t.Backend, Server: t.Server, Level: l.String()})
	}
	slices.SortFunc(f.Targets, func(a, b stateTarget) int {
		return cmp.Or(cmp.Compare(a.Node, b.Node), cmp.Compare(a.LB, b.LB),
			cmp.Compare(a.Backend, b.Backend), cmp.Compare(a.Server, b.Server))
	})
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("actuate: save state %s: %w", path, err)
	}
	data = append(data, '\n')
	if err := atomicfile.Write(path, data); err != nil {
		return fmt.Errorf("actuate: save state %s: %w", path, err)
	}
	return nil
}

// LoadState reads a file written by SaveState. A missing file is an error
// matching fs.ErrNotExist (the first start: nothing was held); a file that
// cannot be read as a state is an error matching ErrCorruptState that
// names the file.
func LoadState(path string) (State, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return State{}, fmt.Errorf("actuate: load state: %w", err)
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w %s: %s", ErrCorruptState, path, fmt.Sprintf(format, args...))
	}
	var f stateFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return State{}, corrupt("%v", err)
	}
	if dec.More() {
		return State{}, corrupt("data after the JSON object")
	}
	if f.Format != stateFormat {
		return State{}, corrupt("format %.40q, want %q", f.Format, stateFormat)
	}
	if f.Version != stateVersion {
		return State{}, corrupt("layout version %d, this collector reads %d", f.Version, stateVersion)
	}
	s := State{Saved: f.Saved, Levels: make(map[decide.Target]decide.Level, len(f.Targets)), Versions: f.Versions}
	for i, st := range f.Targets {
		l, ok := levelByName(st.Level)
		if !ok {
			return State{}, corrupt("target %d (node %.64q): unknown level %.20q", i, st.Node, st.Level)
		}
		if st.Node == "" || st.LB == "" || st.Backend == "" || st.Server == "" {
			return State{}, corrupt("target %d: node, lb, backend and server are required", i)
		}
		t := decide.Target{Node: st.Node, LB: st.LB, Backend: st.Backend, Server: st.Server}
		if _, dup := s.Levels[t]; dup {
			return State{}, corrupt("target %d (node %.64q): listed twice", i, st.Node)
		}
		s.Levels[t] = l
	}
	if s.Versions == nil {
		s.Versions = map[string]uint64{}
	}
	return s, nil
}
