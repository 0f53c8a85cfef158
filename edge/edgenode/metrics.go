package edgenode

import (
	"context"
	"log/slog"
	"net/http"
	"sync"

	"github.com/rackwatch/rackwatch/edge/agentcheck"
	"github.com/rackwatch/rackwatch/edge/command"
	"github.com/rackwatch/rackwatch/edge/metrics"
	"github.com/rackwatch/rackwatch/edge/metrics/expose"
	"github.com/rackwatch/rackwatch/edge/publish"
	"github.com/rackwatch/rackwatch/edge/spool"
	"github.com/rackwatch/rackwatch/edge/traps"
)

// metricsHandler builds the Prometheus handler over the node's parts. It
// reads their counters at each scrape; the trap receiver is looked up each
// time because a reload may replace it.
func (n *Node) metricsHandler(pub *publish.Publisher, queue *spool.Spool, capacity int64, cmds *command.Manager, responder *agentcheck.Responder, clock *clockWatch) (http.Handler, error) {
	o := metrics.Opts{
		Publisher:     pub.Stats,
		Spool:         queue.Stats,
		SpoolCapacity: capacity,
		Sources:       n.Scheduler.Stats,
		Commands:      cmds.Counters,
		Traps: func() (traps.Stats, bool) {
			if _, r := n.traps.current(); r != nil {
				return r.Stats(), true
			}
			return traps.Stats{}, false
		},
		ClockSynced: clock.synced,
	}
	if responder != nil {
		o.AgentCheck = func() (agentcheck.Stats, bool) { return responder.Stats(), true }
	}
	reg, err := expose.NewRegistry(metrics.New(o))
	if err != nil {
		return nil, err
	}
	return expose.Handler(reg, n.log), nil
}

// metricsRunner owns the metrics server, which a reload may move, open or
// close.
type metricsRunner struct {
	log     *slog.Logger
	handler http.Handler

	mu     sync.Mutex
	addr   string // the metrics.listen served now; "" for none
	bound  string // the address bound, with its port when addr's was 0
	cancel context.CancelFunc
	done   chan struct{}
}

// set serves on addr until ctx ends or the next set; "" closes the port.
// The new address is bound before the old server stops, so a reload to an
// address that cannot be bound keeps the old endpoint serving and returns
// the error. The one exception is an address that overlaps the old one
// (0.0.0.0:9471 to 127.0.0.1:9471): the old server is stopped to free the
// port, and put back if the new address still cannot be bound.
func (m *metricsRunner) set(ctx context.Context, addr string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if addr == m.addr {
		return nil
	}
	if addr == "" {
		m.stopLocked()
		m.log.Info("metrics endpoint closed")
		return nil
	}
	srv, err := metrics.Listen(ctx, addr, m.handler, m.log)
	if err != nil && m.cancel != nil {
		old := m.addr
		m.stopLocked()
		if srv, err = metrics.Listen(ctx, addr, m.handler, m.log); err != nil {
			if back, berr := metrics.Listen(ctx, old, m.handler, m.log); berr == nil {
				m.startLocked(ctx, old, back)
			} else {
				m.log.Error("metrics endpoint lost: neither the new nor the old address can be bound", "old", old, "err", berr)
			}
			return err
		}
	}
	if err != nil {
		return err
	}
	m.stopLocked()
	m.startLocked(ctx, addr, srv)
	m.log.Info("serving Prometheus metrics", "addr", srv.Addr(), "path", "/metrics")
	return nil
}

func (m *metricsRunner) startLocked(ctx context.Context, addr string, srv *metrics.Server) {
	ctx, m.cancel = context.WithCancel(ctx)
	m.done = make(chan struct{})
	m.addr, m.bound = addr, srv.Addr()
	go func(done chan struct{}) {
		defer close(done)
		if err := srv.Serve(ctx); err != nil {
			m.log.Error("metrics endpoint stopped", "err", err)
		}
	}(m.done)
}

// stop stops the server and waits for it.
func (m *metricsRunner) stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stopLocked()
}

func (m *metricsRunner) stopLocked() {
	if m.cancel != nil {
		m.cancel()
		<-m.done
	}
	m.cancel, m.done, m.addr, m.bound = nil, nil, "", ""
}

// boundAddr is the address served, "" when none.
func (m *metricsRunner) boundAddr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bound
}
