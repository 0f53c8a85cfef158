package spool

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzSegmentReader feeds arbitrary bytes to everything that reads a
// segment: the frame scanner, the payload decoder, and a spool opened on a
// directory holding them as a segment file. None may panic; every record
// decoded must survive encoding again unchanged.
func FuzzSegmentReader(f *testing.F) {
	f.Add(encodeSegHeader(1, epoch))
	var seg []byte
	seg = append(seg, encodeSegHeader(1, epoch)...)
	var e encoder
	for _, r := range recs(0, 3, 2) {
		seg = append(seg, e.frame(&r)...)
	}
	f.Add(seg)
	f.Add(seg[:len(seg)-3])
	f.Fuzz(func(t *testing.T, b []byte) {
		checkSegHeader(b)
		r := frameReader{f: bytes.NewReader(b), chunk: 64, max: maxFramePayload}
		var d decoder
		off := min(int64(segHeader), int64(len(b)))
		for {
			p, at, next, skipped, err := r.next(off, int64(len(b)))
			if errors.Is(err, errEnd) {
				break
			}
			if err != nil {
				t.Fatalf("next(%d): %v", off, err)
			}
			if at-skipped != off || next <= at || next > int64(len(b)) || !bytes.Equal(p, b[at+frameHeader:next]) {
				t.Fatalf("next(%d) = frame [%d, %d) after %d skipped bytes, input %d bytes", off, at, next, skipped, len(b))
			}
			var rec Record
			if _, _, err := d.decode(p, &rec, true); err == nil {
				again := e.frame(&rec)
				var rec2 Record
				if _, _, err := d.decode(again[frameHeader:], &rec2, true); err != nil {
					t.Fatalf("re-encoded record does not decode: %v", err)
				}
				if diff := diffRecord(rec2, rec); diff != "" {
					t.Fatalf("re-encoded record differs: %s", diff)
				}
			}
			off = next
		}
		var rec Record
		d.decode(b, &rec, true)
		d.check(b)

		s := openSegment(t, b)
		// Peek twice: the second read must agree with the first.
		rs, err := s.Peek(1 << 20)
		if err != nil {
			t.Fatal(err)
		}
		again, err := s.Peek(1 << 20)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffRecords(again, rs); d != "" {
			t.Fatalf("second Peek differs: %s", d)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzReplay damages a segment the spool wrote, truncating it at cut and
// flipping the bits of flip at flipAt, then opens the spool on it as a
// restarted edge would. Replay must give back written records only, whole,
// in order and at most once each, never garbage; a truncation alone (a
// crash or power cut mid-write) must lose only the records it cut into.
func FuzzReplay(f *testing.F) {
	written := recs(100, 12, 2)
	seg, ends := writtenSegment(f, written)
	f.Add(uint16(len(seg)), uint16(0), byte(0))            // intact
	f.Add(uint16(ends[5]-1), uint16(0), byte(0))           // torn sixth frame
	f.Add(uint16(ends[5]), uint16(0), byte(0))             // cut at a frame boundary
	f.Add(uint16(segHeader), uint16(0), byte(0))           // header only
	f.Add(uint16(10), uint16(0), byte(0))                  // torn header
	f.Add(uint16(len(seg)), uint16(ends[2]+1), byte(0x80)) // flipped magic
	f.Add(uint16(len(seg)), uint16(ends[2]+9), byte(0xff)) // flipped length
	f.Add(uint16(len(seg)), uint16(40), byte(1))           // flipped payload
	f.Fuzz(func(t *testing.T, cut, flipAt uint16, flip byte) {
		b := slices.Clone(seg[:min(int(cut), len(seg))])
		if flip != 0 && int(flipAt) < len(b) {
			b[flipAt] ^= flip
		}
		s := openSegment(t, b)
		defer s.Close()
		got, err := s.Peek(1 << 20)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > len(written) {
			t.Fatalf("replayed %d records, %d written", len(got), len(written))
		}
		next := 0 // index in written of the earliest record got may still hold
		for _, g := range got {
			i := slices.IndexFunc(written[next:], func(w Record) bool { return w.First == g.First && w.Device == g.Device })
			if i < 0 {
				t.Fatalf("replayed record %q first %d: not written, or out of order (after %d)", g.Device, g.First, next)
			}
			if d := diffRecord(g, written[next+i]); d != "" || !g.Replayed {
				t.Fatalf("replayed record differs from the one written (%s) or is not marked Replayed (%v)", d, g.Replayed)
			}
			next += i + 1
		}
		if flip != 0 && int(flipAt) < len(b) || len(b) < segHeader {
			return
		}
		whole := 0
		for whole < len(ends) && ends[whole] <= int64(len(b)) {
			whole++
		}
		if len(got) != whole {
			t.Fatalf("segment cut at %d of %d bytes: replayed %d records, want the %d before the cut", len(b), len(seg), len(got), whole)
		}
	})
}

// writtenSegment has a spool write rs into one segment and returns its
// bytes and where each record's frame ends.
func writtenSegment(t testing.TB, rs []Record) ([]byte, []int64) {
	dir := t.TempDir()
	s, err := Open(dir, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if err := s.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	m, err := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if err != nil || len(m) != 1 {
		t.Fatalf("segments %v, %v; want one", m, err)
	}
	b, err := os.ReadFile(m[0])
	if err != nil {
		t.Fatal(err)
	}
	ends := make([]int64, len(rs))
	off := int64(segHeader)
	for i, r := range rs {
		off += int64(frameLen(r))
		ends[i] = off
	}
	if off != int64(len(b)) || len(b) > math.MaxUint16 {
		t.Fatalf("segment of %d bytes, frames end at %d", len(b), off)
	}
	return b, ends
}

// openSegment opens a spool whose only segment holds b.
func openSegment(t *testing.T, b []byte) *Spool {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, segName(1)), b, 0o640); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, testOpts())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}
