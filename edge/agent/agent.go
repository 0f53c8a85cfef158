// Package agent runs the edge's sources: each reads one Sparkplug device (an
// I2C sensor or an SNMP target) at its own period, with jitter so that many
// edges and targets do not poll in lockstep, and hands the samples to the
// publisher. A failing source is logged and retried at its next period; it
// never stops the others.
package agent

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/rackwatch/rackwatch/edge/sample"
)

// Source reads one device.
type Source interface {
	// Device is the Sparkplug device name the samples are published under.
	Device() string
	Period() time.Duration
	// Collect reads the device. It may return samples together with an
	// error when part of the read failed.
	Collect(ctx context.Context) ([]sample.Sample, error)
	Close() error
}

// Background is implemented by a source that also has work running
// between collections, such as following the kernel log. Run owns it for
// the source's lifetime.
type Background interface {
	Run(ctx context.Context) error
}

// Sink receives what sources collect; the publisher implements it.
type Sink interface {
	Enqueue(device string, samples []sample.Sample) error
}

// Liveness records when each source last finished a collection, so the
// edge's watchdog can tell a hung source from a slow one. The zero value is
// ready to use.
type Liveness struct {
	mu   sync.Mutex
	last map[Source]time.Time
}

func (l *Liveness) beat(s Source, t time.Time) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last = map[Source]time.Time{}
	}
	l.last[s] = t
}

// Stalled lists the sources that have not finished a collection for three
// periods and a minute: every read is bounded by its timeouts, so such a
// source is hung, not slow.
func (l *Liveness) Stalled(now time.Time) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for s, t := range l.last {
		if now.Sub(t) > 3*s.Period()+time.Minute {
			out = append(out, s.Device())
		}
	}
	return out
}

// Run collects from every source until ctx ends, then closes them. live,
// if not nil, records each source's progress; ctl, if not nil, lets
// commands disable a source or change its period.
func Run(ctx context.Context, sources []Source, sink Sink, log *slog.Logger, live *Liveness, ctl *Controls) {
	for _, s := range sources {
		ctl.register(s)
	}
	var wg sync.WaitGroup
	for _, s := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if err := s.Close(); err != nil {
					log.Warn("closing source", "device", s.Device(), "err", err)
				}
			}()
			if bg, ok := s.(Background); ok {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := bg.Run(ctx); err != nil {
						log.Warn("source background work stopped", "device", s.Device(), "err", err)
					}
				}()
			}
			live.beat(s, time.Now())
			loop(ctx, s, sink, log, live, ctl)
		}()
	}
	wg.Wait()
}

func loop(ctx context.Context, s Source, sink Sink, log *slog.Logger, live *Liveness, ctl *Controls) {
	period := ctl.period(s)
	// Start at a random point of the first quarter period (5 s at most, so a
	// long period does not delay the first data), then keep the period
	// with up to ±10 % jitter.
	timer := time.NewTimer(rand.N(min(period/4, 5*time.Second) + 1))
	defer timer.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		period = ctl.period(s)
		if !ctl.enabled(s) {
			live.beat(s, time.Now()) // idle on purpose, not hung
			timer.Reset(period)
			continue
		}
		samples, err := s.Collect(ctx)
		if ctx.Err() != nil {
			return
		}
		live.beat(s, time.Now())
		switch {
		case err != nil && !failing:
			log.Warn("source failed", "device", s.Device(), "err", err)
			failing = true
		case err != nil:
			log.Debug("source still failing", "device", s.Device(), "err", err)
		case failing:
			log.Info("source recovered", "device", s.Device())
			failing = false
		}
		if err := sink.Enqueue(s.Device(), samples); err != nil {
			log.Error("queueing samples", "device", s.Device(), "err", err)
		}
		timer.Reset(period - period/10 + rand.N(period/5+1))
	}
}
