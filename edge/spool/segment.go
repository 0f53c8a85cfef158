package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Segment header layout (see doc.go).
const (
	segHeader  = 32
	segVersion = 1
	segSuffix  = ".seg"
	badSuffix  = ".bad"
)

var segMagic = [8]byte{'R', 'W', 'S', 'P', 'O', 'O', 'L', '\n'}

// pos is a place in the log: a byte offset in a segment.
type pos struct {
	seg uint64
	off int64
}

func (p pos) less(q pos) bool {
	return p.seg < q.seg || p.seg == q.seg && p.off < q.off
}

// segment is the in-memory account of one segment file.
type segment struct {
	id   uint64
	path string
	// size is the file's length, which counts against MaxBytes; end is
	// where readable records stop. They differ after a torn tail or a
	// failed write.
	size, end int64
	// records and samples count the valid records in the segment that were
	// not yet acknowledged when it was opened or written; acked and
	// ackedSamples count those acknowledged since.
	records, samples    int64
	acked, ackedSamples int64
	replayed, sealed    bool
	unsynced            bool     // written since its last fdatasync
	counted             int64    // damage before this offset has been counted
	f                   *os.File // open for writing while the segment is active
}

func segName(id uint64) string { return fmt.Sprintf("%016x%s", id, segSuffix) }

// parseSegName returns the id of a segment file name, including one set
// aside as unreadable.
func parseSegName(name string) (id uint64, bad, ok bool) {
	base, bad := strings.CutSuffix(name, badSuffix)
	base, ok = strings.CutSuffix(base, segSuffix)
	if !ok || len(base) != 16 {
		return 0, false, false
	}
	id, err := strconv.ParseUint(base, 16, 64)
	return id, bad, err == nil
}

// listSegments returns the ids of the segment files in dir, oldest first,
// and the highest id in use including set-aside files.
func listSegments(dir string) (ids []uint64, maxID uint64, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, fmt.Errorf("spool: list %s: %w", dir, err)
	}
	for _, e := range ents {
		id, bad, ok := parseSegName(e.Name())
		if !ok {
			continue
		}
		maxID = max(maxID, id)
		if !bad {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, maxID, nil
}

func encodeSegHeader(id uint64, created time.Time) []byte {
	b := make([]byte, segHeader)
	copy(b, segMagic[:])
	binary.LittleEndian.PutUint16(b[8:], segVersion)
	binary.LittleEndian.PutUint64(b[12:], id)
	binary.LittleEndian.PutUint64(b[20:], uint64(created.UnixNano()))
	binary.LittleEndian.PutUint32(b[28:], crc32.Checksum(b[:28], castagnoli))
	return b
}

// headerState classifies a segment header.
type headerState int

const (
	headerOK      headerState = iota
	headerVersion             // intact, but a format this code does not know
	headerDamaged             // magic or checksum wrong: frames may still be intact
)

func checkSegHeader(b []byte) (headerState, uint16) {
	if len(b) < segHeader || !bytes.Equal(b[:8], segMagic[:]) ||
		binary.LittleEndian.Uint32(b[28:]) != crc32.Checksum(b[:28], castagnoli) {
		return headerDamaged, 0
	}
	v := binary.LittleEndian.Uint16(b[8:])
	if v != segVersion {
		return headerVersion, v
	}
	return headerOK, v
}

// scan outcomes for one frame.
type scanStatus int

const (
	frameOK scanStatus = iota
	frameNeedMore
	frameBad
)

// scanFrame looks at the frame that should start at b[0]. eof says that b
// runs to the end of the readable data. It returns frameOK with the frame's
// payload and length, frameNeedMore with the number of bytes it needs, or
// frameBad with the number of bytes to skip to the next candidate frame.
func scanFrame(b []byte, eof bool, maxPayload int) (scanStatus, int, []byte) {
	if len(b) < frameHeader {
		if !bytes.HasPrefix(frameMagic[:], b[:min(len(b), 4)]) {
			return frameBad, resync(b, eof), nil
		}
		if eof {
			return frameBad, len(b), nil
		}
		return frameNeedMore, frameHeader, nil
	}
	if !bytes.Equal(b[:4], frameMagic[:]) {
		return frameBad, resync(b, eof), nil
	}
	n := binary.LittleEndian.Uint32(b[8:12])
	if uint64(n) > uint64(maxPayload) {
		return frameBad, resync(b, eof), nil
	}
	total := frameHeader + int(n)
	if len(b) < total {
		if eof {
			// Either a torn tail or a damaged length field: in both
			// cases the frames after it are found by resynchronising.
			return frameBad, resync(b, eof), nil
		}
		return frameNeedMore, total, nil
	}
	if binary.LittleEndian.Uint32(b[4:8]) != crc32.Checksum(b[8:total], castagnoli) {
		return frameBad, resync(b, eof), nil
	}
	return frameOK, total, b[frameHeader:total]
}

// resync returns how many bytes of b to skip to reach the next possible
// frame start: the next occurrence of the frame magic after b[0]. Without a
// match it keeps a possible partial magic at the end of b unless eof.
func resync(b []byte, eof bool) int {
	if len(b) == 0 {
		return 0
	}
	if i := bytes.Index(b[1:], frameMagic[:]); i >= 0 {
		return i + 1
	}
	if eof || len(b) <= len(frameMagic) {
		if eof {
			return len(b)
		}
		return 1
	}
	return len(b) - (len(frameMagic) - 1)
}

// frameReader reads frames from one segment file through a buffer that is
// reused from call to call.
type frameReader struct {
	f      io.ReaderAt
	name   string
	seg    uint64
	buf    []byte
	bufOff int64
	chunk  int
	max    int
}

const readChunk = 64 << 10

// errEnd says that no valid frame is left before the end of the data.
var errEnd = errors.New("spool: end of segment")

// open points the reader at segment id; it keeps the file open while it
// reads the same segment.
func (r *frameReader) open(path string, id uint64) error {
	if r.f != nil && r.seg == id {
		return nil
	}
	r.close()
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("spool: open %s: %w", path, err)
	}
	r.f, r.name, r.seg, r.buf = f, path, id, r.buf[:0]
	return nil
}

func (r *frameReader) close() {
	if c, ok := r.f.(io.Closer); ok {
		c.Close()
	}
	r.f = nil
	r.buf = r.buf[:0]
}

// next returns the first valid frame at or after off and before end: its
// payload (valid until the next call), its offset and the offset after it.
// skipped is how many damaged bytes lay before it (or before end, with
// errEnd).
func (r *frameReader) next(off, end int64) (payload []byte, at, next, skipped int64, err error) {
	start := off
	need := 1
	for off < end {
		w, eof, err := r.window(off, end, need)
		if err != nil {
			return nil, off, off, off - start, err
		}
		if len(w) == 0 {
			break // the file ends before end
		}
		st, n, p := scanFrame(w, eof, r.max)
		switch st {
		case frameOK:
			return p, off, off + int64(n), off - start, nil
		case frameNeedMore:
			need = n
		case frameBad:
			off += int64(n)
			need = 1
		}
	}
	return nil, off, off, off - start, errEnd
}

// window returns the buffered bytes from off, holding at least need bytes
// or everything up to end, reading from the file when the buffer falls
// short. eof reports that the window reaches end.
func (r *frameReader) window(off, end int64, need int) ([]byte, bool, error) {
	bufEnd := r.bufOff + int64(len(r.buf))
	if off < r.bufOff || off >= bufEnd || bufEnd-off < int64(need) && bufEnd < end {
		want := int64(max(need, r.chunk))
		want = min(want, end-off)
		if int64(cap(r.buf)) < want {
			r.buf = make([]byte, want)
		}
		r.buf = r.buf[:want]
		n, err := r.f.ReadAt(r.buf, off)
		r.buf, r.bufOff = r.buf[:n], off
		if err != nil && !errors.Is(err, io.EOF) {
			r.buf = r.buf[:0]
			return nil, false, fmt.Errorf("spool: read %s at %d: %w", filepath.Base(r.name), off, err)
		}
		if n < int(want) {
			// The file is shorter than recorded: what is there is all
			// there is.
			return r.buf, true, nil
		}
		bufEnd = off + int64(n)
	}
	w := r.buf[off-r.bufOff : min(bufEnd, end)-r.bufOff]
	return w, off+int64(len(w)) >= end, nil
}
