package spool

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// diskFaults fails every write and sync while full is set, writing part of
// the bytes first as a filling disk does.
type diskFaults struct {
	mu        sync.Mutex
	full      bool
	syncFails int // the next syncs to fail
}

func (f *diskFaults) write(path string, n int) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.full {
		return n / 2, syscall.ENOSPC
	}
	return n, nil
}

func (f *diskFaults) sync(path string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.full {
		return syscall.ENOSPC
	}
	if f.syncFails > 0 {
		f.syncFails--
		return syscall.EIO
	}
	return nil
}

func (f *diskFaults) set(full bool) {
	f.mu.Lock()
	f.full = full
	f.mu.Unlock()
}

func TestFullDiskKeepsRecordsInMemory(t *testing.T) {
	t.Parallel()
	const memBytes = 4096
	all := recs(0, 200, 3)
	f := frameLen(all[0])
	for _, r := range all[1:] {
		if frameLen(r) > f {
			f = frameLen(r)
		}
	}
	faults := &diskFaults{}
	dir := t.TempDir()
	o := testOpts()
	o.SegmentBytes, o.MemBytes, o.faults = 2048, memBytes, faults
	s := open(t, dir, o)
	appendAll(t, s, all[:20])
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	faults.set(true)
	for i, r := range all[20:] {
		if err := s.Append(r); err != nil {
			t.Fatalf("Append while the disk is full: %v", err)
		}
		if i%10 == 9 {
			if err := s.Flush(); !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Flush on a full disk = %v, want ENOSPC", err)
			}
		}
	}
	st := s.Stats()
	if !st.Failing || !strings.Contains(st.LastError, "no space left") || st.WriteErrors == 0 {
		t.Errorf("Stats = %+v; want failing with ENOSPC", st)
	}
	if st.MemoryBytes > memBytes {
		t.Errorf("%d bytes in memory, over the bound %d", st.MemoryBytes, memBytes)
	}
	// What is kept: the 20 on disk, and the newest that fit in memory.
	dropped := int(st.Dropped)
	if dropped == 0 || st.Memory+dropped != len(all)-20 {
		t.Fatalf("dropped %d, in memory %d; want them to add up to %d", dropped, st.Memory, len(all)-20)
	}
	if st.Memory < memBytes/f {
		t.Errorf("only %d records kept in %d bytes of memory, frames are at most %d bytes", st.Memory, memBytes, f)
	}
	want := append(all[:20:20], all[20+dropped:]...)
	if d := diffRecords(peekAll(t, s), want); d != "" {
		t.Fatalf("while full: %s", d)
	}

	// Space comes back: the next flush writes everything kept.
	faults.set(false)
	if err := s.Flush(); err != nil {
		t.Fatalf("Flush after space came back: %v", err)
	}
	if st := s.Stats(); st.Failing || st.Memory != 0 {
		t.Errorf("after recovery: %+v", st)
	}
	s.crash()
	s = open(t, dir, o)
	if d := diffRecords(peekAll(t, s), replayed(want)); d != "" {
		t.Fatalf("after restart: %s", d)
	}
}

func TestFailedSyncIsRetriedInANewSegment(t *testing.T) {
	t.Parallel()
	faults := &diskFaults{syncFails: 1}
	dir := t.TempDir()
	o := testOpts()
	o.faults = faults
	s := open(t, dir, o)
	all := recs(0, 10, 2)
	appendAll(t, s, all)
	// The first sync is the new segment's header.
	if err := s.Flush(); err == nil {
		t.Fatal("Flush succeeded although its sync failed")
	}
	if err := s.Flush(); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if d := diffRecords(peekAll(t, s), all); d != "" {
		t.Fatal(d)
	}
	// Now fail the sync of a data write: that segment is abandoned.
	more := recs(20, 5, 2)
	appendAll(t, s, more)
	faults.mu.Lock()
	faults.syncFails = 1
	faults.mu.Unlock()
	if err := s.Flush(); err == nil {
		t.Fatal("Flush succeeded although its sync failed")
	}
	if err := s.Flush(); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The records whose sync failed may come back twice (at-least-once)
	// if they could not be cut off, but every record comes back, in order.
	s = open(t, dir, o)
	got := peekAll(t, s)
	var dedup []Record
	for _, r := range got {
		if n := len(dedup); n > 0 && r.First < dedup[n-1].End() {
			continue // a repeat: its content is checked where it first came
		}
		dedup = append(dedup, r)
	}
	if d := diffRecords(dedup, replayed(append(all, more...))); d != "" {
		t.Fatal(d)
	}
	// Here the cut succeeded: no repeats at all.
	if len(got) != len(dedup) {
		t.Errorf("%d records replayed, %d distinct", len(got), len(dedup))
	}
}

// TestRealFullFilesystem fills a 64 KiB tmpfs. It needs root (mount(2));
// elsewhere the injected ENOSPC above covers the same code.
func TestRealFullFilesystem(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root; TestFullDiskKeepsRecordsInMemory covers ENOSPC by injection")
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s); TestFullDiskKeepsRecordsInMemory covers ENOSPC by injection", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 40<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	o := testOpts()
	o.SegmentBytes, o.MaxBytes, o.MemBytes = 4096, 1<<20, 1<<20
	s := open(t, dir, o)
	var all []Record
	var first uint64
	for i := 0; ; i++ {
		r := rec(first, 5)
		first = r.End()
		appendAll(t, s, []Record{r})
		all = append(all, r)
		if err := s.Flush(); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Flush = %v, want ENOSPC", err)
			}
			break
		}
		if i > 10000 {
			t.Fatal("64 KiB never filled up")
		}
	}
	// Still accepting, in memory.
	more := recs(first, 20, 5)
	appendAll(t, s, more)
	all = append(all, more...)
	if st := s.Stats(); !st.Failing || st.Memory < 21 || st.Dropped != 0 {
		t.Errorf("Stats on a full disk = %+v", st)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatalf("Flush after freeing space: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir, o)
	if d := diffRecords(peekAll(t, s), replayed(all)); d != "" {
		t.Fatal(d)
	}
	// A failed write may leave a partial frame behind, cut off when
	// possible; anything left is counted, never replayed.
	t.Logf("records %d, corrupt regions after refill: %d", len(all), s.Stats().Corrupt)
}
