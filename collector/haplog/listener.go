package haplog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Opts configures a Listener. Zero fields take the defaults shown.
type Opts struct {
	// Addr is the UDP address HAProxy logs to (127.0.0.1:5514).
	Addr string
	// Window is the span percentiles cover (60s), kept as Slots slots (6).
	Window time.Duration
	Slots  int
	// MaxServers caps the servers tracked (1024).
	MaxServers int
	Now        func() time.Time
	Logger     *slog.Logger
}

// Stats is one server's view over the window.
type Stats struct {
	Backend, Server string
	// Requests counts requests with a server response time.
	Requests      uint64
	P50, P95, P99 time.Duration
	Status5xx     uint64
	Status504     uint64
}

// Counters of the listener itself.
type Counters struct {
	Lines, Parsed, Ignored, Dropped uint64
}

type server struct {
	slots []hist
	stamp []int64 // slot index (time / slot length) each slot holds
}

// Listener receives HAProxy's request log. Handle and the readers are safe
// for concurrent use.
type Listener struct {
	opts    Opts
	slotLen time.Duration

	mu      sync.Mutex
	servers map[[2]string]*server
	conn    net.PacketConn

	lines, parsed, ignored, dropped atomic.Uint64
	ready                           chan struct{}
}

// New returns a listener; nothing is bound until Run.
func New(opts Opts) *Listener {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:5514"
	}
	if opts.Window <= 0 {
		opts.Window = time.Minute
	}
	if opts.Slots <= 0 {
		opts.Slots = 6
	}
	if opts.MaxServers <= 0 {
		opts.MaxServers = 1024
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Listener{opts: opts, slotLen: opts.Window / time.Duration(opts.Slots),
		servers: map[[2]string]*server{}, ready: make(chan struct{})}
}

// Ready is closed once the socket is bound; Addr is valid from then on.
func (l *Listener) Ready() <-chan struct{} { return l.ready }

// Addr returns the bound address.
func (l *Listener) Addr() net.Addr {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return nil
	}
	return l.conn.LocalAddr()
}

// Run receives datagrams until ctx ends.
func (l *Listener) Run(ctx context.Context) error {
	c, err := net.ListenPacket("udp", l.opts.Addr)
	if err != nil {
		return fmt.Errorf("haplog: listen udp %s: %w", l.opts.Addr, err)
	}
	l.mu.Lock()
	l.conn = c
	l.mu.Unlock()
	close(l.ready)
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	buf := make([]byte, 64<<10)
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("haplog: read: %w", err)
		}
		l.Handle(buf[:n])
	}
}

// Handle accounts one syslog datagram.
func (l *Listener) Handle(msg []byte) {
	l.lines.Add(1)
	e, err := ParseHTTPLog(msg)
	if err != nil {
		l.ignored.Add(1)
		return
	}
	l.parsed.Add(1)
	l.Add(e, l.opts.Now())
}

// Add accounts one request seen at t.
func (l *Listener) Add(e Entry, t time.Time) {
	if e.Server == "" || e.Server == "<NOSRV>" {
		return
	}
	key := [2]string{e.Backend, e.Server}
	idx := t.UnixNano() / int64(l.slotLen)
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.servers[key]
	if !ok {
		if len(l.servers) >= l.opts.MaxServers {
			l.dropped.Add(1)
			return
		}
		s = &server{slots: make([]hist, l.opts.Slots), stamp: make([]int64, l.opts.Slots)}
		l.servers[key] = s
	}
	i := int(idx % int64(len(s.slots)))
	if s.stamp[i] != idx {
		s.slots[i].reset()
		s.stamp[i] = idx
	}
	s.slots[i].add(e)
}

var ranks = []float64{0.50, 0.95, 0.99}

// window merges the live slots of servers into one Stats.
func (l *Listener) window(now time.Time, servers ...*server) Stats {
	idx := now.UnixNano() / int64(l.slotLen)
	var st Stats
	var live []*hist
	for _, s := range servers {
		for i := range s.slots {
			if idx-s.stamp[i] < int64(len(s.slots)) && s.stamp[i] <= idx {
				live = append(live, &s.slots[i])
				st.Status5xx += s.slots[i].s5xx
				st.Status504 += s.slots[i].s504
			}
		}
	}
	var q [3]time.Duration
	st.Requests = quantiles(live, ranks, q[:])
	st.P50, st.P95, st.P99 = q[0], q[1], q[2]
	return st
}

func (l *Listener) stats(key [2]string, s *server, now time.Time) Stats {
	st := l.window(now, s)
	st.Backend, st.Server = key[0], key[1]
	return st
}

// Server returns one server's statistics over the window.
func (l *Listener) Server(backend, srv string) (Stats, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.servers[[2]string{backend, srv}]
	if !ok {
		return Stats{}, false
	}
	return l.stats([2]string{backend, srv}, s, l.opts.Now()), true
}

// Backend returns the statistics of all of a backend's servers together.
func (l *Listener) Backend(backend string) (Stats, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var servers []*server
	for k, s := range l.servers {
		if k[0] == backend {
			servers = append(servers, s)
		}
	}
	st := l.window(l.opts.Now(), servers...)
	st.Backend = backend
	return st, len(servers) > 0
}

// All returns every server's statistics, sorted by backend and server.
func (l *Listener) All() []Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.opts.Now()
	out := make([]Stats, 0, len(l.servers))
	for k, s := range l.servers {
		out = append(out, l.stats(k, s, now))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Backend != out[j].Backend {
			return out[i].Backend < out[j].Backend
		}
		return out[i].Server < out[j].Server
	})
	return out
}

// Counters returns the listener's counters.
func (l *Listener) Counters() Counters {
	return Counters{Lines: l.lines.Load(), Parsed: l.parsed.Load(), Ignored: l.ignored.Load(), Dropped: l.dropped.Load()}
}
