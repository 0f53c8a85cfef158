package agentcheck

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/command"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		state State
		line  string
	}{
		{DefaultState(), "ready 100%\n"},
		{State{Mode: Drain, Weight: 100}, "drain 100%\n"},
		{State{Mode: Maint, Weight: 100}, "maint 100%\n"},
		{State{Mode: Ready, Weight: 75}, "ready 75%\n"},
		{State{Mode: Ready, Weight: 0}, "ready 0%\n"},
		{State{Mode: Drain, Weight: 50, Comment: "c-7f3a v12"}, "drain 50% # c-7f3a v12\n"},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSpace(tt.line), func(t *testing.T) {
			if err := tt.state.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := tt.state.Line(); got != tt.line {
				t.Fatalf("Line() = %q, want %q", got, tt.line)
			}
			back, err := ParseLine(tt.line)
			if err != nil || back != tt.state {
				t.Fatalf("ParseLine(%q) = %+v, %v", tt.line, back, err)
			}
		})
	}
}

func TestInvalidState(t *testing.T) {
	t.Parallel()
	bad := []State{
		{},
		{Mode: "up", Weight: 100},
		{Mode: "DRAIN", Weight: 100},
		{Mode: Ready, Weight: 101},
		{Mode: Ready, Weight: -1},
		{Mode: Drain, Weight: 100, Comment: "two\nlines"},
		{Mode: Drain, Weight: 100, Comment: "carriage\rreturn"},
		{Mode: Drain, Weight: 100, Comment: "é"},
		{Mode: Drain, Weight: 100, Comment: strings.Repeat("x", MaxComment+1)},
	}
	r := newResponder(t, Opts{})
	for _, s := range bad {
		if err := s.Validate(); err == nil {
			t.Errorf("Validate(%+v) accepted it", s)
		}
		if err := r.Set(s); err == nil {
			t.Errorf("Set(%+v) accepted it", s)
		}
	}
	if got := r.Current(); got != DefaultState() {
		t.Fatalf("a refused Set changed the state to %+v", got)
	}
	for _, l := range []string{"", "ready", "ready 100", "ready x%", "up 100%", "ready 100% 50%", "ready 200%"} {
		if s, err := ParseLine(l); err == nil {
			t.Errorf("ParseLine(%q) = %+v", l, s)
		}
	}
}

// newResponder starts a responder on a free loopback port and stops it
// when the test ends, checking that Run returns.
func newResponder(t *testing.T, opts Opts) *Responder {
	t.Helper()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	})
	return r
}

// ask connects, optionally sends what HAProxy's agent-send would, and
// reads the answer to the end.
func ask(t testing.TB, addr, send string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if send != "" {
		if _, err := io.WriteString(c, send); err != nil {
			t.Fatal(err)
		}
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	return string(b)
}

func TestAnswers(t *testing.T) {
	t.Parallel()
	r := newResponder(t, Opts{})
	if got := ask(t, r.Addr(), ""); got != "ready 100%\n" {
		t.Fatalf("initial answer %q", got)
	}
	if err := r.Set(State{Mode: Drain, Weight: 100, Comment: "hot"}); err != nil {
		t.Fatal(err)
	}
	if got := ask(t, r.Addr(), ""); got != "drain 100% # hot\n" {
		t.Fatalf("answer %q", got)
	}
	// With agent-send, HAProxy writes first; the answer is the same and
	// the input is read and dropped.
	if got := ask(t, r.Addr(), "api/s1\n"); got != "drain 100% # hot\n" {
		t.Fatalf("answer after agent-send %q", got)
	}
	if s := r.Stats(); s.Answered != 3 || s.Failed != 0 || s.Overflow != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	clk := testrig.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	r := newResponder(t, Opts{Now: clk.Now})
	if err := r.Set(State{Mode: Maint, Weight: 100, Expires: clk.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	clk.Add(59 * time.Second)
	if got := ask(t, r.Addr(), ""); got != "maint 100%\n" {
		t.Fatalf("before expiry %q", got)
	}
	clk.Add(time.Second)
	if got := ask(t, r.Addr(), ""); got != "ready 100%\n" {
		t.Fatalf("at expiry %q", got)
	}
	if got := r.Current(); got != DefaultState() {
		t.Fatalf("Current %+v", got)
	}
	if s := r.Stats(); s.Expired != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestConcurrentClients(t *testing.T) {
	t.Parallel()
	r := newResponder(t, Opts{MaxConns: 8})
	valid := map[string]bool{"ready 100%\n": true, "drain 100%\n": true, "ready 50%\n": true}
	states := []State{DefaultState(), {Mode: Drain, Weight: 100}, {Mode: Ready, Weight: 50}}
	ctx, cancel := context.WithCancel(context.Background())
	var flips sync.WaitGroup
	flips.Add(1)
	go func() {
		defer flips.Done()
		for i := 0; ctx.Err() == nil; i++ {
			if err := r.Set(states[i%len(states)]); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()
	var wg sync.WaitGroup
	const clients, each = 32, 20
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if got := ask(t, r.Addr(), ""); !valid[got] {
					t.Errorf("answer %q", got)
					return
				}
			}
		}()
	}
	wg.Wait()
	cancel()
	flips.Wait()
	if s := r.Stats(); s.Answered != clients*each || s.Failed != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestIdleClientCutOff: a client that never closes holds a slot only
// until Timeout; at capacity, connections are still answered.
func TestIdleClientCutOff(t *testing.T) {
	t.Parallel()
	r := newResponder(t, Opts{MaxConns: 1, Timeout: 300 * time.Millisecond})
	idle, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	// The idle client gets its line at once, then the server's half-close.
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 64)
	n, err := io.ReadAtLeast(idle, b, len("ready 100%\n"))
	if err != nil || string(b[:n]) != "ready 100%\n" {
		t.Fatalf("idle client read %q, %v", b[:n], err)
	}
	// While it holds the only slot, another client is answered too.
	if got := ask(t, r.Addr(), ""); got != "ready 100%\n" {
		t.Fatalf("answer at capacity %q", got)
	}
	if s := r.Stats(); s.Overflow != 1 {
		t.Fatalf("stats %+v, want one overflow", s)
	}
	// After Timeout the server has closed the idle connection: a read sees
	// EOF or a reset, not a hang.
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, err := idle.Read(b); err == nil {
		t.Fatal("idle connection still open")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("idle connection was not cut off")
	}
	if time.Since(start) > 4*time.Second {
		t.Fatal("idle connection cut off late")
	}
	// The slot is free again: a client is served normally. (A client
	// right after another may still find the slot taken until the server
	// has seen the previous one close.)
	deadline := time.Now().Add(5 * time.Second)
	for {
		before := r.Stats().Overflow
		ask(t, r.Addr(), "")
		if r.Stats().Overflow == before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot never freed: %+v", r.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	if _, err := New(Opts{}); err == nil {
		t.Error("New accepted no address")
	}
	r, err := New(Opts{Addr: "127.0.0.1:0", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := New(Opts{Addr: r.Addr()}); err == nil || !strings.HasPrefix(err.Error(), "agentcheck: ") {
		t.Errorf("New on a port in use: %v", err)
	}
	// Closed without Run: the port is released.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r2, err := New(Opts{Addr: r.Addr()})
	if err != nil {
		t.Fatalf("port not released by Close: %v", err)
	}
	r2.Close()
}

func TestApplier(t *testing.T) {
	t.Parallel()
	clk := testrig.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	r := newResponder(t, Opts{Name: "api1", Now: clk.Now})
	ctx := context.Background()
	drain := command.Command{ID: "c-1", Version: 4, Kind: command.KindLBState, Device: "api1", State: command.LBDrain, WeightPercent: 100}
	prior, err := r.Apply(ctx, drain)
	if err != nil || prior != "ready 100%" {
		t.Fatalf("Apply = %q, %v", prior, err)
	}
	if got := ask(t, r.Addr(), ""); got != "drain 100% # c-1 v4\n" {
		t.Fatalf("answer %q", got)
	}
	weight := command.Command{ID: "c-2", Version: 5, Kind: command.KindLBState, Device: "api1", State: command.LBWeight, WeightPercent: 50}
	if _, err := r.Apply(ctx, weight); err != nil {
		t.Fatal(err)
	}
	if got := ask(t, r.Addr(), ""); got != "ready 50% # c-2 v5\n" {
		t.Fatalf("answer %q", got)
	}
	if err := r.Revert(ctx, weight, prior); err != nil {
		t.Fatal(err)
	}
	if got := r.Current(); got != DefaultState() {
		t.Fatalf("after Revert %+v", got)
	}
	other := drain
	other.Device = "api2"
	if _, err := r.Apply(ctx, other); !errors.Is(err, command.ErrUnknownTarget) {
		t.Fatalf("Apply for another device: %v", err)
	}
	if err := r.Revert(ctx, drain, "garbage"); err == nil {
		t.Fatal("Revert accepted a garbage prior")
	}
}

// TestThroughManager drives the responder with lb_state commands the way
// the edge does, expiry included.
func TestThroughManager(t *testing.T) {
	t.Parallel()
	clk := testrig.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	r := newResponder(t, Opts{Now: clk.Now})
	m, err := command.New(command.Opts{Appliers: map[command.Kind]command.Applier{command.KindLBState: r}, Now: clk.Now, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	payload, err := command.NewPayload([]command.Command{{
		ID: "c-9", Version: 9, Kind: command.KindLBState, Device: "lb", State: command.LBMaint, WeightPercent: 100,
		Expires: clk.Now().Add(time.Minute),
	}}, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []command.Outcome{command.Applied, command.Duplicate} {
		if rs := m.HandlePayload(ctx, payload); len(rs) != 1 || rs[0].Outcome != want {
			t.Fatalf("delivery %d: %v", i, rs)
		}
	}
	if got := ask(t, r.Addr(), ""); got != "maint 100% # c-9 v9\n" {
		t.Fatalf("answer %q", got)
	}
	clk.Add(time.Minute)
	m.Tick(ctx)
	if got := ask(t, r.Addr(), ""); got != "ready 100%\n" {
		t.Fatalf("after expiry %q", got)
	}
}
