package config

import (
	"strings"
	"testing"
	"time"
)

const pubKey = "iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w=" // testKey(1) of edge/cmdsign

func TestCommands(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body string
		err        string // "" valid
		signed     bool
		keys       int
	}{
		{"absent", "", "", false, 0},
		{"keys", "commands:\n  trusted_keys:\n    - {id: c1, public_key: " + pubKey + "}\n", "", true, 1},
		{"keys, unsigned allowed", "commands:\n  require_signed: false\n  trusted_keys:\n    - {id: c1, public_key: " + pubKey + "}\n", "", false, 1},
		{"rotation window", "commands:\n  trusted_keys:\n    - {id: old, public_key: " + pubKey + ", not_after: 2027-01-15T00:00:00Z}\n    - {id: new, public_key: " + pubKey + ", not_before: 2026-12-01T00:00:00Z}\n", "", true, 2},
		{"required without keys", "commands: {require_signed: true}\n", ":3: commands.require_signed: true needs commands.trusted_keys", false, 0},
		{"bad key", "commands:\n  trusted_keys:\n    - {id: c1, public_key: AAAA}\n", ":5: commands.trusted_keys[0].public_key: cmdsign: public key of 3 bytes", false, 0},
		{"duplicate id", "commands:\n  trusted_keys:\n    - {id: c1, public_key: " + pubKey + "}\n    - {id: c1, public_key: " + pubKey + "}\n", `:6: commands.trusted_keys[1].id: key id "c1" already used`, false, 0},
		{"bad id", "commands:\n  trusted_keys:\n    - {id: 'a b', public_key: " + pubKey + "}\n", "commands.trusted_keys[0].id: cmdsign: key id", false, 0},
		{"window backwards", "commands:\n  trusted_keys:\n    - {id: c1, public_key: " + pubKey + ", not_before: 2027-01-01T00:00:00Z, not_after: 2026-01-01T00:00:00Z}\n", "not_after: must be after not_before", false, 0},
		{"skew", "commands: {max_clock_skew: 2h}\n", "commands.max_clock_skew: must be 0 (30s) to 1h", false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, minimal+tc.body)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Commands.Signed() != tc.signed || len(c.Commands.Keys()) != tc.keys {
				t.Errorf("signed %v, %d keys; want %v, %d", c.Commands.Signed(), len(c.Commands.Keys()), tc.signed, tc.keys)
			}
		})
	}
	c, err := load(t, minimal+cases[3].body)
	if err != nil {
		t.Fatal(err)
	}
	if k := c.Commands.Keys(); !k[0].NotAfter.Equal(time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC)) || !k[1].NotBefore.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("windows %v %v", k[0], k[1])
	}
}
