package spool

import (
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// layout says where each record landed: segment file and byte range.
type layout struct {
	files []string
	seg   []int   // per record: index into files
	at    []int64 // per record: offset of its frame
	end   []int64
}

// layoutOf derives the placement of rs from the segment files' sizes: the
// frames follow each other after each header.
func layoutOf(t *testing.T, dir string, rs []Record) layout {
	t.Helper()
	l := layout{files: segFiles(t, dir)}
	i := 0
	for si, f := range l.files {
		size := fileSize(t, f)
		off := int64(segHeader)
		for off < size {
			if i == len(rs) {
				t.Fatalf("%s is larger than the records appended", f)
			}
			l.seg = append(l.seg, si)
			l.at = append(l.at, off)
			off += int64(frameLen(rs[i]))
			l.end = append(l.end, off)
			i++
		}
		if off != size {
			t.Fatalf("%s: frames end at %d, file at %d", f, off, size)
		}
	}
	if i != len(rs) {
		t.Fatalf("segments hold %d records, want %d", i, len(rs))
	}
	return l
}

// in returns the records of segment si.
func (l layout) in(si int) []int {
	var out []int
	for i, s := range l.seg {
		if s == si {
			out = append(out, i)
		}
	}
	return out
}

func modify(t *testing.T, path string, f func(b []byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, f(b), 0o640); err != nil {
		t.Fatal(err)
	}
}

func TestDamageIsSkippedAndCounted(t *testing.T) {
	t.Parallel()
	all := recs(500, 80, 3)
	tests := []struct {
		name string
		// damage changes the files and returns the indices of the records
		// it destroys.
		damage      func(t *testing.T, dir string, l layout) []int
		wantCorrupt uint64
	}{
		{"torn tail", func(t *testing.T, dir string, l layout) []int {
			last := len(all) - 1
			os.Truncate(l.files[l.seg[last]], l.end[last]-5)
			return []int{last}
		}, 1},
		{"tail torn inside a frame header", func(t *testing.T, dir string, l layout) []int {
			last := len(all) - 1
			os.Truncate(l.files[l.seg[last]], l.at[last]+6)
			return []int{last}
		}, 1},
		{"bit flip in a payload", func(t *testing.T, dir string, l layout) []int {
			k := l.in(1)[2]
			modify(t, l.files[1], func(b []byte) []byte { b[l.at[k]+frameHeader+5] ^= 0x10; return b })
			return []int{k}
		}, 1},
		{"bit flip in a length", func(t *testing.T, dir string, l layout) []int {
			k := l.in(1)[1]
			modify(t, l.files[1], func(b []byte) []byte { b[l.at[k]+10] ^= 0x01; return b })
			return []int{k}
		}, 1},
		{"bit flip in a checksum", func(t *testing.T, dir string, l layout) []int {
			k := l.in(0)[0]
			modify(t, l.files[0], func(b []byte) []byte { b[l.at[k]+4] ^= 0x80; return b })
			return []int{k}
		}, 1},
		{"bit flip in a frame magic", func(t *testing.T, dir string, l layout) []int {
			k := l.in(2)[3]
			modify(t, l.files[2], func(b []byte) []byte { b[l.at[k]] ^= 0x04; return b })
			return []int{k}
		}, 1},
		{"two damaged records in one segment", func(t *testing.T, dir string, l layout) []int {
			a, b := l.in(1)[0], l.in(1)[3]
			modify(t, l.files[1], func(buf []byte) []byte {
				buf[l.at[a]+frameHeader] ^= 1
				buf[l.end[b]-1] ^= 1
				return buf
			})
			return []int{a, b}
		}, 2},
		{"zeroed 512-byte block", func(t *testing.T, dir string, l layout) []int {
			return zeroBlock(t, l, 0, 512, 512)
		}, 1},
		{"zeroed block over the header", func(t *testing.T, dir string, l layout) []int {
			return zeroBlock(t, l, 1, 0, 512)
		}, 2}, // the header, and the records after it
		{"unknown format version", func(t *testing.T, dir string, l layout) []int {
			modify(t, l.files[1], func(b []byte) []byte {
				binary.LittleEndian.PutUint16(b[8:], 99)
				binary.LittleEndian.PutUint32(b[28:], crc32.Checksum(b[:28], castagnoli))
				return b
			})
			return l.in(1)
		}, 1},
		{"garbage segment", func(t *testing.T, dir string, l layout) []int {
			b := make([]byte, 3000)
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			os.WriteFile(filepath.Join(dir, segName(1000)), b, 0o640)
			return nil
		}, 2}, // its header, and its one run of bytes
		{"segment torn while created", func(t *testing.T, dir string, l layout) []int {
			os.WriteFile(filepath.Join(dir, segName(1000)), segMagic[:5], 0o640)
			return nil
		}, 0},
		{"segment truncated to its header", func(t *testing.T, dir string, l layout) []int {
			os.Truncate(l.files[2], segHeader)
			return l.in(2)
		}, 0}, // indistinguishable from a segment that was still empty
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			o := testOpts()
			o.SegmentBytes = 2048
			s := open(t, dir, o)
			appendAll(t, s, all)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			l := layoutOf(t, dir, all)
			if len(l.files) < 4 {
				t.Fatalf("%d segments, the cases need 4", len(l.files))
			}
			lost := tt.damage(t, dir, l)

			var want []Record
			for i, r := range all {
				if !slices.Contains(lost, i) {
					want = append(want, r)
				}
			}
			s = open(t, dir, o)
			if d := diffRecords(peekAll(t, s), replayed(want)); d != "" {
				t.Fatalf("lost %v: %s", lost, d)
			}
			if got := s.Stats().Corrupt; got != tt.wantCorrupt {
				t.Errorf("Corrupt = %d, want %d", got, tt.wantCorrupt)
			}
			// Reading again does not count the same damage twice, and
			// acknowledging everything gets past it.
			got := peekAll(t, s)
			if len(got) > 0 {
				if err := s.Ack(got[len(got)-1].End()); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			if got := s.Stats(); got.Corrupt != tt.wantCorrupt || got.Pending != 0 {
				t.Errorf("after delivering all: Corrupt %d Pending %d, want %d, 0", got.Corrupt, got.Pending, tt.wantCorrupt)
			}
			if tt.name == "unknown format version" {
				if _, err := os.Stat(l.files[1] + badSuffix); err != nil {
					t.Errorf("the segment was not set aside: %v", err)
				}
			}
		})
	}
}

// zeroBlock zeroes n bytes at off in segment si and returns the records the
// block touches.
func zeroBlock(t *testing.T, l layout, si int, off, n int64) []int {
	t.Helper()
	modify(t, l.files[si], func(b []byte) []byte {
		clear(b[off : off+n])
		return b
	})
	var lost []int
	for _, i := range l.in(si) {
		if l.at[i] < off+n && l.end[i] > off {
			lost = append(lost, i)
		}
	}
	if len(lost) == 0 {
		t.Fatal("the block touches no record")
	}
	return lost
}

func TestDamagedAckSlotFallsBackToTheOther(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := testOpts() // one segment: the older position stays readable
	all := recs(0, 20, 2)
	s := open(t, dir, o)
	appendAll(t, s, all)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	// Two acknowledgements saved, in the two slots: after 5, after 10.
	for _, n := range []int{5, 5} {
		got, _ := s.Peek(n)
		if err := s.Ack(got[n-1].End()); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Damage the newest slot (sequence 2 sits in slot 0).
	modify(t, filepath.Join(dir, ackFileName), func(b []byte) []byte { b[20] ^= 1; return b })
	s = open(t, dir, o)
	if d := diffRecords(peekAll(t, s), replayed(all[5:])); d != "" {
		t.Fatalf("want replay from the older position: %s", d)
	}
	if got := s.Stats().Corrupt; got != 1 {
		t.Errorf("Corrupt = %d, want 1", got)
	}
}
