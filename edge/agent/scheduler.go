package agent

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rackwatch/rackwatch/edge/sample"
	"golang.org/x/sync/semaphore"
)

// Policy bounds how sources are collected.
type Policy struct {
	// MaxConcurrent is how many collects may run at once across all
	// sources (DefaultPolicy: 16). A collect holds its slot for at most
	// its deadline, so a slow or dead target delays no other source
	// beyond its own slot.
	MaxConcurrent int
	// BreakerFailures is the number of consecutive failed collects that
	// opens a source's circuit breaker (DefaultPolicy: 3).
	BreakerFailures int
	// BreakerBackoffMax caps the breaker's exponential backoff
	// (DefaultPolicy: 5m).
	BreakerBackoffMax time.Duration
}

// DefaultPolicy is the policy whose values replace a Policy's zero fields.
var DefaultPolicy = Policy{MaxConcurrent: 16, BreakerFailures: 3, BreakerBackoffMax: 5 * time.Minute}

func (p Policy) withDefaults() Policy {
	if p.MaxConcurrent <= 0 {
		p.MaxConcurrent = DefaultPolicy.MaxConcurrent
	}
	if p.BreakerFailures <= 0 {
		p.BreakerFailures = DefaultPolicy.BreakerFailures
	}
	if p.BreakerBackoffMax <= 0 {
		p.BreakerBackoffMax = DefaultPolicy.BreakerBackoffMax
	}
	return p
}

// SchedulerOpts configure a Scheduler.
type SchedulerOpts struct {
	// Sink receives the samples; nil discards them.
	Sink   Sink
	Logger *slog.Logger
	// Live, if not nil, records each source's progress for the watchdog.
	Live *Liveness
	// Controls, if not nil, lets commands disable a source or change its
	// period.
	Controls *Controls
	Policy   Policy
	// Now stamps collect times and drives the breakers; nil means
	// time.Now.
	Now func() time.Time
}

// SourceStats is how one source's collects went.
type SourceStats struct {
	Device string
	// Up is true when the last collect returned no error.
	Up bool
	// Collects counts the collects run, Failures those that returned an
	// error, Skipped the periods skipped while the breaker was open.
	Collects, Failures, Skipped uint64
	// Samples counts the samples the collects delivered.
	Samples uint64
	// Duration is how long the last collect took.
	Duration time.Duration
	// BreakerOpen is true while collects are skipped.
	BreakerOpen bool
	// Last is when the last collect ended.
	Last time.Time
}

// ErrStopped is returned by Add once the scheduler's Run has ended.
var ErrStopped = errors.New("agent: scheduler stopped")

// Scheduler collects from each source at its own period, with jitter,
// under a per-collect deadline, a per-source circuit breaker and a global
// bound on concurrent collects. Sources can be added and removed while it
// runs, which is how a configuration reload replaces only what changed.
type Scheduler struct {
	opts   SchedulerOpts
	log    *slog.Logger
	policy atomic.Pointer[Policy]
	sem    atomic.Pointer[semaphore.Weighted]

	mu      sync.Mutex
	ctx     context.Context // set by Run
	stopped bool
	runners map[Source]*runner
	order   []Source // in the order added, for Sources
}

// NewScheduler returns a scheduler with no sources; Run starts it.
func NewScheduler(opts SchedulerOpts) *Scheduler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Scheduler{opts: opts, log: opts.Logger, runners: map[Source]*runner{}}
	s.SetPolicy(opts.Policy)
	return s
}

// SetPolicy changes the policy; it applies from the next collect of each
// source. Collects running under the previous concurrency limit finish in
// their old slots.
func (s *Scheduler) SetPolicy(p Policy) {
	p = p.withDefaults()
	old := s.policy.Swap(&p)
	if old == nil || old.MaxConcurrent != p.MaxConcurrent {
		s.sem.Store(semaphore.NewWeighted(int64(p.MaxConcurrent)))
	}
}

// Policy returns the policy in force.
func (s *Scheduler) Policy() Policy { return *s.policy.Load() }

// Add schedules sources. Before Run they wait for it; during Run they
// start at once. After Run has ended they are closed and ErrStopped is
// returned.
func (s *Scheduler) Add(sources ...Source) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		for _, src := range sources {
			s.closeSource(src)
		}
		return ErrStopped
	}
	for _, src := range sources {
		if _, ok := s.runners[src]; ok {
			continue
		}
		r := &runner{s: s, src: src, done: make(chan struct{})}
		r.stats.Device = src.Device()
		s.runners[src] = r
		s.order = append(s.order, src)
		s.opts.Controls.register(src)
		if s.ctx != nil {
			r.start(s.ctx)
		}
	}
	return nil
}

// Remove stops the sources, waits for their collects to end (each is
// bounded by its deadline), and closes them. Sources not scheduled are
// ignored.
func (s *Scheduler) Remove(sources ...Source) {
	s.mu.Lock()
	var rs []*runner
	for _, src := range sources {
		if r, ok := s.runners[src]; ok {
			rs = append(rs, r)
			delete(s.runners, src)
			s.order = slices.DeleteFunc(s.order, func(o Source) bool { return o == src })
		}
	}
	s.mu.Unlock()
	s.stop(rs)
}

// stop cancels every runner first, so they wind down in parallel, then
// waits for each and closes its source.
func (s *Scheduler) stop(rs []*runner) {
	for _, r := range rs {
		if r.cancel != nil {
			r.cancel()
		}
	}
	for _, r := range rs {
		if r.cancel != nil {
			<-r.done
		}
		s.opts.Live.forget(r.src)
		s.closeSource(r.src)
	}
}

func (s *Scheduler) closeSource(src Source) {
	if err := src.Close(); err != nil {
		s.log.Warn("closing source", "device", src.Device(), "err", err)
	}
}

// Sources returns the scheduled sources in the order they were added.
func (s *Scheduler) Sources() []Source {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.order)
}

// Stats returns each scheduled source's statistics, sorted by device.
func (s *Scheduler) Stats() []SourceStats {
	s.mu.Lock()
	rs := make([]*runner, 0, len(s.order))
	for _, src := range s.order {
		rs = append(rs, s.runners[src])
	}
	s.mu.Unlock()
	out := make([]SourceStats, len(rs))
	for i, r := range rs {
		r.mu.Lock()
		out[i] = r.stats
		r.mu.Unlock()
	}
	slices.SortStableFunc(out, func(a, b SourceStats) int { return strings.Compare(a.Device, b.Device) })
	return out
}

// Run collects from the sources until ctx ends, then stops and closes
// every source still scheduled.
func (s *Scheduler) Run(ctx context.Context) {
	s.mu.Lock()
	s.ctx = ctx
	for _, src := range s.order {
		s.runners[src].start(ctx)
	}
	s.mu.Unlock()
	<-ctx.Done()
	s.mu.Lock()
	s.stopped = true
	rs := make([]*runner, 0, len(s.order))
	for _, src := range s.order {
		rs = append(rs, s.runners[src])
	}
	s.runners, s.order = map[Source]*runner{}, nil
	s.mu.Unlock()
	s.stop(rs)
}

// Run collects from every source until ctx ends, then closes them. live,
// if not nil, records each source's progress; ctl, if not nil, lets
// commands disable a source or change its period. It runs a Scheduler
// under DefaultPolicy.
func Run(ctx context.Context, sources []Source, sink Sink, log *slog.Logger, live *Liveness, ctl *Controls) {
	s := NewScheduler(SchedulerOpts{Sink: sink, Logger: log, Live: live, Controls: ctl})
	_ = s.Add(sources...) // cannot fail before Run
	s.Run(ctx)
}

// runner is one source's goroutines and statistics.
type runner struct {
	s      *Scheduler
	src    Source
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	stats SourceStats
}

// start runs the source's loop, and its background work if it has any,
// until ctx ends or the runner is cancelled. The caller holds s.mu.
func (r *runner) start(ctx context.Context) {
	ctx, r.cancel = context.WithCancel(ctx)
	go func() {
		defer close(r.done)
		var wg sync.WaitGroup
		if bg, ok := r.src.(Background); ok {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := bg.Run(ctx); err != nil && ctx.Err() == nil {
					r.s.log.Warn("source background work stopped", "device", r.src.Device(), "err", err)
				}
			}()
		}
		r.s.opts.Live.beat(r.src, r.s.opts.Now())
		r.loop(ctx)
		wg.Wait()
	}()
}

func (r *runner) loop(ctx context.Context) {
	s, src := r.s, r.src
	log := s.log.With("device", src.Device())
	ctl := s.opts.Controls
	period := ctl.period(src)
	// Start at a random point of the first quarter period (5 s at most, so a
	// long period does not delay the first data), then keep the period
	// with up to ±10 % jitter.
	timer := time.NewTimer(rand.N(min(period/4, 5*time.Second) + 1))
	defer timer.Stop()
	var br breaker
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		period = ctl.period(src)
		next := period - period/10 + rand.N(period/5+1)
		now := s.opts.Now()
		if !ctl.enabled(src) {
			s.opts.Live.beat(src, now) // idle on purpose, not hung
			timer.Reset(period)
			continue
		}
		pol := s.policy.Load()
		br.after, br.max = pol.BreakerFailures, pol.BreakerBackoffMax
		if !br.allow(now) {
			s.opts.Live.beat(src, now)
			r.mu.Lock()
			r.stats.Skipped++
			r.mu.Unlock()
			timer.Reset(next)
			continue
		}
		res, ok := r.collect(ctx, period)
		if !ok {
			return // stopped while waiting for a slot or collecting
		}
		samples, err := res.samples, res.err
		end := s.opts.Now()
		s.opts.Live.beat(src, end)
		// A collect that delivered samples reached the device, even if part
		// of it failed: only one that delivered nothing counts towards the
		// breaker.
		tr := br.record(end, err == nil || len(samples) > 0, period)
		r.mu.Lock()
		r.stats.Collects++
		r.stats.Up = err == nil
		if err != nil {
			r.stats.Failures++
		}
		r.stats.Samples += uint64(len(samples))
		r.stats.Duration, r.stats.Last, r.stats.BreakerOpen = res.took, end, br.open()
		r.mu.Unlock()
		switch {
		case err != nil && errors.Is(err, context.DeadlineExceeded) && !failing:
			log.Warn("source failed: collect cancelled at its deadline", "deadline", period, "err", err)
			failing = true
		case err != nil && !failing:
			log.Warn("source failed", "err", err)
			failing = true
		case err != nil:
			log.Debug("source still failing", "err", err)
		case failing:
			log.Info("source recovered")
			failing = false
		}
		switch tr {
		case opened:
			log.Warn("source circuit breaker open: skipping collects", "consecutive_failures", br.fails, "next_probe_in", br.backoff)
		case probeFailed:
			log.Info("source circuit breaker probe failed", "consecutive_failures", br.fails, "next_probe_in", br.backoff)
		case closed:
			log.Info("source circuit breaker closed")
		}
		if len(samples) > 0 && s.opts.Sink != nil {
			if err := s.opts.Sink.Enqueue(src.Device(), samples); err != nil {
				log.Error("queueing samples", "err", err)
			}
		}
		timer.Reset(next)
	}
}

// result is the outcome of one collect.
type result struct {
	samples []sample.Sample
	err     error
	took    time.Duration
}

// collect runs one collect in a slot of the concurrency limit, cancelled
// at its deadline: the period in force, so a hung read is bounded and a
// source's collects never overlap. ok is false when ctx ended first.
func (r *runner) collect(ctx context.Context, deadline time.Duration) (res result, ok bool) {
	sem := r.s.sem.Load()
	if err := sem.Acquire(ctx, 1); err != nil {
		return result{}, false
	}
	defer sem.Release(1)
	cctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	start := time.Now()
	res.samples, res.err = r.src.Collect(cctx)
	res.took = time.Since(start)
	return res, ctx.Err() == nil
}
