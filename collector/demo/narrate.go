package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rackwatch/rackwatch/collector/audit"
)

// narrator prints what happens, one line per event, with the time since
// the demo started, and counts decisions for the summary.
type narrator struct {
	out   io.Writer
	start time.Time

	mu     sync.Mutex
	s      Summary
	events []event
}

// event is one decision taken, for measuring how long the collector took.
type event struct {
	node, action string
	at           time.Time
}

// decisionsOf returns the decisions taken about node, in order.
func (n *narrator) decisionsOf(node string) []event {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []event
	for _, e := range n.events {
		if e.node == node {
			out = append(out, e)
		}
	}
	return out
}

// Summary is what a demo run did.
type Summary struct {
	Scenario  string
	Duration  time.Duration
	Decisions int
	// Shed, Drained and Restored list the nodes that reached each state,
	// in order, a node once per episode.
	Shed, Drained, Restored []string
	// Alarms lists the alarms raised, as "alarm on node-or-rack".
	Alarms     []string
	Rollbacks  int
	Withheld   int
	Requests   int
	Errors     int
	P99        time.Duration
	Balancer   string
	Unexpected []string // decisions the scenario did not call for
}

func newNarrator(out io.Writer) *narrator {
	return &narrator{out: out, start: time.Now()}
}

func (n *narrator) say(format string, args ...any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sayLocked(format, args...)
}

func (n *narrator) sayLocked(format string, args ...any) {
	d := time.Since(n.start).Truncate(time.Second)
	fmt.Fprintf(n.out, "[%02d:%02d] %s\n", int(d.Minutes()), int(d.Seconds())%60, fmt.Sprintf(format, args...))
}

// decision reads one record from the collector's event topic.
func (n *narrator) decision(payload []byte) {
	var r audit.Record
	if err := json.Unmarshal(payload, &r); err != nil {
		n.say("unreadable decision event: %v", err)
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.s.Decisions++
	subject := cmpOr(r.Node, r.Rack, r.Server)
	if !r.Taken && r.Withheld != "" {
		n.s.Withheld++
		n.sayLocked("WITHHELD %-7s %s: %s (%s)", r.Action, subject, r.Withheld, evidence(r.Evidence))
		return
	}
	n.events = append(n.events, event{node: r.Node, action: r.Action, at: r.At.Time})
	switch r.Action {
	case "shed":
		n.s.Shed = append(n.s.Shed, subject)
	case "drain":
		n.s.Drained = append(n.s.Drained, subject)
	case "restore":
		if r.To == "full" {
			n.s.Restored = append(n.s.Restored, subject)
		}
	case "rollback":
		n.s.Rollbacks++
	case "alarm":
		if r.AlarmActive != nil && *r.AlarmActive {
			n.s.Alarms = append(n.s.Alarms, r.Alarm+" on "+subject)
		}
	}
	what := strings.ToUpper(r.Action)
	switch {
	case r.Action == "alarm" && r.AlarmActive != nil && *r.AlarmActive:
		what = "ALARM"
	case r.Action == "alarm":
		what = "CLEARED"
	}
	line := fmt.Sprintf("%-8s %s", what, subject)
	if r.Alarm != "" {
		line += " " + r.Alarm
	}
	if r.From != "" || r.To != "" {
		line += fmt.Sprintf(" %s → %s", r.From, r.To)
	}
	if r.Desired != "" {
		line += " (load balancer: " + r.Desired + ")"
	}
	n.sayLocked("%s: %s; %s", line, r.Cause, evidence(r.Evidence))
}

// evidence lists the signals that fired, with their values and thresholds.
func evidence(ev []audit.Evidence) string {
	var parts []string
	for _, e := range ev {
		if !e.Firing {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %.4g %s (threshold %.4g)", e.Signal, float64(e.Value), e.Unit, float64(e.Threshold)))
	}
	if len(parts) == 0 {
		return "no signal firing"
	}
	return strings.Join(parts, ", ")
}

func cmpOr(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return "-"
}

// summary returns the counts so far.
func (n *narrator) summary() Summary {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := n.s
	s.Shed = append([]string(nil), s.Shed...)
	s.Drained = append([]string(nil), s.Drained...)
	s.Restored = append([]string(nil), s.Restored...)
	s.Alarms = append([]string(nil), s.Alarms...)
	return s
}

// Print writes the summary as the demo ends.
func (s Summary) Print(w io.Writer) {
	list := func(v []string) string {
		if len(v) == 0 {
			return "none"
		}
		c := append([]string(nil), v...)
		sort.Strings(c)
		return fmt.Sprintf("%d (%s)", len(v), strings.Join(c, ", "))
	}
	fmt.Fprintf(w, "\nSummary of %q after %s:\n", s.Scenario, s.Duration.Truncate(time.Second))
	fmt.Fprintf(w, "  decisions   %d (%d withheld by the safety budget, %d rolled back)\n", s.Decisions, s.Withheld, s.Rollbacks)
	fmt.Fprintf(w, "  shed        %s\n", list(s.Shed))
	fmt.Fprintf(w, "  drained     %s\n", list(s.Drained))
	fmt.Fprintf(w, "  restored    %s\n", list(s.Restored))
	fmt.Fprintf(w, "  alarms      %s\n", list(s.Alarms))
	fmt.Fprintf(w, "  requests    %d through %s, %d failed, p99 %s\n", s.Requests, s.Balancer, s.Errors, s.P99.Round(time.Millisecond))
}
