package snmppoll

import (
	"time"

	"github.com/gosnmp/gosnmp"
)

// agentClock is the agent's sysUpTime.0 (RFC 3418), in hundredths of a
// second, read at the start of a poll, with the poller's clock at the same
// moment.
type agentClock struct {
	ticks uint32
	wall  time.Time
	ok    bool // false when the agent has no sysUpTime
}

// interval is the time between two polls by the agent's clock; ok is false
// when the polls are not comparable: a counter discontinuity for every
// series of the agent.
type interval struct {
	seconds float64
	ok      bool
}

// The agent's clock times rates; the poller's clock only vets it. An
// agent whose sysUpTime advanced by a different amount than the poller's
// clock (beyond this slack) restarted, or its sysUpTime is not a clock.
const (
	clockSlackFraction = 4 // a quarter of the interval
	clockSlack         = 5 * time.Second
)

// interval returns the time from prev to cur. sysUpTime is TimeTicks,
// unsigned 32 bits (RFC 2578 §7.1.8): it wraps after 497 days, and the
// modular difference makes a wrap a normal step forward. An agent that
// restarted has a sysUpTime that went backwards, which the modular
// difference turns into about 497 days: implausible, so no interval.
func (prev agentClock) interval(cur agentClock) interval {
	if !prev.ok || !cur.ok {
		return interval{}
	}
	d := cur.ticks - prev.ticks
	wall := cur.wall.Sub(prev.wall)
	if d == 0 || wall <= 0 {
		return interval{}
	}
	agent := time.Duration(d) * 10 * time.Millisecond
	slack := wall/clockSlackFraction + clockSlack
	if agent > wall+slack || agent < wall-slack {
		return interval{}
	}
	return interval{seconds: float64(d) / 100, ok: true}
}

// restarted reports whether the agent's sysUpTime went backwards without
// the interval being a plausible wrap.
func (prev agentClock) restarted(cur agentClock) bool {
	return prev.ok && cur.ok && cur.ticks < prev.ticks && !prev.interval(cur).ok
}

// counterState is the previous value of one counter series.
type counterState struct {
	prev uint64
	typ  gosnmp.Asn1BER
	src  int8 // which of the metric's columns it came from
	set  bool
}

// update records cur, read from the metric's src-th column, and returns the
// per-second increase since the previous value. There is no rate after a
// discontinuity: the first value of a series, an interval that is not ok
// (agent restart), a discontinuity of the row (disc), a change of column or
// type (ifHCInOctets appearing where ifInOctets was read), or a Counter64
// that went down. A Counter32 that went down over a normal interval
// wrapped: RFC 2578 §7.1.6 counts modulo 2^32. Counter64 wraps after 2^64
// events, which no interface reaches (RFC 2863 §3.1.6 chose it for that),
// so a decrease is a reset.
func (st *counterState) update(cur uint64, typ gosnmp.Asn1BER, src int, iv interval, disc bool) (float64, bool) {
	prev := *st
	*st = counterState{prev: cur, typ: typ, src: int8(src), set: true}
	if !prev.set || !iv.ok || disc || prev.typ != typ || int(prev.src) != src {
		return 0, false
	}
	var delta uint64
	switch {
	case cur >= prev.prev:
		delta = cur - prev.prev
	case typ == gosnmp.Counter32 && prev.prev <= 1<<32-1:
		delta = 1<<32 - prev.prev + cur
	default:
		return 0, false
	}
	return float64(delta) / iv.seconds, true
}
