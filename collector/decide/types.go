package decide

import (
	"fmt"
	"strings"
	"time"
)

// Status is a server's state in the load balancer.
type Status int

// Server states, from HAProxy's status column.
const (
	StatusUnknown Status = iota
	StatusUp
	StatusDown
	StatusDrain
	StatusMaint
)

func (s Status) String() string {
	return [...]string{"unknown", "up", "down", "drain", "maint"}[s]
}

// Level is the service level the engine wants for a node.
type Level int

// Levels, from full service down to drained, and the restore ramp.
const (
	Full    Level = iota // weight 100 %
	Shed                 // weight 50 %
	Drained              // state drain
	Ramp25               // restoring: weight 25 %
	Ramp50               // restoring: weight 50 %
)

func (l Level) String() string {
	return [...]string{"full", "shed", "drained", "ramp-25", "ramp-50"}[l]
}

// Desired is what a level asks of the load balancer.
type Desired struct {
	Drain bool
	// Weight is the percentage of the server's configured weight.
	Weight int
}

// Desired returns the load-balancer state of a level.
func (l Level) Desired() Desired {
	switch l {
	case Shed, Ramp50:
		return Desired{Weight: 50}
	case Drained:
		return Desired{Drain: true, Weight: 100}
	case Ramp25:
		return Desired{Weight: 25}
	}
	return Desired{Weight: 100}
}

func (d Desired) String() string {
	if d.Drain {
		return "drain"
	}
	return fmt.Sprintf("ready %d%%", d.Weight)
}

// Observation is what is known about one node in one load balancer at one
// tick. Every signal carries its own presence flag or timestamp: missing
// data is never read as a good value.
type Observation struct {
	Node, Rack          string
	LB, Backend, Server string

	// The load balancer's view: Status and WeightPct (current weight as a
	// percentage of the initial one). LBKnown is false when it could not
	// be read; LBRestarted is true when it restarted since the last read
	// and so lost runtime changes.
	LBKnown     bool
	Status      Status
	WeightPct   int
	LBRestarted bool

	// CPUTemp is the node's hottest CPU or BMC temperature and CPUTempLimit
	// that sensor's critical limit (0: unknown); CPUTempAt when measured.
	CPUTemp, CPUTempLimit float64
	CPUTempAt             time.Time
	// InletTemp is the rack inlet temperature.
	InletTemp   float64
	InletTempAt time.Time

	// Rates over the correlation window; each Have flag says whether the
	// node has that signal at all.
	ThrottleRate                     float64
	FCSRate, Flaps, KernelEvents     float64
	HaveThrottle, HaveFCS, HaveFlaps bool
	HaveKernel                       bool

	// Latency is the node's current latency (a percentile from the request
	// log, or HAProxy's average), over LatencySamples requests. Baseline is
	// its own normal, from history. BackendP99 is the backend's p99.
	Latency        time.Duration
	LatencySamples int
	HaveLatency    bool
	Baseline       time.Duration
	HaveBaseline   bool
	BackendP99     time.Duration
	HaveBackendP99 bool
}

// Evidence is one signal, its value and threshold, and since when it fires.
type Evidence struct {
	Signal    string    `json:"signal"`
	Value     float64   `json:"value"`
	Threshold float64   `json:"threshold"`
	Unit      string    `json:"unit"`
	Firing    bool      `json:"firing"`
	Since     time.Time `json:"since,omitzero"`
}

func (e Evidence) String() string {
	op := "<"
	if e.Firing {
		op = "≥"
	}
	return fmt.Sprintf("%s %.4g %s %s %.4g", e.Signal, e.Value, e.Unit, op, e.Threshold)
}

// Action is what a decision does.
type Action string

// Actions.
const (
	ActShed     Action = "shed"
	ActDrain    Action = "drain"
	ActRestore  Action = "restore"  // one ramp step, or back to full
	ActRollback Action = "rollback" // a shed that did not help, undone
	ActAlarm    Action = "alarm"    // raise or clear an alarm, no load-balancer change
	ActPinned   Action = "pinned"   // the engine noticed an operator's change and stands back
)

// Alarm names.
const (
	AlarmRackCooling  = "rack_cooling"
	AlarmHardware     = "hardware_protection"
	AlarmRollback     = "action_rolled_back"
	AlarmThrottling   = "throttling_detected"
	AlarmLinkDegraded = "link_errors_degrading"
)

// Decision is one decision with its evidence.
type Decision struct {
	At                  time.Time `json:"at"`
	Node                string    `json:"node"`
	Rack                string    `json:"rack,omitempty"`
	LB, Backend, Server string
	Action              Action  `json:"action"`
	From                Level   `json:"-"`
	To                  Level   `json:"-"`
	Desired             Desired `json:"-"`
	// Taken is false when the action was withheld; Withheld says why.
	Taken    bool   `json:"taken"`
	Withheld string `json:"withheld,omitempty"`
	// Cause is why the engine wanted the action.
	Cause    string     `json:"cause"`
	Evidence []Evidence `json:"evidence,omitempty"`
	// FirstFired names the signal that fired first.
	FirstFired string `json:"first_fired,omitempty"`
	// Alarm, with AlarmActive, is the alarm raised (true) or cleared.
	Alarm       string `json:"alarm,omitempty"`
	AlarmActive bool   `json:"alarm_active,omitempty"`
	// DryRun marks a decision recorded in shadow mode.
	DryRun bool `json:"dry_run,omitempty"`
	// Actor is "engine", or the identity of the API caller.
	Actor string `json:"actor"`
}

func (d Decision) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", d.Action, d.Node)
	if d.Server != "" {
		fmt.Fprintf(&b, " (%s %s/%s)", d.LB, d.Backend, d.Server)
	}
	if d.Action != ActAlarm && d.Action != ActPinned {
		fmt.Fprintf(&b, " %s → %s", d.From, d.To)
	}
	if d.Alarm != "" {
		state := "cleared"
		if d.AlarmActive {
			state = "raised"
		}
		fmt.Fprintf(&b, " alarm %s %s", d.Alarm, state)
	}
	if !d.Taken {
		fmt.Fprintf(&b, " WITHHELD (%s)", d.Withheld)
	}
	fmt.Fprintf(&b, ": %s", d.Cause)
	for i, e := range d.Evidence {
		if i == 0 {
			b.WriteString(" [")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(e.String())
		if i == len(d.Evidence)-1 {
			b.WriteString("]")
		}
	}
	return b.String()
}
