package apinode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Sleeper spends a request's service time. The HTTP path sleeps in real
// time; tests pass a Sleeper that returns at once or on a signal.
type Sleeper interface {
	Sleep(ctx context.Context, d time.Duration) error
}

// realSleeper waits on a timer, or until the request is abandoned.
type realSleeper struct{}

func (realSleeper) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Defaults applied by Start.
const (
	DefaultAddr       = "127.0.0.1:0"
	DefaultSysfsEvery = time.Second
)

// Opts configures Start.
type Opts struct {
	// Name identifies the node in responses ("X-Node") and logs.
	Name string
	// Addr is the TCP address to serve on; DefaultAddr when empty.
	Addr string
	// Params are the model's parameters; zero fields take DefaultParams.
	Params Params
	// Now is the model's clock; nil means time.Now.
	Now func() time.Time
	// Sleeper spends service times; nil sleeps in real time.
	Sleeper Sleeper
	// SysfsRoot, when set, is a directory the node owns and keeps a sysfs
	// tree in for a host-mode edge (see Sysfs), rewritten every
	// SysfsEvery (DefaultSysfsEvery when 0) of real time.
	SysfsRoot  string
	SysfsEvery time.Duration
	// Logger receives start, stop and sysfs errors; nil discards.
	Logger *slog.Logger
}

// Stats counts the node's requests.
type Stats struct {
	Served   uint64 // answered 200
	Rejected uint64 // refused 503: queue full or unhealthy
	Aborted  uint64 // abandoned by the client while waiting or served
	InFlight int64  // being served or waiting for a worker
}

// Node is an emulated API node: an HTTP server whose requests take the
// model's service time, served by a bounded pool of workers behind a
// bounded queue, so that overload and throttling show as latency and then
// as 503s, never as unbounded goroutines.
//
// Paths: /health answers 200 "ok" while the node is healthy (HAProxy's
// check), 503 otherwise; /state answers the model's State as JSON; any
// other path is an API request.
type Node struct {
	name    string
	model   *Model
	now     func() time.Time
	sleeper Sleeper
	log     *slog.Logger
	workers chan struct{}
	limit   int64 // workers + queue
	sysfs   *Sysfs
	every   time.Duration

	inFlight                  atomic.Int64
	served, rejected, aborted atomic.Uint64
	unhealthy                 atomic.Bool
	netDelay                  atomic.Int64 // time.Duration added to every response
	sysfsErrors               atomic.Uint64

	ln      net.Listener
	srv     *http.Server
	stopCtx func() bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
}

// New returns a node without serving: its Handler can be mounted on a
// test server. Start also serves it.
func New(opts *Opts) (*Node, error) {
	var o Opts
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleeper == nil {
		o.Sleeper = realSleeper{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := NewModel(o.Params, o.Now())
	if err != nil {
		return nil, err
	}
	p := m.Params()
	n := &Node{
		name: o.Name, model: m, now: o.Now, sleeper: o.Sleeper, log: o.Logger,
		workers: make(chan struct{}, max(p.Workers, 1)), limit: int64(max(p.Workers, 1) + p.Queue),
		every: o.SysfsEvery,
	}
	if n.every <= 0 {
		n.every = DefaultSysfsEvery
	}
	if o.SysfsRoot != "" {
		if n.sysfs, err = NewSysfs(o.SysfsRoot, p.CPUs); err != nil {
			return nil, err
		}
		if err := n.WriteSysfs(); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// Start returns a node serving HTTP on opts.Addr until ctx is cancelled or
// Close is called, and keeping its sysfs tree current. The node owns its
// goroutines; Close waits for them.
func Start(ctx context.Context, opts *Opts) (*Node, error) {
	n, err := New(opts)
	if err != nil {
		return nil, err
	}
	addr := DefaultAddr
	if opts != nil && opts.Addr != "" {
		addr = opts.Addr
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("apinode: %s: %w", n.name, err)
	}
	n.ln = ln
	n.srv = &http.Server{Handler: n.Handler(), ReadHeaderTimeout: 5 * time.Second}
	runCtx, cancel := context.WithCancel(ctx)
	n.cancel = cancel
	n.stopCtx = context.AfterFunc(runCtx, func() { n.srv.Close() })
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("apinode: serve", "node", n.name, "err", err)
		}
	}()
	if n.sysfs != nil {
		n.wg.Add(1)
		go n.keepSysfs(runCtx)
	}
	n.log.Info("apinode: serving", "node", n.name, "addr", n.Addr())
	return n, nil
}

func (n *Node) keepSysfs(ctx context.Context) {
	defer n.wg.Done()
	t := time.NewTicker(n.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := n.WriteSysfs(); err != nil {
				// Counted and logged: a full disk must not stop the API.
				if n.sysfsErrors.Add(1) == 1 {
					n.log.Warn("apinode: sysfs", "node", n.name, "err", err)
				}
			}
		}
	}
}

// WriteSysfs writes the model's state at the node's clock to its sysfs
// tree now; it does nothing without Opts.SysfsRoot.
func (n *Node) WriteSysfs() error {
	if n.sysfs == nil {
		return nil
	}
	return n.sysfs.Write(n.model.State(n.now()), n.model.Params())
}

// Addr returns "127.0.0.1:port" once started.
func (n *Node) Addr() string {
	if n.ln == nil {
		return ""
	}
	return n.ln.Addr().String()
}

// Model returns the node's thermal model, to inject heat or bind a BMC.
func (n *Node) Model() *Model { return n.model }

// SetNetworkDelay adds d to every API response, outside the model: the
// retransmissions of a link that drops frames cost the client time but
// not the node's CPU.
func (n *Node) SetNetworkDelay(d time.Duration) { n.netDelay.Store(int64(max(d, 0))) }

// SetHealthy makes /health answer 200 (true) or 503 (false), and API
// requests be refused while unhealthy: a crashed service.
func (n *Node) SetHealthy(ok bool) { n.unhealthy.Store(!ok) }

// Stats returns the node's request counts.
func (n *Node) Stats() Stats {
	return Stats{Served: n.served.Load(), Rejected: n.rejected.Load(), Aborted: n.aborted.Load(), InFlight: n.inFlight.Load()}
}

// Close stops serving, aborting requests in flight, and waits for the
// node's goroutines.
func (n *Node) Close() error {
	var err error
	n.once.Do(func() {
		if n.srv == nil {
			return
		}
		n.stopCtx()
		n.cancel()
		err = n.srv.Close()
		n.wg.Wait()
		n.log.Info("apinode: stopped", "node", n.name)
	})
	return err
}

// Handler returns the node's HTTP handler.
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", n.health)
	mux.HandleFunc("/state", n.state)
	mux.HandleFunc("/", n.api)
	return mux
}

func (n *Node) health(w http.ResponseWriter, _ *http.Request) {
	if n.unhealthy.Load() {
		http.Error(w, "unhealthy", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Write([]byte("ok\n"))
}

func (n *Node) state(w http.ResponseWriter, _ *http.Request) {
	st := n.model.State(n.now())
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(struct {
		Node        string  `json:"node"`
		CPUCelsius  float64 `json:"cpu_celsius"`
		Inlet       float64 `json:"inlet_celsius"`
		FrequencyHz float64 `json:"frequency_hertz"`
		Throttled   bool    `json:"throttled"`
		Throttles   uint64  `json:"throttles"`
		Utilisation float64 `json:"utilisation"`
		ServiceMs   float64 `json:"service_ms"`
		InFlight    int64   `json:"in_flight"`
	}{n.name, st.CPU.Celsius(), st.Inlet.Celsius(), float64(st.Frequency) / 1e6, st.Throttled, st.Throttles,
		st.Utilisation, float64(st.ServiceTime) / float64(time.Millisecond), n.inFlight.Load()})
}

// api serves one request: a place in the queue, a worker, the service
// time the model gives at the moment the worker starts.
func (n *Node) api(w http.ResponseWriter, r *http.Request) {
	if n.unhealthy.Load() {
		n.rejected.Add(1)
		http.Error(w, "unhealthy", http.StatusServiceUnavailable)
		return
	}
	if n.inFlight.Add(1) > n.limit {
		n.inFlight.Add(-1)
		n.rejected.Add(1)
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
		return
	}
	defer n.inFlight.Add(-1)
	ctx := r.Context()
	select {
	case n.workers <- struct{}{}:
	case <-ctx.Done():
		n.aborted.Add(1)
		return
	}
	d := n.model.ServiceTime(n.now())
	err := n.sleeper.Sleep(ctx, d)
	n.model.AddWork(d)
	<-n.workers
	if err == nil {
		if extra := time.Duration(n.netDelay.Load()); extra > 0 {
			err = n.sleeper.Sleep(ctx, extra)
		}
	}
	if err != nil {
		n.aborted.Add(1)
		return
	}
	n.served.Add(1)
	w.Header().Set("X-Node", n.name)
	w.Header().Set("X-Service-Time", strconv.FormatFloat(d.Seconds(), 'f', 6, 64))
	w.Header().Set("Content-Type", "text/plain")
	w.Write([]byte("ok\n"))
}
