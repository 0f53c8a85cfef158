package testrig

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Restart starts the agent again, after Stop or a crash or while it runs,
// on the same port with the same configuration: a daemon that systemd
// restarts.
func (a *SNMPAgent) Restart(t testing.TB) {
	t.Helper()
	a.s.restart(t, a.Addr)
}

// Running reports whether the agent's process runs.
func (a *SNMPAgent) Running() bool { return a.s.running() }

// Reload starts a new HAProxy on the same configuration that takes over
// from the running one with -sf, as a packaged `systemctl reload` does:
// the new process binds the frontend and creates the stats socket anew,
// even where the old socket file was removed, and the old one finishes its
// connections and exits, so clients see no refused connection. As in
// production, changes made through the runtime API (drain, weights) are
// lost.
func (h *HAProxy) Reload(t testing.TB) {
	t.Helper()
	pid, err := h.s.takeOver(func(old int) []string { return []string{"-sf", strconv.Itoa(old)} })
	if err == nil {
		// Until the new process has created it, the socket may be the old
		// process's: readiness is the new Pid answering.
		ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
		defer cancel()
		want := "Pid: " + strconv.Itoa(pid) + "\n"
		for {
			out, qerr := haproxyCommand(ctx, h.Socket, "show info")
			if qerr == nil && strings.Contains(out, want) {
				break
			}
			if ctx.Err() != nil {
				err = fmt.Errorf("the new process (pid %d) does not answer on %s: %v", pid, h.Socket, qerr)
				break
			}
			time.Sleep(pollInterval)
		}
	}
	if err != nil {
		h.s.reported.Store(true)
		t.Fatalf("testrig: reload haproxy: %v; last lines of its log:\n%s", err, h.s.tail(logTailLines))
	}
}

// restart stops the component, if it runs, and starts it again with the
// same arguments; addr names it in the failure message.
func (s *service) restart(t testing.TB, addr string) {
	t.Helper()
	s.stop()
	var err error
	for range 10 {
		if err = s.start(); err == nil || !errors.Is(err, errExited) {
			break
		}
		// The port may still be held by a socket being torn down.
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		s.reported.Store(true)
		t.Fatalf("testrig: restart %s on %s: %v; last lines of its log:\n%s", s.name, addr, err, s.tail(logTailLines))
	}
}

func (s *service) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p != nil && !s.p.exited()
}

// takeOver starts a new process of the running component with the extra
// arguments extra(old pid), waits until it is ready and the old process has
// exited (killing it after stopGrace), and returns the new pid.
func (s *service) takeOver(extra func(old int) []string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.p
	if old == nil || old.exited() {
		return 0, fmt.Errorf("testrig: %s is not running", s.name)
	}
	args := append(slices.Clone(s.args), extra(old.cmd.Process.Pid)...)
	saved := s.args
	s.args = args // for the log header
	err := s.logHeader()
	s.args = saved
	if err != nil {
		return 0, err
	}
	p, err := startProc(s.logPath, s.dir, s.env, s.runAs, s.bin, args)
	if err != nil {
		return 0, err
	}
	s.p = p
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	for {
		if p.exited() {
			return 0, fmt.Errorf("%w (%v)", errExited, p.err)
		}
		if s.ready(ctx) == nil {
			break
		}
		select {
		case <-ctx.Done():
			p.stop()
			return 0, fmt.Errorf("testrig: %s not ready after %v", s.name, s.timeout)
		case <-time.After(pollInterval):
		}
	}
	select {
	case <-old.done:
	case <-time.After(stopGrace):
		old.stop()
	}
	return p.cmd.Process.Pid, nil
}
