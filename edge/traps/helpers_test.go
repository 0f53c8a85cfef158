package traps

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/deploy/testrig"
)

// running is a Receiver started by startReceiver; events holds what its
// handler received.
type running struct {
	*Receiver
	events chan Event
	addr   string
}

// startReceiver runs a Receiver on a loopback port until the test ends.
// opts.Handler, when nil, sends to the returned events channel (buffered
// for 64 events).
func startReceiver(t *testing.T, opts Opts) *running {
	t.Helper()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	events := make(chan Event, 64)
	if opts.Handler == nil {
		opts.Handler = func(e Event) { events <- e }
	}
	r, err := New(&opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	select {
	case <-r.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("Run: %v", err)
	case <-time.After(5 * time.Second):
		cancel()
		t.Fatal("receiver not ready after 5s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return 5s after cancel")
		}
	})
	return &running{Receiver: r, events: events, addr: r.Addr().String()}
}

// next waits for the next event.
func (r *running) next(t *testing.T) Event {
	t.Helper()
	select {
	case e := <-r.events:
		return e
	case <-time.After(5 * time.Second):
		t.Fatalf("no event within 5s; stats %+v", r.Stats())
		return Event{}
	}
}

// none checks that no event arrives within d.
func (r *running) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case e := <-r.events:
		t.Fatalf("unexpected event %v", e)
	case <-time.After(d):
	}
}

// waitStats polls until cond holds for the receiver's stats.
func (r *running) waitStats(t *testing.T, what string, cond func(Stats) bool) Stats {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := r.Stats()
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats never showed %s: %+v", what, s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// netSNMP runs a net-snmp tool with a private configuration and persistent
// directory, so that neither /etc/snmp nor /var/lib/snmp changes its
// behaviour. It returns the combined output and the exit error.
func netSNMP(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	bin := testrig.Require(t, name, "snmp")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// -m "" loads no MIB: every OID is numeric.
	cmd := exec.CommandContext(ctx, bin, append([]string{"-m", ""}, args...)...)
	cmd.Env = append(os.Environ(), "SNMPCONFPATH="+dir, "SNMP_PERSISTENT_DIR="+dir, "HOME="+dir, "MIBS=")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within 20s: %s", name, out)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run %s: %v", name, err)
	}
	return string(out), err
}
