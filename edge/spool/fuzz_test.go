package spool

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
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

		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segName(1)), b, 0o640); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, testOpts())
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
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
