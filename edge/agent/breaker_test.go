package agent

import (
	"testing"
	"time"
)

func TestBreaker(t *testing.T) {
	t0 := time.Date(2025, 11, 26, 12, 0, 0, 0, time.UTC)
	const period = 10 * time.Second
	type step struct {
		at      time.Duration // since t0
		ok      bool
		want    transition
		backoff time.Duration // after the step
	}
	for _, tc := range []struct {
		name  string
		after int
		max   time.Duration
		steps []step
	}{
		{"opens after three failures, doubles to the cap, closes on success", 3, 50 * time.Second, []step{
			{0, false, unchanged, 0},
			{10 * time.Second, false, unchanged, 0},
			{20 * time.Second, false, opened, 20 * time.Second},
			{40 * time.Second, false, probeFailed, 40 * time.Second},
			{80 * time.Second, false, probeFailed, 50 * time.Second},
			{130 * time.Second, false, probeFailed, 50 * time.Second},
			{180 * time.Second, true, closed, 0},
			{190 * time.Second, false, unchanged, 0},
		}},
		{"a success resets the count", 2, time.Minute, []step{
			{0, false, unchanged, 0},
			{10 * time.Second, true, unchanged, 0},
			{20 * time.Second, false, unchanged, 0},
			{30 * time.Second, false, opened, 20 * time.Second},
		}},
		{"the first backoff is capped too", 1, 5 * time.Second, []step{
			{0, false, opened, 5 * time.Second},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := breaker{after: tc.after, max: tc.max}
			for i, s := range tc.steps {
				now := t0.Add(s.at)
				if !b.allow(now) {
					t.Fatalf("step %d: collect at %v not allowed (probe at %v)", i, s.at, b.probeAt.Sub(t0))
				}
				if got := b.record(now, s.ok, period); got != s.want || b.backoff != s.backoff {
					t.Fatalf("step %d: transition %d backoff %v, want %d %v", i, got, b.backoff, s.want, s.backoff)
				}
				if b.open() {
					if b.allow(now.Add(b.backoff - time.Millisecond)) {
						t.Errorf("step %d: collect allowed before the probe is due", i)
					}
					if !b.allow(now.Add(b.backoff)) {
						t.Errorf("step %d: probe not allowed when due", i)
					}
				}
			}
		})
	}
}
