package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// run writes waiting records every WriteInterval, and syncs them every
// FlushInterval, and sooner when a batch fills, until Close. While writes
// fail it retries only on the interval, so a full disk is not hammered on
// every Append.
func (s *Spool) run() {
	defer close(s.done)
	t := time.NewTicker(s.opts.WriteInterval)
	defer t.Stop()
	lastSync := time.Now()
	for {
		sync := false
		select {
		case <-s.stop:
			return
		case <-t.C:
			sync = time.Since(lastSync) >= s.opts.FlushInterval
		case <-s.wake:
			if s.failingFlag.Load() {
				continue
			}
			sync = true
		}
		if sync {
			lastSync = time.Now()
		}
		s.ioMu.Lock()
		if !s.ioClosed {
			_ = s.flushLocked(sync) // recorded in Stats and logged
		}
		s.ioMu.Unlock()
	}
}

// Flush writes and syncs the records waiting in memory, saves the
// acknowledged position and deletes the segments wholly acknowledged. When
// it returns nil, every record appended before the call is durable, or was
// delivered, or was dropped and counted.
func (s *Spool) Flush() error {
	s.ioMu.Lock()
	defer s.ioMu.Unlock()
	if s.ioClosed {
		return ErrClosed
	}
	return s.flushLocked(true)
}

// flushLocked writes the waiting records; with sync it also makes every
// write durable, saves the acknowledged position and deletes the segments
// wholly acknowledged.
func (s *Spool) flushLocked(sync bool) error {
	s.mu.Lock()
	frames := s.pending[:len(s.pending):len(s.pending)]
	s.inflight = len(frames)
	s.mu.Unlock()

	var err error
	for i := 0; i < len(frames) && err == nil; {
		if err = s.ensureActive(len(frames[i].buf)); err != nil {
			break
		}
		a := s.active
		w := s.wbuf[:0]
		j := i
		for j < len(frames) && (j == i || a.size+int64(len(w)+len(frames[j].buf)) <= s.opts.SegmentBytes) {
			w = append(w, frames[j].buf...)
			j++
		}
		s.wbuf = w
		if err = s.writeFrames(a, w, sync); err == nil {
			s.commit(frames[i:j], a)
			i = j
		}
	}
	// Records that piled up (while the disk failed, or faster than the
	// flush interval) grow the buffer up to a segment in one flush, and
	// keeping it would hold that memory for the life of the process:
	// TestSoakEdge saw the live heap stay 0.55 MiB higher after its
	// outage's backlog. Steady flushes write an interval's records, far
	// less than a batch, and keep reusing their buffer; a flush that a
	// full batch called for allocates its own.
	if cap(s.wbuf) > int(s.opts.BatchBytes) {
		s.wbuf = nil
	}
	s.mu.Lock()
	s.inflight = 0
	s.mu.Unlock()
	s.refreshDisk()

	if err != nil {
		s.writeErrs.Add(1)
		s.setErr(err)
		if !s.failing {
			s.log.Error("spool: cannot write to disk; keeping records in memory and retrying", "dir", s.dir, "err", err)
		}
		s.failing = true
		s.failingFlag.Store(true)
	} else if s.failing && len(frames) > 0 {
		s.failing = false
		s.failingFlag.Store(false)
		s.log.Info("spool: disk writes succeed again", "dir", s.dir)
	}
	if !sync {
		return err
	}
	if a := s.active; err == nil && a != nil && a.unsynced {
		if err = s.datasync(a.f); err == nil {
			a.unsynced = false
		}
	}
	ackErr := s.persistAck()
	s.deleteAcked()
	return errors.Join(err, ackErr)
}

// writeFrames appends w to the active segment and, with sync, syncs it.
// On failure the segment is cut back to its last good size when possible,
// and otherwise closed, so the frames are retried whole in a new segment.
func (s *Spool) writeFrames(a *segment, w []byte, sync bool) error {
	start := a.size
	err := s.writeAt(a.f, w, start)
	if err == nil && !sync {
		a.unsynced = true
		return nil
	}
	if err == nil {
		if err = s.datasync(a.f); err != nil {
			// After a failed fsync the kernel may have dropped the dirty
			// pages: the state of the file is unknown. Cut the frames off
			// so they do not come back twice, and retry them in a new
			// segment.
			a.size = start + int64(len(w))
			if a.f.Truncate(start) == nil {
				a.size = start
			}
			s.seal(a)
			return err
		}
		a.unsynced = false
		return nil
	}
	if terr := a.f.Truncate(start); terr != nil {
		if fi, serr := a.f.Stat(); serr == nil {
			a.size = fi.Size()
		}
		s.seal(a)
	}
	return err
}

// commit records frames as written to a from its previous size, and drops
// them from memory.
func (s *Spool) commit(frames []frame, a *segment) {
	off := a.size
	wasAcked := s.diskUnacked.Load() == 0
	var samples int64
	mi := 0
	for k := range frames {
		fr := &frames[k]
		at := pos{a.id, off}
		off += int64(len(fr.buf))
		if k == 0 && wasAcked {
			s.cpos = at
		}
		samples += fr.n
		// A record returned by Peek while in memory is now on disk.
		for mi < len(s.marks) && (s.marks[mi].disk || s.marks[mi].rid < fr.rid) {
			mi++
		}
		if mi < len(s.marks) && s.marks[mi].rid == fr.rid {
			m := &s.marks[mi]
			m.disk, m.at, m.next = true, at, pos{a.id, off}
		}
	}
	a.size, a.end = off, off
	a.records += int64(len(frames))
	a.samples += samples
	s.diskUnacked.Add(int64(len(frames)))
	s.diskUnackedSamples.Add(samples)

	var bytes int64
	for k := range frames {
		bytes += int64(len(frames[k].buf))
	}
	s.mu.Lock()
	clear(s.pending[:len(frames)])
	s.pending = s.pending[len(frames):]
	s.pendingBytes -= bytes
	s.pendingSamples -= samples
	s.inflight -= len(frames)
	s.mu.Unlock()
}

// ensureActive makes sure the active segment has room for a frame of n
// bytes, starting a new segment when needed.
func (s *Spool) ensureActive(n int) error {
	if a := s.active; a != nil {
		if a.size+int64(n) <= s.opts.SegmentBytes || a.size <= segHeader {
			return nil
		}
		s.seal(a)
	}
	s.makeRoom()
	return s.createSegment()
}

// seal closes the active segment; it is only read from then on. Writes
// not yet synced are synced first: a closed file cannot be synced later.
func (s *Spool) seal(a *segment) {
	if a.f != nil && a.unsynced {
		if err := s.datasync(a.f); err != nil {
			s.log.Warn("spool: sync segment before closing it", "path", a.path, "err", err)
		}
		a.unsynced = false
	}
	if a.f != nil {
		if err := a.f.Close(); err != nil {
			s.log.Warn("spool: close segment", "path", a.path, "err", err)
		}
		a.f = nil
	}
	a.sealed = true
	if s.active == a {
		s.active = nil
	}
}

// makeRoom deletes the oldest segments until a new full segment fits in
// MaxBytes.
func (s *Spool) makeRoom() {
	var total int64
	for _, seg := range s.segs {
		total += seg.size
	}
	for len(s.segs) > 0 && total+s.opts.SegmentBytes > s.opts.MaxBytes {
		total -= s.segs[0].size
		s.dropOldest()
	}
	s.refreshDisk()
}

// dropOldest deletes the oldest segment, counting the records in it that
// were not acknowledged.
func (s *Spool) dropOldest() {
	seg := s.segs[0]
	c := s.norm(s.cpos)
	if c.seg <= seg.id {
		recs, samples := seg.records-seg.acked, seg.samples-seg.ackedSamples
		if recs > 0 {
			s.dropped.Add(uint64(recs))
			s.droppedSamples.Add(uint64(samples))
			s.diskUnacked.Add(-recs)
			s.diskUnackedSamples.Add(-samples)
			s.log.Warn("spool: disk bound reached; dropping the oldest records",
				"path", seg.path, "records", recs, "samples", samples, "max_bytes", s.opts.MaxBytes)
		}
		next := s.nextID
		if len(s.segs) > 1 {
			next = s.segs[1].id
		}
		s.cpos = pos{next, segHeader}
		s.marks = s.marks[:0]
		s.ackDirty = true
	}
	s.removeSegment(seg)
	s.segs = s.segs[1:]
}

func (s *Spool) removeSegment(seg *segment) {
	if s.rd.f != nil && s.rd.seg == seg.id {
		s.rd.close() // an open descriptor would keep the blocks allocated
	}
	if seg.f != nil {
		seg.f.Close()
		seg.f = nil
	}
	if s.active == seg {
		s.active = nil
	}
	if err := os.Remove(seg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Warn("spool: cannot remove segment", "path", seg.path, "err", err)
	}
}

// createSegment starts a new active segment: its header is synced, and the
// directory too, before any record goes into it, so that a record reported
// durable is in a file that survives a power cut.
func (s *Spool) createSegment() error {
	id := s.nextID
	s.nextID++
	path := filepath.Join(s.dir, segName(id))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("spool: create segment: %w", err)
	}
	if err := s.writeAt(f, encodeSegHeader(id, s.opts.Now()), 0); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := s.datasync(f); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	s.syncDir()
	seg := &segment{id: id, path: path, size: segHeader, end: segHeader, f: f}
	s.segs = append(s.segs, seg)
	s.active = seg
	s.refreshDisk()
	return nil
}

// persistAck saves the read position if it moved.
func (s *Spool) persistAck() error {
	if !s.ackDirty {
		return nil
	}
	p := s.norm(s.cpos)
	if err := s.ack.write(p, s); err != nil {
		s.setErr(err)
		s.log.Warn("spool: cannot save the acknowledged position; will retry", "err", err)
		return err
	}
	if s.ackDirSync {
		s.syncDir()
		s.ackDirSync = false
	}
	s.ackDirty = false
	return nil
}

// norm moves p past the ends of sealed segments and over missing ones, to
// the place where the next record would be read.
func (s *Spool) norm(p pos) pos {
	for _, seg := range s.segs {
		switch {
		case seg.id < p.seg:
			continue
		case seg.id > p.seg:
			return pos{seg.id, segHeader}
		}
		p.off = max(p.off, segHeader)
		if p.off < seg.end || !seg.sealed {
			return p
		}
	}
	return p
}

// deleteAcked deletes the sealed segments before the read position.
func (s *Spool) deleteAcked() {
	s.cpos = s.norm(s.cpos)
	for len(s.segs) > 0 && s.segs[0].sealed && s.segs[0].id < s.cpos.seg {
		s.removeSegment(s.segs[0])
		s.segs[0] = nil
		s.segs = s.segs[1:]
	}
	s.refreshDisk()
}
