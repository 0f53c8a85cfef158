package api

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// RateLimit bounds the requests the API serves: a token bucket per client
// address, so that one busy script cannot starve an operator, and a global
// one, so that many clients together cannot starve the collector. A request
// over either limit gets 429 Too Many Requests with Retry-After (RFC 6585
// §4). A Server-Sent Events stream counts once, when it connects.
type RateLimit struct {
	// PerClient is the sustained requests per second of one client
	// address, and PerClientBurst how many it may send at once.
	PerClient      float64
	PerClientBurst int
	// Global and GlobalBurst bound all clients together.
	Global      float64
	GlobalBurst int
}

// DefaultRateLimit leaves room for an operator's browser (the status page
// loads a handful of assets, then holds one event stream), a Prometheus
// scrape and health probes, and for a script that polls once a second.
var DefaultRateLimit = RateLimit{PerClient: 10, PerClientBurst: 40, Global: 100, GlobalBurst: 200}

// maxClients caps the per-client buckets: the map is keyed by addresses
// from the network. Beyond it, clients not yet known share one bucket.
const maxClients = 4096

// bucket is a token bucket; tokens refill at rate per second up to burst.
type bucket struct {
	tokens float64
	last   time.Time
}

// take refills b at rate up to burst, then takes one token. When none is
// left it returns how long until one is.
func (b *bucket) take(now time.Time, rate float64, burst int) (bool, time.Duration) {
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(float64(burst), b.tokens+el*rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / rate * float64(time.Second))
}

// full reports whether b has refilled to its burst by now: an idle client
// whose entry can go without changing what it is allowed.
func (b *bucket) full(now time.Time, rate float64, burst int) bool {
	return b.tokens+now.Sub(b.last).Seconds()*rate >= float64(burst)
}

// limiter applies a RateLimit.
type limiter struct {
	lim RateLimit
	now func() time.Time

	mu       sync.Mutex
	global   bucket
	clients  map[string]*bucket
	overflow bucket
}

func newLimiter(lim RateLimit, now func() time.Time) *limiter {
	t := now()
	return &limiter{lim: lim, now: now, clients: map[string]*bucket{},
		global:   bucket{tokens: float64(lim.GlobalBurst), last: t},
		overflow: bucket{tokens: float64(lim.PerClientBurst), last: t}}
}

// allow takes a token from the client's bucket and the global one, and
// otherwise returns how long the client should wait.
func (l *limiter) allow(client string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.client(client, now)
	// The client's own bucket first: a client over its limit must not
	// spend the tokens every other client shares.
	if ok, wait := b.take(now, l.lim.PerClient, l.lim.PerClientBurst); !ok {
		return false, wait
	}
	if ok, wait := l.global.take(now, l.lim.Global, l.lim.GlobalBurst); !ok {
		b.tokens++ // not served: give the client its token back
		return false, wait
	}
	return true, 0
}

func (l *limiter) client(addr string, now time.Time) *bucket {
	if b, ok := l.clients[addr]; ok {
		return b
	}
	if len(l.clients) >= maxClients {
		for a, b := range l.clients {
			if b.full(now, l.lim.PerClient, l.lim.PerClientBurst) {
				delete(l.clients, a)
			}
		}
		if len(l.clients) >= maxClients {
			return &l.overflow
		}
	}
	b := &bucket{tokens: float64(l.lim.PerClientBurst), last: now}
	l.clients[addr] = b
	return b
}

// limit wraps h with the rate limit. The client is the connection's peer
// address: headers such as X-Forwarded-For are the client's to forge, so
// behind a reverse proxy every request counts as the proxy's.
func (s *Server) limit(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		if ok, wait := s.limiter.allow(host); !ok {
			secs := int(math.Ceil(wait.Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
			s.limited.Add(1)
			writeError(w, http.StatusTooManyRequests, "too many requests: slow down and retry after the Retry-After delay")
			return
		}
		h.ServeHTTP(w, r)
	})
}
