package spool

import (
	"errors"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/edge/sample"
)

func TestRoundTripAndOrder(t *testing.T) {
	t.Parallel()
	all := recs(100, 30, 4)
	tests := []struct {
		name string
		// flushAfter lists the numbers of records after which to flush:
		// records before the last flush come from disk, the rest from
		// memory.
		flushAfter []int
		segBytes   int64
	}{
		{name: "memory only"},
		{name: "disk only", flushAfter: []int{30}},
		{name: "disk then memory", flushAfter: []int{10, 20}},
		{name: "many segments", flushAfter: []int{1, 2, 3, 15, 29}, segBytes: 2048},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := testOpts()
			o.SegmentBytes = tt.segBytes
			s := open(t, t.TempDir(), o)
			for i, r := range all {
				appendAll(t, s, []Record{r})
				for _, f := range tt.flushAfter {
					if f == i+1 {
						if err := s.Flush(); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			if d := diffRecords(peakAll2(t, s), all); d != "" {
				t.Fatalf("Peek: %s", d)
			}
			// Peek again: nothing consumed yet.
			got, _ := s.Peek(5)
			if d := diffRecords(got, all[:5]); d != "" {
				t.Fatalf("second Peek(5): %s", d)
			}
			// Acknowledge in uneven steps; each Peek starts after the
			// last acknowledged record.
			for i := 0; i < len(all); {
				got, err := s.Peek(7)
				if err != nil {
					t.Fatal(err)
				}
				want := all[i:min(i+7, len(all))]
				if d := diffRecords(got, want); d != "" {
					t.Fatalf("Peek(7) at %d: %s", i, d)
				}
				n := min(3, len(got))
				if err := s.Ack(got[n-1].End()); err != nil {
					t.Fatal(err)
				}
				i += n
			}
			if rs := peekAll(t, s); len(rs) != 0 {
				t.Fatalf("after acknowledging all: %d records left %s", len(rs), firsts(rs))
			}
			if st := s.Stats(); st.Pending != 0 || st.PendingSamples != 0 || st.Memory != 0 {
				t.Errorf("Stats after acknowledging all = %+v", st)
			}
		})
	}
}

// peakAll2 peeks everything twice and checks both reads agree, so that a
// reader that consumes as it reads is caught.
func peakAll2(t *testing.T, s *Spool) []Record {
	t.Helper()
	a := peekAll(t, s)
	if d := diffRecords(peekAll(t, s), a); d != "" {
		t.Fatalf("two Peeks differ: %s", d)
	}
	return a
}

func TestAckStopsAtFirstUndelivered(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir(), testOpts())
	all := recs(0, 4, 10) // 0-9, 10-19, 20-29, 30-39
	appendAll(t, s, all[:2])
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	appendAll(t, s, all[2:])
	peekAll(t, s)
	// 25 is inside the third record: it stays, and so does the fourth.
	if err := s.Ack(25); err != nil {
		t.Fatal(err)
	}
	if d := diffRecords(peekAll(t, s), all[2:]); d != "" {
		t.Fatal(d)
	}
	// Ack only applies to what Peek returned: a record appended since is
	// not acknowledged by a large upTo.
	got, _ := s.Peek(1)
	appendAll(t, s, recs(40, 1, 10))
	if err := s.Ack(1 << 40); err != nil {
		t.Fatal(err)
	}
	if d := diffRecords(peekAll(t, s), append(all[3:], recs(40, 1, 10)...)); d != "" {
		t.Fatalf("after acking %s: %s", firsts(got), d)
	}
}

func TestAppendRefuses(t *testing.T) {
	t.Parallel()
	o := testOpts()
	o.SegmentBytes = 4096
	s := open(t, t.TempDir(), o)
	appendAll(t, s, []Record{rec(10, 5)})
	tests := []struct {
		name string
		rec  Record
		want error
	}{
		{"overlaps the previous record", rec(14, 1), ErrOutOfOrder},
		{"below the previous record", rec(3, 1), ErrOutOfOrder},
		{"larger than a segment", rec(15, 400), ErrTooLarge},
	}
	for _, tt := range tests {
		if err := s.Append(tt.rec); !errors.Is(err, tt.want) {
			t.Errorf("%s: Append = %v, want %v", tt.name, err, tt.want)
		}
	}
	if err := s.Append(Record{First: 1}); err != nil {
		t.Errorf("empty record: %v, want it ignored", err)
	}
	if err := s.Append(rec(15, 1)); err != nil {
		t.Errorf("next record after refusals: %v", err)
	}
	if got := s.End(); got != 16 {
		t.Errorf("End = %d, want 16", got)
	}
}

func TestRestartReplaysEverythingInOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		crash bool
	}{{"close", false}, {"crash after flush", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			o := testOpts()
			o.SegmentBytes = 1024
			all := recs(1000, 60, 3)
			s := open(t, dir, o)
			appendAll(t, s, all)
			peekAll(t, s) // reading is not acknowledging
			if tt.crash {
				if err := s.Flush(); err != nil {
					t.Fatal(err)
				}
				s.crash()
			} else if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if n := len(segFiles(t, dir)); n < 3 {
				t.Fatalf("%d segment files; the test needs several", n)
			}

			s = open(t, dir, o)
			if d := diffRecords(peekAll(t, s), replayed(all)); d != "" {
				t.Fatalf("after restart: %s", d)
			}
			if got := s.End(); got != all[len(all)-1].End() {
				t.Errorf("End = %d, want %d", got, all[len(all)-1].End())
			}
			if st := s.Stats(); st.Pending != 60 || st.PendingSamples != 180 || st.Corrupt != 0 {
				t.Errorf("Stats = %+v, want 60 pending, 180 samples, 0 corrupt", st)
			}
			// New records follow the replayed ones, not marked replayed.
			more := recs(all[len(all)-1].End(), 2, 3)
			appendAll(t, s, more)
			if d := diffRecords(peekAll(t, s), append(replayed(all), more...)); d != "" {
				t.Fatalf("replayed then new: %s", d)
			}
		})
	}
}

func TestAckPersistence(t *testing.T) {
	t.Parallel()
	all := recs(0, 20, 5)
	tests := []struct {
		name string
		// end ends the first run after 12 records were acknowledged.
		end func(t *testing.T, s *Spool)
		// wantFrom is the first record replayed at least; records from
		// minFrom on must all be there.
		minFrom, maxFrom int
	}{
		{"close", func(t *testing.T, s *Spool) {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}, 12, 12},
		{"flush then crash", func(t *testing.T, s *Spool) {
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			s.crash()
		}, 12, 12},
		// Without a flush the acknowledgement is lost: replaying what was
		// delivered is allowed, losing what was not is not.
		{"crash before flush", func(t *testing.T, s *Spool) { s.crash() }, 0, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			o := testOpts()
			o.SegmentBytes = 2048
			s := open(t, dir, o)
			appendAll(t, s, all)
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			got, _ := s.Peek(12)
			if err := s.Ack(got[11].End()); err != nil {
				t.Fatal(err)
			}
			tt.end(t, s)

			s = open(t, dir, o)
			rs := peekAll(t, s)
			from := len(all) - len(rs)
			if from < tt.minFrom || from > tt.maxFrom {
				t.Fatalf("replay starts at record %d, want %d to %d", from, tt.minFrom, tt.maxFrom)
			}
			if d := diffRecords(rs, replayed(all[from:])); d != "" {
				t.Fatal(d)
			}
		})
	}
}

func TestDeliveredBeforeFlushIsNeverWritten(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, testOpts())
	for _, r := range recs(0, 50, 10) {
		appendAll(t, s, []Record{r})
		got, _ := s.Peek(10)
		if err := s.Ack(got[len(got)-1].End()); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Nothing was ever waiting at a flush: no flash was written.
	if st := s.Stats(); st.Writes != 0 || st.Fsyncs != 0 || len(segFiles(t, dir)) != 0 {
		t.Errorf("writes %d, fsyncs %d, segments %v; want none", st.Writes, st.Fsyncs, segFiles(t, dir))
	}
}

func TestDeliveredSegmentsAreDeleted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := testOpts()
	o.SegmentBytes = 1024
	s := open(t, dir, o)
	all := recs(0, 40, 4)
	appendAll(t, s, all)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	before := len(segFiles(t, dir))
	if before < 4 {
		t.Fatalf("%d segments; the test needs several", before)
	}
	got, _ := s.Peek(20)
	if err := s.Ack(got[19].End()); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	mid := len(segFiles(t, dir))
	if mid >= before || mid == 0 {
		t.Errorf("after acknowledging half: %d segments, had %d", mid, before)
	}
	if st := s.Stats(); st.Segments != mid || st.DiskBytes <= 0 || st.Pending != 20 {
		t.Errorf("Stats = %+v, want %d segments, 20 pending", st, mid)
	}
	got, _ = s.Peek(100)
	if err := s.Ack(got[len(got)-1].End()); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	// The active segment stays, possibly holding delivered records.
	if n := len(segFiles(t, dir)); n != 1 {
		t.Errorf("after acknowledging everything: %d segments, want 1", n)
	}
}

func TestDropOldestWhenFull(t *testing.T) {
	t.Parallel()
	const (
		segBytes = 4096
		maxBytes = 5 * segBytes
		total    = 400
		n        = 3
	)
	// Numbers from 2^21 take four bytes as varints, and fixed values
	// keep every record the same size.
	all := recs(1<<21, total, n)
	for _, r := range all {
		for j := range r.Samples {
			r.Samples[j].Value = sample.Float(1.5)
			r.Samples[j].TS = epoch
		}
	}
	f := frameLen(all[0])
	for _, r := range all {
		if frameLen(r) != f {
			t.Fatalf("records encode to different sizes (%d, %d): the expected counts below assume one size", frameLen(r), f)
		}
	}
	// Each segment takes as many whole frames as fit after its header.
	// Before a new segment is started, the oldest are deleted until the
	// sealed ones and a full new one fit in MaxBytes.
	perSeg := (segBytes - segHeader) / f
	segSize := int64(segHeader + perSeg*f)
	keptSealed := int((maxBytes - segBytes) / segSize)
	segments := (total + perSeg - 1) / perSeg
	droppedSegs := max(0, segments-1-keptSealed)
	wantDropped := droppedSegs * perSeg
	t.Logf("frame %d bytes, %d per segment, %d segments, %d sealed kept: %d records dropped", f, perSeg, segments, keptSealed, wantDropped)
	if wantDropped == 0 {
		t.Fatal("the parameters drop nothing")
	}

	dir := t.TempDir()
	o := testOpts()
	o.SegmentBytes, o.MaxBytes = segBytes, maxBytes
	s := open(t, dir, o)
	for i, r := range all {
		appendAll(t, s, []Record{r})
		if i%7 == 6 {
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Dropped != uint64(wantDropped) || st.DroppedSamples != uint64(wantDropped*n) {
		t.Errorf("dropped %d records, %d samples; want %d, %d", st.Dropped, st.DroppedSamples, wantDropped, wantDropped*n)
	}
	if st.DiskBytes > maxBytes {
		t.Errorf("%d bytes on disk, over the bound %d", st.DiskBytes, maxBytes)
	}
	// The newest survive, in order, with no gap.
	if d := diffRecords(peekAll(t, s), all[wantDropped:]); d != "" {
		t.Fatal(d)
	}
	if st.Pending != int64(total-wantDropped) {
		t.Errorf("Pending = %d, want %d", st.Pending, total-wantDropped)
	}
	s.crash()
	s = open(t, dir, o)
	if d := diffRecords(peekAll(t, s), replayed(all[wantDropped:])); d != "" {
		t.Fatalf("after restart: %s", d)
	}
}

func TestDropWhilePeekedRecordsAreInFlight(t *testing.T) {
	t.Parallel()
	o := testOpts()
	o.SegmentBytes, o.MaxBytes = 2048, 4096
	s := open(t, t.TempDir(), o)
	all := recs(0, 100, 3)
	appendAll(t, s, all[:10])
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	inFlight, _ := s.Peek(5)
	appendAll(t, s, all[10:])
	if err := s.Flush(); err != nil { // drops the segments being published
		t.Fatal(err)
	}
	// The late acknowledgement must not move the cursor over records it
	// does not cover.
	if err := s.Ack(inFlight[4].End()); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	got := peekAll(t, s)
	if st.Dropped == 0 || len(got) == 0 {
		t.Fatalf("dropped %d, left %d: the test needs both", st.Dropped, len(got))
	}
	if d := diffRecords(got, all[len(all)-len(got):]); d != "" {
		t.Fatal(d)
	}
	if int(st.Dropped)+len(got) != len(all) {
		t.Errorf("dropped %d + left %d != appended %d", st.Dropped, len(got), len(all))
	}
}

func TestBackgroundFlush(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(dir, Opts{FlushInterval: 5 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, s, recs(0, 3, 2))
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().Memory != 0 {
		if time.Now().After(deadline) {
			t.Fatal("records still in memory after 5s")
		}
		time.Sleep(time.Millisecond)
	}
	if st := s.Stats(); st.Fsyncs == 0 || st.Pending != 3 {
		t.Errorf("Stats = %+v, want synced and 3 pending", st)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	default:
		t.Error("flushing goroutine still running after Close")
	}
	if err := s.Append(rec(10, 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Peek(1); !errors.Is(err, ErrClosed) {
		t.Errorf("Peek after Close = %v, want ErrClosed", err)
	}
}

func TestBatchFullFlushesEarly(t *testing.T) {
	t.Parallel()
	o := Opts{FlushInterval: time.Hour, BatchBytes: 1024, Logger: quiet}
	s := open(t, t.TempDir(), o)
	for _, r := range recs(0, 40, 4) {
		appendAll(t, s, []Record{r})
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().Fsyncs == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a full batch was not flushed before the interval")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSecondOpenIsRefused(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("the directory lock is flock(2), Linux only")
	}
	dir := t.TempDir()
	s := open(t, dir, testOpts())
	if s2, err := Open(dir, testOpts()); err == nil {
		s2.Close()
		t.Fatal("second Open of the same directory succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, dir, testOpts())
	_ = s2
}

func TestOpenRejectsBadOpts(t *testing.T) {
	t.Parallel()
	for _, o := range []Opts{
		{SegmentBytes: 100},
		{SegmentBytes: 1 << 20, MaxBytes: 1 << 20},
		{MemBytes: 10},
	} {
		o.Logger = quiet
		if s, err := Open(t.TempDir(), o); err == nil {
			s.Close()
			t.Errorf("Open with %+v succeeded", o)
		}
	}
}

func TestSegmentIDsNeverReuseTheAcknowledgedOne(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, testOpts())
	appendAll(t, s, recs(0, 5, 2))
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Peek(3)
	if err := s.Ack(got[2].End()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Remove the segment behind the spool's back: the acknowledged
	// position now names a segment that is gone.
	for _, f := range segFiles(t, dir) {
		os.Remove(f)
	}
	s = open(t, dir, testOpts())
	appendAll(t, s, recs(100, 3, 2))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir, testOpts())
	if d := diffRecords(peekAll(t, s), replayed(recs(100, 3, 2))); d != "" {
		t.Fatalf("records of a new segment were skipped: %s (files %v)", d, segFiles(t, dir))
	}
}
