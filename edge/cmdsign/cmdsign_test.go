package cmdsign

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/deploy/testrig"
	goldenfile "github.com/rackwatch/rackwatch/deploy/testrig/golden"
	"github.com/rackwatch/rackwatch/edge/command"
	"github.com/rackwatch/rackwatch/edge/sparkplug"
)

// testKey returns a fixed key: Ed25519 signatures are deterministic
// (RFC 8032, §5.1.6), so its signatures can be golden.
func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func drain(id string, version uint64) command.Command {
	return command.Command{ID: id, Version: version, Kind: command.KindLBState, Device: "lb", State: command.LBDrain, WeightPercent: 100}
}

func newSigner(t *testing.T, id string, key ed25519.PrivateKey, clk *testrig.Clock) *Signer {
	t.Helper()
	s, err := NewSigner(SignerOpts{KeyID: id, Key: key, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sign(t *testing.T, s *Signer, edge string, c command.Command) command.Command {
	t.Helper()
	c, err := s.Sign("site1", edge, c)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// signWith signs c under key with an explicit counter, as a signer whose
// counter is behind (or an attacker holding the key) would.
func signWith(t *testing.T, key ed25519.PrivateKey, id string, counter uint64, at time.Time, c command.Command) command.Command {
	t.Helper()
	c.Issued = at
	c.Sig = command.Signature{KeyID: id, Counter: counter, ValidUntil: at.Add(time.Minute)}
	msg, err := Canonical("site1", "api-07", c)
	if err != nil {
		t.Fatal(err)
	}
	copy(c.Sig.Value[:], ed25519.Sign(key, msg))
	return c
}

// TestGolden pins the canonical encoding, the signature and the command's
// JSON on the wire, for a fixed key and time.
func TestGolden(t *testing.T) {
	clk := testrig.NewClock(time.UnixMilli(1_795_700_047_123).UTC())
	s := newSigner(t, "c2026a", testKey(1), clk)
	cases := []struct {
		name string
		c    command.Command
	}{
		{"lb_state", command.Command{ID: "rw-0a1b2c", Version: 1795700047123, Kind: command.KindLBState, Device: "lb",
			State: command.LBWeight, WeightPercent: 50, Expires: clk.Now().Add(10 * time.Minute)}},
		{"fan_duty", command.Command{ID: "c-7f3a", Version: 12, Kind: command.KindFanDuty, Device: "fans",
			Channel: 3, Duty: 0.8, Expires: clk.Now().Add(5 * time.Minute)}},
		{"poll_period", command.Command{ID: "c-7f3b", Version: 3, Kind: command.KindPollPeriod, Device: "inlet", Period: 5 * time.Second}},
		{"sensor_enable", command.Command{ID: "c-7f3c", Version: 4, Kind: command.KindSensorEnable, Device: "inlet", Enabled: false}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := sign(t, s, "api-07", tc.c)
			msg, err := Canonical("site1", "api-07", c)
			if err != nil {
				t.Fatal(err)
			}
			goldenfile.Check(t, tc.name+".canonical.golden", msg)
			js, err := c.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			goldenfile.Check(t, tc.name+".json.golden", append(js, '\n'))
			back, err := command.ParseJSON(js)
			if err != nil {
				t.Fatal(err)
			}
			if back != c {
				t.Errorf("round trip: %+v, want %+v", back, c)
			}
			if !ed25519.Verify(testKey(1).Public().(ed25519.PublicKey), msg, back.Sig.Value[:]) {
				t.Error("the golden signature does not verify")
			}
		})
		clk.Add(time.Millisecond)
	}
}

// TestVerify has one case per reason, each from a fresh verifier that has
// accepted counter 1 under key k1 already.
func TestVerify(t *testing.T) {
	t.Parallel()
	k1, k2 := testKey(1), testKey(2)
	clk := testrig.NewClock(t0)
	s1 := newSigner(t, "k1", k1, clk)
	other := newSigner(t, "k1", k2, clk) // same id, another key
	unknown := newSigner(t, "k9", k2, clk)
	tamper := func(c command.Command) command.Command { c.WeightPercent = 0; return c }
	cases := []struct {
		name    string
		require bool
		cmd     func() command.Command
		want    command.Reason // "" accepted
	}{
		{"signed", true, func() command.Command { return sign(t, s1, "api-07", drain("a", 2)) }, ""},
		{"unsigned required", true, func() command.Command { return drain("a", 2) }, command.ReasonUnsigned},
		{"unsigned allowed", false, func() command.Command { return drain("a", 2) }, ""},
		{"forged: another key", true, func() command.Command { return sign(t, other, "api-07", drain("a", 2)) }, command.ReasonForged},
		{"forged even when unsigned are allowed", false, func() command.Command { return sign(t, other, "api-07", drain("a", 2)) }, command.ReasonForged},
		{"forged: unknown key id", true, func() command.Command { return sign(t, unknown, "api-07", drain("a", 2)) }, command.ReasonForged},
		{"forged: field changed", true, func() command.Command { return tamper(sign(t, s1, "api-07", drain("a", 2))) }, command.ReasonForged},
		{"forged: for another edge", true, func() command.Command { return sign(t, s1, "api-08", drain("a", 2)) }, command.ReasonForged},
		{"expired", true, func() command.Command {
			c := sign(t, s1, "api-07", drain("a", 2))
			clk.Add(DefaultValidity)
			return c
		}, command.ReasonExpired},
		{"issued in the future", true, func() command.Command {
			clk.Add(DefaultMaxSkew + time.Second)
			c := sign(t, s1, "api-07", drain("a", 2))
			clk.Add(-DefaultMaxSkew - time.Second)
			return c
		}, command.ReasonExpired},
		{"skew within the allowance", true, func() command.Command {
			clk.Add(DefaultMaxSkew)
			c := sign(t, s1, "api-07", drain("a", 2))
			clk.Add(-DefaultMaxSkew)
			return c
		}, ""},
		{"replayed: a counter below the highest", true, func() command.Command {
			return signWith(t, k1, "k1", 1, clk.Now(), drain("a", 2))
		}, command.ReasonReplayed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk.Set(t0)
			v, err := NewVerifier(VerifierOpts{Group: "site1", Node: "api-07", Keys: []TrustedKey{{ID: "k1", Public: k1.Public().(ed25519.PublicKey)}}, RequireSigned: tc.require, Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			old := sign(t, s1, "api-07", drain("z", 1))
			if err := v.Verify(old); err != nil {
				t.Fatal(err)
			}
			clk.Add(time.Second)
			c := tc.cmd()
			err = v.Verify(c)
			if got := command.ReasonOf(err); got != tc.want {
				t.Fatalf("Verify = %v (reason %q), want reason %q", err, got, tc.want)
			}
			if tc.want != "" && err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// TestRedelivery: the same signed command twice is passed on (the Manager
// answers it as a duplicate), a replay of one older than the recent ones is
// not.
func TestRedelivery(t *testing.T) {
	t.Parallel()
	clk := testrig.NewClock(t0)
	k := testKey(1)
	s := newSigner(t, "k1", k, clk)
	v, err := NewVerifier(VerifierOpts{Group: "site1", Node: "api-07", Keys: []TrustedKey{{ID: "k1", Public: k.Public().(ed25519.PublicKey)}}, RequireSigned: true, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	first := sign(t, s, "api-07", drain("c0", 1))
	if err := v.Verify(first); err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(first); err != nil {
		t.Fatalf("redelivery: %v", err)
	}
	for i := range maxRecent {
		if err := v.Verify(sign(t, s, "api-07", drain("c"+string(rune('a'+i)), uint64(i+2)))); err != nil {
			t.Fatal(err)
		}
	}
	if r := command.ReasonOf(v.Verify(first)); r != command.ReasonReplayed {
		t.Fatalf("first command after %d others: reason %q, want replayed", maxRecent, r)
	}
}

// TestReplayAfterRestart: the counters outlive the process.
func TestReplayAfterRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := testrig.NewClock(t0)
	k := testKey(1)
	keys := []TrustedKey{{ID: "k1", Public: k.Public().(ed25519.PublicKey)}}
	s := newSigner(t, "k1", k, clk)
	opts := VerifierOpts{Group: "site1", Node: "api-07", Keys: keys, RequireSigned: true, StatePath: filepath.Join(dir, "command-counters.json"), Now: clk.Now}
	v, err := NewVerifier(opts)
	if err != nil {
		t.Fatal(err)
	}
	a := sign(t, s, "api-07", drain("a", 1))
	clk.Add(time.Second)
	b := sign(t, s, "api-07", drain("b", 2))
	for _, c := range []command.Command{a, b} {
		if err := v.Verify(c); err != nil {
			t.Fatal(err)
		}
	}
	// A restart loses the recent list's meaning only for commands not in
	// it: a is still recognised as a redelivery; an older one is not.
	v2, err := NewVerifier(opts)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := v2.Highest()["k1"], b.Sig.Counter; got != want {
		t.Fatalf("highest after restart = %d, want %d", got, want)
	}
	old := signWith(t, k, "k1", a.Sig.Counter-1, clk.Now(), drain("c", 3))
	if r := command.ReasonOf(v2.Verify(old)); r != command.ReasonReplayed {
		t.Fatalf("replay after restart: reason %q, want replayed", r)
	}
	// A corrupt counter file stops the edge rather than forgetting.
	if err := os.WriteFile(opts.StatePath, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewVerifier(opts); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("corrupt counters: %v", err)
	}
}

// TestRotation: during the overlap both keys are accepted; after the old
// key's not_after only the new one is.
func TestRotation(t *testing.T) {
	t.Parallel()
	clk := testrig.NewClock(t0)
	oldKey, newKey := testKey(1), testKey(2)
	overlapEnd := t0.Add(7 * 24 * time.Hour)
	keys := []TrustedKey{
		{ID: "c2026a", Public: oldKey.Public().(ed25519.PublicKey), NotAfter: overlapEnd},
		{ID: "c2027a", Public: newKey.Public().(ed25519.PublicKey), NotBefore: t0.Add(-time.Hour)},
	}
	v, err := NewVerifier(VerifierOpts{Group: "site1", Node: "api-07", Keys: keys, RequireSigned: true, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	oldS, newS := newSigner(t, "c2026a", oldKey, clk), newSigner(t, "c2027a", newKey, clk)
	steps := []struct {
		name string
		at   time.Time
		s    *Signer
		want command.Reason
	}{
		{"old key in the window", t0, oldS, ""},
		{"new key in the window", t0.Add(time.Hour), newS, ""},
		{"old key again, still in the window", overlapEnd.Add(-time.Second), oldS, ""},
		{"old key after the window", overlapEnd, oldS, command.ReasonForged},
		{"new key after the window", overlapEnd.Add(time.Hour), newS, ""},
		{"new key before its not_before", t0.Add(-2 * time.Hour), newS, command.ReasonForged},
	}
	for i, st := range steps {
		clk.Set(st.at)
		err := v.Verify(sign(t, st.s, "api-07", drain("r"+string(rune('a'+i)), uint64(i+1))))
		if got := command.ReasonOf(err); got != st.want || (st.want == "" && err != nil) {
			t.Errorf("%s: %v, want reason %q", st.name, err, st.want)
		}
	}
	// Dropping the old key on reload refuses it at once.
	if err := v.SetKeys(keys[1:], true, 0); err != nil {
		t.Fatal(err)
	}
	clk.Set(t0)
	if r := command.ReasonOf(v.Verify(sign(t, oldS, "api-07", drain("x", 99)))); r != command.ReasonForged {
		t.Errorf("old key after SetKeys: reason %q, want forged", r)
	}
}

type applier struct {
	mu    sync.Mutex
	value string
}

func (a *applier) Apply(_ context.Context, c command.Command) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	prior := a.value
	a.value = c.Value()
	return prior, nil
}

func (a *applier) Revert(_ context.Context, _ command.Command, prior string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.value = prior
	return nil
}

// TestManagerCounts runs commands through a command.Manager with a
// Verifier, as the edge does: only the authentic one takes effect, and
// each rejection is counted under its reason.
func TestManagerCounts(t *testing.T) {
	t.Parallel()
	clk := testrig.NewClock(t0)
	k := testKey(1)
	s := newSigner(t, "k1", k, clk)
	forger := newSigner(t, "k1", testKey(7), clk)
	v, err := NewVerifier(VerifierOpts{Group: "site1", Node: "api-07", Keys: []TrustedKey{{ID: "k1", Public: k.Public().(ed25519.PublicKey)}}, RequireSigned: true, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	a := &applier{value: "ready 100%"}
	m, err := command.New(command.Opts{Appliers: map[command.Kind]command.Applier{command.KindLBState: a}, Verifier: v, Now: clk.Now,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	good := sign(t, s, "api-07", drain("good", 1))
	expired := sign(t, s, "api-07", drain("late", 5))
	clk.Add(DefaultValidity + time.Second)
	handle := func(c command.Command) command.Result {
		payload, err := command.NewPayload([]command.Command{c}, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		rs := m.HandleMessage(ctx, sparkplug.NodeTopic("site1", sparkplug.NCMD, "api-07"), payload)
		if len(rs) != 1 {
			t.Fatalf("%d results", len(rs))
		}
		return rs[0]
	}
	good = sign(t, s, "api-07", drain("good", 1))
	if r := handle(good); r.Outcome != command.Applied {
		t.Fatalf("signed: %v", r)
	}
	if r := handle(good); r.Outcome != command.Duplicate {
		t.Fatalf("redelivered: %v", r)
	}
	for i := range 3 {
		if r := handle(sign(t, forger, "api-07", drain("f"+string(rune('0'+i)), uint64(10+i)))); r.Reason != command.ReasonForged {
			t.Fatalf("forged: %v", r)
		}
	}
	if r := handle(drain("plain", 20)); r.Reason != command.ReasonUnsigned {
		t.Fatalf("unsigned: %v", r)
	}
	if r := handle(expired); r.Reason != command.ReasonExpired {
		t.Fatalf("expired: %v", r)
	}
	if a.value != "drain 100%" {
		t.Fatalf("applier holds %q, want the signed command's", a.value)
	}
	got := m.Counters()
	want := map[command.Reason]uint64{command.ReasonForged: 3, command.ReasonUnsigned: 1, command.ReasonExpired: 1}
	for r, n := range want {
		if got.Refused[r] != n {
			t.Errorf("refused[%s] = %d, want %d", r, got.Refused[r], n)
		}
	}
	if got.Applied != 1 || got.Duplicate != 1 {
		t.Errorf("applied %d, duplicate %d; want 1, 1", got.Applied, got.Duplicate)
	}
	// Three forgeries within a minute: one line, the others suppressed.
	if n := strings.Count(logs.String(), "reason=forged"); n != 1 {
		t.Errorf("%d log lines for forged commands, want 1:\n%s", n, logs.String())
	}
}

// TestSignerCounter: counters grow across a restart even when the clock
// went back.
func TestSignerCounter(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "command-counter.json")
	clk := testrig.NewClock(t0)
	opts := SignerOpts{KeyID: "k1", Key: testKey(1), CounterPath: path, Now: clk.Now}
	s, err := NewSigner(opts)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Sign("site1", "api-07", drain("a", 1))
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(-time.Hour)
	s2, err := NewSigner(opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s2.Sign("site1", "api-07", drain("b", 2))
	if err != nil {
		t.Fatal(err)
	}
	if b.Sig.Counter <= a.Sig.Counter {
		t.Fatalf("counter after restart with the clock set back: %d, not above %d", b.Sig.Counter, a.Sig.Counter)
	}
}

func TestKeyPairFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	kp, err := WriteKeyPair(dir, "c2027a", nil)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(kp.PrivateFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %04o, want 0600", fi.Mode().Perm())
	}
	priv, err := LoadPrivateKey(kp.PrivateFile)
	if err != nil {
		t.Fatal(err)
	}
	pubText, err := os.ReadFile(kp.PublicFile)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(string(pubText))
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(priv.Public()) {
		t.Error("the public key file does not hold the private key's public half")
	}
	if _, err := WriteKeyPair(dir, "c2027a", nil); err == nil {
		t.Error("WriteKeyPair overwrote a key")
	}
	if err := os.Chmod(kp.PrivateFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPrivateKey(kp.PrivateFile); err == nil {
		t.Error("LoadPrivateKey read a world-readable key")
	}
	for _, bad := range []string{"", "a b", "../x", strings.Repeat("k", 33)} {
		if _, err := WriteKeyPair(dir, bad, nil); err == nil {
			t.Errorf("WriteKeyPair(%q) succeeded", bad)
		}
	}
}

func TestParsePublicKeyErrors(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "not base64!", "AAAA"} {
		if _, err := ParsePublicKey(s); err == nil {
			t.Errorf("ParsePublicKey(%q) succeeded", s)
		}
	}
}
