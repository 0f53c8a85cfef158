package cmdsign

import (
	"crypto/ed25519"
	"fmt"
	"sync"
	"time"

	"github.com/rackwatch/rackwatch/edge/command"
)

// DefaultValidity is how long a signed command may wait to be applied:
// long enough for the collector's retries and a broker's redelivery after
// a short outage, short enough that a command captured now is useless in
// minutes even to an edge that lost its counters.
const DefaultValidity = 2 * time.Minute

// SignerOpts configures a Signer.
type SignerOpts struct {
	KeyID string
	Key   ed25519.PrivateKey
	// CounterPath is the file the last counter issued is kept in (the
	// collector's state directory). Empty keeps it in memory, for tests.
	CounterPath string
	// Validity is how long after signing a command may be applied; zero
	// means DefaultValidity.
	Validity time.Duration
	Now      func() time.Time
}

// Signer signs the collector's commands. It is safe for concurrent use.
type Signer struct {
	opts SignerOpts

	mu       sync.Mutex
	counters map[string]*keyCounter
}

// NewSigner checks the key and loads the counter file.
func NewSigner(opts SignerOpts) (*Signer, error) {
	if err := CheckKeyID(opts.KeyID); err != nil {
		return nil, err
	}
	if len(opts.Key) != ed25519.PrivateKeySize {
		return nil, errNoKey
	}
	if opts.Validity <= 0 {
		opts.Validity = DefaultValidity
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c, err := loadCounters(opts.CounterPath)
	if err != nil {
		return nil, err
	}
	return &Signer{opts: opts, counters: c}, nil
}

// KeyID returns the id of the signing key.
func (s *Signer) KeyID() string { return s.opts.KeyID }

// Public returns the public half of the signing key.
func (s *Signer) Public() ed25519.PublicKey { return s.opts.Key.Public().(ed25519.PublicKey) }

// Sign returns c signed for edge node edge of group: issued now (unless c
// says when), valid for Validity, with the key's next counter. The counter
// is the time in microseconds, or one more than the last issued when the
// clock has not moved on or went back, so it keeps growing across
// restarts even without the counter file, and with it across a clock set
// back. It is written to the counter file before Sign returns.
func (s *Signer) Sign(group, edge string, c command.Command) (command.Command, error) {
	now := s.opts.Now()
	if c.Issued.IsZero() {
		c.Issued = now
	}
	c.Sig = command.Signature{KeyID: s.opts.KeyID, ValidUntil: now.Add(s.opts.Validity)}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.counters[s.opts.KeyID]
	if k == nil {
		k = &keyCounter{}
	}
	n := uint64(max(now.UnixMicro(), 0))
	if n <= k.Highest {
		n = k.Highest + 1
	}
	c.Sig.Counter = n
	msg, err := Canonical(group, edge, c)
	if err != nil {
		return command.Command{}, err
	}
	next := cloneCounters(s.counters)
	next[s.opts.KeyID] = &keyCounter{Highest: n}
	if err := saveCounters(s.opts.CounterPath, next); err != nil {
		return command.Command{}, fmt.Errorf("cmdsign: sign %s: %w", c.ID, err)
	}
	s.counters = next
	copy(c.Sig.Value[:], ed25519.Sign(s.opts.Key, msg))
	return c, nil
}
