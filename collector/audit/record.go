package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/rackwatch/rackwatch/collector/decide"
)

// TimeLayout is how the wire encoding writes instants: RFC 3339 in UTC with
// milliseconds, so records sort as strings and read the same everywhere.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// Time is an instant on the wire, in TimeLayout. Its zero value is omitted
// from fields tagged omitzero.
type Time struct{ time.Time }

// MarshalJSON writes t in TimeLayout, in UTC.
func (t Time) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(TimeLayout)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, TimeLayout)
	return append(b, '"'), nil
}

// UnmarshalJSON reads any RFC 3339 instant; null is the zero time.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("audit: time: %w", err)
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("audit: time: %w", err)
	}
	t.Time = v
	return nil
}

// Number is a measured value or a threshold on the wire. JSON has no NaN or
// infinity (RFC 8259 §6), so a non-finite value is written as null rather
// than failing the whole record.
type Number float64

// MarshalJSON writes n, or null when it is not finite.
func (n Number) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

// UnmarshalJSON reads a number; null reads as NaN.
func (n *Number) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Number(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("audit: number: %w", err)
	}
	*n = Number(f)
	return nil
}

// Evidence is one signal on the wire.
type Evidence struct {
	Signal    string `json:"signal"`
	Value     Number `json:"value"`
	Threshold Number `json:"threshold"`
	Unit      string `json:"unit"`
	Firing    bool   `json:"firing"`
	// Since is when the signal started firing; absent when it does not.
	Since Time `json:"since,omitzero"`
}

// EvidenceOf converts the engine's evidence to the wire form. It never
// returns nil, so the JSON is always an array.
func EvidenceOf(ev []decide.Evidence) []Evidence {
	out := make([]Evidence, 0, len(ev))
	for _, e := range ev {
		out = append(out, Evidence{Signal: e.Signal, Value: Number(e.Value), Threshold: Number(e.Threshold),
			Unit: e.Unit, Firing: e.Firing, Since: Time{e.Since}})
	}
	return out
}

// Record is the wire encoding of a decision, on the event topic and in the
// HTTP API. Keys are stable: new ones may be added, none is renamed or
// removed. Keys tagged omitempty are absent when they do not apply (node
// for a rack or switch alarm, the load-balancer target for a decision about
// a whole node or rack, from/to for decisions that change no level, desired
// when no load-balancer state is asked for).
type Record struct {
	At      Time   `json:"at"`
	Node    string `json:"node,omitempty"`
	Rack    string `json:"rack,omitempty"`
	LB      string `json:"lb,omitempty"`
	Backend string `json:"backend,omitempty"`
	Server  string `json:"server,omitempty"`
	Action  string `json:"action"`
	// From and To are the levels (full, shed, drained, ramp-25, ramp-50).
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Desired is the load-balancer state asked for: "ready 50%" or "drain".
	Desired string `json:"desired,omitempty"`
	// Taken is false when the action was withheld; Withheld says why.
	Taken      bool       `json:"taken"`
	Withheld   string     `json:"withheld,omitempty"`
	Cause      string     `json:"cause"`
	Evidence   []Evidence `json:"evidence"`
	FirstFired string     `json:"first_fired,omitempty"`
	// Alarm is raised (AlarmActive true) or cleared (false).
	Alarm       string `json:"alarm,omitempty"`
	AlarmActive *bool  `json:"alarm_active,omitempty"`
	DryRun      bool   `json:"dry_run"`
	Actor       string `json:"actor"`
}

// LevelName names a level; unlike Level.String it never panics on a value
// outside the known levels.
func LevelName(l decide.Level) string {
	if l < decide.Full || l > decide.Ramp50 {
		return fmt.Sprintf("level(%d)", int(l))
	}
	return l.String()
}

// StatusName names a load-balancer status; it never panics.
func StatusName(s decide.Status) string {
	if s < decide.StatusUnknown || s > decide.StatusMaint {
		return fmt.Sprintf("status(%d)", int(s))
	}
	return s.String()
}

// NewRecord returns the wire form of d.
func NewRecord(d decide.Decision) Record {
	r := Record{
		At: Time{d.At}, Node: d.Node, Rack: d.Rack, LB: d.LB, Backend: d.Backend, Server: d.Server,
		Action: string(d.Action), Taken: d.Taken, Withheld: d.Withheld, Cause: d.Cause,
		Evidence: EvidenceOf(d.Evidence), FirstFired: d.FirstFired, Alarm: d.Alarm,
		DryRun: d.DryRun, Actor: d.Actor,
	}
	// Alarms and pins change no level unless they say so; their zero
	// From/To would read as "full → full".
	if (d.Action != decide.ActAlarm && d.Action != decide.ActPinned) || d.From != d.To {
		r.From, r.To = LevelName(d.From), LevelName(d.To)
	}
	if d.Desired != (decide.Desired{}) {
		r.Desired = d.Desired.String()
	}
	if d.Alarm != "" {
		active := d.AlarmActive
		r.AlarmActive = &active
	}
	return r
}

// MarshalDecision returns the JSON of d's Record, without a trailing
// newline. It cannot fail: every field has a JSON form.
func MarshalDecision(d decide.Decision) []byte {
	return marshal(NewRecord(d))
}

func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	// Causes and units are prose ("°C", "≥"); HTML escaping would only
	// obscure them.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Unreachable for Record: every field is a string, bool, Number
		// or Time. Keep the event rather than lose it.
		return fmt.Appendf(nil, `{"error":%q}`, err.Error())
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
