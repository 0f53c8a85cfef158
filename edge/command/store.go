package command

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/rackwatch/rackwatch/edge/atomicfile"
)

// stateFormat is the version of the state file's layout.
const stateFormat = 1

type stateFile struct {
	Format  int           `json:"format"`
	Targets []stateTarget `json:"targets"`
}

// stateTarget is what survives a restart for one target. The last applied
// command is stored in its wire form and parsed back as strictly as a
// command from the network.
type stateTarget struct {
	Command   json.RawMessage `json:"command"`
	IDs       []string        `json:"ids"`
	AppliedAt int64           `json:"applied_at"`
	Active    bool            `json:"active"`
	Prior     string          `json:"prior,omitempty"`
}

// load reads the state file at path. A missing file is an empty state.
func load(path string, maxIDs int) (map[Target]*target, error) {
	out := map[Target]*target{}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("command: read state: %w", err)
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("command: %s: corrupt state (%s); move it aside to start afresh, after which a command older than the last one applied may be applied once", path, fmt.Sprintf(format, args...))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f stateFile
	if err := dec.Decode(&f); err != nil {
		return nil, corrupt("%v", err)
	}
	if dec.More() {
		return nil, corrupt("data after the state")
	}
	if f.Format != stateFormat {
		return nil, corrupt("format %d, want %d", f.Format, stateFormat)
	}
	for i, st := range f.Targets {
		c, err := ParseJSON(st.Command)
		if err != nil {
			return nil, corrupt("target %d: %v", i, err)
		}
		if _, dup := out[c.Target()]; dup {
			return nil, corrupt("target %s twice", c.Target())
		}
		if len(st.IDs) == 0 || st.IDs[len(st.IDs)-1] != c.ID {
			return nil, corrupt("target %s: ids do not end with the command's id %q", c.Target(), c.ID)
		}
		for _, id := range st.IDs {
			if err := checkID(id); err != nil {
				return nil, corrupt("target %s: %v", c.Target(), err)
			}
		}
		if st.AppliedAt <= 0 {
			return nil, corrupt("target %s: applied_at %d", c.Target(), st.AppliedAt)
		}
		ids := st.IDs
		if len(ids) > maxIDs {
			ids = ids[len(ids)-maxIDs:]
		}
		out[c.Target()] = &target{
			last:      c,
			ids:       append([]string(nil), ids...),
			appliedAt: time.UnixMilli(st.AppliedAt).UTC(),
			active:    st.Active,
			prior:     st.Prior,
		}
	}
	return out, nil
}

// save writes the state atomically: a temporary file, fsync, rename, and
// fsync of the directory so the rename itself survives a power cut.
func save(path string, targets []*target) error {
	f := stateFile{Format: stateFormat, Targets: make([]stateTarget, 0, len(targets))}
	for _, t := range targets {
		b, err := t.last.MarshalJSON()
		if err != nil {
			return err
		}
		f.Targets = append(f.Targets, stateTarget{
			Command: b, IDs: t.ids, AppliedAt: t.appliedAt.UnixMilli(), Active: t.active, Prior: t.prior,
		})
	}
	b, err := json.MarshalIndent(f, "", "\t")
	if err != nil {
		return fmt.Errorf("command: encode state: %w", err)
	}
	if err := atomicfile.Write(path, b); err != nil {
		return fmt.Errorf("command: save state: %w", err)
	}
	return nil
}
