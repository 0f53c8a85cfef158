// Package agent runs the edge's sources: each reads one Sparkplug device (an
// I2C sensor, an SNMP target, the host itself) and hands the samples to the
// publisher.
//
// The Scheduler collects each source at its own period, with jitter so that
// many edges and targets do not poll in lockstep; cancels a collect at its
// deadline; skips a source whose collects keep failing behind a circuit
// breaker with exponential backoff; and bounds how many collects run at
// once, so a dead target never delays the others. A failing source never
// stops the others.
//
// Sources are built from the configuration by kind: each kind (i2c.go,
// snmp.go, host.go) registers how it turns its configuration section into
// Entries, and a Builder builds entries into sources, sharing I2C buses
// between them. Because an Entry carries the configuration it was built
// from, Diff tells a reload which sources changed: only those are rebuilt.
package agent

import (
	"context"
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

// forget drops a source that is no longer scheduled.
func (l *Liveness) forget(s Source) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.last, s)
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
