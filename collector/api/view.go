package api

import (
	"errors"

	"github.com/rackwatch/rackwatch/collector/audit"
	"github.com/rackwatch/rackwatch/collector/decide"
)

// ErrUnknownNode is returned by a Controller for a node it does not know;
// the API answers 404.
var ErrUnknownNode = errors.New("unknown node")

// Controller is what the API needs from the collector. Its methods are
// called from HTTP handlers, concurrently. The mutating ones record the
// decision they return (package audit) before returning it; by is the
// caller's identity, the name of its token.
type Controller interface {
	// Nodes returns every node in the inventory.
	Nodes() []Node
	// Decisions returns the recorded decisions that match f, newest first.
	Decisions(f audit.Filter) []decide.Decision
	// Pin holds a node: the engine will not act on it until Unpin.
	Pin(node, by, reason string) (decide.Decision, error)
	// Unpin releases a node.
	Unpin(node, by string) (decide.Decision, error)
	// SetStop sets the global stop switch: while on, every action is
	// withheld.
	SetStop(on bool, by string) decide.Decision
	// SetDryRun sets shadow mode: decisions are recorded, nothing changes.
	SetDryRun(on bool, by string) decide.Decision
	// Switches returns the state of the global switches.
	Switches() Switches
	// Ready reports whether the collector can decide (for example: MQTT
	// connected and at least one load balancer read) and, if not, why.
	Ready() (ok bool, reasons []string)
}

// Switches are the global switches.
type Switches struct {
	Stop   bool
	DryRun bool
}

// Node is one node as the API shows it.
type Node struct {
	Name string `json:"name"`
	Rack string `json:"rack,omitempty"`
	// Pin is the operator's hold on the node; nil when it is not pinned.
	Pin *Pin `json:"pin"`
	// Entries has one entry per load-balancer server that is this node.
	Entries []Entry `json:"entries"`
}

// Pin is an operator's hold on a node.
type Pin struct {
	By     string     `json:"by"`
	Reason string     `json:"reason"`
	At     audit.Time `json:"at"`
}

// PinOf converts the engine's pin.
func PinOf(p decide.Pin) *Pin {
	return &Pin{By: p.By, Reason: p.Reason, At: audit.Time{Time: p.At}}
}

// Entry is a node as one server of one load-balancer backend.
type Entry struct {
	LB      string `json:"lb"`
	Backend string `json:"backend"`
	Server  string `json:"server"`
	// Level is the engine's level for the server (audit.LevelName) and
	// Desired what that level asks of the load balancer
	// (decide.Desired.String: "ready 50%", "drain").
	Level   string `json:"level"`
	Desired string `json:"desired"`
	// Observed is what the load balancer last showed.
	Observed Observed `json:"observed"`
	// Evidence is the latest evaluation of the node's signals.
	Evidence   []audit.Evidence `json:"evidence"`
	FirstFired string           `json:"first_fired,omitempty"`
	EvidenceAt audit.Time       `json:"evidence_at,omitzero"`
}

// Observed is a server's state as the load balancer last showed it.
type Observed struct {
	// Known is false when the load balancer could not be read.
	Known bool `json:"known"`
	// Status is audit.StatusName: up, down, drain, maint or unknown.
	Status string `json:"status"`
	// WeightPct is the current weight as a percentage of the initial one.
	WeightPct int        `json:"weight_pct"`
	At        audit.Time `json:"at,omitzero"`
}
