package statuspage

import (
	"time"

	"github.com/rackwatch/rackwatch/collector/audit"
)

// Source is what the page needs from the collector. Its methods are called
// concurrently, from the page's own goroutine and from HTTP handlers.
type Source interface {
	// Snapshot returns the current state.
	Snapshot() Snapshot
	// Changed returns a channel that is closed at the next change of what
	// Snapshot returns. Call it before Snapshot, so that a change between
	// the two calls is not missed.
	Changed() <-chan struct{}
}

// Node states, as the page shows them (the same as the Prometheus
// rackwatch_node_state labels).
const (
	StateOK        = "ok"        // full service, with fresh data
	StateShed      = "shed"      // weight lowered
	StateDrained   = "drained"   // no new traffic
	StateRestoring = "restoring" // on the ramp back to full service
	StatePinned    = "pinned"    // an operator holds it
	StateNoData    = "no_data"   // no fresh CPU temperature: the engine cannot protect it
)

// Temperature bands, from the policy's thresholds: the page colours by
// band and also prints it, so colour is never the only cue.
const (
	BandNone     = "none"     // no fresh reading
	BandCool     = "cool"     // below the near threshold less the hysteresis
	BandWarm     = "warm"     // within the hysteresis of the near threshold
	BandHot      = "hot"      // near the limit: evidence for a shed
	BandCritical = "critical" // at the critical threshold
)

// Snapshot is everything the page shows. It is the data of every
// "snapshot" event; see docs/api.md.
type Snapshot struct {
	At time.Time `json:"at"`
	// Stop and DryRun are the global switches.
	Stop   bool `json:"stop"`
	DryRun bool `json:"dry_run"`
	// Racks in inventory order; nodes in no rack are in a rack named "".
	Racks []Rack `json:"racks"`
	// Decisions are the latest decisions, newest first.
	Decisions []audit.Record `json:"decisions"`
}

// Rack is one rack and its nodes.
type Rack struct {
	Name  string `json:"name"`
	Inlet Temp   `json:"inlet"`
	Nodes []Node `json:"nodes"`
}

// Temp is a temperature with its band. C is nil without a fresh reading.
type Temp struct {
	C     *float64 `json:"c"`
	Limit *float64 `json:"limit,omitempty"`
	Band  string   `json:"band"`
}

// Node is one node as the page shows it. A nil value is no data.
type Node struct {
	Name  string `json:"name"`
	State string `json:"state"`
	// WeightPct is the lowest current weight of the node's servers as the
	// load balancers show it, in percent of the configured one.
	WeightPct *int `json:"weight_pct"`
	Pin       *Pin `json:"pin,omitempty"`
	CPU       Temp `json:"cpu"`
	// ThrottlePerS is CPU throttling events per second (host mode only).
	ThrottlePerS *float64 `json:"throttle_per_s"`
	// LatencyMs is the current latency and BaselineMs the node's normal.
	LatencyMs  *float64 `json:"latency_ms"`
	BaselineMs *float64 `json:"baseline_ms"`
	// History is the latency over the last minutes, oldest first, one
	// point per HistoryStepS seconds; null is a gap.
	History      []*float64 `json:"history"`
	HistoryStepS float64    `json:"history_step_s"`
	Link         Link       `json:"link"`
	// Firing is the evidence that fires now.
	Firing []audit.Evidence `json:"firing"`
}

// Pin is an operator's hold.
type Pin struct {
	By     string `json:"by"`
	Reason string `json:"reason"`
}

// Link is the node's link health: its switch port and NICs.
type Link struct {
	// Port is the switch port (device/ifname), from the inventory or LLDP;
	// empty when unknown.
	Port string `json:"port"`
	// FCSPerS is FCS errors per second, Flaps link changes within the
	// correlation window.
	FCSPerS *float64 `json:"fcs_per_s"`
	Flaps   *float64 `json:"flaps"`
}
