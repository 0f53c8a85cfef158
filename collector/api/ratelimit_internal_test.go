package api

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	type step struct {
		after  time.Duration // clock advance before the request
		client string
		ok     bool
		wait   time.Duration // when refused
	}
	lim := RateLimit{PerClient: 2, PerClientBurst: 2, Global: 10, GlobalBurst: 3}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"burst then refused then refilled", []step{
			{0, "a", true, 0}, {0, "a", true, 0}, {0, "a", false, 500 * time.Millisecond},
			{250 * time.Millisecond, "a", false, 250 * time.Millisecond},
			{250 * time.Millisecond, "a", true, 0},
		}},
		{"clients have their own buckets", []step{
			{0, "a", true, 0}, {0, "a", true, 0}, {0, "a", false, 500 * time.Millisecond},
			{0, "b", true, 0},
		}},
		{"the global bucket bounds all clients", []step{
			{0, "a", true, 0}, {0, "b", true, 0}, {0, "c", true, 0}, {0, "d", false, 100 * time.Millisecond},
			// d's refusal by the global bucket did not spend d's own.
			{100 * time.Millisecond, "d", true, 0}, {0, "d", false, 100 * time.Millisecond},
		}},
		{"a limited client does not spend the global bucket", []step{
			{0, "a", true, 0}, {0, "a", true, 0}, {0, "a", false, 500 * time.Millisecond}, {0, "a", false, 500 * time.Millisecond},
			{0, "b", true, 0},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1e9, 0)
			l := newLimiter(lim, func() time.Time { return now })
			for i, s := range tc.steps {
				now = now.Add(s.after)
				ok, wait := l.allow(s.client)
				if ok != s.ok || (!ok && wait != s.wait) {
					t.Fatalf("step %d (%s): allow = %v, wait %v; want %v, %v", i, s.client, ok, wait, s.ok, s.wait)
				}
			}
		})
	}
}

// TestLimiterBoundsClients: the per-client map is keyed by addresses from
// the network, so it is capped; idle entries make room, and beyond the cap
// new clients share one bucket.
func TestLimiterBoundsClients(t *testing.T) {
	t.Parallel()
	now := time.Unix(1e9, 0)
	l := newLimiter(RateLimit{PerClient: 1, PerClientBurst: 1, Global: 1e9, GlobalBurst: 1e9}, func() time.Time { return now })
	for i := range maxClients + 10 {
		l.allow(fmt.Sprint("c", i))
	}
	if n := len(l.clients); n != maxClients {
		t.Fatalf("%d client buckets, want the cap %d", n, maxClients)
	}
	if ok, _ := l.allow("newcomer"); ok {
		t.Error("a client beyond the cap did not share the exhausted overflow bucket")
	}
	now = now.Add(2 * time.Second) // every bucket refills: idle entries can go
	if ok, _ := l.allow("newcomer"); !ok {
		t.Error("refused after the idle entries expired")
	}
	if n := len(l.clients); n != 1 {
		t.Errorf("%d client buckets after the sweep, want 1", n)
	}
}
