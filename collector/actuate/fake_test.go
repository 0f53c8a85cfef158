package actuate

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/haproxy"
)

// fakeServer is one server of fakeHAProxy: admin flags and weights as in
// HAProxy's struct server.
type fakeServer struct{ admin, uweight, iweight int }

// Administrative flags the fake sets (enum srv_admin in HAProxy 2.6's
// include/haproxy/server-t.h).
const (
	fakeForcedMaint = 0x01 // SRV_ADMF_FMAINT
	fakeForcedDrain = 0x08 // SRV_ADMF_FDRAIN
)

// fakeHAProxy answers the runtime API like HAProxy 2.6 in non-interactive
// mode (read one line, answer, close): an empty line for a successful
// "set server", "No such server." for an unknown one. It keeps the
// servers' state, and restart returns them to their configuration with a
// new pid and start time, as a reload does.
type fakeHAProxy struct {
	ln   net.Listener
	addr string

	mu      sync.Mutex
	config  map[string]fakeServer // "backend/server" → as configured
	servers map[string]*fakeServer
	pid     int
	start   int64
	hang    int            // connections still to leave unanswered
	hangCmd map[string]int // per command, the same
	got     []string
	conns   map[net.Conn]struct{}

	wg sync.WaitGroup
}

// startFakeHAProxy serves servers ("backend/server" → initial weight).
func startFakeHAProxy(t *testing.T, servers map[string]int) *fakeHAProxy {
	t.Helper()
	// t.TempDir paths can exceed the 108-byte limit of sun_path.
	dir, err := os.MkdirTemp("", "act")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	addr := filepath.Join(dir, "admin.sock")
	ln, err := net.Listen("unix", addr)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeHAProxy{ln: ln, addr: addr, config: map[string]fakeServer{}, pid: 100, start: 1_795_000_000, conns: map[net.Conn]struct{}{}, hangCmd: map[string]int{}}
	for name, w := range servers {
		f.config[name] = fakeServer{uweight: w, iweight: w}
	}
	f.reset()
	f.wg.Add(1)
	go f.serve()
	t.Cleanup(f.stop)
	return f
}

func (f *fakeHAProxy) reset() {
	f.servers = map[string]*fakeServer{}
	for name, s := range f.config {
		f.servers[name] = &s
	}
}

// restart loses every runtime change, like a reload.
func (f *fakeHAProxy) restart() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reset()
	f.pid++
	f.start += 60
}

func (f *fakeHAProxy) hangNext(n int) {
	f.mu.Lock()
	f.hang = n
	f.mu.Unlock()
}

func (f *fakeHAProxy) hangOn(cmd string, n int) {
	f.mu.Lock()
	f.hangCmd[cmd] = n
	f.mu.Unlock()
}

func (f *fakeHAProxy) server(name string) fakeServer {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *f.servers[name]
}

// commands returns the "set" commands received since the last call.
func (f *fakeHAProxy) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.got {
		if strings.HasPrefix(c, "set ") {
			out = append(out, c)
		}
	}
	f.got = nil
	return out
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
	hang := f.hang > 0 || f.hangCmd[cmd] > 0
	if f.hang > 0 {
		f.hang--
	} else if f.hangCmd[cmd] > 0 {
		f.hangCmd[cmd]--
	}
	f.mu.Unlock()
	if hang {
		_, _ = io.Copy(io.Discard, conn) // until the client gives up
		return
	}
	_, _ = io.WriteString(conn, f.answer(cmd))
}

const fakeStateHeader = "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n"

func (f *fakeHAProxy) answer(cmd string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, cmd)
	switch cmd {
	case "show info":
		return fmt.Sprintf("Name: HAProxy\nVersion: 2.6.12-1+deb12u4\nPid: %d\nUptime_sec: 42\nStart_time_sec: %d\n\n", f.pid, f.start)
	case "show servers state":
		names := make([]string, 0, len(f.servers))
		for n := range f.servers {
			names = append(names, n)
		}
		sort.Strings(names)
		var b strings.Builder
		b.WriteString("1\n" + fakeStateHeader)
		for i, n := range names {
			be, srv, _ := strings.Cut(n, "/")
			s := f.servers[n]
			fmt.Fprintf(&b, "3 %s %d %s 127.0.0.1 2 %d %d %d 5 6 3 4 6 0 0 0 - 8080 - 0 0 - - 0\n", be, i+1, srv, s.admin, s.uweight, s.iweight)
		}
		return b.String() + "\n"
	}
	f2 := strings.Fields(cmd)
	switch {
	case len(f2) == 5 && f2[0] == "set" && f2[1] == "server" && f2[3] == "state":
		s := f.servers[f2[2]]
		if s == nil {
			return "No such server.\n\n"
		}
		switch f2[4] {
		case "ready":
			s.admin &^= fakeForcedMaint | fakeForcedDrain
		case "drain":
			s.admin = s.admin&^fakeForcedMaint | fakeForcedDrain
		case "maint":
			s.admin |= fakeForcedMaint
		default:
			return "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n\n"
		}
		return "\n"
	case len(f2) == 5 && f2[0] == "set" && f2[1] == "server" && f2[3] == "weight":
		s := f.servers[f2[2]]
		if s == nil {
			return "No such server.\n\n"
		}
		pct, err := strconv.Atoi(strings.TrimSuffix(f2[4], "%"))
		if err != nil || !strings.HasSuffix(f2[4], "%") {
			return "Invalid weight.\n\n"
		}
		s.uweight = expectedWeight(s.iweight, pct)
		return "\n"
	case len(f2) == 3 && f2[0] == "get" && f2[1] == "weight":
		s := f.servers[f2[2]]
		if s == nil {
			return "No such server.\n\n"
		}
		return fmt.Sprintf("%d (initial %d)\n\n", s.uweight, s.iweight)
	}
	return "Unknown command: '" + cmd + "'\n\n"
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

func newTestLB(t *testing.T, name, addr string, timeout time.Duration) *haproxy.Client {
	t.Helper()
	lb, err := haproxy.New(&haproxy.Opts{Name: name, Addr: addr, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return lb
}
