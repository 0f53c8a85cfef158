package agentcheck

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Mode is the administrative state the responder reports.
type Mode string

// Modes (HAProxy configuration manual §5.2, agent-check: the admin
// statuses).
const (
	Ready Mode = "ready"
	Drain Mode = "drain"
	Maint Mode = "maint"
)

// MaxComment bounds the comment so that a line stays well within the
// buffer HAProxy reads an agent's answer into.
const MaxComment = 64

// State is what the responder tells HAProxy.
type State struct {
	Mode Mode
	// Weight is the percentage of the server's initial weight, 0–100; 100
	// is the configured weight, 0 takes the server out of balancing.
	Weight int
	// Comment follows '#' on the line: printable ASCII, at most MaxComment
	// bytes.
	Comment string
	// Expires, if not zero, is when the state reverts to DefaultState.
	Expires time.Time
}

// DefaultState is ready at the configured weight: the state the responder
// starts in and returns to at expiry.
func DefaultState() State { return State{Mode: Ready, Weight: 100} }

// Validate checks that s can be written as an agent line.
func (s State) Validate() error {
	switch s.Mode {
	case Ready, Drain, Maint:
	default:
		return fmt.Errorf("agentcheck: mode %q: want ready, drain or maint", string(s.Mode))
	}
	if s.Weight < 0 || s.Weight > 100 {
		return fmt.Errorf("agentcheck: weight %d%% not in 0-100", s.Weight)
	}
	if len(s.Comment) > MaxComment {
		return fmt.Errorf("agentcheck: comment of %d bytes, at most %d", len(s.Comment), MaxComment)
	}
	for i := 0; i < len(s.Comment); i++ {
		// A CR or LF would end HAProxy's line early; keep to printable ASCII.
		if s.Comment[i] < 0x20 || s.Comment[i] > 0x7e {
			return fmt.Errorf("agentcheck: comment %q: printable ASCII only", s.Comment)
		}
	}
	return nil
}

// Line renders s as the agent's answer, LF included: "drain 100% # why\n".
func (s State) Line() string { return s.String() + "\n" }

// String is the line without its LF.
func (s State) String() string {
	l := string(s.Mode) + " " + strconv.Itoa(s.Weight) + "%"
	if s.Comment != "" {
		l += " # " + s.Comment
	}
	return l
}

// ParseLine reads a line written by Line (with or without its LF); the
// expiry is not part of a line.
func ParseLine(line string) (State, error) {
	line = strings.TrimSuffix(line, "\n")
	words, comment, hasComment := strings.Cut(line, " # ")
	f := strings.Fields(words)
	if len(f) != 2 || !strings.HasSuffix(f[1], "%") {
		return State{}, fmt.Errorf("agentcheck: line %q: want \"<mode> <weight>%%\"", line)
	}
	w, err := strconv.Atoi(strings.TrimSuffix(f[1], "%"))
	if err != nil {
		return State{}, fmt.Errorf("agentcheck: line %q: weight: %w", line, err)
	}
	s := State{Mode: Mode(f[0]), Weight: w}
	if hasComment {
		s.Comment = comment
	}
	if err := s.Validate(); err != nil {
		return State{}, err
	}
	return s, nil
}
