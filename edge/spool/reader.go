package spool

import (
	"errors"
)

// Peek returns up to max of the oldest records not yet acknowledged, from
// disk first and then from memory, without consuming them: the same
// records come back until Ack moves past them. max below 1 means 1.
// Damaged records are skipped and counted in Stats.Corrupt. The records
// and their samples belong to the caller.
func (s *Spool) Peek(max int) ([]Record, error) {
	limit := max
	if limit < 1 {
		limit = 1
	}
	s.ioMu.Lock()
	defer s.ioMu.Unlock()
	if s.ioClosed {
		return nil, ErrClosed
	}
	s.marks = s.marks[:0]
	var out []Record
	exhausted := true
	if s.diskUnacked.Load() > 0 {
		out, exhausted = s.peekDisk(out, limit)
	}
	if exhausted && len(out) < limit {
		out = s.peekMemory(out, limit)
	}
	return out, nil
}

// peekDisk reads records from the read position on. It reports whether it
// reached the end of the data on disk.
func (s *Spool) peekDisk(out []Record, limit int) ([]Record, bool) {
	p := s.norm(s.cpos)
	var found int64
	for _, seg := range s.segs {
		if seg.id < p.seg {
			continue
		}
		off := int64(segHeader)
		if seg.id == p.seg {
			off = max(off, p.off)
		}
		for off < seg.end {
			if len(out) >= limit {
				return out, false
			}
			if err := s.rd.open(seg.path, seg.id); err != nil {
				s.unreadable(seg, off, err)
				break
			}
			payload, at, next, skipped, err := s.rd.next(off, seg.end)
			if skipped > 0 && at-skipped >= seg.counted {
				s.corrupt.Add(1)
				s.log.Warn("spool: damaged records skipped", "path", seg.path, "offset", at-skipped, "bytes", skipped)
			}
			seg.counted = max(seg.counted, at)
			if errors.Is(err, errEnd) {
				break
			}
			if err != nil {
				s.unreadable(seg, off, err)
				break
			}
			off = next
			var rec Record
			if _, _, err := s.dec.decode(payload, &rec, true); err != nil {
				if at >= seg.counted {
					s.corrupt.Add(1)
					s.log.Warn("spool: undecodable record skipped", "path", seg.path, "offset", at, "err", err)
				}
				seg.counted = max(seg.counted, next)
				continue
			}
			rec.Replayed = seg.replayed
			found++
			out = append(out, rec)
			s.marks = append(s.marks, mark{disk: true, at: pos{seg.id, at}, next: pos{seg.id, next}, end: rec.End(), n: int64(len(rec.Samples))})
		}
	}
	// Everything unacknowledged on disk has been seen: correct the count
	// should damage found since Open have changed it.
	var samples int64
	for _, m := range s.marks {
		samples += m.n
	}
	s.diskUnacked.Store(found)
	s.diskUnackedSamples.Store(samples)
	return out, true
}

// unreadable gives up on the rest of a segment the disk cannot read: the
// records there are lost either way, and the ones after it still count.
func (s *Spool) unreadable(seg *segment, off int64, err error) {
	s.corrupt.Add(1)
	s.setErr(err)
	s.log.Error("spool: segment unreadable from here; skipping the rest", "path", seg.path, "offset", off, "err", err)
	seg.end = off
	seg.counted = max(seg.counted, off)
	s.rd.close()
}

// peekMemory appends the records not yet written.
func (s *Spool) peekMemory(out []Record, limit int) []Record {
	s.mu.Lock()
	frs := append(s.peekBuf[:0], s.pending[:min(len(s.pending), limit-len(out))]...)
	s.mu.Unlock()
	for i := range frs {
		var rec Record
		if _, _, err := s.dec.decode(frs[i].buf[frameHeader:], &rec, true); err != nil {
			s.corrupt.Add(1) // only a bug in the encoder gets here
			s.log.Error("spool: undecodable record in memory skipped", "err", err)
			continue
		}
		out = append(out, rec)
		s.marks = append(s.marks, mark{rid: frs[i].rid, end: rec.End(), n: frs[i].n})
	}
	clear(frs)
	s.peekBuf = frs[:0]
	return out
}

// Ack marks as delivered the records returned by the last Peek whose
// samples are all numbered below upTo, in order, stopping at the first that
// is not. Delivered records are never returned again by this Spool; after a
// crash, those acknowledged since the last flush may be (at-least-once).
func (s *Spool) Ack(upTo uint64) error {
	s.ioMu.Lock()
	defer s.ioMu.Unlock()
	if s.ioClosed {
		return ErrClosed
	}
	for len(s.marks) > 0 {
		m := s.marks[0]
		if m.end > upTo {
			break
		}
		s.marks = s.marks[1:]
		if !m.disk {
			s.mu.Lock()
			if len(s.pending) > 0 && s.pending[0].rid == m.rid {
				s.pendingBytes -= int64(len(s.pending[0].buf))
				s.pendingSamples -= s.pending[0].n
				s.pending[0] = frame{}
				s.pending = s.pending[1:]
			}
			s.mu.Unlock()
			continue
		}
		if m.at.less(s.cpos) {
			continue // its segment was dropped since Peek
		}
		s.cpos = m.next
		s.ackDirty = true
		for _, seg := range s.segs {
			if seg.id == m.at.seg {
				seg.acked++
				seg.ackedSamples += m.n
				break
			}
		}
		s.diskUnacked.Add(-1)
		s.diskUnackedSamples.Add(-m.n)
	}
	return nil
}
