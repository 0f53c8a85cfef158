package spool

import (
	"sync"
	"testing"
	"time"
)

// TestPeekedThenFlushedThenAcked covers a record that Peek returned from
// memory and a flush wrote before its acknowledgement arrived: the
// acknowledgement must move the position on disk, or the record would be
// replayed after a restart.
func TestPeekedThenFlushedThenAcked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, testOpts())
	all := recs(0, 6, 2)
	appendAll(t, s, all[:3])
	got, _ := s.Peek(10)
	appendAll(t, s, all[3:])
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(got[2].End()); err != nil {
		t.Fatal(err)
	}
	if d := diffRecords(peekAll(t, s), all[3:]); d != "" {
		t.Fatal(d)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	s.crash()
	s = open(t, dir, testOpts())
	if d := diffRecords(peekAll(t, s), replayed(all[3:])); d != "" {
		t.Fatalf("after restart: %s", d)
	}
}

// TestConcurrentUse runs producers, the spool's own flushing and a
// publisher together, with segments rotating and batches filling. Every
// record must be delivered once, in order.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	const producers, perProducer = 4, 300
	o := Opts{FlushInterval: time.Millisecond, SegmentBytes: 2048, BatchBytes: 1024, MaxBytes: 1 << 30, Logger: quiet}
	s := open(t, t.TempDir(), o)

	var mu sync.Mutex // numbers and appends together, as the publisher does
	var next uint64
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perProducer {
				mu.Lock()
				r := rec(next, 1+(p+i)%5)
				next = r.End()
				err := s.Append(r)
				mu.Unlock()
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	produced := make(chan struct{})
	go func() { wg.Wait(); close(produced) }()

	var delivered uint64
	count := 0
	done := false
	for !done {
		select {
		case <-produced:
			done = true // one more pass drains what is left
		default:
		}
		for {
			rs, err := s.Peek(7)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) == 0 {
				break
			}
			// Acknowledge part of what was read, sometimes nothing.
			n := count % (len(rs) + 1)
			for _, r := range rs[:n] {
				if r.First != delivered {
					t.Fatalf("record %d delivered after %d: gap or repeat", r.First, delivered)
				}
				if d := diffRecord(r, rec(r.First, len(r.Samples))); d != "" {
					t.Fatal(d)
				}
				delivered = r.End()
			}
			if n > 0 {
				if err := s.Ack(delivered); err != nil {
					t.Fatal(err)
				}
			}
			count++
			if count%50 == 0 {
				if err := s.Flush(); err != nil {
					t.Fatal(err)
				}
			}
		}
		time.Sleep(100 * time.Microsecond)
	}
	if delivered != next {
		t.Errorf("delivered up to %d, produced up to %d", delivered, next)
	}
	if st := s.Stats(); st.Dropped != 0 || st.Corrupt != 0 || st.Pending != 0 {
		t.Errorf("Stats = %+v", st)
	}
}
