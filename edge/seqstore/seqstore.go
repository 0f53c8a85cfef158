// Package seqstore persists the edge's 64-bit sample sequence and its
// Sparkplug bdSeq across restarts, so the collector can audit loss and
// duplicates over reconnects and crashes.
//
// Writing the sequence on every payload would wear a controller's flash, so
// the store reserves numbers in blocks: it durably records a high-water mark
// before handing out numbers below it, and on a clean Close records the
// exact next number. After a crash the sequence resumes at the mark, never
// reusing a number (which would make new samples look like duplicates) at
// the cost of a gap of at most Block numbers, which the collector reports as
// lost samples.
package seqstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/rackwatch/rackwatch/edge/atomicfile"
)

// DefaultBlock is how many numbers a reservation covers.
const DefaultBlock = 4096

// Store hands out sample numbers. It is safe for concurrent use.
type Store struct {
	mu       sync.Mutex
	path     string
	block    uint64
	next     uint64
	reserved uint64 // numbers below this are durably reserved
	bdSeq    uint8
	unclean  bool
	bootID   string // of the previous run
}

type record struct {
	Version  int    `json:"version"`
	Next     uint64 `json:"next"`
	Reserved uint64 `json:"reserved"`
	BdSeq    uint8  `json:"bd_seq"`
	Clean    bool   `json:"clean"`
	// BootID is the kernel's boot id when the record was written: an
	// unclean stop within the same boot was a process crash, after which
	// the page cache (and so a spool's unsynced writes) survived.
	BootID string `json:"boot_id,omitempty"`
}

// bootID reads the kernel's boot id; "" where there is none.
var bootID = func() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Open loads the store at path, creating it if absent. block of 0 means
// DefaultBlock.
func Open(path string, block uint64) (*Store, error) {
	if block == 0 {
		block = DefaultBlock
	}
	s := &Store{path: path, block: block}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("seqstore: %w", err)
	default:
		var r record
		if err := json.Unmarshal(b, &r); err != nil || r.Version != 1 {
			return nil, fmt.Errorf("seqstore: %s: corrupt state (%v); move it aside to restart the sequence, which the collector will see as a new edge", path, err)
		}
		s.bdSeq = r.BdSeq
		s.next = r.Next
		s.bootID = r.BootID
		if !r.Clean {
			s.next = r.Reserved
			s.unclean = true
		}
		s.reserved = s.next
	}
	// Record the state as unclean until Close, so a crash is detected.
	if err := s.save(false); err != nil {
		return nil, err
	}
	return s, nil
}

// Unclean reports whether the previous run ended without Close, in which
// case numbers may have been skipped.
func (s *Store) Unclean() bool { return s.unclean }

// SameBoot reports whether the previous run was in the current boot of the
// machine, so an unclean stop was the process dying, not the power.
func (s *Store) SameBoot() bool {
	id := bootID()
	return id != "" && id == s.bootID
}

// Rewind makes n the next number, for an edge that knows exactly where its
// sequence stopped (its spool) after a crash within the same boot. Numbers
// only go back to where they were never handed out: n must not be below
// the end of what the spool holds, which the caller guarantees.
func (s *Store) Rewind(n uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n < s.next {
		s.next = n
	}
}

// Peek returns the number the next sample will get.
func (s *Store) Peek() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next
}

// Reserve returns the first of n consecutive numbers.
func (s *Store) Reserve(n int) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	first := s.next
	end := first + uint64(n)
	if end > s.reserved {
		old := s.reserved
		s.reserved = end + s.block
		if err := s.save(false); err != nil {
			s.reserved = old
			return 0, err
		}
	}
	s.next = end
	return first, nil
}

// NextBdSeq advances and persists the birth/death sequence (0–255, spec
// §6.4.19) and returns the value for the next MQTT connection.
func (s *Store) NextBdSeq() (uint8, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bdSeq++
	return s.bdSeq, s.save(false)
}

// Close records the exact next number.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.save(true)
}

// save writes the record atomically: a temporary file, fsync, rename, and
// fsync of the directory so the rename itself survives a power cut.
func (s *Store) save(clean bool) error {
	b, _ := json.Marshal(record{Version: 1, Next: s.next, Reserved: s.reserved, BdSeq: s.bdSeq, Clean: clean, BootID: bootID()})
	if err := atomicfile.Write(s.path, b); err != nil {
		return fmt.Errorf("seqstore: %w", err)
	}
	return nil
}
