package config

import (
	"time"

	"github.com/rackwatch/rackwatch/edge/cmdsign"
	"github.com/rackwatch/rackwatch/edge/configfile"
)

// Commands configures the signature of the commands the collector sends
// to edges (docs/security.md). Without it commands go unsigned, which
// edges with trusted keys refuse.
type Commands struct {
	// KeyID names the signing key; edges list it in commands.trusted_keys.
	KeyID string `yaml:"key_id"`
	// SigningKeyFile holds the Ed25519 private key (PKCS#8 PEM, mode 0600
	// or 0640 with a dedicated group), as `rackwatch-collector keygen`
	// writes it.
	SigningKeyFile string `yaml:"signing_key_file"`
	// Validity is how long after signing an edge may apply a command;
	// zero means 2m.
	Validity time.Duration `yaml:"validity"`
}

func (c *Commands) validate(f *configfile.File, errs *configfile.Errors) {
	if err := cmdsign.CheckKeyID(c.KeyID); err != nil {
		errs.Add(f.Errorf("commands.key_id", "%v", err))
	}
	if c.SigningKeyFile == "" {
		errs.Add(f.Errorf("commands.signing_key_file", "required: the private key file rackwatch-collector keygen wrote"))
	} else if _, err := cmdsign.LoadPrivateKey(c.SigningKeyFile); err != nil {
		errs.Add(f.Errorf("commands.signing_key_file", "%v", err))
	}
	if c.Validity != 0 && (c.Validity < 10*time.Second || c.Validity > time.Hour) {
		errs.Add(f.Errorf("commands.validity", "must be 10s to 1h"))
	}
}
