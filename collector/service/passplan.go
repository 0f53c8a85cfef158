package service

import "time"

// passPlan schedules the decision passes that run besides the tick: one
// soon after a watched sample arrives, and follow-ups at the end of each
// short hold, counted from the last pass a sample called for. Passes it
// schedules are at least minGap apart, and at least as far apart as the
// last pass took. It holds no timers: the loop arms them with what it
// returns, so the schedule is tested without a clock.
type passPlan struct {
	minGap    time.Duration
	followUps []time.Duration // sorted

	last, woke time.Time     // start of the last pass, and of the last woken one
	took       time.Duration // how long the last pass took
	next       int           // index in followUps of the next follow-up
	waking     bool          // a woken pass waits for its gap
}

func newPassPlan(minGap time.Duration, followUps []time.Duration) *passPlan {
	return &passPlan{minGap: minGap, followUps: followUps, next: len(followUps)}
}

// gap returns how long after now the next scheduled pass may run.
func (p *passPlan) gap(now time.Time) time.Duration {
	return max(p.minGap, p.took) - now.Sub(p.last)
}

// wake records a watched sample arriving at now. It reports whether a
// woken pass is to be armed, and how long it must wait; arm is false while
// one already waits, which will see this sample too.
func (p *passPlan) wake(now time.Time) (wait time.Duration, arm bool) {
	if p.waking {
		return 0, false
	}
	p.waking = true
	return max(p.gap(now), 0), true
}

// ran records a pass that began at start and ended at end; woken tells
// whether a sample called for it. A pass that runs while a woken one waits
// takes that one's place, as it sees the same samples, and so counts as
// woken: otherwise a hold the sample started would wait for the tick. It
// returns when the next follow-up is due, or the zero time if none is.
func (p *passPlan) ran(start, end time.Time, woken bool) time.Time {
	p.last, p.took = start, end.Sub(start)
	if woken || p.waking {
		p.woke, p.next = start, 0
	}
	p.waking = false
	// A hold this pass already saw end needs no pass of its own.
	for p.next < len(p.followUps) && !p.woke.Add(p.followUps[p.next]).After(start) {
		p.next++
	}
	if p.next == len(p.followUps) {
		return time.Time{}
	}
	return p.woke.Add(p.followUps[p.next])
}
