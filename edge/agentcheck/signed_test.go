package agentcheck

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"path/filepath"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/cmdsign"
	"github.com/rackwatch/rackwatch/edge/command"
	"github.com/rackwatch/rackwatch/edge/sparkplug"
)

// TestSignedOnly: with trusted keys, what HAProxy is told changes only
// through commands signed by the collector for this edge, current and
// new; each other attempt is refused under its reason and leaves the line
// as it was, across a restart of the edge too.
func TestSignedOnly(t *testing.T) {
	t.Parallel()
	clk := testrig.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	stranger := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	dir := t.TempDir()
	r := newResponder(t, Opts{Now: clk.Now})
	newManager := func() *command.Manager {
		v, err := cmdsign.NewVerifier(cmdsign.VerifierOpts{Group: "site1", Node: "api-07", RequireSigned: true, Now: clk.Now,
			StatePath: filepath.Join(dir, "command-counters.json"),
			Keys:      []cmdsign.TrustedKey{{ID: "c1", Public: key.Public().(ed25519.PublicKey)}}})
		if err != nil {
			t.Fatal(err)
		}
		m, err := command.New(command.Opts{Appliers: map[command.Kind]command.Applier{command.KindLBState: r}, Verifier: v,
			StatePath: filepath.Join(dir, "commands.json"), Now: clk.Now, Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	signer := func(k ed25519.PrivateKey) *cmdsign.Signer {
		s, err := cmdsign.NewSigner(cmdsign.SignerOpts{KeyID: "c1", Key: k, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	collector, forger := signer(key), signer(stranger)
	topic := sparkplug.NodeTopic("site1", sparkplug.NCMD, "api-07")
	ctx := context.Background()
	send := func(m *command.Manager, c command.Command) command.Result {
		payload, err := command.NewPayload([]command.Command{c}, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		rs := m.HandleMessage(ctx, topic, payload)
		if len(rs) != 1 {
			t.Fatalf("%d results", len(rs))
		}
		return rs[0]
	}
	sign := func(s *cmdsign.Signer, edge string, c command.Command) command.Command {
		c, err := s.Sign("site1", edge, c)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	lb := func(id string, v uint64, st command.LBState) command.Command {
		return command.Command{ID: id, Version: v, Kind: command.KindLBState, Device: "lb", State: st, WeightPercent: 100}
	}

	m := newManager()
	drain := sign(collector, "api-07", lb("c-1", 1, command.LBDrain))
	if res := send(m, drain); res.Outcome != command.Applied {
		t.Fatalf("signed drain: %v", res)
	}
	clk.Add(time.Second)
	late := sign(collector, "api-07", lb("c-late", 5, command.LBReady))
	clk.Add(cmdsign.DefaultValidity)
	restore := sign(collector, "api-07", lb("c-2", 2, command.LBReady))
	m = newManager() // the edge restarts: its counters and versions come back from the state directory
	if res := send(m, restore); res.Outcome != command.Applied {
		t.Fatalf("signed restore: %v", res)
	}
	for _, tc := range []struct {
		name string
		c    command.Command
		want command.Reason
	}{
		{"unsigned", lb("u-1", 10, command.LBMaint), command.ReasonUnsigned},
		{"forged", sign(forger, "api-07", lb("f-1", 11, command.LBMaint)), command.ReasonForged},
		{"for another edge", sign(collector, "api-08", lb("o-1", 12, command.LBMaint)), command.ReasonForged},
		{"expired", late, command.ReasonExpired},
	} {
		if res := send(m, tc.c); res.Outcome != command.Refused || res.Reason != tc.want {
			t.Errorf("%s: %v, want refused (%s)", tc.name, res, tc.want)
		}
	}
	// A command captured and sent again once 16 newer ones were accepted
	// (a broker's redelivery is never that late): replayed.
	old := sign(collector, "api-07", lb("c-3", 3, command.LBMaint))
	if res := send(m, old); res.Outcome != command.Applied {
		t.Fatalf("fresh: %v", res)
	}
	for range 16 {
		clk.Add(time.Millisecond)
		if res := send(m, sign(collector, "api-07", lb("c-x"+clk.Now().Format("150405.000"), uint64(clk.Now().UnixMilli()), command.LBReady))); res.Outcome != command.Applied {
			t.Fatalf("filler: %v", res)
		}
	}
	if res := send(m, old); res.Reason != command.ReasonReplayed {
		t.Fatalf("replay: %v, want refused (replayed)", res)
	}
	if got := ask(t, r.Addr(), ""); got[:10] != "ready 100%" {
		t.Fatalf("HAProxy is told %q, want the last signed command's ready", got)
	}
	c := m.Counters()
	for _, reason := range command.Rejections {
		if c.Refused[reason] != 1 && reason != command.ReasonForged {
			t.Errorf("refused[%s] = %d, want 1", reason, c.Refused[reason])
		}
	}
	if c.Refused[command.ReasonForged] != 2 {
		t.Errorf("refused[forged] = %d, want 2", c.Refused[command.ReasonForged])
	}
}
