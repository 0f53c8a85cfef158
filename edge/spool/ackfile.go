package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// The acknowledgement file holds two slots, each a complete record of the
// read position, written alternately in place. A write torn by a power cut
// damages at most the slot being written, and the other still holds the
// previous position, so no rename (and no directory update) is needed.
// The slots sit in different 4 KiB pages so that a torn page holds one.
const (
	ackSlotSize  = 36
	ackSlotAlign = 4096
	ackVersion   = 1
	ackFileName  = "ack"
)

var ackMagic = [4]byte{'R', 'W', 'A', 'K'}

type ackFile struct {
	f   *os.File
	seq uint64
}

// openAckFile opens or creates the file and returns the newest intact
// position. damaged reports slots that exist but fail their checksum.
func openAckFile(path string) (a *ackFile, p pos, created, damaged bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
		created = true
	}
	if err != nil {
		return nil, pos{}, false, false, fmt.Errorf("spool: open %s: %w", path, err)
	}
	a = &ackFile{f: f}
	var best *ackSlot
	for i := range int64(2) {
		b := make([]byte, ackSlotSize)
		n, err := f.ReadAt(b, i*ackSlotAlign)
		if err != nil && !errors.Is(err, io.EOF) {
			f.Close()
			return nil, pos{}, false, false, fmt.Errorf("spool: read %s: %w", path, err)
		}
		if n == 0 || isZero(b[:n]) {
			continue
		}
		s, ok := decodeAckSlot(b[:n])
		if !ok {
			damaged = true
			continue
		}
		if best == nil || s.seq > best.seq {
			best = &s
		}
	}
	if best != nil {
		a.seq = best.seq
		p = best.pos
	}
	return a, p, created, damaged, nil
}

type ackSlot struct {
	seq uint64
	pos pos
}

func encodeAckSlot(s ackSlot) []byte {
	b := make([]byte, ackSlotSize)
	copy(b, ackMagic[:])
	binary.LittleEndian.PutUint16(b[4:], ackVersion)
	binary.LittleEndian.PutUint64(b[8:], s.seq)
	binary.LittleEndian.PutUint64(b[16:], s.pos.seg)
	binary.LittleEndian.PutUint64(b[24:], uint64(s.pos.off))
	binary.LittleEndian.PutUint32(b[32:], crc32.Checksum(b[:32], castagnoli))
	return b
}

func decodeAckSlot(b []byte) (ackSlot, bool) {
	if len(b) < ackSlotSize || !bytes.Equal(b[:4], ackMagic[:]) ||
		binary.LittleEndian.Uint16(b[4:]) != ackVersion ||
		binary.LittleEndian.Uint32(b[32:]) != crc32.Checksum(b[:32], castagnoli) {
		return ackSlot{}, false
	}
	off := int64(binary.LittleEndian.Uint64(b[24:]))
	if off < 0 {
		return ackSlot{}, false
	}
	return ackSlot{
		seq: binary.LittleEndian.Uint64(b[8:]),
		pos: pos{seg: binary.LittleEndian.Uint64(b[16:]), off: off},
	}, true
}

// write stores p in the slot not holding the newest position and syncs it.
func (a *ackFile) write(p pos, w writer) error {
	s := ackSlot{seq: a.seq + 1, pos: p}
	if err := w.writeAt(a.f, encodeAckSlot(s), int64(s.seq%2)*ackSlotAlign); err != nil {
		return err
	}
	if err := w.datasync(a.f); err != nil {
		return err
	}
	a.seq = s.seq
	return nil
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
