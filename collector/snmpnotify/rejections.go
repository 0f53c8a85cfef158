package snmpnotify

import (
	"fmt"
	"sync"

	"github.com/rackwatch/rackwatch/edge/command"
	"github.com/rackwatch/rackwatch/edge/sample"
	"github.com/rackwatch/rackwatch/mibs"
)

// StatusDevice is the device under which an edge reports its own health,
// command rejections included (edge/edgenode.StatusDevice).
const StatusDevice = "edge"

// DefaultMaxEdges bounds the edges a Rejections tracker remembers.
const DefaultMaxEdges = 4096

// Rejections follows the edges' edge_command_rejections_total counters
// and reports each increase: the edges count the commands they refused as
// unsigned, forged, expired or replayed (docs/security.md), and an
// increase means someone other than the collector publishes commands, or a
// key rotation is incomplete. The first report of an edge sets its
// baseline, so a collector restart raises nothing for old refusals; an
// edge restart (a counter that went down) sets it again. Safe for
// concurrent use.
type Rejections struct {
	// Raise is called for each increase, outside the lock; nil does
	// nothing but count.
	raise    func(edge string, reason command.Reason, added, total uint64)
	maxEdges int

	mu     sync.Mutex
	last   map[string]*edgeCounts
	totals [nReasons]uint64
	over   uint64
}

// nReasons is len(command.Rejections); a test checks it.
const nReasons = 4

// edgeCounts are an edge's last reported counters, in the order of
// command.Rejections, and whether each was reported yet.
type edgeCounts struct {
	v    [nReasons]uint64
	seen [nReasons]bool
}

// NewRejections returns a tracker that calls raise for each increase;
// maxEdges bounds the edges remembered (0: DefaultMaxEdges), since edge
// names come from the network.
func NewRejections(raise func(edge string, reason command.Reason, added, total uint64), maxEdges int) *Rejections {
	if maxEdges <= 0 {
		maxEdges = DefaultMaxEdges
	}
	return &Rejections{raise: raise, maxEdges: maxEdges, last: map[string]*edgeCounts{}}
}

// Samples takes an edge's samples; only its status device's rejection
// counters matter.
func (r *Rejections) Samples(edge, device string, samples []sample.Sample) {
	if device != StatusDevice {
		return
	}
	type rise struct {
		reason       command.Reason
		added, total uint64
	}
	var (
		rises []rise
		last  *edgeCounts
	)
	r.mu.Lock()
	for _, s := range samples {
		if s.Metric != command.RejectionsMetric {
			continue
		}
		i := rejectionIndex(command.Reason(s.Labels.Get("reason")))
		if i < 0 {
			continue
		}
		v := s.Value.Uint()
		if last == nil {
			if last = r.last[edge]; last == nil {
				if len(r.last) >= r.maxEdges {
					r.over++
					break
				}
				last = &edgeCounts{}
				r.last[edge] = last
			}
		}
		switch prev := last.v[i]; {
		case !last.seen[i] || v < prev: // the baseline: the first report, or the edge restarted
			last.v[i], last.seen[i] = v, true
		case v > prev:
			last.v[i] = v
			r.totals[i] += v - prev
			rises = append(rises, rise{command.Rejections[i], v - prev, v})
		}
	}
	r.mu.Unlock()
	if r.raise == nil {
		return
	}
	for _, x := range rises {
		r.raise(edge, x.reason, x.added, x.total)
	}
}

// ForgetEdge drops an edge's baseline.
func (r *Rejections) ForgetEdge(edge string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.last, edge)
}

// Totals returns the refusals seen across the edges since the tracker
// started, by reason (every reason present).
func (r *Rejections) Totals() map[command.Reason]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[command.Reason]uint64, len(command.Rejections))
	for i, reason := range command.Rejections {
		out[reason] = r.totals[i]
	}
	return out
}

// Untracked counts reports (calls of Samples) ignored because maxEdges
// edges were tracked.
func (r *Rejections) Untracked() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.over
}

func rejectionIndex(reason command.Reason) int {
	for i, x := range command.Rejections[:nReasons] {
		if x == reason {
			return i
		}
	}
	return -1
}

// CommandRejected sends rwCommandRejected for an edge that refused added
// more commands for reason (total since it started). It is an event: a
// fresh identifier each time, and no clear.
func (n *Notifier) CommandRejected(edge string, reason command.Reason, added, total uint64) {
	n.mu.Lock()
	id := n.newID()
	n.mu.Unlock()
	a := Alert{Notification: mibs.CommandRejectedOID, ID: id, State: mibs.AlertActive, Severity: mibs.SeverityMajor, Edge: edge, Action: "none",
		Evidence: fmt.Sprintf("the edge refused %d more command(s) as %s (%d since it started): not signed by a key it trusts for it, now, for the first time", added, reason, total)}
	a.Node, a.Rack = n.locate(edge, "")
	n.opts.Sink.Send(a)
}
