package testrig

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MemSample is one reading of the test process's memory, taken by the soak
// tests once per simulated hour. The heap figures come after a forced
// collection, so they hold what is live, not garbage waiting for the next
// cycle: a leak shows as a trend in HeapLive.
type MemSample struct {
	At          time.Duration // simulated time since the start of the run
	HeapLive    uint64        // /gc/heap/live:bytes
	HeapObjects uint64        // /memory/classes/heap/objects:bytes
	// Total is everything the Go runtime has mapped
	// (/memory/classes/total:bytes): heap, stacks, metadata, freed but not
	// yet returned pages.
	Total      uint64
	Goroutines int
	// RSS and HWM are VmRSS and VmHWM of /proc/self/status: resident now,
	// and the peak so far. Zero where /proc is missing. Under the race
	// detector they include its shadow memory.
	RSS, HWM uint64
}

func (m MemSample) String() string {
	return fmt.Sprintf("t=%5.1fh heap_live=%s heap_objects=%s go_total=%s goroutines=%d rss=%s hwm=%s",
		m.At.Hours(), MiB(m.HeapLive), MiB(m.HeapObjects), MiB(m.Total), m.Goroutines, MiB(m.RSS), MiB(m.HWM))
}

// MiB formats a byte count in mebibytes.
func MiB(b uint64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 2, 64) + "MiB" }

var memMetrics = []string{"/gc/heap/live:bytes", "/memory/classes/heap/objects:bytes", "/memory/classes/total:bytes", "/sched/goroutines:goroutines"}

// ReadMemory collects garbage and reads the process's memory.
func ReadMemory(at time.Duration) MemSample {
	runtime.GC()
	ss := make([]metrics.Sample, len(memMetrics))
	for i, n := range memMetrics {
		ss[i].Name = n
	}
	metrics.Read(ss)
	u := func(i int) uint64 {
		if ss[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return ss[i].Value.Uint64()
	}
	m := MemSample{At: at, HeapLive: u(0), HeapObjects: u(1), Total: u(2), Goroutines: int(u(3))}
	m.RSS, m.HWM = procStatus("VmRSS:"), procStatus("VmHWM:")
	return m
}

// procStatus reads one "kB" line of /proc/self/status, in bytes.
func procStatus(key string) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key); ok {
			n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n << 10
		}
	}
	return 0
}

// The live heap's allowances in a soak: between the peaks of the middle
// and the last third of a run, and for its slope once warm. See
// docs/performance.md (Soak) for the spread and slopes measured.
const (
	heapMargin = 0.10
	heapSlack  = 256 << 10
	heapSlope  = 24 << 10 // bytes per simulated hour
)

// HeapBounded checks that the live heap does not trend upward once warm
// (after the first third of the readings, while rings and maps fill and
// buffers grow to their working size), in two ways. The peak of the last
// third may exceed the peak of the middle third by at most heapMargin (a
// fraction) plus heapSlack bytes: that catches a fast leak, which a
// reading of noise cannot excuse. And the least-squares slope of the
// readings after the warm-up may be at most heapSlope bytes per simulated
// hour: that catches a slow leak, whose growth comes in steps (a slice
// doubling, a map growing) that can leave the last third's peak close to
// the middle's.
func HeapBounded(ms []MemSample) error {
	if len(ms) < 6 {
		return fmt.Errorf("testrig: %d memory readings: too few to see a trend (want at least 6)", len(ms))
	}
	third := len(ms) / 3
	peak := func(ms []MemSample) uint64 {
		var p uint64
		for _, m := range ms {
			p = max(p, m.HeapLive)
		}
		return p
	}
	mid, last := peak(ms[third:2*third]), peak(ms[2*third:])
	if limit := uint64(float64(mid)*(1+heapMargin)) + heapSlack; last > limit {
		return fmt.Errorf("testrig: the live heap grows: the last third peaks at %s, the middle third at %s (limit %s)", MiB(last), MiB(mid), MiB(limit))
	}
	if s := HeapSlope(ms[third:]); s > heapSlope {
		return fmt.Errorf("testrig: the live heap grows by %.1f KiB per simulated hour after the warm-up (limit %.1f)", s/1024, float64(heapSlope)/1024)
	}
	return nil
}

// Peak is the high-water mark of each figure of ms, At aside.
func Peak(ms []MemSample) MemSample {
	var p MemSample
	for _, m := range ms {
		p.HeapLive, p.HeapObjects, p.Total = max(p.HeapLive, m.HeapLive), max(p.HeapObjects, m.HeapObjects), max(p.Total, m.Total)
		p.Goroutines, p.RSS, p.HWM = max(p.Goroutines, m.Goroutines), max(p.RSS, m.RSS), max(p.HWM, m.HWM)
	}
	return p
}

// EnvInt reads a positive integer from the environment variable name, or
// returns def when it is unset: how long a soak runs, for one.
func EnvInt(t testing.TB, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// HeapSlope is the least-squares slope of the live heap over simulated
// time, in bytes per hour.
func HeapSlope(ms []MemSample) float64 {
	var n, sx, sy float64
	for _, m := range ms {
		n++
		sx += m.At.Hours()
		sy += float64(m.HeapLive)
	}
	if n < 2 {
		return 0
	}
	mx, my := sx/n, sy/n
	var num, den float64
	for _, m := range ms {
		dx := m.At.Hours() - mx
		num += dx * (float64(m.HeapLive) - my)
		den += dx * dx
	}
	if den == 0 {
		return 0
	}
	return num / den
}

// SettleGoroutines waits up to d for the number of goroutines to come down
// to want, and returns the last count: goroutines that a stopped component
// signalled may still be on their way out.
func SettleGoroutines(want int, d time.Duration) int {
	deadline := time.Now().Add(d)
	for {
		n := runtime.NumGoroutine()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stacks returns every goroutine's stack, for a report of a leak.
func Stacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}
