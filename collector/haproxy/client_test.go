package haproxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeHAProxy answers runtime API commands with canned replies, one
// command per connection, the way HAProxy's CLI does in non-interactive
// mode: read a line, write the answer, close.
type fakeHAProxy struct {
	ln      net.Listener
	replies map[string]string // command line (without newline) → answer
	hang    bool              // never answer; wait for the client to give up

	mu    sync.Mutex
	got   []string
	conns map[net.Conn]struct{}

	wg sync.WaitGroup
}

func startFake(t *testing.T, network string, replies map[string]string, hang bool) (*fakeHAProxy, string) {
	t.Helper()
	var (
		ln   net.Listener
		err  error
		addr string
	)
	switch network {
	case "unix":
		// t.TempDir paths can exceed the 108-byte limit of sun_path.
		dir, derr := os.MkdirTemp("", "hap")
		if derr != nil {
			t.Fatal(derr)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		addr = filepath.Join(dir, "admin.sock")
		ln, err = net.Listen("unix", addr)
	case "tcp":
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err == nil {
			addr = ln.Addr().String()
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeHAProxy{ln: ln, replies: replies, hang: hang, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.serve()
	t.Cleanup(f.stop)
	return f, addr
}

func (f *fakeHAProxy) serve() {
	defer f.wg.Done()
	for {
		conn, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns[conn] = struct{}{}
		f.mu.Unlock()
		f.wg.Add(1)
		go f.handle(conn)
	}
}

func (f *fakeHAProxy) handle(conn net.Conn) {
	defer f.wg.Done()
	defer func() {
		f.mu.Lock()
		delete(f.conns, conn)
		f.mu.Unlock()
		conn.Close()
	}()
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return
	}
	cmd := strings.TrimSuffix(line, "\n")
	f.mu.Lock()
	f.got = append(f.got, cmd)
	f.mu.Unlock()
	if f.hang {
		// Returns when the client closes its end, or stop closes ours.
		_, _ = io.Copy(io.Discard, conn)
		return
	}
	reply, ok := f.replies[cmd]
	if !ok {
		reply = "Unknown command: '" + cmd + "'\n\n"
	}
	_, _ = io.WriteString(conn, reply)
}

func (f *fakeHAProxy) stop() {
	f.ln.Close()
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

func (f *fakeHAProxy) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

func newClient(t *testing.T, addr string, timeout time.Duration) *Client {
	t.Helper()
	c, err := New(&Opts{Name: "lb1", Addr: addr, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    *Opts
		network string
		address string
		timeout time.Duration
		cname   string
		wantErr string
	}{
		{name: "nil opts", opts: nil, wantErr: "Addr"},
		{name: "empty addr", opts: &Opts{Name: "lb1"}, wantErr: "missing Addr"},
		{name: "negative timeout", opts: &Opts{Addr: "/run/h.sock", Timeout: -time.Second}, wantErr: "negative timeout"},
		{name: "empty unix path", opts: &Opts{Addr: "unix:"}, wantErr: "empty after unix:"},
		{name: "empty tcp addr", opts: &Opts{Addr: "tcp:"}, wantErr: "empty after tcp:"},
		{name: "tcp without port", opts: &Opts{Addr: "tcp:localhost"}, wantErr: "missing port"},
		{name: "absolute path", opts: &Opts{Addr: "/run/haproxy/admin.sock"}, network: "unix", address: "/run/haproxy/admin.sock", timeout: 2 * time.Second, cname: "default"},
		{name: "relative path", opts: &Opts{Addr: "run/admin.sock"}, network: "unix", address: "run/admin.sock", timeout: 2 * time.Second, cname: "default"},
		{name: "unix prefix", opts: &Opts{Name: "lb1", Addr: "unix:/run/a:b.sock", Timeout: time.Second}, network: "unix", address: "/run/a:b.sock", timeout: time.Second, cname: "lb1"},
		{name: "tcp prefix", opts: &Opts{Addr: "tcp:127.0.0.1:9999"}, network: "tcp", address: "127.0.0.1:9999", timeout: 2 * time.Second, cname: "default"},
		{name: "host:port", opts: &Opts{Addr: "lb.example:9999"}, network: "tcp", address: "lb.example:9999", timeout: 2 * time.Second, cname: "default"},
		{name: "ipv6 host:port", opts: &Opts{Addr: "[::1]:9999"}, network: "tcp", address: "[::1]:9999", timeout: 2 * time.Second, cname: "default"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := New(tc.opts)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("no error; got %+v", c)
				}
				if !strings.HasPrefix(err.Error(), "haproxy: new") || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %q, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.network != tc.network || c.address != tc.address || c.timeout != tc.timeout || c.name != tc.cname {
				t.Errorf("got %s %q timeout %v name %q; want %s %q timeout %v name %q",
					c.network, c.address, c.timeout, c.name, tc.network, tc.address, tc.timeout, tc.cname)
			}
		})
	}
}

func TestShowStat(t *testing.T) {
	t.Parallel()
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			t.Parallel()
			f, addr := startFake(t, network, map[string]string{"show stat": string(readCapture(t))}, false)
			if network == "tcp" {
				addr = "tcp:" + addr
			}
			stats, err := newClient(t, addr, 0).ShowStat(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := len(Servers(stats)); got != 6 {
				t.Errorf("got %d servers, want 6", got)
			}
			if got := f.commands(); len(got) != 1 || got[0] != "show stat" {
				t.Errorf("commands sent = %q, want [show stat]", got)
			}
		})
	}
}

func TestShowStatErrors(t *testing.T) {
	t.Parallel()
	_, addr := startFake(t, "unix", map[string]string{"show stat": "Permission denied\n\n"}, false)
	_, err := newClient(t, addr, 0).ShowStat(context.Background())
	if err == nil {
		t.Fatal("no error")
	}
	want := "haproxy: lb1 (" + addr + "): show stat: line 1: no header row"
	if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "Permission denied") {
		t.Errorf("error %q, want prefix %q and the answer", err, want)
	}
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("error %q does not match ErrMalformed", err)
	}

	// Nothing listens: the error names the instance and the socket.
	missing := filepath.Join(filepath.Dir(addr), "nothing.sock")
	_, err = newClient(t, missing, 0).ShowStat(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "haproxy: lb1 ("+missing+"): show stat: dial unix") {
		t.Errorf("error %v, want a dial error naming lb1 and %s", err, missing)
	}
}

func TestCommands(t *testing.T) {
	t.Parallel()
	replies := map[string]string{
		"set server be/s1 state drain":   "\n",
		"set server be/s1 state ready":   "\n",
		"set server be/s1 state maint":   "\n",
		"set server be/nope state drain": "No such server.\n\n",
		"set server nobe/s1 state drain": "No such backend.\n\n",
		"set server be/s1 weight 50%":    "\n",
		"set server be/s1 weight 0%":     "\n",
		"set server be/s2 weight 50%":    "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n\n",
		"set server #2/#3 weight 100%":   "\n",
		"get weight be/s1":               "50 (initial 100)\n\n",
		"get weight be/s2":               "256 (initial 1)\n\n",
		"get weight be/nope":             "No such server.\n\n",
		"get weight be/odd":              "fifty (initial 100)\n\n",
	}
	f, addr := startFake(t, "unix", replies, false)
	c := newClient(t, addr, 0)
	ctx := context.Background()

	tests := []struct {
		name       string
		call       func() error
		sent       string
		wantErr    string
		noSuch     bool
		wantWeight [2]int
	}{
		{name: "drain", call: func() error { return c.SetServerState(ctx, "be", "s1", Drain) }, sent: "set server be/s1 state drain"},
		{name: "ready", call: func() error { return c.SetServerState(ctx, "be", "s1", Ready) }, sent: "set server be/s1 state ready"},
		{name: "maint", call: func() error { return c.SetServerState(ctx, "be", "s1", Maint) }, sent: "set server be/s1 state maint"},
		{name: "unknown server", call: func() error { return c.SetServerState(ctx, "be", "nope", Drain) },
			sent: "set server be/nope state drain", wantErr: `set server state: "set server be/nope state drain" answered "No such server."`, noSuch: true},
		{name: "unknown backend", call: func() error { return c.SetServerState(ctx, "nobe", "s1", Drain) },
			sent: "set server nobe/s1 state drain", wantErr: "No such backend.", noSuch: true},
		{name: "weight", call: func() error { return c.SetWeight(ctx, "be", "s1", 50) }, sent: "set server be/s1 weight 50%"},
		{name: "weight zero", call: func() error { return c.SetWeight(ctx, "be", "s1", 0) }, sent: "set server be/s1 weight 0%"},
		{name: "weight by id", call: func() error { return c.SetWeight(ctx, "#2", "#3", 100) }, sent: "set server #2/#3 weight 100%"},
		{name: "weight refused", call: func() error { return c.SetWeight(ctx, "be", "s2", 50) },
			sent: "set server be/s2 weight 50%", wantErr: "static LB algorithm"},
		{name: "unknown command", call: func() error { return c.SetServerState(ctx, "be", "s9", Drain) },
			sent: "set server be/s9 state drain", wantErr: "Unknown command"},
		{name: "get weight", call: func() error {
			cur, ini, err := c.GetWeight(ctx, "be", "s1")
			if err == nil && (cur != 50 || ini != 100) {
				return errors.New("wrong weights")
			}
			return err
		}, sent: "get weight be/s1"},
		{name: "get weight capped", call: func() error {
			cur, ini, err := c.GetWeight(ctx, "be", "s2")
			if err == nil && (cur != 256 || ini != 1) {
				return errors.New("wrong weights")
			}
			return err
		}, sent: "get weight be/s2"},
		{name: "get weight unknown", call: func() error { _, _, err := c.GetWeight(ctx, "be", "nope"); return err },
			sent: "get weight be/nope", wantErr: "No such server.", noSuch: true},
		{name: "get weight unparsable", call: func() error { _, _, err := c.GetWeight(ctx, "be", "odd"); return err },
			sent: "get weight be/odd", wantErr: "fifty (initial 100)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(f.commands())
			err := tc.call()
			got := f.commands()[before:]
			if len(got) != 1 || got[0] != tc.sent {
				t.Errorf("sent %q, want %q", got, tc.sent)
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one containing %q", tc.wantErr)
			}
			prefix := "haproxy: lb1 (" + addr + "): "
			if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q, want prefix %q and %q", err, prefix, tc.wantErr)
			}
			var ce *CommandError
			if !errors.As(err, &ce) || ce.Command != tc.sent {
				t.Errorf("error %q is not a CommandError for %q", err, tc.sent)
			}
			if errors.Is(err, ErrNoSuchServer) != tc.noSuch {
				t.Errorf("errors.Is(%q, ErrNoSuchServer) = %v, want %v", err, !tc.noSuch, tc.noSuch)
			}
		})
	}
}

// TestValidation checks that nothing reaches HAProxy when a name could
// change the command line or a value is out of range.
func TestValidation(t *testing.T) {
	t.Parallel()
	f, addr := startFake(t, "unix", nil, false)
	c := newClient(t, addr, 0)
	ctx := context.Background()

	bad := []struct{ backend, server string }{
		{"", "s1"},
		{"be", ""},
		{"be x", "s1"},
		{"be", "s1\nshutdown frontend fe"},
		{"be", "s1;shutdown sessions server be/s1"},
		{"be/s2", "s1"},
		{"be", "s1/x"},
		{"be", "s\t1"},
		{"be", "s1\r"},
		{"bé", "s1"},
		{"#", "s1"},
		{"#1x", "s1"},
		{"be", "s#1"},
		{"be", "s1 state maint"},
	}
	for _, b := range bad {
		calls := map[string]error{
			"state":  c.SetServerState(ctx, b.backend, b.server, Drain),
			"weight": c.SetWeight(ctx, b.backend, b.server, 50),
		}
		_, _, calls["get"] = c.GetWeight(ctx, b.backend, b.server)
		for op, err := range calls {
			if !errors.Is(err, ErrInvalidName) {
				t.Errorf("%s %q/%q: error %v, want ErrInvalidName", op, b.backend, b.server, err)
			}
		}
	}
	for _, pct := range []int{-1, MaxWeightPercent + 1} {
		if err := c.SetWeight(ctx, "be", "s1", pct); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("SetWeight(%d): error %v, want out of range", pct, err)
		}
	}
	for _, st := range []State{0, Maint + 1} {
		if err := c.SetServerState(ctx, "be", "s1", st); err == nil || !strings.Contains(err.Error(), "unknown state(") {
			t.Errorf("SetServerState(%v): error %v, want unknown state", st, err)
		}
	}
	if got := f.commands(); len(got) != 0 {
		t.Errorf("invalid requests reached HAProxy: %q", got)
	}

	// What HAProxy accepts in names passes: [A-Za-z0-9_:.-] and #<id>.
	if err := checkServer("be_app-1.eu:x", "#12"); err != nil {
		t.Errorf("valid names refused: %v", err)
	}
}

func TestTimeouts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		timeout time.Duration
		ctx     func() (context.Context, context.CancelFunc)
		want    error
	}{
		{
			name:    "client timeout",
			timeout: 100 * time.Millisecond,
			ctx:     func() (context.Context, context.CancelFunc) { return context.Background(), func() {} },
			want:    context.DeadlineExceeded,
		},
		{
			name:    "context deadline",
			timeout: time.Minute,
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 100*time.Millisecond)
			},
			want: context.DeadlineExceeded,
		},
		{
			name:    "context cancelled",
			timeout: time.Minute,
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(100*time.Millisecond, cancel)
				return ctx, cancel
			},
			want: context.Canceled,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, addr := startFake(t, "unix", nil, true)
			c := newClient(t, addr, tc.timeout)
			ctx, cancel := tc.ctx()
			defer cancel()
			start := time.Now()
			_, err := c.ShowStat(ctx)
			if elapsed := time.Since(start); elapsed > 10*time.Second {
				t.Errorf("took %v", elapsed)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "haproxy: lb1 ("+addr+"): show stat: ") {
				t.Errorf("error %q does not name the instance", err)
			}
			if got := f.commands(); len(got) != 1 || got[0] != "show stat" {
				t.Errorf("server got %q, want the command before the client gave up", got)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	_, addr := startFake(t, "unix", map[string]string{
		"show stat":                    string(readCapture(t)),
		"set server be/s1 state drain": "\n",
	}, false)
	c := newClient(t, addr, 0)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 10; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := c.ShowStat(context.Background())
			errs <- err
		}()
		go func() {
			defer wg.Done()
			errs <- c.SetServerState(context.Background(), "be", "s1", Drain)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestStateString(t *testing.T) {
	t.Parallel()
	for st, want := range map[State]string{Ready: "ready", Drain: "drain", Maint: "maint", 0: "state(0)"} {
		if got := st.String(); got != want {
			t.Errorf("State(%d).String() = %q, want %q", int(st), got, want)
		}
	}
}

func TestParseWeight(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in       string
		cur, ini int
		ok       bool
	}{
		{"50 (initial 100)", 50, 100, true},
		{"0 (initial 1)", 0, 1, true},
		{"50 (initial 100", 0, 0, false},
		{"50(initial 100)", 0, 0, false},
		{"-1 (initial 100)", 0, 0, false},
		{"50 (initial )", 0, 0, false},
		{" (initial 1)", 0, 0, false},
		{"No such server.", 0, 0, false},
		{"", 0, 0, false},
		{"99999999999999999999 (initial 1)", 0, 0, false},
	}
	for _, tc := range tests {
		cur, ini, ok := parseWeight(tc.in)
		if cur != tc.cur || ini != tc.ini || ok != tc.ok {
			t.Errorf("parseWeight(%q) = %d, %d, %v; want %d, %d, %v", tc.in, cur, ini, ok, tc.cur, tc.ini, tc.ok)
		}
	}
}
