package agentcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rackwatch/rackwatch/edge/command"
)

// Opts configures a Responder.
type Opts struct {
	// Addr is the TCP address to listen on: "127.0.0.1:5555", ":5555", or
	// port 0 for any free port (tests).
	Addr string
	// Name is the device name lb_state commands address; "lb" if empty.
	Name string
	// MaxConns bounds the connections served at once; zero means 32.
	// Beyond it a connection still gets its line, written at once, but
	// is closed without waiting for HAProxy to close first.
	MaxConns int
	// Timeout bounds a connection's life, so a client that neither reads
	// nor closes is cut off; zero means 2s.
	Timeout time.Duration
	Now     func() time.Time
	Logger  *slog.Logger
}

func (o *Opts) setDefaults() {
	if o.Name == "" {
		o.Name = "lb"
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 32
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Stats count the responder's work.
type Stats struct {
	Answered uint64 // lines written
	Overflow uint64 // of which, answered beyond MaxConns without lingering
	Failed   uint64 // connections whose line could not be written
	Expired  uint64 // states that reached their expiry
}

// Responder answers HAProxy agent checks with its current State.
type Responder struct {
	opts      Opts
	ln        net.Listener
	closeOnce sync.Once

	mu    sync.Mutex
	state State

	answered, overflow, failed, expired atomic.Uint64
}

var _ command.Applier = (*Responder)(nil)

// New listens on opts.Addr, so that an address in use is reported at
// startup. The responder starts in DefaultState and answers once Run runs;
// Run closes the listener when it returns, and Close does if Run is never
// called.
func New(opts Opts) (*Responder, error) {
	opts.setDefaults()
	if opts.Addr == "" {
		return nil, errors.New("agentcheck: no listen address")
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("agentcheck: %w", err)
	}
	return &Responder{opts: opts, ln: ln, state: DefaultState()}, nil
}

// Addr returns the address the responder listens on, "host:port".
func (r *Responder) Addr() string { return r.ln.Addr().String() }

// Name returns the device name lb_state commands address.
func (r *Responder) Name() string { return r.opts.Name }

// Close closes the listener. Run does it on return; Close is for a
// responder whose Run never ran.
func (r *Responder) Close() error {
	var err error
	r.closeOnce.Do(func() { err = r.ln.Close() })
	return err
}

// Set replaces the state.
func (r *Responder) Set(s State) error {
	if err := s.Validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if s != r.state {
		r.opts.Logger.Info("agent-check state", "addr", r.Addr(), "line", s.String(), "expires", s.Expires)
	}
	r.state = s
	return nil
}

// Current returns the state HAProxy is told now, DefaultState once the
// state set has expired.
func (r *Responder) Current() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.current()
}

func (r *Responder) current() State {
	if !r.state.Expires.IsZero() && !r.opts.Now().Before(r.state.Expires) {
		r.opts.Logger.Info("agent-check state expired; back to ready", "addr", r.Addr(), "was", r.state.String())
		r.state = DefaultState()
		r.expired.Add(1)
	}
	return r.state
}

// Stats returns the counters.
func (r *Responder) Stats() Stats {
	return Stats{Answered: r.answered.Load(), Overflow: r.overflow.Load(), Failed: r.failed.Load(), Expired: r.expired.Load()}
}

// Run answers connections until ctx ends, then waits for the connections
// in progress, which Timeout bounds.
func (r *Responder) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { r.Close() })
	defer stop()
	defer r.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, r.opts.MaxConns)
	backoff := 5 * time.Millisecond
	for {
		conn, err := r.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("agentcheck: listener closed: %w", err)
			}
			// Out of file descriptors, say: wait rather than spin.
			r.opts.Logger.Warn("agent-check accept", "addr", r.Addr(), "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		select {
		case slots <- struct{}{}:
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				r.serve(conn, true)
			}()
		default:
			r.overflow.Add(1)
			r.serve(conn, false)
		}
	}
}

// serve writes the current line. linger waits for the peer to close
// first, reading and discarding what it sent, so that the close does not
// reset the connection (see the package documentation).
func (r *Responder) serve(conn net.Conn, linger bool) {
	defer conn.Close()
	timeout := r.opts.Timeout
	if !linger {
		timeout = min(timeout, 100*time.Millisecond) // on the accept loop: never long
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(conn, r.Current().Line()); err != nil {
		r.failed.Add(1)
		r.opts.Logger.Debug("agent-check answer", "peer", conn.RemoteAddr(), "err", err)
		return
	}
	r.answered.Add(1)
	if !linger {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(conn, 4096))
}

// Apply implements command.Applier for lb_state commands addressed to
// the responder's Name. The prior it returns is the current line.
func (r *Responder) Apply(_ context.Context, c command.Command) (string, error) {
	if c.Kind != command.KindLBState || c.Device != r.opts.Name {
		return "", fmt.Errorf("agentcheck: %s: %w", c.Target(), command.ErrUnknownTarget)
	}
	mode := Mode(c.State)
	if c.State == command.LBWeight {
		mode = Ready
	}
	prior := r.Current()
	prior.Expires, prior.Comment = time.Time{}, ""
	s := State{Mode: mode, Weight: c.WeightPercent, Comment: fmt.Sprintf("%s v%d", c.ID, c.Version), Expires: c.Expires}
	if err := r.Set(s); err != nil {
		return "", err
	}
	return prior.String(), nil
}

// Revert implements command.Applier: it restores prior, or DefaultState
// if prior is empty.
func (r *Responder) Revert(_ context.Context, c command.Command, prior string) error {
	if c.Kind != command.KindLBState || c.Device != r.opts.Name {
		return fmt.Errorf("agentcheck: %s: %w", c.Target(), command.ErrUnknownTarget)
	}
	s := DefaultState()
	if prior != "" {
		var err error
		if s, err = ParseLine(prior); err != nil {
			return fmt.Errorf("agentcheck: revert %s: %w", c.ID, err)
		}
	}
	return r.Set(s)
}
