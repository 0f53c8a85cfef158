package agent

import "time"

// breaker is a source's circuit breaker. After `after` consecutive failed
// collects it opens: collects are skipped until a probe is due, the first
// backoff being two periods and each failed probe doubling it up to max.
// A successful collect closes it. A target that is down therefore costs
// one request per backoff instead of one per period, and never more than
// its slot of the shared concurrency limit.
type breaker struct {
	after int
	max   time.Duration

	fails   int           // consecutive failures
	backoff time.Duration // 0 while closed
	probeAt time.Time
}

// transition is a change of a breaker's state, for logging.
type transition int

const (
	unchanged   transition = iota
	opened                 // the failure threshold was reached
	probeFailed            // open, and the probe failed: backoff doubled
	closed                 // a collect succeeded after the breaker was open
)

func (b *breaker) open() bool { return b.backoff > 0 }

// allow reports whether a collect is due at now: always while closed, and
// once the probe time has come while open.
func (b *breaker) allow(now time.Time) bool {
	return b.backoff == 0 || !now.Before(b.probeAt)
}

// record takes the outcome of a collect that ended at now.
func (b *breaker) record(now time.Time, ok bool, period time.Duration) transition {
	if ok {
		wasOpen := b.open()
		b.fails, b.backoff, b.probeAt = 0, 0, time.Time{}
		if wasOpen {
			return closed
		}
		return unchanged
	}
	b.fails++
	switch {
	case b.open():
		b.backoff = min(2*b.backoff, b.max)
		b.probeAt = now.Add(b.backoff)
		return probeFailed
	case b.after > 0 && b.fails >= b.after:
		b.backoff = min(max(2*period, time.Millisecond), b.max)
		b.probeAt = now.Add(b.backoff)
		return opened
	}
	return unchanged
}
