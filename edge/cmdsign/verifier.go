package cmdsign

import (
	"crypto/ed25519"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rackwatch/rackwatch/edge/command"
)

// DefaultMaxSkew is how far in the future a command's issue time may be,
// by the edge's clock, before the command is refused as expired: the
// clocks of NTP-synchronised hosts agree far better than this.
const DefaultMaxSkew = 30 * time.Second

// maxRecent is how many of the last counters accepted per key are
// remembered, so that a broker's redelivery of a recent command is
// recognised as one rather than counted as a replay.
const maxRecent = 16

// VerifierOpts configures a Verifier.
type VerifierOpts struct {
	// Group and Node are the edge's own Sparkplug group and edge node: a
	// command signed for another edge does not verify here.
	Group, Node string
	Keys        []TrustedKey
	// RequireSigned refuses unsigned commands (ReasonUnsigned). Signed
	// commands are checked either way.
	RequireSigned bool
	// MaxSkew is how far beyond the edge's clock a command's issued may
	// be; zero means DefaultMaxSkew.
	MaxSkew time.Duration
	// StatePath is the file the counters are kept in (the edge's state
	// directory). Empty keeps them in memory, for tests.
	StatePath string
	Now       func() time.Time
}

// Verifier checks commands on the edge; it implements command.Verifier.
// It is safe for concurrent use.
type Verifier struct {
	opts VerifierOpts

	mu       sync.Mutex
	keys     []TrustedKey
	require  bool
	skew     time.Duration
	counters map[string]*keyCounter // by key id: bounded by the state file and the configured keys
}

var _ command.Verifier = (*Verifier)(nil)

// NewVerifier checks the keys and loads the counter file.
func NewVerifier(opts VerifierOpts) (*Verifier, error) {
	if opts.MaxSkew <= 0 {
		opts.MaxSkew = DefaultMaxSkew
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := checkKeys(opts.Keys); err != nil {
		return nil, err
	}
	c, err := loadCounters(opts.StatePath)
	if err != nil {
		return nil, err
	}
	return &Verifier{opts: opts, keys: slices.Clone(opts.Keys), require: opts.RequireSigned, skew: opts.MaxSkew, counters: c}, nil
}

func checkKeys(keys []TrustedKey) error {
	seen := map[string]bool{}
	for _, k := range keys {
		if err := CheckKeyID(k.ID); err != nil {
			return err
		}
		if seen[k.ID] {
			return fmt.Errorf("cmdsign: key id %q given twice", k.ID)
		}
		seen[k.ID] = true
		if len(k.Public) != ed25519.PublicKeySize {
			return fmt.Errorf("cmdsign: key %s: public key of %d bytes, want %d", k.ID, len(k.Public), ed25519.PublicKeySize)
		}
		if !k.NotBefore.IsZero() && !k.NotAfter.IsZero() && !k.NotBefore.Before(k.NotAfter) {
			return fmt.Errorf("cmdsign: key %s: not_before is not before not_after", k.ID)
		}
	}
	return nil
}

// SetKeys replaces the trusted keys, the unsigned policy and the clock
// skew allowance (zero: DefaultMaxSkew), for a configuration reload. The
// counters of every key are kept: a key that is trusted again later must
// not accept its old commands.
func (v *Verifier) SetKeys(keys []TrustedKey, requireSigned bool, maxSkew time.Duration) error {
	if err := checkKeys(keys); err != nil {
		return err
	}
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.keys, v.require, v.skew = slices.Clone(keys), requireSigned, maxSkew
	return nil
}

func rejectf(r command.Reason, format string, args ...any) error {
	return &command.Error{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// Verify decides whether c may be handled (see command.Verifier), in this
// order: unsigned; forged (key id not trusted at the edge's time, or a
// signature that does not verify for this edge); expired (valid_until
// reached, or issued beyond MaxSkew ahead); replayed (a counter not above
// the highest accepted for the key and not among the last accepted). A
// command that passes has its counter written to StatePath before Verify
// returns; one whose counter cannot be written is refused with a plain
// error.
func (v *Verifier) Verify(c command.Command) error {
	now := v.opts.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.keys) == 0 && !v.require {
		return nil // signing not set up on this edge yet: see docs/security.md, Migration
	}
	if c.Sig.IsZero() {
		if v.require {
			return rejectf(command.ReasonUnsigned, "command %s is not signed", c.ID)
		}
		return nil
	}
	var key *TrustedKey
	for i := range v.keys {
		if v.keys[i].ID == c.Sig.KeyID {
			key = &v.keys[i]
		}
	}
	if key == nil {
		return rejectf(command.ReasonForged, "key id %q is not trusted", c.Sig.KeyID)
	}
	if !key.trustedAt(now) {
		return rejectf(command.ReasonForged, "key %s is trusted from %s until %s, not at %s", key.ID, stamp(key.NotBefore), stamp(key.NotAfter), now.UTC().Format(time.RFC3339))
	}
	msg, err := Canonical(v.opts.Group, v.opts.Node, c)
	if err != nil || !ed25519.Verify(key.Public, msg, c.Sig.Value[:]) {
		return rejectf(command.ReasonForged, "signature of %s does not verify under key %s for %s/%s", c.ID, key.ID, v.opts.Group, v.opts.Node)
	}
	if !now.Before(c.Sig.ValidUntil) {
		return rejectf(command.ReasonExpired, "valid until %d, now %d", c.Sig.ValidUntil.UnixMilli(), now.UnixMilli())
	}
	if c.Issued.Sub(now) > v.skew {
		return rejectf(command.ReasonExpired, "issued %d is %s ahead of the edge's clock (at most %s)", c.Issued.UnixMilli(), c.Issued.Sub(now).Round(time.Millisecond), v.skew)
	}
	k := v.counters[key.ID]
	if k == nil {
		k = &keyCounter{}
	}
	if c.Sig.Counter <= k.Highest {
		if slices.Contains(k.Recent, c.Sig.Counter) {
			return nil // the same signed command again: the Manager answers it as a duplicate
		}
		return rejectf(command.ReasonReplayed, "counter %d of key %s is not above %d", c.Sig.Counter, key.ID, k.Highest)
	}
	next := cloneCounters(v.counters)
	nk := &keyCounter{Highest: c.Sig.Counter, Recent: append(slices.Clone(k.Recent), c.Sig.Counter)}
	if len(nk.Recent) > maxRecent {
		nk.Recent = nk.Recent[len(nk.Recent)-maxRecent:]
	}
	next[key.ID] = nk
	if err := saveCounters(v.opts.StatePath, next); err != nil {
		return fmt.Errorf("cmdsign: command %s not applied: %w", c.ID, err)
	}
	v.counters = next
	return nil
}

// Highest returns the highest counter accepted under each key id.
func (v *Verifier) Highest() map[string]uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]uint64, len(v.counters))
	for id, k := range v.counters {
		out[id] = k.Highest
	}
	return out
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
