package influx

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	http2 "github.com/influxdata/influxdb-client-go/v2/api/http"
)

// retryBuffer holds the batches whose write failed for a reason that may
// pass, oldest first, up to limit points in all.
type retryBuffer struct {
	limit int
	wake  chan struct{} // one slot: signals that a batch was added

	mu      sync.Mutex
	batches []retryBatch
	points  int
	seq     uint64
}

type retryBatch struct {
	seq    uint64
	lines  string // line protocol, one point per line
	points int
}

func (b *retryBuffer) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.points
}

// push adds the batch lines, dropping the oldest batches to stay within
// the limit, and returns the number of points dropped. A batch larger than
// the whole buffer is dropped itself.
func (b *retryBuffer) push(lines string) (dropped int) {
	n := strings.Count(lines, "\n")
	if lines != "" && !strings.HasSuffix(lines, "\n") {
		n++
	}
	if n == 0 {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.limit {
		return n
	}
	for b.points+n > b.limit {
		dropped += b.popLocked().points
	}
	b.seq++
	b.batches = append(b.batches, retryBatch{seq: b.seq, lines: lines, points: n})
	b.points += n
	select {
	case b.wake <- struct{}{}:
	default:
	}
	return dropped
}

func (b *retryBuffer) popLocked() retryBatch {
	first := b.batches[0]
	b.batches[0] = retryBatch{} // let the string go
	b.batches = b.batches[1:]
	b.points -= first.points
	return first
}

// first returns the oldest batch.
func (b *retryBuffer) first() (retryBatch, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.batches) == 0 {
		return retryBatch{}, false
	}
	return b.batches[0], true
}

// remove removes the batch seq if it is still the oldest (a push may have
// dropped it meanwhile), and reports whether it did.
func (b *retryBuffer) remove(seq uint64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.batches) == 0 || b.batches[0].seq != seq {
		return false
	}
	b.popLocked()
	return true
}

// clear empties the buffer and returns the number of points it held.
func (b *retryBuffer) clear() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.points
	b.batches, b.points = nil, 0
	return n
}

// keep takes over a batch the WriteAPI failed to write. It runs on the
// client's writer goroutine.
func (s *Sink) keep(lines string) {
	if n := s.retry.push(lines); n > 0 {
		s.retryDropped.Add(uint64(n))
	}
}

// retryable reports whether a failed write may succeed later: InfluxDB
// was unreachable (no status), overloaded (429) or failing (5xx). Other
// answers, such as a missing database or a field type conflict, will not
// change by themselves.
func retryable(err error) bool {
	var herr *http2.Error
	if !errors.As(err, &herr) {
		return true
	}
	return herr.StatusCode == 0 || herr.StatusCode >= http.StatusTooManyRequests
}

// retryLoop writes the retry buffer, oldest batch first, until ctx ends.
// After a failure it waits, twice as long each time up to
// Opts.MaxRetryInterval; a success writes the next batch at once.
func (s *Sink) retryLoop(ctx context.Context) {
	defer close(s.retryDone)
	delay := s.o.RetryInterval
	timer := time.NewTimer(delay)
	defer timer.Stop()
	for {
		if _, ok := s.retry.first(); !ok {
			select {
			case <-ctx.Done():
				return
			case <-s.retry.wake:
			}
			continue
		}
		// The oldest batch failed a moment ago: give InfluxDB time.
		timer.Reset(delay)
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if s.writeRetries(ctx) {
			delay = min(2*delay, s.o.MaxRetryInterval)
		} else {
			delay = s.o.RetryInterval
		}
	}
}

// writeRetries writes the buffered batches in order until the buffer is
// empty, or a write fails for a reason that may pass, which it reports as
// stuck. A batch InfluxDB refuses for good is dropped and counted.
func (s *Sink) writeRetries(ctx context.Context) (stuck bool) {
	for {
		b, ok := s.retry.first()
		if !ok {
			return false
		}
		err := s.blocking.WriteRecord(ctx, b.lines)
		switch {
		case err == nil:
			// Even when the Sink is closing: drainRetries would write
			// the batch again.
			if s.retry.remove(b.seq) {
				s.retried.Add(uint64(b.points))
			}
		case ctx.Err() != nil:
			// Closing: the batch stays for drainRetries.
			return true
		case retryable(err):
			s.failed(err)
			return true
		default:
			s.failed(err)
			if s.retry.remove(b.seq) {
				s.retryDropped.Add(uint64(b.points))
			}
		}
	}
}

// drainRetries makes a last attempt at the retry buffer when the Sink
// closes, and counts what is still there as dropped.
func (s *Sink) drainRetries() {
	if _, ok := s.retry.first(); !ok {
		return
	}
	s.writeRetries(context.Background())
	if n := s.retry.clear(); n > 0 {
		s.retryDropped.Add(uint64(n))
	}
}
