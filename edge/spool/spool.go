package spool

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Opts configures a Spool. Zero fields take their value from DefaultOpts.
type Opts struct {
	// MaxBytes bounds the segment files on disk. When a new segment would
	// exceed it, the oldest segments are deleted, unacknowledged records
	// included, and what they held is counted in Stats.Dropped.
	MaxBytes int64
	// SegmentBytes is the size at which the spool starts a new segment
	// file. It is also the unit in which old records are dropped, and a
	// record larger than a segment is refused.
	SegmentBytes int64
	// FlushInterval is how often records still unacknowledged are written
	// and synced, and the acknowledged position saved. A negative value
	// disables the spool's own flushing: the owner then calls Flush.
	FlushInterval time.Duration
	// WriteInterval is how often records still unacknowledged are written
	// to their segment without a sync: they then survive the process
	// being killed (they are in the kernel's page cache), and only a power
	// cut before the next FlushInterval sync can lose them. Zero means
	// 200ms; it never exceeds FlushInterval.
	WriteInterval time.Duration
	// BatchBytes of records waiting in memory trigger a flush before the
	// interval is up.
	BatchBytes int64
	// MemBytes bounds the records waiting in memory for the disk. It only
	// fills while writes fail (a full or broken disk); the oldest records
	// are then dropped and counted.
	MemBytes int64
	// Now stamps segment headers and paces repeated log messages.
	Now    func() time.Time
	Logger *slog.Logger

	faults faults // injected I/O failures, for tests
}

// DefaultOpts suit an SD card or eMMC. 64 MiB hold about two million
// samples of about 33 bytes: 5.6 hours of backlog at 100 samples/s, 2.3
// days at 10. Records waiting are flushed every second (see doc.go for the
// resulting write rate).
var DefaultOpts = Opts{
	MaxBytes:      64 << 20,
	SegmentBytes:  1 << 20,
	FlushInterval: time.Second,
	WriteInterval: 200 * time.Millisecond,
	BatchBytes:    256 << 10,
	MemBytes:      4 << 20,
}

func (o *Opts) setDefaults() error {
	d := DefaultOpts
	if o.MaxBytes == 0 {
		o.MaxBytes = d.MaxBytes
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = min(d.SegmentBytes, o.MaxBytes/4)
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = d.FlushInterval
	}
	if o.WriteInterval <= 0 || o.WriteInterval > o.FlushInterval {
		o.WriteInterval = min(d.WriteInterval, max(o.FlushInterval, 0))
	}
	if o.BatchBytes == 0 {
		o.BatchBytes = min(d.BatchBytes, o.SegmentBytes)
	}
	if o.MemBytes == 0 {
		o.MemBytes = max(d.MemBytes, o.BatchBytes)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	switch {
	case o.SegmentBytes < 1024:
		return fmt.Errorf("spool: segment size %d: must be at least 1024 bytes", o.SegmentBytes)
	case o.MaxBytes < 2*o.SegmentBytes:
		return fmt.Errorf("spool: maximum size %d: must hold at least two segments of %d bytes", o.MaxBytes, o.SegmentBytes)
	case o.BatchBytes < 0 || o.MemBytes < 1024:
		return fmt.Errorf("spool: batch size %d, memory bound %d: must be positive, the bound at least 1024 bytes", o.BatchBytes, o.MemBytes)
	}
	return nil
}

// Errors callers act on.
var (
	ErrClosed = errors.New("spool: closed")
	// ErrOutOfOrder refuses a record numbered below the end of an earlier
	// one: acknowledgements go by sample number, so numbers must grow.
	// After a restart, End tells where numbering must resume.
	ErrOutOfOrder = errors.New("spool: record numbered below an earlier record")
	ErrTooLarge   = errors.New("spool: record too large")
)

// Stats are the spool's counters.
type Stats struct {
	DiskBytes int64 // bytes in segment files
	Segments  int
	// Pending counts unacknowledged records, on disk and in memory, and
	// PendingSamples their samples.
	Pending        int64
	PendingSamples int64
	// Memory and MemoryBytes count the records not written yet.
	Memory      int
	MemoryBytes int64
	// Dropped counts unacknowledged records deleted to keep within
	// MaxBytes or MemBytes, DroppedSamples their samples.
	Dropped        uint64
	DroppedSamples uint64
	// Corrupt counts damaged regions skipped when reading: torn or damaged
	// records (one per run of damaged bytes), damaged or unknown segment
	// headers and damaged acknowledgement slots.
	Corrupt uint64
	// Writes, WrittenBytes and Fsyncs count the I/O the spool did;
	// Fsyncs includes the directory syncs.
	Writes       uint64
	WrittenBytes uint64
	Fsyncs       uint64
	WriteErrors  uint64
	// Failing is set while writes fail; LastError is the last I/O error.
	Failing   bool
	LastError string
}

// frame is one encoded record waiting in memory.
type frame struct {
	buf []byte
	rid uint64 // order of arrival, to recognise the frame later
	n   int64  // samples
}

// mark remembers a record returned by Peek so that Ack can move past it.
type mark struct {
	disk     bool
	at, next pos    // on disk
	rid      uint64 // in memory
	end      uint64
	n        int64
}

// Spool is a durable queue of Records. Append may be called from any
// goroutine; Peek and Ack are for the one goroutine that publishes.
type Spool struct {
	dir  string
	opts Opts
	log  *slog.Logger
	lock *os.File

	// ioMu serialises the disk and guards the read cursor. It is taken
	// before mu, and Append never waits for it.
	ioMu        sync.Mutex
	ioClosed    bool
	segs        []*segment
	active      *segment
	nextID      uint64
	cpos        pos // the first record not acknowledged, or the end
	marks       []mark
	rd          frameReader
	dec         decoder
	ack         *ackFile
	ackDirty    bool
	ackDirSync  bool
	wbuf        []byte
	failing     bool
	dirSyncWarn bool
	peekBuf     []frame

	// mu guards the records waiting in memory; it is held briefly.
	mu             sync.Mutex
	closed         bool
	enc            encoder
	pending        []frame
	pendingBytes   int64
	pendingSamples int64
	inflight       int // pending[:inflight] are being written
	nextRid        uint64
	lastEnd        uint64
	lastErr        string
	dropLogged     time.Time

	diskBytes, diskUnacked, diskUnackedSamples, segCount atomic.Int64
	dropped, droppedSamples, corrupt                     atomic.Uint64
	writes, written, fsyncs, writeErrs                   atomic.Uint64
	failingFlag                                          atomic.Bool

	maxFrame int
	wake     chan struct{}
	stop     chan struct{}
	done     chan struct{}
}

// Open opens the spool in dir, creating dir if needed, and loads the
// records left there by earlier runs: they come back from Peek with
// Replayed set. Unless opts.FlushInterval is negative, Open starts a
// goroutine that flushes every FlushInterval; Close stops it.
func Open(dir string, opts Opts) (*Spool, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	lock, err := lockDir(filepath.Join(dir, "lock"))
	if err != nil {
		return nil, err
	}
	s := &Spool{
		dir: dir, opts: opts, log: opts.Logger, lock: lock,
		maxFrame: int(min(opts.SegmentBytes-segHeader, opts.MemBytes, frameHeader+maxFramePayload)),
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	s.rd.chunk, s.rd.max = readChunk, maxFramePayload
	if err := s.load(); err != nil {
		s.closeFiles()
		return nil, err
	}
	if opts.FlushInterval > 0 {
		go s.run()
	} else {
		close(s.done)
	}
	return s, nil
}

// load reads the acknowledged position and scans the segments after it.
func (s *Spool) load() error {
	ack, acked, created, damaged, err := openAckFile(filepath.Join(s.dir, ackFileName))
	if err != nil {
		return err
	}
	s.ack, s.ackDirSync = ack, created
	if damaged {
		s.corrupt.Add(1)
		s.log.Warn("spool: damaged acknowledgement slot; older records may be delivered again", "dir", s.dir)
	}
	ids, maxID, err := listSegments(s.dir)
	if err != nil {
		return err
	}
	// New segments get ids above any the acknowledged position names, so
	// that position can never fall inside a new segment.
	s.nextID = max(maxID, acked.seg) + 1
	for _, id := range ids {
		path := filepath.Join(s.dir, segName(id))
		if id < acked.seg {
			if err := os.Remove(path); err != nil {
				s.log.Warn("spool: cannot remove delivered segment", "path", path, "err", err)
			}
			continue
		}
		if seg := s.loadSegment(id, path, acked); seg != nil {
			s.segs = append(s.segs, seg)
		}
	}
	s.rd.close()
	s.cpos = s.norm(acked)
	for _, seg := range s.segs {
		s.diskUnacked.Add(seg.records)
		s.diskUnackedSamples.Add(seg.samples)
	}
	s.deleteAcked()
	if n := s.diskUnacked.Load(); n > 0 {
		s.log.Info("spool: records to replay", "dir", s.dir, "records", n, "samples", s.diskUnackedSamples.Load(), "corrupt", s.corrupt.Load())
	}
	return nil
}

// loadSegment checks a segment left by an earlier run and counts the valid
// records after the acknowledged position. It returns nil for a segment
// that holds nothing readable.
func (s *Spool) loadSegment(id uint64, path string, acked pos) *segment {
	fi, err := os.Stat(path)
	if err != nil {
		s.corrupt.Add(1)
		s.log.Error("spool: unreadable segment skipped", "path", path, "err", err)
		return nil
	}
	if fi.Size() < segHeader {
		// Torn while being created: it never held a record.
		if err := os.Remove(path); err != nil {
			s.log.Warn("spool: cannot remove empty segment", "path", path, "err", err)
		}
		return nil
	}
	if err := s.rd.open(path, id); err != nil {
		s.corrupt.Add(1)
		s.log.Error("spool: unreadable segment skipped", "path", path, "err", err)
		return nil
	}
	hdr := make([]byte, segHeader)
	if _, err := s.rd.f.ReadAt(hdr, 0); err != nil {
		s.corrupt.Add(1)
		s.log.Error("spool: unreadable segment skipped", "path", path, "err", err)
		return nil
	}
	switch st, v := checkSegHeader(hdr); st {
	case headerVersion:
		s.corrupt.Add(1)
		s.rd.close()
		s.log.Error("spool: segment of an unknown format version set aside", "path", path, "version", v)
		if err := os.Rename(path, path+badSuffix); err != nil {
			s.log.Error("spool: cannot set segment aside", "path", path, "err", err)
		}
		return nil
	case headerDamaged:
		// The frames carry their own checksums: recover what is intact.
		s.corrupt.Add(1)
		s.log.Warn("spool: damaged segment header; recovering its records", "path", path)
	}
	seg := &segment{id: id, path: path, size: fi.Size(), replayed: true, sealed: true, counted: fi.Size()}
	off := int64(segHeader)
	if id == acked.seg {
		off = max(off, acked.off)
	}
	seg.end = off
	var regions, bad int64
	for {
		p, at, next, skipped, err := s.rd.next(off, seg.size)
		if skipped > 0 {
			regions++
			bad += skipped
		}
		if errors.Is(err, errEnd) {
			break
		}
		if err != nil {
			regions++
			s.log.Error("spool: segment unreadable from here; skipping the rest", "path", path, "offset", off, "err", err)
			break
		}
		off = next
		first, n, err := s.dec.check(p)
		if err != nil {
			regions++
			bad += next - at
			continue
		}
		seg.records++
		seg.samples += int64(n)
		seg.end = next
		s.mu.Lock()
		s.lastEnd = max(s.lastEnd, first+uint64(n))
		s.mu.Unlock()
	}
	if regions > 0 {
		s.corrupt.Add(uint64(regions))
		s.log.Warn("spool: damaged records skipped", "path", path, "regions", regions, "bytes", bad, "records_kept", seg.records)
	}
	return seg
}

// Append queues rec. It copies the record (encoding it) and returns without
// touching the disk: the record becomes durable at the next flush. Records
// must come in increasing sample numbers (ErrOutOfOrder otherwise). A
// record without samples is ignored.
func (s *Spool) Append(rec Record) error {
	if len(rec.Samples) == 0 {
		return nil
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if rec.First < s.lastEnd {
		end := s.lastEnd
		s.mu.Unlock()
		return fmt.Errorf("%w: record starts at %d, earlier records end at %d", ErrOutOfOrder, rec.First, end)
	}
	if rec.End() < rec.First {
		s.mu.Unlock()
		return fmt.Errorf("%w: %d samples from %d wrap the numbering", ErrOutOfOrder, len(rec.Samples), rec.First)
	}
	b := s.enc.frame(&rec)
	if len(b) > s.maxFrame {
		s.mu.Unlock()
		return fmt.Errorf("%w: %d bytes encoded, limit %d", ErrTooLarge, len(b), s.maxFrame)
	}
	fr := frame{buf: slices.Clone(b), rid: s.nextRid, n: int64(len(rec.Samples))}
	s.nextRid++
	s.pending = append(s.pending, fr)
	s.pendingBytes += int64(len(fr.buf))
	s.pendingSamples += fr.n
	s.lastEnd = rec.End()
	s.evictLocked()
	full := s.pendingBytes >= s.opts.BatchBytes
	s.mu.Unlock()
	if full {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// evictLocked drops the oldest records waiting in memory beyond MemBytes,
// sparing those being written.
func (s *Spool) evictLocked() {
	var n, samples int64
	for s.pendingBytes > s.opts.MemBytes && len(s.pending) > s.inflight {
		i := s.inflight
		fr := s.pending[i]
		if i == 0 {
			s.pending[0] = frame{}
			s.pending = s.pending[1:]
		} else {
			s.pending = slices.Delete(s.pending, i, i+1)
		}
		s.pendingBytes -= int64(len(fr.buf))
		s.pendingSamples -= fr.n
		n++
		samples += fr.n
	}
	if n == 0 {
		return
	}
	s.dropped.Add(uint64(n))
	s.droppedSamples.Add(uint64(samples))
	if now := s.opts.Now(); now.Sub(s.dropLogged) >= time.Minute {
		s.dropLogged = now
		s.log.Warn("spool: memory bound reached while the disk is unavailable; dropping the oldest records",
			"records", n, "samples", samples, "dropped_total", s.dropped.Load(), "last_error", s.lastErr)
	}
}

// End returns the number after the last sample appended or found on disk
// at Open: a sequence that restarts lower must resume at End or above.
func (s *Spool) End() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastEnd
}

// Stats returns a snapshot of the counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	st := Stats{
		Pending:        s.diskUnacked.Load() + int64(len(s.pending)),
		PendingSamples: s.diskUnackedSamples.Load() + s.pendingSamples,
		Memory:         len(s.pending),
		MemoryBytes:    s.pendingBytes,
		LastError:      s.lastErr,
	}
	s.mu.Unlock()
	st.DiskBytes = s.diskBytes.Load()
	st.Segments = int(s.segCount.Load())
	st.Dropped = s.dropped.Load()
	st.DroppedSamples = s.droppedSamples.Load()
	st.Corrupt = s.corrupt.Load()
	st.Writes = s.writes.Load()
	st.WrittenBytes = s.written.Load()
	st.Fsyncs = s.fsyncs.Load()
	st.WriteErrors = s.writeErrs.Load()
	st.Failing = s.failingFlag.Load()
	return st
}

// Close stops the flushing goroutine, writes the records still waiting and
// saves the acknowledged position. The error reports records that could
// not be written.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	s.ioMu.Lock()
	defer s.ioMu.Unlock()
	err := s.flushLocked(true)
	if err != nil {
		s.mu.Lock()
		n := len(s.pending)
		s.mu.Unlock()
		s.log.Error("spool: closing with records that could not be written", "records", n, "err", err)
	}
	s.closeFiles()
	return err
}

// closeFiles releases every file the spool holds, the lock last.
func (s *Spool) closeFiles() {
	s.ioClosed = true
	s.rd.close()
	if s.active != nil && s.active.f != nil {
		s.active.f.Close()
		s.active.f = nil
	}
	if s.ack != nil {
		s.ack.f.Close()
	}
	s.lock.Close()
}

func (s *Spool) setErr(err error) {
	s.mu.Lock()
	s.lastErr = err.Error()
	s.mu.Unlock()
}

// refreshDisk recomputes the disk counters after segments changed.
func (s *Spool) refreshDisk() {
	var n int64
	for _, seg := range s.segs {
		n += seg.size
	}
	s.diskBytes.Store(n)
	s.segCount.Store(int64(len(s.segs)))
}

// faults lets tests fail writes and syncs as a full or failing disk would.
type faults interface {
	// write returns how many of n bytes reach the file before err.
	write(path string, n int) (int, error)
	sync(path string) error
}

// writer is what the ack file needs from the spool's I/O.
type writer interface {
	writeAt(f *os.File, b []byte, off int64) error
	datasync(f *os.File) error
}

func (s *Spool) writeAt(f *os.File, b []byte, off int64) error {
	s.writes.Add(1)
	if s.opts.faults != nil {
		if n, err := s.opts.faults.write(f.Name(), len(b)); err != nil {
			m, _ := f.WriteAt(b[:n], off)
			s.written.Add(uint64(m))
			return fmt.Errorf("spool: %w", &os.PathError{Op: "write", Path: f.Name(), Err: err})
		}
	}
	n, err := f.WriteAt(b, off)
	s.written.Add(uint64(n))
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

func (s *Spool) datasync(f *os.File) error {
	s.fsyncs.Add(1)
	if s.opts.faults != nil {
		if err := s.opts.faults.sync(f.Name()); err != nil {
			return fmt.Errorf("spool: %w", &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err})
		}
	}
	if err := fdatasync(f); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// syncDir makes file creations in the directory durable (fsync(2) on the
// directory). Some filesystems refuse it; that is logged once and ignored,
// as there is nothing better to do.
func (s *Spool) syncDir() {
	s.fsyncs.Add(1)
	d, err := os.Open(s.dir)
	if err == nil {
		err = d.Sync()
		d.Close()
	}
	if err != nil && !s.dirSyncWarn {
		s.dirSyncWarn = true
		s.log.Warn("spool: cannot sync the directory; a power cut may lose new segments", "dir", s.dir, "err", err)
	}
}
