package testrig

import (
	"testing"
	"time"
)

func readings(heap func(h int) uint64) []MemSample {
	ms := make([]MemSample, 24)
	for h := range ms {
		ms[h] = MemSample{At: time.Duration(h) * time.Hour, HeapLive: heap(h)}
	}
	return ms
}

// TestHeapBounded: a heap that warms up and then holds passes; a fast leak
// and a slow one do not.
func TestHeapBounded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		heap func(h int) uint64
		ok   bool
	}{
		{"warms up, then holds", func(h int) uint64 { return 2<<20 + uint64(min(h, 4))*(256<<10) + uint64(h%3)*(16<<10) }, true},
		{"fast leak", func(h int) uint64 { return 2<<20 + uint64(h)*(512<<10) }, false},
		{"slow leak in steps", func(h int) uint64 { return 2<<20 + uint64(h/4)*(200<<10) }, false},
	} {
		err := HeapBounded(readings(tc.heap))
		if (err == nil) != tc.ok {
			t.Errorf("%s: HeapBounded = %v", tc.name, err)
		}
	}
	if err := HeapBounded(readings(func(int) uint64 { return 1 })[:5]); err == nil {
		t.Error("five readings passed")
	}
	if p := Peak([]MemSample{{HeapLive: 3, HWM: 1}, {HeapLive: 2, HWM: 5}}); p.HeapLive != 3 || p.HWM != 5 {
		t.Errorf("Peak = %+v", p)
	}
}
