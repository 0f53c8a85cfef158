package actuate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/collector/haproxy"
)

// HAProxyOpts configures an HAProxy actuator.
type HAProxyOpts struct {
	// LBs holds each load balancer's runtime API by the name targets
	// carry in Target.LB. Required.
	LBs map[string]Runtime
	// Backoff bounds the retries of transient failures (socket errors,
	// timeouts); zero means DefaultBackoff.
	Backoff Backoff
	Logger  *slog.Logger
}

// HAProxyStats count an HAProxy actuator's work.
type HAProxyStats struct {
	Applied, Failed, Retries uint64
	NoSuchServer             uint64 // failures because the running HAProxy lacks the server
	Restarts                 uint64 // restarts noticed by Observe
}

// HAProxy sets server weights and states through the runtime API of
// several load balancers.
type HAProxy struct {
	opts     HAProxyOpts
	restarts haproxy.RestartDetector

	mu      sync.Mutex
	pending map[string]bool // restarts noticed but not yet reported with the servers' state

	applied, failed, retries, noSuch, restarted atomic.Uint64
}

var (
	_ Actuator = (*HAProxy)(nil)
	_ Observer = (*HAProxy)(nil)
)

// NewHAProxy returns an HAProxy actuator.
func NewHAProxy(opts HAProxyOpts) (*HAProxy, error) {
	if len(opts.LBs) == 0 {
		return nil, errors.New("actuate: haproxy: no load balancers")
	}
	for name, rt := range opts.LBs {
		if rt == nil {
			return nil, fmt.Errorf("actuate: haproxy: load balancer %q has no runtime API", name)
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &HAProxy{opts: opts, pending: map[string]bool{}}, nil
}

// Name returns "haproxy".
func (h *HAProxy) Name() string { return "haproxy" }

// Stats returns the counters.
func (h *HAProxy) Stats() HAProxyStats {
	return HAProxyStats{Applied: h.applied.Load(), Failed: h.failed.Load(), Retries: h.retries.Load(),
		NoSuchServer: h.noSuch.Load(), Restarts: h.restarted.Load()}
}

// Apply sets t's server to d with the fewest and least disruptive
// commands, in an order that never passes through a state worse for
// traffic than both ends:
//
//   - drain: `set server B/S state drain` alone. New traffic stops at
//     once; the weight of a drained server does not matter.
//   - ready at N %: `set server B/S weight N%` first, then `state ready`.
//     A server coming back from drain thus re-enters at the ramp weight,
//     never at the weight it had before; a server already ready just
//     changes weight (the ready is a no-op).
//
// Both commands are idempotent, so a partial failure is retried whole.
// Socket errors and timeouts are retried with backoff; HAProxy's refusals
// (no such server, a static algorithm's weight limits) are not.
func (h *HAProxy) Apply(ctx context.Context, t decide.Target, d decide.Desired) error {
	rt, ok := h.opts.LBs[t.LB]
	if !ok {
		return fmt.Errorf("actuate: haproxy: no load balancer %q (node %s): %w", t.LB, t.Node, ErrNotHandled)
	}
	if err := validDesired(d); err != nil {
		return fmt.Errorf("actuate: haproxy %s: %s/%s (node %s): %w", t.LB, t.Backend, t.Server, t.Node, err)
	}
	retries, err := retry(ctx, h.opts.Backoff, func(ctx context.Context) error {
		err := h.set(ctx, rt, t, d)
		var ce *haproxy.CommandError
		if errors.As(err, &ce) || errors.Is(err, haproxy.ErrInvalidName) {
			return permanent(err)
		}
		if err != nil {
			h.opts.Logger.Debug("haproxy command failed, retrying", "lb", t.LB, "backend", t.Backend, "server", t.Server, "err", err)
		}
		return err
	})
	h.retries.Add(uint64(retries))
	if err != nil {
		h.failed.Add(1)
		if errors.Is(err, haproxy.ErrNoSuchServer) {
			h.noSuch.Add(1)
			return fmt.Errorf("actuate: haproxy %s: no server %s/%s for node %s in the running HAProxy (configuration and load balancer disagree): %w",
				t.LB, t.Backend, t.Server, t.Node, err)
		}
		return fmt.Errorf("actuate: haproxy %s: set %s/%s (node %s) to %s after %d tries: %w",
			t.LB, t.Backend, t.Server, t.Node, d, retries+1, err)
	}
	h.applied.Add(1)
	return nil
}

func (h *HAProxy) set(ctx context.Context, rt Runtime, t decide.Target, d decide.Desired) error {
	if d.Drain {
		return rt.SetServerState(ctx, t.Backend, t.Server, haproxy.Drain)
	}
	if err := rt.SetWeight(ctx, t.Backend, t.Server, d.Weight); err != nil {
		return err
	}
	return rt.SetServerState(ctx, t.Backend, t.Server, haproxy.Ready)
}

// Observe reads each load balancer holding one of targets once: `show
// info`, to notice a restart (every target of a restarted load balancer is
// observed with Restarted set, once), then `show servers state`. Targets
// of load balancers it does not hold are left out without error; a server
// the running HAProxy lacks is left out with an error.
func (h *HAProxy) Observe(ctx context.Context, targets []decide.Target) (map[decide.Target]Observed, error) {
	byLB := map[string][]decide.Target{}
	for _, t := range targets {
		if _, ok := h.opts.LBs[t.LB]; ok {
			byLB[t.LB] = append(byLB[t.LB], t)
		}
	}
	names := make([]string, 0, len(byLB))
	for n := range byLB {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make(map[decide.Target]Observed, len(targets))
	var errs []error
	for _, name := range names {
		rt := h.opts.LBs[name]
		info, err := rt.ShowInfo(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("actuate: haproxy %s: observe: %w", name, err))
			continue
		}
		restarted := h.restarts.Restarted(name, info)
		if restarted {
			h.restarted.Add(1)
			h.opts.Logger.Info("load balancer restarted: runtime changes lost", "lb", name, "pid", info.Pid, "uptime_sec", info.UptimeSec)
		}
		states, err := rt.ShowServersState(ctx)
		h.mu.Lock()
		if err != nil {
			// Report the restart with the first state read after it.
			h.pending[name] = h.pending[name] || restarted
			h.mu.Unlock()
			errs = append(errs, fmt.Errorf("actuate: haproxy %s: observe: %w", name, err))
			continue
		}
		restarted = restarted || h.pending[name]
		delete(h.pending, name)
		h.mu.Unlock()
		idx := make(map[[2]string]haproxy.ServerState, len(states))
		for _, s := range states {
			idx[[2]string{s.Backend, s.Server}] = s
		}
		for _, t := range byLB[name] {
			s, ok := idx[[2]string{t.Backend, t.Server}]
			if !ok {
				errs = append(errs, fmt.Errorf("actuate: haproxy %s: observe: no server %s/%s for node %s in the running HAProxy: %w",
					name, t.Backend, t.Server, t.Node, haproxy.ErrNoSuchServer))
				continue
			}
			o := observed(s)
			o.Restarted = restarted
			out[t] = o
		}
	}
	return out, errors.Join(errs...)
}
