// Package balancer is the demo's stand-in for HAProxy on machines that do
// not have it: a weighted HTTP client that spreads requests over the
// emulated API nodes and answers the collector's runtime-API calls (show
// stat, show servers state, show info, set weight, set server state), so
// that the collector reads latency from it and steers it exactly as it
// steers HAProxy.
//
// It keeps HAProxy's semantics where the collector depends on them: rtime
// is the average time to response headers over the last 1024 requests, a
// weight in percent is taken of the configured weight and rounded down, a
// drained server takes no new requests, and a server in maintenance none
// at all. It does no health checks, queueing or retries: the demo's nodes
// never fail, and a slow node shows up in rtime as it does in HAProxy.
// With LogTo it also logs every request as HAProxy's `option httplog`
// does, to the collector's request-log listener (collector/haplog).
package balancer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/rackwatch/rackwatch/collector/haproxy"
)

// Server is one backend server.
type Server struct {
	Name string
	// URL is what a request to the server fetches, such as
	// "http://127.0.0.1:8001/".
	URL string
	// Weight is the configured weight; zero means 100, room for the
	// collector's 25 % steps.
	Weight int
}

// rtimeWindow is HAProxy's averaging window for qtime, ctime, rtime and
// ttime, in requests.
const rtimeWindow = 1024

// Administrative state bits of `show servers state` (srv_admin_state,
// enum srv_admin in HAProxy's server-t.h) that the balancer sets.
const (
	adminForcedMaint = 0x01 // SRV_ADMF_FMAINT
	adminForcedDrain = 0x08 // SRV_ADMF_FDRAIN
)

type server struct {
	Server
	weight int // in force
	admin  int // adminForced* bits
	// current is the smooth weighted round-robin credit (nginx's
	// algorithm): an even spread without a random source.
	current int

	stot, hrsp5xx, scur uint64
	rtimes              [rtimeWindow]time.Duration
	rsum                time.Duration
	rn, ri              int
}

// ErrNoServer is returned by Do when every server is drained, in
// maintenance or at weight 0.
var ErrNoServer = errors.New("balancer: no server takes requests")

// Balancer spreads requests over one backend's servers.
type Balancer struct {
	backend string
	client  *http.Client
	started time.Time
	now     func() time.Time

	mu      sync.Mutex
	servers []*server
	log     net.Conn // httplog lines, when LogTo was called
}

// LogTo sends a syslog datagram in HAProxy's httplog format for every
// request to the UDP address addr, as `log addr local0` does.
func (b *Balancer) LogTo(addr string) error {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return fmt.Errorf("balancer: log target: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.log != nil {
		b.log.Close()
	}
	b.log = c
	return nil
}

// Close stops logging.
func (b *Balancer) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.log == nil {
		return nil
	}
	err := b.log.Close()
	b.log = nil
	return err
}

// logLine formats one request as HAProxy's httplog (configuration manual
// §8.2.3): TR/Tw/Tc/Tr/Ta timers in milliseconds, the status, and -1 for
// the response time of a request that got no response. local0.info is
// priority 134.
func (b *Balancer) logLine(at time.Time, srv string, status int, rtime time.Duration) []byte {
	tr, ta, code := int(rtime/time.Millisecond), int(rtime/time.Millisecond), status
	if status == 0 {
		tr, code = -1, 503
	}
	return fmt.Appendf(nil, "<134>%s haproxy[%d]: 127.0.0.1:0 [%s] fe %s/%s 0/0/0/%d/%d %d 0 - - ---- 0/0/0/0/0 0/0 \"GET / HTTP/1.1\"",
		at.Format(time.Stamp), os.Getpid(), at.Format("02/Jan/2006:15:04:05.000"), b.backend, srv, tr, ta, code)
}

// New returns a balancer for backend. client nil means a client with a
// 10 s timeout; now nil means time.Now.
func New(backend string, servers []Server, client *http.Client, now func() time.Time) (*Balancer, error) {
	if len(servers) == 0 {
		return nil, fmt.Errorf("balancer: backend %q has no servers", backend)
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	if now == nil {
		now = time.Now
	}
	b := &Balancer{backend: backend, client: client, now: now, started: now()}
	seen := map[string]bool{}
	for _, s := range servers {
		if seen[s.Name] {
			return nil, fmt.Errorf("balancer: backend %q: server %q listed twice", backend, s.Name)
		}
		seen[s.Name] = true
		if s.Weight == 0 {
			s.Weight = 100
		}
		b.servers = append(b.servers, &server{Server: s, weight: s.Weight})
	}
	return b, nil
}

// pick chooses the next server by smooth weighted round robin. b.mu is held.
func (b *Balancer) pick() *server {
	var best *server
	total := 0
	for _, s := range b.servers {
		if s.admin != 0 || s.weight <= 0 {
			continue
		}
		s.current += s.weight
		total += s.weight
		if best == nil || s.current > best.current {
			best = s
		}
	}
	if best != nil {
		best.current -= total
	}
	return best
}

// Do sends one GET through the balancer and reports the server that
// answered. A status of 500 or more is counted and returned as an error.
func (b *Balancer) Do(ctx context.Context) (string, error) {
	b.mu.Lock()
	s := b.pick()
	if s != nil {
		s.scur++
	}
	b.mu.Unlock()
	if s == nil {
		return "", ErrNoServer
	}
	start := b.now()
	status, err := b.get(ctx, s.URL)
	rtime := b.now().Sub(start)

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.log != nil {
		// Lost datagrams are lost log lines, as with syslog. A UDP write
		// does not block, so the lock that serialises it with Close is
		// held only for the syscall.
		b.log.Write(b.logLine(start, s.Name, status, rtime))
	}
	s.scur--
	s.stot++
	if err != nil || status >= 500 {
		s.hrsp5xx++
	}
	if err == nil {
		s.rsum += rtime - s.rtimes[s.ri]
		s.rtimes[s.ri] = rtime
		s.ri = (s.ri + 1) % rtimeWindow
		s.rn = min(s.rn+1, rtimeWindow)
	}
	switch {
	case err != nil:
		return s.Name, fmt.Errorf("balancer: %s/%s: %w", b.backend, s.Name, err)
	case status >= 500:
		return s.Name, fmt.Errorf("balancer: %s/%s: HTTP %d", b.backend, s.Name, status)
	}
	return s.Name, nil
}

// get fetches url and returns its status once the headers are in, as
// HAProxy's rtime counts; the body is drained so the connection is reused.
func (b *Balancer) get(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (b *Balancer) find(backend, name string) (*server, error) {
	if backend != b.backend {
		return nil, fmt.Errorf("balancer: no backend %q (have %q)", backend, b.backend)
	}
	for _, s := range b.servers {
		if s.Name == name {
			return s, nil
		}
	}
	return nil, fmt.Errorf("balancer: backend %q has no server %q", backend, name)
}

// SetWeight sets a server's weight to pct percent of its configured weight,
// as `set weight backend/server pct%` does.
func (b *Balancer) SetWeight(_ context.Context, backend, name string, pct int) error {
	if pct < 0 || pct > 100 {
		return fmt.Errorf("balancer: weight %d%% not in 0-100", pct)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.find(backend, name)
	if err != nil {
		return err
	}
	s.weight = s.Weight * pct / 100
	return nil
}

// SetServerState sets a server's administrative state, as `set server
// backend/server state ready|drain|maint` does.
func (b *Balancer) SetServerState(_ context.Context, backend, name string, st haproxy.State) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.find(backend, name)
	if err != nil {
		return err
	}
	switch st {
	case haproxy.Ready:
		s.admin = 0
	case haproxy.Drain:
		s.admin = adminForcedDrain
	case haproxy.Maint:
		s.admin = adminForcedMaint
	default:
		return fmt.Errorf("balancer: unknown server state %d", st)
	}
	return nil
}

// ShowStat returns one row per server, as `show stat` does for servers.
func (b *Balancer) ShowStat(context.Context) ([]haproxy.Stat, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]haproxy.Stat, 0, len(b.servers))
	for _, s := range b.servers {
		var rtime time.Duration
		if s.rn > 0 {
			// HAProxy prints whole milliseconds.
			rtime = (s.rsum / time.Duration(s.rn)).Truncate(time.Millisecond)
		}
		status := "UP"
		switch {
		case s.admin&adminForcedMaint != 0:
			status = "MAINT"
		case s.admin&adminForcedDrain != 0:
			status = "DRAIN"
		}
		out = append(out, haproxy.Stat{Proxy: b.backend, Server: s.Name, Type: haproxy.Server, Status: status,
			CheckStatus: "L7OK", Weight: s.weight, UWeight: s.weight, Scur: s.scur, Stot: s.stot, Hrsp5xx: s.hrsp5xx,
			RTime: rtime, TTime: rtime})
	}
	return out, nil
}

// ShowServersState returns each server's administrative state and weights.
func (b *Balancer) ShowServersState(context.Context) ([]haproxy.ServerState, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]haproxy.ServerState, 0, len(b.servers))
	for _, s := range b.servers {
		out = append(out, haproxy.ServerState{Backend: b.backend, Server: s.Name, OpState: 2, AdminState: s.admin,
			Weight: s.weight, InitialWeight: s.Weight})
	}
	return out, nil
}

// ShowInfo identifies the balancer as one process that never restarts.
func (b *Balancer) ShowInfo(context.Context) (haproxy.Info, error) {
	return haproxy.Info{Version: "rackwatch demo balancer", Pid: os.Getpid(),
		UptimeSec: int64(b.now().Sub(b.started) / time.Second), StartTimeSec: b.started.Unix()}, nil
}
