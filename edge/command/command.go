package command

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Kind says what a command changes.
type Kind string

// Command kinds.
const (
	KindFanDuty      Kind = "fan_duty"
	KindSensorEnable Kind = "sensor_enable"
	KindPollPeriod   Kind = "poll_period"
	KindLBState      Kind = "lb_state"
)

// LBState is the load-balancer state an lb_state command asks for.
type LBState string

// Load-balancer states. LBWeight is LBReady with the command's weight; it
// exists so that a command meant to change only the weight says so.
const (
	LBReady  LBState = "ready"
	LBDrain  LBState = "drain"
	LBMaint  LBState = "maint"
	LBWeight LBState = "weight"
)

// Limits of the wire format.
const (
	MetricName    = "rackwatch/command"
	MaxIDLen      = 64
	MaxDeviceLen  = 64
	MaxJSONLen    = 1024
	MaxPerPayload = 32
	// MaxFanChannel is the number of PWM outputs of a MAX31790 (datasheet:
	// PWMOUT1–6).
	MaxFanChannel = 6
	MinPollPeriod = 100 * time.Millisecond
	MaxPollPeriod = time.Hour
	// maxMillis is 9999-12-31T23:59:59.999Z: later timestamps are typos.
	maxMillis = 253402300799999
)

// Command is one desired-state command. Fields a kind does not use are
// zero.
type Command struct {
	ID      string
	Version uint64
	Kind    Kind
	Device  string

	Channel int     // fan_duty: 1–6
	Duty    float64 // fan_duty: 0–1

	Enabled bool // sensor_enable

	Period time.Duration // poll_period

	State         LBState // lb_state
	WeightPercent int     // lb_state: 0–100

	// Expires is when the override ends; zero when the command has none.
	Expires time.Time
	// Issued is when the collector issued the command; zero when absent.
	Issued time.Time

	// Sig is the collector's signature of the command; zero when the
	// command is unsigned. Whether it is valid is for the Manager's
	// Verifier (package edge/cmdsign) to decide.
	Sig Signature
}

// SignatureSize is the size of an Ed25519 signature (RFC 8032, §5.1.6).
const SignatureSize = 64

// MaxKeyIDLen bounds a signing key's id; it follows the rules of a
// command id.
const MaxKeyIDLen = 32

// Signature is the signed envelope of a command: which key signed it, the
// signer's counter, until when the command may be applied, and the
// Ed25519 signature over the canonical encoding of all of it (see
// docs/wire.md, Command signatures).
type Signature struct {
	KeyID   string
	Counter uint64
	// ValidUntil is when the command stops being acceptable; unlike
	// Command.Expires, it ends nothing that was applied.
	ValidUntil time.Time
	Value      [SignatureSize]byte
}

// IsZero reports whether the command carries no signature.
func (s Signature) IsZero() bool { return s == Signature{} }

// Target identifies what a command sets: the versions of a target's
// commands are ordered.
type Target struct {
	Kind    Kind
	Device  string
	Channel int // fan_duty only
}

// String renders t as kind/device[/channel]; device IDs cannot contain '/'.
func (t Target) String() string {
	s := string(t.Kind) + "/" + t.Device
	if t.Kind == KindFanDuty {
		s += "/" + strconv.Itoa(t.Channel)
	}
	return s
}

// Target returns the target c sets.
func (c Command) Target() Target {
	t := Target{Kind: c.Kind, Device: c.Device}
	if c.Kind == KindFanDuty {
		t.Channel = c.Channel
	}
	return t
}

// Value renders what c sets, for logs and publication: "0.8", "false",
// "5s", "drain 100%".
func (c Command) Value() string {
	switch c.Kind {
	case KindFanDuty:
		return strconv.FormatFloat(c.Duty, 'g', -1, 64)
	case KindSensorEnable:
		return strconv.FormatBool(c.Enabled)
	case KindPollPeriod:
		return c.Period.String()
	case KindLBState:
		return fmt.Sprintf("%s %d%%", c.State, c.WeightPercent)
	}
	return ""
}

// Validate checks c against the wire format's rules, so that a command
// built in Go (by the collector, or a test) is one the edge accepts.
func (c Command) Validate() error {
	if err := checkID(c.ID); err != nil {
		return err
	}
	if err := checkDevice(c.Device); err != nil {
		return err
	}
	if !c.Expires.IsZero() {
		if err := checkMillis("expires", c.Expires.UnixMilli()); err != nil {
			return err
		}
	}
	if !c.Issued.IsZero() {
		if err := checkMillis("issued", c.Issued.UnixMilli()); err != nil {
			return err
		}
	}
	if !c.Expires.IsZero() && !c.Issued.IsZero() && c.Issued.After(c.Expires) {
		return refusef(ReasonOutOfRange, "issued %d is after expires %d", c.Issued.UnixMilli(), c.Expires.UnixMilli())
	}
	if !c.Sig.IsZero() {
		if err := c.Sig.validate(c.Issued); err != nil {
			return err
		}
	}
	switch c.Kind {
	case KindFanDuty:
		if c.Expires.IsZero() {
			return refusef(ReasonMissingField, "fan_duty requires expires")
		}
		if c.Channel < 1 || c.Channel > MaxFanChannel {
			return refusef(ReasonOutOfRange, "channel %d not in 1-%d", c.Channel, MaxFanChannel)
		}
		if math.IsNaN(c.Duty) || c.Duty < 0 || c.Duty > 1 {
			return refusef(ReasonOutOfRange, "duty %g not in 0-1", c.Duty)
		}
	case KindSensorEnable:
	case KindPollPeriod:
		if c.Period < MinPollPeriod || c.Period > MaxPollPeriod {
			return refusef(ReasonOutOfRange, "period %s not in %s-%s", c.Period, MinPollPeriod, MaxPollPeriod)
		}
	case KindLBState:
		switch c.State {
		case LBReady, LBDrain, LBMaint, LBWeight:
		default:
			return refusef(ReasonInvalid, "state %.20q: want ready, drain, maint or weight", string(c.State))
		}
		if c.WeightPercent < 0 || c.WeightPercent > 100 {
			return refusef(ReasonOutOfRange, "weight_percent %d not in 0-100", c.WeightPercent)
		}
	default:
		return refusef(ReasonUnknownKind, "kind %.32q", string(c.Kind))
	}
	return nil
}

// validate checks the envelope's form; its truth is the Verifier's. A
// signed command must say when it was issued: the Verifier checks it
// against the edge's clock.
func (s Signature) validate(issued time.Time) error {
	if s.KeyID == "" || len(s.KeyID) > MaxKeyIDLen {
		return refusef(ReasonOutOfRange, "key_id length %d not in 1-%d", len(s.KeyID), MaxKeyIDLen)
	}
	if err := checkID(s.KeyID); err != nil {
		return refusef(ReasonInvalid, "key_id %.32q: printable ASCII without space only", s.KeyID)
	}
	if s.Counter == 0 {
		return refusef(ReasonOutOfRange, "counter 0: counters start at 1")
	}
	if err := checkMillis("valid_until", s.ValidUntil.UnixMilli()); err != nil {
		return err
	}
	if issued.IsZero() {
		return refusef(ReasonMissingField, "a signed command requires issued")
	}
	return nil
}

// checkID accepts 1–64 printable ASCII characters without space: ids are
// logged and persisted, so they must not carry control characters.
func checkID(id string) error {
	if id == "" || len(id) > MaxIDLen {
		return refusef(ReasonOutOfRange, "id length %d not in 1-%d", len(id), MaxIDLen)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return refusef(ReasonInvalid, "id %.64q: printable ASCII without space only", id)
		}
	}
	return nil
}

// checkDevice accepts a Sparkplug device ID (spec §4.1.1: no '/', '+' or
// '#') of at most 64 bytes, without control characters.
func checkDevice(d string) error {
	if d == "" || len(d) > MaxDeviceLen {
		return refusef(ReasonOutOfRange, "device length %d not in 1-%d", len(d), MaxDeviceLen)
	}
	if !utf8.ValidString(d) || strings.ContainsAny(d, "/+#") || strings.ContainsFunc(d, unicode.IsControl) {
		return refusef(ReasonInvalid, "device %.64q: a Sparkplug device ID without control characters", d)
	}
	return nil
}

func checkMillis(field string, ms int64) error {
	if ms <= 0 || ms > maxMillis {
		return refusef(ReasonOutOfRange, "%s %d: not a time in ms since the epoch", field, ms)
	}
	return nil
}

// wire is the JSON shape of a command; pointers leave out what a kind does
// not use.
type wire struct {
	ID            string   `json:"id"`
	Version       uint64   `json:"version"`
	Kind          Kind     `json:"kind"`
	Device        string   `json:"device"`
	Channel       *int     `json:"channel,omitempty"`
	Duty          *float64 `json:"duty,omitempty"`
	Enabled       *bool    `json:"enabled,omitempty"`
	Period        string   `json:"period,omitempty"`
	State         LBState  `json:"state,omitempty"`
	WeightPercent *int     `json:"weight_percent,omitempty"`
	Expires       int64    `json:"expires,omitempty"`
	Issued        int64    `json:"issued,omitempty"`
	KeyID         string   `json:"key_id,omitempty"`
	Counter       uint64   `json:"counter,omitempty"`
	ValidUntil    int64    `json:"valid_until,omitempty"`
	Sig           string   `json:"sig,omitempty"`
}

// MarshalJSON encodes c in the wire format. It refuses a command Validate
// refuses, so the collector cannot send what the edge would reject.
func (c Command) MarshalJSON() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("command: encode: %w", err)
	}
	w := wire{ID: c.ID, Version: c.Version, Kind: c.Kind, Device: c.Device}
	switch c.Kind {
	case KindFanDuty:
		w.Channel, w.Duty = &c.Channel, &c.Duty
	case KindSensorEnable:
		w.Enabled = &c.Enabled
	case KindPollPeriod:
		w.Period = c.Period.String()
	case KindLBState:
		w.State, w.WeightPercent = c.State, &c.WeightPercent
	}
	if !c.Expires.IsZero() {
		w.Expires = c.Expires.UnixMilli()
	}
	if !c.Issued.IsZero() {
		w.Issued = c.Issued.UnixMilli()
	}
	if !c.Sig.IsZero() {
		w.KeyID, w.Counter, w.ValidUntil = c.Sig.KeyID, c.Sig.Counter, c.Sig.ValidUntil.UnixMilli()
		w.Sig = base64.RawURLEncoding.EncodeToString(c.Sig.Value[:])
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes the wire format as strictly as ParseJSON.
func (c *Command) UnmarshalJSON(b []byte) error {
	v, err := ParseJSON(b)
	if err != nil {
		return err
	}
	*c = v
	return nil
}
