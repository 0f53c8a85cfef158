// Package lbwatch polls the HAProxy instances the collector steers and keeps
// the latest view of every server: its status and weight (what is in force
// now, whoever set it), its average response time and request count (a
// latency source), and whether the process restarted, which discards every
// runtime change and so calls for a reconcile.
package lbwatch

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rackwatch/rackwatch/collector/haproxy"
	"github.com/rackwatch/rackwatch/collector/latency"
)

// Runtime is what lbwatch needs from an HAProxy runtime API client.
type Runtime interface {
	ShowStat(ctx context.Context) ([]haproxy.Stat, error)
	ShowServersState(ctx context.Context) ([]haproxy.ServerState, error)
	ShowInfo(ctx context.Context) (haproxy.Info, error)
}

// Instance is one HAProxy to poll.
type Instance struct {
	Name    string
	Runtime Runtime
	Period  time.Duration
}

// Server is the view of one server.
type Server struct {
	Status    string
	WeightPct int
	RTime     time.Duration
	Stot      uint64
	Hrsp5xx   uint64
	At        time.Time
}

type stotPoint struct {
	at   time.Time
	stot uint64
}

type serverState struct {
	Server
	history []stotPoint // request counts, for requests per window
}

type lbState struct {
	at         time.Time
	ok         bool
	generation uint64 // increments on every restart seen
	applied    uint64 // start number of the poll whose results are in view
	servers    map[[2]string]*serverState

	polls    uint64        // polls finished
	failures uint64        // of which failed
	took     time.Duration // the last poll's duration
}

// Watcher polls instances. Its readers are safe for concurrent use.
type Watcher struct {
	instances []Instance
	window    time.Duration
	log       *slog.Logger
	now       func() time.Time
	restarts  haproxy.RestartDetector

	polls atomic.Uint64 // numbers polls in the order they start

	mu  sync.RWMutex
	lbs map[string]*lbState
}

// New returns a watcher; window is the span over which request counts are
// turned into samples for the latency source.
func New(instances []Instance, window time.Duration, log *slog.Logger, now func() time.Time) *Watcher {
	if log == nil {
		log = slog.Default()
	}
	if now == nil {
		now = time.Now
	}
	w := &Watcher{instances: instances, window: window, log: log, now: now, lbs: map[string]*lbState{}}
	for _, in := range instances {
		w.lbs[in.Name] = &lbState{servers: map[[2]string]*serverState{}}
	}
	return w
}

// Run polls every instance at its period until ctx ends.
func (w *Watcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, in := range w.instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(ctx, in)
		}()
	}
	wg.Wait()
	return nil
}

func (w *Watcher) loop(ctx context.Context, in Instance) {
	t := time.NewTicker(in.Period)
	defer t.Stop()
	failing := false
	for {
		err := w.Poll(ctx, in)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil && !failing:
			w.log.Warn("reading HAProxy failed; retrying", "haproxy", in.Name, "err", err)
			failing = true
		case err == nil && failing:
			w.log.Info("reading HAProxy recovered", "haproxy", in.Name)
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll reads one instance once.
func (w *Watcher) Poll(ctx context.Context, in Instance) error {
	t0 := time.Now()
	err := w.poll(ctx, in)
	took := time.Since(t0)
	w.mu.Lock()
	defer w.mu.Unlock()
	if lb := w.lbs[in.Name]; lb != nil {
		lb.polls++
		if err != nil {
			lb.failures++
		}
		lb.took = took
	}
	return err
}

func (w *Watcher) poll(ctx context.Context, in Instance) error {
	start := w.polls.Add(1)
	info, err := in.Runtime.ShowInfo(ctx)
	if err != nil {
		w.markDown(in.Name)
		return err
	}
	stats, err := in.Runtime.ShowStat(ctx)
	if err != nil {
		w.markDown(in.Name)
		return err
	}
	states, err := in.Runtime.ShowServersState(ctx)
	if err != nil {
		w.markDown(in.Name)
		return err
	}
	now := w.now()
	weights := make(map[[2]string]int, len(states))
	for _, s := range states {
		weights[[2]string{s.Backend, s.Server}] = s.WeightPct()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	lb := w.lbs[in.Name]
	if start < lb.applied {
		// A poll that started later (one asked for right after a command)
		// has already written what the load balancer shows now; this
		// poll's older reading would undo it.
		return nil
	}
	lb.applied = start
	// Recorded only once the whole poll succeeded, so that a restart
	// counts when the servers' state that follows it is in view.
	if w.restarts.Restarted(in.Name, info) {
		lb.generation++
		w.log.Warn("HAProxy restarted: runtime changes are lost", "haproxy", in.Name, "pid", info.Pid)
	}
	lb.at, lb.ok = now, true
	seen := map[[2]string]bool{}
	for _, st := range haproxy.Servers(stats) {
		k := [2]string{st.Proxy, st.Server}
		seen[k] = true
		s := lb.servers[k]
		if s == nil {
			s = &serverState{}
			lb.servers[k] = s
		}
		wp, ok := weights[k]
		if !ok {
			wp = 100
		}
		s.Server = Server{Status: st.Status, WeightPct: wp, RTime: st.RTime, Stot: st.Stot, Hrsp5xx: st.Hrsp5xx, At: now}
		s.history = append(s.history, stotPoint{now, st.Stot})
		for len(s.history) > 1 && now.Sub(s.history[1].at) >= w.window {
			s.history = s.history[1:]
		}
	}
	for k := range lb.servers {
		if !seen[k] {
			delete(lb.servers, k) // removed from the configuration
		}
	}
	return nil
}

func (w *Watcher) markDown(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lbs[name].ok = false
}

// Server returns the latest view of a server and whether it is current:
// read at the last successful poll of a reachable instance.
func (w *Watcher) Server(lb, backend, server string) (Server, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	l := w.lbs[lb]
	if l == nil || !l.ok {
		return Server{}, false
	}
	s := l.servers[[2]string{backend, server}]
	if s == nil {
		return Server{}, false
	}
	return s.Server, true
}

// InstanceStats is how the polls of one instance go.
type InstanceStats struct {
	Name string
	// Up is true when the last poll succeeded.
	Up bool
	// Polls counts the polls finished, Failures those that failed.
	Polls, Failures uint64
	// Duration is how long the last poll took.
	Duration time.Duration
	// Restarts counts the restarts seen (Generation).
	Restarts uint64
}

// Stats returns each instance's poll statistics, in the order configured.
func (w *Watcher) Stats() []InstanceStats {
	w.mu.RLock()
	defer w.mu.RUnlock()
	out := make([]InstanceStats, 0, len(w.instances))
	for _, in := range w.instances {
		l := w.lbs[in.Name]
		if l == nil {
			continue
		}
		out = append(out, InstanceStats{Name: in.Name, Up: l.ok, Polls: l.polls, Failures: l.failures, Duration: l.took, Restarts: l.generation})
	}
	return out
}

// Seen reports whether a poll of lb ever succeeded.
func (w *Watcher) Seen(lb string) bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	l := w.lbs[lb]
	return l != nil && !l.at.IsZero()
}

// Generation counts the restarts of an instance seen so far.
func (w *Watcher) Generation(lb string) uint64 {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if l := w.lbs[lb]; l != nil {
		return l.generation
	}
	return 0
}

// Reachable reports whether the last poll of every instance succeeded,
// naming those that failed.
func (w *Watcher) Reachable() (bool, []string) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	var down []string
	for name, l := range w.lbs {
		if !l.ok {
			down = append(down, name)
		}
	}
	return len(down) == 0, down
}

// Name implements latency.Source.
func (w *Watcher) Name() string { return "haproxy-stat" }

// Latency implements latency.Source: HAProxy's average response time over
// the server's last 1024 requests, with the requests served in the window
// as the sample count.
func (w *Watcher) Latency(lb, backend, server string) (latency.Reading, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	l := w.lbs[lb]
	if l == nil || !l.ok {
		return latency.Reading{}, false
	}
	s := l.servers[[2]string{backend, server}]
	if s == nil || len(s.history) == 0 {
		return latency.Reading{}, false
	}
	n := s.history[len(s.history)-1].stot - s.history[0].stot
	return latency.Reading{Latency: s.RTime, Samples: int(min(n, 1024)), At: s.At}, true
}
