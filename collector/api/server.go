package api

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultAddr is where the API listens unless configured: loopback only,
// because reads are not authenticated.
const DefaultAddr = "127.0.0.1:8080"

// Opts configure a Server.
type Opts struct {
	// Addr is host:port to listen on (config key api.listen; default
	// DefaultAddr). Port 0 picks a free port; Addr reports it.
	Addr string
	// Controller is the collector; required.
	Controller Controller
	// Tokens authorise the mutating calls; with none, every change is
	// refused.
	Tokens Tokens
	Logger *slog.Logger
	// Now is the clock for relative times in queries (since=15m).
	Now func() time.Time
	// Metrics, if set, is served at GET /metrics (the Prometheus
	// exposition), unauthenticated like the other reads.
	Metrics http.Handler
	// Page, if set, is the web status page (package statuspage): served
	// at GET /, /assets/ and /api/v1/events, unauthenticated like the
	// other reads.
	Page http.Handler
	// RateLimit bounds the requests served; zero fields take
	// DefaultRateLimit's.
	RateLimit RateLimit
	// TLSCertFile and TLSKeyFile (config keys api.tls_cert_file and
	// api.tls_key_file), when set, serve HTTPS only, TLS 1.2 or later.
	// The key file is a secret file (configfile.OpenSecretFile). Both are
	// read again when they change, so a renewed certificate needs no
	// restart.
	TLSCertFile string
	TLSKeyFile  string
}

// Server is the HTTP API.
type Server struct {
	opts    Opts
	log     *slog.Logger
	handler http.Handler

	limiter *limiter
	limited atomic.Uint64
	tls     *tls.Config

	mu        sync.Mutex
	addr      string
	started   bool
	listening chan struct{}
}

// Limited returns how many requests the rate limit refused.
func (s *Server) Limited() uint64 { return s.limited.Load() }

// Timeouts of the HTTP server: a slow or stalled client cannot hold a
// connection or a handler.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 60 * time.Second
	shutdownTimeout   = 5 * time.Second
	maxHeaderBytes    = 16 << 10
)

// New checks opts; nothing listens until Run.
func New(opts Opts) (*Server, error) {
	if opts.Controller == nil {
		return nil, errors.New("api: a controller is required")
	}
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := opts.Tokens.validate(); err != nil {
		return nil, fmt.Errorf("api: tokens: %w", err)
	}
	rl := &opts.RateLimit
	d := DefaultRateLimit
	rl.PerClient, rl.PerClientBurst = cmp.Or(rl.PerClient, d.PerClient), cmp.Or(rl.PerClientBurst, d.PerClientBurst)
	rl.Global, rl.GlobalBurst = cmp.Or(rl.Global, d.Global), cmp.Or(rl.GlobalBurst, d.GlobalBurst)
	if rl.PerClient < 0 || rl.Global < 0 || rl.PerClientBurst < 1 || rl.GlobalBurst < 1 {
		return nil, fmt.Errorf("api: rate limit %+v: rates must be positive and bursts at least 1", *rl)
	}
	s := &Server{opts: opts, log: opts.Logger, addr: opts.Addr, listening: make(chan struct{})}
	if opts.TLSCertFile != "" || opts.TLSKeyFile != "" {
		var err error
		if s.tls, err = serverTLS(opts.TLSCertFile, opts.TLSKeyFile, s.log); err != nil {
			return nil, err
		}
	}
	s.limiter = newLimiter(opts.RateLimit, opts.Now)
	s.handler = s.limit(s.routes())
	return s, nil
}

// Handler returns the API's handler, for tests and for embedding.
func (s *Server) Handler() http.Handler { return s.handler }

// Addr returns the address listened on once Run has bound it, else the
// configured one.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Listening is closed once Run has bound its address.
func (s *Server) Listening() <-chan struct{} { return s.listening }

// Run serves until ctx ends, then shuts down, letting requests in flight
// finish for up to 5 s. It returns nil after a shutdown, and an error naming
// the address and api.listen when it cannot listen.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("api: Run called twice")
	}
	s.started = true
	s.mu.Unlock()
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.opts.Addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("api: listen on %s (api.listen): the address is already in use; stop the process holding it or set api.listen to another address: %w", s.opts.Addr, err)
		}
		return fmt.Errorf("api: listen on %s (api.listen): %w", s.opts.Addr, err)
	}
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	s.mu.Lock()
	s.addr = ln.Addr().String()
	s.mu.Unlock()
	close(s.listening)
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	s.log.Info("api: listening", "addr", ln.Addr().String(), "tls", s.tls != nil, "tokens", s.opts.Tokens)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("api: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-served
	return nil
}
