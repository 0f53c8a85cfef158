package config

import (
	"fmt"
	"time"

	"github.com/rackwatch/rackwatch/edge/cmdsign"
	"github.com/rackwatch/rackwatch/edge/configfile"
)

// Commands configures how the edge authenticates the collector's commands
// (docs/security.md).
type Commands struct {
	// RequireSigned refuses unsigned commands. Unset, it is true when
	// TrustedKeys is not empty: configuring a key is opting in.
	RequireSigned *bool `yaml:"require_signed"`
	// MaxClockSkew is how far in the future a command's issue time may be
	// by this edge's clock; zero means 30s.
	MaxClockSkew time.Duration `yaml:"max_clock_skew"`
	// TrustedKeys are the collector's public keys commands may be signed
	// with. Empty accepts commands signed or not, unchecked.
	TrustedKeys []TrustedKey `yaml:"trusted_keys"`
}

// TrustedKey is one of the collector's public keys and the window in
// which it is trusted; windows of two keys overlap during a rotation.
type TrustedKey struct {
	ID string `yaml:"id"`
	// PublicKey is the Ed25519 public key in base64, the content of the
	// .pub file `rackwatch-collector keygen` writes.
	PublicKey string    `yaml:"public_key"`
	NotBefore time.Time `yaml:"not_before"`
	NotAfter  time.Time `yaml:"not_after"`
}

// Signed reports whether unsigned commands are refused.
func (c *Commands) Signed() bool {
	if c.RequireSigned != nil {
		return *c.RequireSigned
	}
	return len(c.TrustedKeys) > 0
}

// Keys returns the trusted keys; Validate has checked them.
func (c *Commands) Keys() []cmdsign.TrustedKey {
	out := make([]cmdsign.TrustedKey, 0, len(c.TrustedKeys))
	for _, k := range c.TrustedKeys {
		pub, err := cmdsign.ParsePublicKey(k.PublicKey)
		if err != nil {
			continue
		}
		out = append(out, cmdsign.TrustedKey{ID: k.ID, Public: pub, NotBefore: k.NotBefore, NotAfter: k.NotAfter})
	}
	return out
}

func (c *Commands) validate(f *configfile.File, errs *configfile.Errors) {
	if c.MaxClockSkew < 0 || c.MaxClockSkew > time.Hour {
		errs.Add(f.Errorf("commands.max_clock_skew", "must be 0 (30s) to 1h"))
	}
	if c.RequireSigned != nil && *c.RequireSigned && len(c.TrustedKeys) == 0 {
		errs.Add(f.Errorf("commands.require_signed", "true needs commands.trusted_keys: every command would be refused"))
	}
	seen := map[string]string{}
	for i, k := range c.TrustedKeys {
		key := fmt.Sprintf("commands.trusted_keys[%d]", i)
		if err := cmdsign.CheckKeyID(k.ID); err != nil {
			errs.Add(f.Errorf(key+".id", "%v", err))
		} else if prev, ok := seen[k.ID]; ok {
			errs.Add(f.Errorf(key+".id", "key id %q already used at %s", k.ID, prev))
		}
		seen[k.ID] = key
		if _, err := cmdsign.ParsePublicKey(k.PublicKey); err != nil {
			errs.Add(f.Errorf(key+".public_key", "%v", err))
		}
		if !k.NotBefore.IsZero() && !k.NotAfter.IsZero() && !k.NotBefore.Before(k.NotAfter) {
			errs.Add(f.Errorf(key+".not_after", "must be after not_before"))
		}
	}
}
