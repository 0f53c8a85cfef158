package traps

import (
	"sync/atomic"
	"time"
)

// Stats are the receiver's counters since New. Every datagram read counts
// once in Received and once in exactly one of Accepted, Dropped, Ignored,
// Rejected, Malformed and Discovery.
type Stats struct {
	// Received counts datagrams read from the socket.
	Received uint64
	// Accepted counts notifications queued for the handler.
	Accepted uint64
	// Dropped counts notifications lost because the queue was full. An
	// INFORM among them was not acknowledged, so its sender retries.
	Dropped uint64
	// Ignored counts authenticated notifications of an OID that is
	// neither linkDown, linkUp nor configured.
	Ignored uint64
	// Rejected counts messages that failed a check; the fields below
	// break it down.
	Rejected uint64
	// BadCommunity: a v1 or v2c community that is not configured.
	BadCommunity uint64
	// UnknownEngineID: a v3 engine ID no user is configured for
	// (usmStatsUnknownEngineIDs).
	UnknownEngineID uint64
	// UnknownUser: a v3 user not configured for the message's engine
	// (usmStatsUnknownUserNames).
	UnknownUser uint64
	// AuthFailure: a v3 message below its user's security level, with a
	// wrong digest, or that did not decrypt (usmStatsUnsupportedSecLevels,
	// usmStatsWrongDigests, usmStatsDecryptionErrors).
	AuthFailure uint64
	// NotInTimeWindow: an authenticated v3 message to the receiver's
	// engine outside the time window (usmStatsNotInTimeWindows), other than
	// a time synchronization probe.
	NotInTimeWindow uint64
	// UnknownPeer: a notification from an address no target has.
	UnknownPeer uint64
	// Malformed counts datagrams that are not SNMP messages gosnmp can
	// decode, and PDUs a notification receiver does not take (Get, Set,
	// Response, ...).
	Malformed uint64
	// Discovery counts v3 engine ID and time discovery probes answered
	// with a Report (RFC 3414 section 4).
	Discovery uint64
	// InformsAcked counts Responses sent to INFORMs.
	InformsAcked uint64
}

type counters struct {
	received, accepted, dropped, ignored, malformed, discovery, informsAcked              atomic.Uint64
	badCommunity, unknownEngineID, unknownUser, authFailure, notInTimeWindow, unknownPeer atomic.Uint64
}

func (c *counters) snapshot() Stats {
	s := Stats{
		// Read the outcome counters before Received: each datagram adds to
		// Received before its outcome, so a snapshot taken during traffic
		// never shows more outcomes than datagrams.
		Accepted:        c.accepted.Load(),
		Dropped:         c.dropped.Load(),
		Ignored:         c.ignored.Load(),
		BadCommunity:    c.badCommunity.Load(),
		UnknownEngineID: c.unknownEngineID.Load(),
		UnknownUser:     c.unknownUser.Load(),
		AuthFailure:     c.authFailure.Load(),
		NotInTimeWindow: c.notInTimeWindow.Load(),
		UnknownPeer:     c.unknownPeer.Load(),
		Malformed:       c.malformed.Load(),
		Discovery:       c.discovery.Load(),
		InformsAcked:    c.informsAcked.Load(),
	}
	s.Rejected = s.BadCommunity + s.UnknownEngineID + s.UnknownUser + s.AuthFailure + s.NotInTimeWindow + s.UnknownPeer
	s.Received = c.received.Load()
	return s
}

// logLimiter is a token bucket for log lines about bad input, so that a
// flood of bad packets cannot flood the log. Only the receive goroutine
// uses it.
type logLimiter struct {
	burst      int
	every      time.Duration
	tokens     int
	last       time.Time
	suppressed int
}

// allow reports whether a line may be logged now, and how many were
// suppressed since the last one that was.
func (l *logLimiter) allow(now time.Time) (ok bool, suppressed int) {
	if l.last.IsZero() {
		l.tokens, l.last = l.burst, now
	}
	if el := now.Sub(l.last); el >= l.every {
		n := int(el / l.every)
		l.tokens = min(l.burst, l.tokens+n)
		l.last = l.last.Add(time.Duration(n) * l.every)
	}
	if l.tokens == 0 {
		l.suppressed++
		return false, 0
	}
	l.tokens--
	s := l.suppressed
	l.suppressed = 0
	return true, s
}
