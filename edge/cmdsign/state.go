package cmdsign

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/rackwatch/rackwatch/edge/atomicfile"
)

// stateFormat is the version of the counter files' layout.
const stateFormat = 1

// counterFile is what the edge's Verifier and the collector's Signer keep
// per key: the Verifier the highest counter it accepted and the last ones
// (Recent), the Signer the last counter it issued (Highest).
type counterFile struct {
	Format int                    `json:"format"`
	Keys   map[string]*keyCounter `json:"keys"`
}

type keyCounter struct {
	Highest uint64   `json:"highest"`
	Recent  []uint64 `json:"recent,omitempty"`
}

// loadCounters reads a counter file; a missing one is empty. A file that
// cannot be read is an error naming it: starting without the counters
// would accept replays.
func loadCounters(path string) (map[string]*keyCounter, error) {
	out := map[string]*keyCounter{}
	if path == "" {
		return out, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cmdsign: read counters: %w", err)
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("cmdsign: %s: corrupt counters (%s); moving it aside lets commands signed before be replayed until their valid_until", path, fmt.Sprintf(format, args...))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f counterFile
	if err := dec.Decode(&f); err != nil {
		return nil, corrupt("%v", err)
	}
	if f.Format != stateFormat {
		return nil, corrupt("format %d, want %d", f.Format, stateFormat)
	}
	for id, k := range f.Keys {
		if k == nil || CheckKeyID(id) != nil || len(k.Recent) > maxRecent {
			return nil, corrupt("key %q", id)
		}
		out[id] = k
	}
	return out, nil
}

// saveCounters writes the file atomically and durably: a temporary file,
// fsync, rename, fsync of the directory. The counter must be on disk
// before the command takes effect, or a power cut could let it be
// replayed.
func saveCounters(path string, keys map[string]*keyCounter) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(counterFile{Format: stateFormat, Keys: keys}, "", "\t")
	if err != nil {
		return fmt.Errorf("cmdsign: encode counters: %w", err)
	}
	if err := atomicfile.Write(path, b); err != nil {
		return fmt.Errorf("cmdsign: save counters: %w", err)
	}
	return nil
}

func cloneCounters(m map[string]*keyCounter) map[string]*keyCounter {
	out := make(map[string]*keyCounter, len(m))
	for id, k := range m {
		c := *k
		c.Recent = append([]uint64(nil), k.Recent...)
		out[id] = &c
	}
	return out
}
