package spool

import (
	"sync/atomic"
	"testing"
	"time"
)

// clockJumps returns count records of n samples whose timestamps, and the
// spool's clock, step back an hour every third of the way, as when a
// controller without an RTC boots with a wrong clock and NTP corrects it.
func clockJumps(count, n int, clock *atomic.Int64) []Record {
	rs := recs(0, count, n)
	for i := range rs {
		shift := -time.Duration(i*3/count) * time.Hour
		for j := range rs[i].Samples {
			rs[i].Samples[j].TS = rs[i].Samples[j].TS.Add(shift)
		}
		if clock != nil && i%(count/3) == 0 {
			clock.Store(epoch.Add(shift).UnixNano())
		}
	}
	return rs
}

// TestClockJumpsNeitherReorderNorDrop: the spool orders records by sample
// number and segment, never by time, so records whose timestamps go back by
// an hour replay complete and in the order they were appended, from memory
// and from disk after a restart.
func TestClockJumpsNeitherReorderNorDrop(t *testing.T) {
	t.Parallel()
	var clock atomic.Int64
	clock.Store(epoch.UnixNano())
	o := testOpts()
	o.SegmentBytes = 2048 // several segments, created across the jumps
	o.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	dir := t.TempDir()
	s := open(t, dir, o)
	all := clockJumps(90, 3, &clock)
	for i, r := range all {
		if err := s.Append(r); err != nil {
			t.Fatalf("Append(%d): %v", r.First, err)
		}
		if i%10 == 9 {
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := len(segFiles(t, dir)); got < 3 {
		t.Fatalf("%d segments; the test needs several", got)
	}
	if d := diffRecords(peekAll(t, s), all); d != "" {
		t.Fatalf("before the restart: %s", d)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// After the restart the clock is an hour further back still.
	clock.Store(epoch.Add(-3 * time.Hour).UnixNano())
	s = open(t, dir, o)
	if d := diffRecords(peekAll(t, s), replayed(all)); d != "" {
		t.Fatalf("after the restart: %s", d)
	}
}

// TestEvictionFollowsSampleNumbersNotTime: a full spool drops the lowest
// sample numbers, even when later records carry earlier timestamps.
func TestEvictionFollowsSampleNumbersNotTime(t *testing.T) {
	t.Parallel()
	o := testOpts()
	o.SegmentBytes, o.MaxBytes = 2048, 3*2048
	dir := t.TempDir()
	s := open(t, dir, o)
	all := clockJumps(300, 3, nil)
	for i, r := range all {
		if err := s.Append(r); err != nil {
			t.Fatalf("Append(%d): %v", r.First, err)
		}
		if i%10 == 9 {
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := peekAll(t, s)
	if len(got) == 0 || len(got) == len(all) {
		t.Fatalf("%d of %d records kept; the test needs some dropped", len(got), len(all))
	}
	// What is kept is the newest by number: a contiguous tail, although
	// its records are stamped two hours before the dropped ones.
	if d := diffRecords(got, all[len(all)-len(got):]); d != "" {
		t.Errorf("kept records are not the tail by sample number: %s", d)
	}
	if st := s.Stats(); st.Dropped == 0 {
		t.Errorf("stats %+v: drops not counted", st)
	}
}
