package actuate

import (
	"crypto/rand"
	"encoding/hex"
	"maps"
	"sync"
	"time"
)

// versions issues increasing version numbers per key. A version is the
// time in milliseconds, or one more than the last issued if the clock has
// not moved on (or went back), so versions stay ordered across restarts
// even without the state file, and with it across a clock set back.
type versions struct {
	mu   sync.Mutex
	last map[string]uint64
	now  func() time.Time
}

func newVersions(now func() time.Time, seed map[string]uint64) *versions {
	v := &versions{last: map[string]uint64{}, now: now}
	maps.Copy(v.last, seed)
	return v
}

func (v *versions) next(key string) uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := uint64(max(v.now().UnixMilli(), 0))
	if l := v.last[key]; n <= l {
		n = l + 1
	}
	v.last[key] = n
	return n
}

func (v *versions) snapshot() map[string]uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return maps.Clone(v.last)
}

// newID returns a random command id: 96 bits make a collision between
// two collectors' commands negligible.
func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return "rw-" + hex.EncodeToString(b[:])
}
