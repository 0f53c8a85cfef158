package actuate

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/edge/cmdsign"
	"github.com/rackwatch/rackwatch/edge/command"
)

// TestSparkplugSigned: with a Signer, the edge's Verifier accepts the
// collector's commands and its retries (as duplicates), and refuses those
// of a collector holding another key.
func TestSparkplugSigned(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.UnixMilli(1_795_700_047_123)}
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, ed25519.SeedSize))
	v, err := cmdsign.NewVerifier(cmdsign.VerifierOpts{Group: "rack", Node: "edge-n7", RequireSigned: true, Now: clock.now,
		Keys: []cmdsign.TrustedKey{{ID: "c1", Public: key.Public().(ed25519.PublicKey)}}})
	if err != nil {
		t.Fatal(err)
	}
	resp := &responder{state: "ready 100%"}
	m, err := command.New(command.Opts{Appliers: map[command.Kind]command.Applier{command.KindLBState: resp}, Verifier: v, Now: clock.now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	pub := &edgePublisher{t: t, manager: m}
	edge := func(t decide.Target) (string, string, bool) { return "edge-" + t.Node, "lb", true }
	newActuator := func(k ed25519.PrivateKey) *Sparkplug {
		signer, err := cmdsign.NewSigner(cmdsign.SignerOpts{KeyID: "c1", Key: k, Now: clock.now})
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewSparkplug(SparkplugOpts{Publisher: pub, Group: "rack", Signer: signer, Backoff: fastBackoff, Now: clock.now, Logger: quiet, Edge: edge})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ctx := context.Background()
	n7 := decide.Target{Node: "n7", LB: "lb1", Backend: "api", Server: "n7"}

	s := newActuator(key)
	if err := s.Apply(ctx, n7, decide.Drained.Desired()); err != nil {
		t.Fatal(err)
	}
	clock.add(time.Second)
	pub.fail = 1 // the broker's first try fails: the same signed bytes go again
	if err := s.Apply(ctx, n7, decide.Shed.Desired()); err != nil {
		t.Fatal(err)
	}
	// A redelivery of the last message by the broker.
	last := pub.msgs[len(pub.msgs)-1]
	if err := pub.Publish(ctx, last.topic, last.payload); err != nil {
		t.Fatal(err)
	}
	forger := newActuator(other)
	clock.add(time.Second)
	if err := forger.Apply(ctx, n7, decide.Drained.Desired()); err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	for _, r := range pub.results {
		o := r.Outcome.String()
		if r.Reason != "" {
			o += "/" + string(r.Reason)
		}
		outcomes = append(outcomes, o)
	}
	want := []string{"applied", "applied", "duplicate", "refused/forged"}
	if len(outcomes) != len(want) {
		t.Fatalf("outcomes %v, want %v", outcomes, want)
	}
	for i := range want {
		if outcomes[i] != want[i] {
			t.Fatalf("outcomes %v, want %v", outcomes, want)
		}
	}
	if resp.state != "ready 50%" {
		t.Errorf("the edge reports %q, want the signed shed's ready 50%%", resp.state)
	}
	if n := m.Counters().Refused[command.ReasonForged]; n != 1 {
		t.Errorf("forged counted %d times, want 1", n)
	}
	cmds, err := command.Parse(pub.msgs[0].payload)
	if err != nil || len(cmds) != 1 || cmds[0].Sig.KeyID != "c1" || cmds[0].Sig.Counter == 0 {
		t.Fatalf("payload %+v, %v: want a signed command", cmds, err)
	}
}
