package testrig

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// HAProxyServer is one backend server.
type HAProxyServer struct {
	Name string
	Addr string // "host:port"; a leading "http://" is dropped
}

// HAProxyOpts configures StartHAProxy.
type HAProxyOpts struct {
	Backend string // backend name; default "api"
	Servers []HAProxyServer
	Balance string // balance algorithm; default "roundrobin"
	// GlobalConfig, DefaultsConfig and FrontendConfig hold extra lines for
	// those sections (a log target, option httplog, ...).
	GlobalConfig   string
	DefaultsConfig string
	FrontendConfig string
	// BackendConfig holds extra lines for the backend section.
	BackendConfig string
	// ServerOptions is appended to every server line after "check inter 1s"
	// (for example "weight 50" or "rise 1 fall 1").
	ServerOptions string
}

// HAProxy is a running HAProxy 2.6 in HTTP mode with one frontend and one
// backend, and the runtime API on a unix socket at admin level.
type HAProxy struct {
	Socket       string // unix socket of the runtime API
	FrontendAddr string // "127.0.0.1:port"
	Backend      string

	s *service
}

// StartHAProxy starts HAProxy in the foreground with a frontend on a private
// loopback port balancing over opts.Servers, each health-checked every
// second over TCP.
func StartHAProxy(t testing.TB, opts HAProxyOpts) *HAProxy {
	t.Helper()
	bin := Require(t, "haproxy", "haproxy")
	if opts.Backend == "" {
		opts.Backend = "api"
	}
	if opts.Balance == "" {
		opts.Balance = "roundrobin"
	}
	s := newService(t, "haproxy", bin, 0o755)
	h := &HAProxy{Backend: opts.Backend, Socket: filepath.Join(s.dir, "admin.sock"), s: s}
	conf := filepath.Join(s.dir, "haproxy.cfg")
	s.launch(t, func() {
		h.FrontendAddr = "127.0.0.1:" + strconv.Itoa(mustFreePort(t, "tcp"))
		writeFile(t, conf, haproxyConf(h.Socket, h.FrontendAddr, opts))
		s.args = []string{"-f", conf, "-db"}
		s.ready = func(ctx context.Context) error {
			out, err := haproxyCommand(ctx, h.Socket, "show info")
			if err != nil {
				return err
			}
			if !strings.Contains(out, "Name: HAProxy") {
				return fmt.Errorf("show info answered %q", out)
			}
			return nil
		}
	})
	return h
}

func haproxyConf(socket, frontend string, o HAProxyOpts) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global\n")
	fmt.Fprintf(&b, "\tstats socket %s level admin\n", socket)
	// Two threads are plenty on loopback and keep parallel test starts light.
	fmt.Fprintf(&b, "\tnbthread 2\n")
	if o.GlobalConfig != "" {
		fmt.Fprintf(&b, "%s\n", o.GlobalConfig)
	}
	fmt.Fprintf(&b, "defaults\n")
	fmt.Fprintf(&b, "\tmode http\n")
	fmt.Fprintf(&b, "\ttimeout connect 1s\n")
	fmt.Fprintf(&b, "\ttimeout client 10s\n")
	fmt.Fprintf(&b, "\ttimeout server 10s\n")
	if o.DefaultsConfig != "" {
		fmt.Fprintf(&b, "%s\n", o.DefaultsConfig)
	}
	fmt.Fprintf(&b, "frontend fe\n")
	fmt.Fprintf(&b, "\tbind %s\n", frontend)
	if o.FrontendConfig != "" {
		fmt.Fprintf(&b, "%s\n", o.FrontendConfig)
	}
	fmt.Fprintf(&b, "\tdefault_backend %s\n", o.Backend)
	fmt.Fprintf(&b, "backend %s\n", o.Backend)
	fmt.Fprintf(&b, "\tbalance %s\n", o.Balance)
	if o.BackendConfig != "" {
		fmt.Fprintf(&b, "%s\n", o.BackendConfig)
	}
	for _, srv := range o.Servers {
		addr := strings.TrimPrefix(srv.Addr, "http://")
		fmt.Fprintf(&b, "\tserver %s %s check inter 1s %s\n", srv.Name, addr, o.ServerOptions)
	}
	return b.String()
}

// Command sends one runtime API command (such as "show stat" or
// "set server api/s1 state drain") and returns the answer.
func (h *HAProxy) Command(t testing.TB, cmd string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := haproxyCommand(ctx, h.Socket, cmd)
	if err != nil {
		t.Fatalf("testrig: haproxy %q: %v", cmd, err)
	}
	return out
}

// Stop stops HAProxy.
func (h *HAProxy) Stop() { h.s.stop() }

// Restart stops HAProxy, if it runs, and starts it again with the same
// configuration, socket and frontend port. Like a reload or a restart in
// production, it loses every change made through the runtime API (weights,
// drain and maint states), and `show info` reports a new Pid and
// Start_time_sec.
func (h *HAProxy) Restart(t testing.TB) {
	t.Helper()
	h.s.stop()
	var err error
	for range 10 {
		if err = h.s.start(); err == nil || !errors.Is(err, errExited) {
			break
		}
		// The frontend port may still be held by a connection being torn
		// down.
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		h.s.reported.Store(true)
		t.Fatalf("testrig: restart haproxy on %s: %v; last lines of its log:\n%s", h.FrontendAddr, err, h.s.tail(logTailLines))
	}
}

// haproxyCommand runs one command in non-interactive mode: HAProxy answers
// and closes the connection.
func haproxyCommand(ctx context.Context, socket, cmd string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return "", fmt.Errorf("testrig: dial haproxy socket: %w", err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := c.SetDeadline(dl); err != nil {
			return "", fmt.Errorf("testrig: haproxy socket deadline: %w", err)
		}
	}
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return "", fmt.Errorf("testrig: haproxy command %q: %w", cmd, err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return string(b), fmt.Errorf("testrig: haproxy command %q: %w", cmd, err)
	}
	return string(b), nil
}
