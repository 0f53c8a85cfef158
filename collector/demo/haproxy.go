package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// lbServer is one backend server line.
type lbServer struct {
	Name string
	Addr string // host:port
}

// haproxyProc is an HAProxy the demo runs in front of the emulated nodes.
type haproxyProc struct {
	Socket   string // runtime API, level admin
	Frontend string // host:port the load goes to
	cmd      *exec.Cmd
	done     chan struct{}
	log      *os.File
}

// lookHAProxy finds the haproxy binary; distributions install it in
// /usr/sbin, which is not on every user's PATH.
func lookHAProxy() (string, bool) {
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p, true
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(dir, "haproxy")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// haproxyConfig is a minimal HTTP load balancer: one frontend, one
// backend with room in its weights for 25 % steps, TCP health checks, and
// the runtime API the collector steers.
// Every request is logged to logAddr (UDP syslog) for the collector's
// latency percentiles.
func haproxyConfig(socket, frontend, logAddr, backend string, servers []lbServer) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global\n\tstats socket %s level admin\n\tnbthread 2\n\tlog %s local0\n", socket, logAddr)
	b.WriteString("defaults\n\tmode http\n\tlog global\n\toption httplog\n\ttimeout connect 1s\n\ttimeout client 10s\n\ttimeout server 10s\n")
	fmt.Fprintf(&b, "frontend fe\n\tbind %s\n\tdefault_backend %s\n", frontend, backend)
	// HTTP checks of /health, as an operator would set them: they catch
	// a node that is down or refuses work, not one that is slow.
	fmt.Fprintf(&b, "backend %s\n\tbalance roundrobin\n\toption httpchk GET /health\n", backend)
	for _, s := range servers {
		fmt.Fprintf(&b, "\tserver %s %s check inter 1s weight 100\n", s.Name, s.Addr)
	}
	return b.String()
}

// startHAProxy runs bin in the foreground (-db) with its log in dir, and
// waits until the runtime socket answers. The process dies with the demo
// (Pdeathsig), even if the demo is killed.
func startHAProxy(ctx context.Context, bin, dir, logAddr, backend string, servers []lbServer) (*haproxyProc, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: haproxy frontend: %w", err)
	}
	frontend := ln.Addr().String()
	ln.Close()
	h := &haproxyProc{Socket: filepath.Join(dir, "haproxy.sock"), Frontend: frontend, done: make(chan struct{})}
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(haproxyConfig(h.Socket, frontend, logAddr, backend, servers)), 0o600); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if h.log, err = os.Create(filepath.Join(dir, "haproxy.log")); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	h.cmd = exec.Command(bin, "-db", "-f", cfg)
	h.cmd.Stdout, h.cmd.Stderr = h.log, h.log
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := h.cmd.Start(); err != nil {
		h.log.Close()
		return nil, fmt.Errorf("demo: start %s: %w", bin, err)
	}
	go func() {
		h.cmd.Wait()
		close(h.done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("unix", h.Socket, time.Second)
		if err == nil {
			c.Close()
			return h, nil
		}
		select {
		case <-h.done:
			return nil, fmt.Errorf("demo: haproxy exited at start; see %s", h.log.Name())
		case <-ctx.Done():
			h.Stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			h.Stop()
			return nil, errors.New("demo: haproxy's runtime socket did not answer within 10 s; see " + h.log.Name())
		}
	}
}

// Stop terminates HAProxy and waits for it.
func (h *haproxyProc) Stop() {
	h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.done:
	case <-time.After(5 * time.Second):
		h.cmd.Process.Kill()
		<-h.done
	}
	h.log.Close()
}
