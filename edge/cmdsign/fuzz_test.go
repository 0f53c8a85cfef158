package cmdsign

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/edge/command"
)

// FuzzVerify decodes arbitrary bytes as a command's JSON, as the edge does
// with each command metric of an NCMD or DCMD, and verifies the result
// against the key that signed the golden commands in testdata. Ed25519
// signatures cannot be forged, so a command that verifies must be exactly
// one of those the key signed: anything else accepted means the canonical
// encoding leaves out something the edge acts on, or Verify accepts a
// signature it should not. A refusal must carry one of the Verifier's
// reasons. The seed corpus holds the golden commands, which the fuzzer
// mutates field by field.
func FuzzVerify(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json.golden"))
	if err != nil || len(files) == 0 {
		f.Fatalf("golden commands: %v, %v", files, err)
	}
	var signed []command.Command
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		b = bytes.TrimSpace(b)
		c, err := command.ParseJSON(b)
		if err != nil {
			f.Fatalf("%s: %v", name, err)
		}
		signed = append(signed, c)
		f.Add(b)
	}
	// The golden commands were signed for site1/api-07 by the key of
	// seed 0x01 at 1795700047123 ms, valid for two minutes.
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	now := time.UnixMilli(1_795_700_047_123 + 30_000).UTC()
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := command.ParseJSON(b)
		if err != nil {
			return // refused before any verification
		}
		v, err := NewVerifier(VerifierOpts{
			Group: "site1", Node: "api-07", RequireSigned: true,
			Keys: []TrustedKey{{ID: "c2026a", Public: key.Public().(ed25519.PublicKey)}},
			Now:  func() time.Time { return now },
		})
		if err != nil {
			t.Fatal(err)
		}
		err = v.Verify(c)
		if err != nil {
			if r := command.ReasonOf(err); !command.IsRejection(r) {
				t.Fatalf("refusal %v has reason %q, none of the Verifier's", err, r)
			}
			return
		}
		for _, s := range signed {
			if c == s {
				return
			}
		}
		t.Fatalf("accepted a command that was never signed: %+v", c)
	})
}
