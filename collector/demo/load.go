package demo

import (
	"context"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// requester sends one request through the load balancer.
type requester interface {
	Do(ctx context.Context) error
}

// httpRequester sends GET url, as a user would through HAProxy.
type httpRequester struct {
	client *http.Client
	url    string
}

func (h httpRequester) Do(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.url, nil)
	if err != nil {
		return err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return &statusError{resp.StatusCode}
	}
	return nil
}

type statusError struct{ code int }

func (e *statusError) Error() string { return "HTTP " + http.StatusText(e.code) }

// window is what the load saw in one interval.
type window struct {
	Start     time.Time
	Latencies []time.Duration // of the requests that succeeded
	Errors    int
	Shed      int // requests not sent: too many in flight
}

// Percentile returns the p-th percentile (0–100) of the window's
// latencies, nearest rank; zero when there are none.
func (w *window) Percentile(p float64) time.Duration {
	if len(w.Latencies) == 0 {
		return 0
	}
	s := slices.Clone(w.Latencies)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// load sends requests at a set rate, open loop: a slow server does not
// slow the arrivals, as with real users, so latency shows in full. Beyond
// maxInFlight outstanding requests new ones are not sent and are counted.
type load struct {
	to          requester
	maxInFlight int
	every       time.Duration // window length

	rate     atomic.Int64 // requests per second
	inFlight atomic.Int64

	mu      sync.Mutex
	cur     window
	windows []window
}

func newLoad(to requester, rate int, maxInFlight int, every time.Duration) *load {
	l := &load{to: to, maxInFlight: maxInFlight, every: every}
	l.rate.Store(int64(rate))
	return l
}

// SetRate changes the arrival rate.
func (l *load) SetRate(perSecond int) { l.rate.Store(int64(perSecond)) }

// Run sends until ctx ends and waits for the requests in flight.
func (l *load) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	l.mu.Lock()
	l.cur = window{Start: time.Now()}
	l.mu.Unlock()
	next := time.Now()
	for ctx.Err() == nil {
		rate := max(l.rate.Load(), 1)
		next = next.Add(time.Second / time.Duration(rate))
		if d := time.Until(next); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		}
		l.roll(time.Now())
		if l.inFlight.Load() >= int64(l.maxInFlight) {
			l.record(0, false, true)
			continue
		}
		l.inFlight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer l.inFlight.Add(-1)
			start := time.Now()
			err := l.to.Do(ctx)
			if ctx.Err() != nil {
				return // cut short by the end of the run, not the server
			}
			l.record(time.Since(start), err == nil, false)
		}()
	}
}

func (l *load) record(d time.Duration, ok, shed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case shed:
		l.cur.Shed++
	case ok:
		l.cur.Latencies = append(l.cur.Latencies, d)
	default:
		l.cur.Errors++
	}
}

// roll closes the current window when its time is up.
func (l *load) roll(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for now.Sub(l.cur.Start) >= l.every {
		l.windows = append(l.windows, l.cur)
		l.cur = window{Start: l.cur.Start.Add(l.every)}
	}
}

// Windows returns the closed windows so far.
func (l *load) Windows() []window {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.windows)
}
