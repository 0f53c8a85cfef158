package command

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/rackwatch/rackwatch/edge/sparkplug"
	pb "github.com/rackwatch/rackwatch/edge/sparkplug/sparkplugpb"
	"google.golang.org/protobuf/proto"
)

// Reason says why a command was refused. The set is fixed, so counters
// keyed by reason stay bounded whatever arrives from the network.
type Reason string

// Refusal reasons.
const (
	ReasonMalformed      Reason = "malformed"       // not a Sparkplug payload, not one JSON object, invalid UTF-8
	ReasonTooLarge       Reason = "too_large"       // JSON over MaxJSONLen
	ReasonTooMany        Reason = "too_many"        // more than MaxPerPayload commands in a payload
	ReasonNoCommand      Reason = "no_command"      // a payload without a command or rebirth metric
	ReasonDatatype       Reason = "datatype"        // the command metric is not a String, or null
	ReasonTopic          Reason = "topic"           // not NCMD/DCMD, or a DCMD command for another device
	ReasonUnknownField   Reason = "unknown_field"   // a key the kind does not use
	ReasonDuplicateField Reason = "duplicate_field" // a key given twice
	ReasonMissingField   Reason = "missing_field"   // a required key is absent
	ReasonWrongType      Reason = "wrong_type"      // a value of the wrong JSON type
	ReasonOutOfRange     Reason = "out_of_range"    // a number or length out of bounds
	ReasonInvalid        Reason = "invalid_value"   // a string that is not one of the allowed values
	ReasonUnknownKind    Reason = "unknown_kind"    // kind is none of the four
	ReasonUnsupported    Reason = "unsupported"     // this edge has no applier for the kind
	ReasonUnknownTarget  Reason = "unknown_target"  // the applier has no such device or channel
	ReasonTooManyTargets Reason = "too_many_targets"

	// Reasons of the Verifier (package edge/cmdsign): the command is not
	// one the collector signed for this edge, now, for the first time.
	ReasonUnsigned Reason = "unsigned" // no signature, and the edge requires one
	ReasonForged   Reason = "forged"   // unknown or untrusted key id, or a signature that does not verify
	ReasonExpired  Reason = "expired"  // valid_until passed, or issued beyond the clock-skew allowance
	ReasonReplayed Reason = "replayed" // a counter not above the highest accepted for the key
)

// RejectionsMetric is the counter (uint, label reason: one of Rejections)
// under which an edge's status device publishes the Verifier's refusals,
// and which the collector watches to raise a notification.
const RejectionsMetric = "edge_command_rejections_total"

// Rejections are the Verifier's reasons, in the order they are reported.
var Rejections = []Reason{ReasonUnsigned, ReasonForged, ReasonExpired, ReasonReplayed}

// IsRejection reports whether r is one of the Verifier's reasons.
func IsRejection(r Reason) bool {
	switch r {
	case ReasonUnsigned, ReasonForged, ReasonExpired, ReasonReplayed:
		return true
	}
	return false
}

// Error is a refused command: Reason for counting, Detail for people.
type Error struct {
	Reason Reason
	Detail string
}

func (e *Error) Error() string { return "command: " + string(e.Reason) + ": " + e.Detail }

func refusef(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the reason of a refusal error, or "" for other errors.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// Parse reads the commands of an NCMD or DCMD payload. Commands that
// decode are returned even when others do not: err then joins one *Error
// per refused metric. A payload holding only "Node Control/Rebirth" gives
// no commands and no error; one holding neither that nor a command is
// refused with ReasonNoCommand.
func Parse(payload []byte) ([]Command, error) {
	var p pb.Payload
	if err := proto.Unmarshal(payload, &p); err != nil {
		return nil, refusef(ReasonMalformed, "not a Sparkplug B payload: %v", err)
	}
	var (
		cmds    []Command
		errs    []error
		seen    int
		rebirth bool
	)
	for _, m := range p.GetMetrics() {
		if m.GetName() == sparkplug.MetricRebirth {
			rebirth = true
			continue
		}
		if m.GetName() != MetricName {
			continue // other node controls are not commands
		}
		seen++
		if seen > MaxPerPayload {
			errs = append(errs, refusef(ReasonTooMany, "more than %d commands in one payload", MaxPerPayload))
			break
		}
		c, err := parseMetric(m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cmds = append(cmds, c)
	}
	if seen == 0 && !rebirth {
		// A host may send the rebirth request by its birth alias alone.
		if ok, _ := sparkplug.IsRebirthRequest(payload); !ok {
			return nil, refusef(ReasonNoCommand, "payload has no %q metric", MetricName)
		}
	}
	return cmds, errors.Join(errs...)
}

func parseMetric(m *pb.Payload_Metric) (Command, error) {
	if dt := pb.DataType(m.GetDatatype()); dt != pb.DataType_String {
		return Command{}, refusef(ReasonDatatype, "metric %s has datatype %v, want String", MetricName, dt)
	}
	v, ok := m.GetValue().(*pb.Payload_Metric_StringValue)
	if !ok || m.GetIsNull() {
		return Command{}, refusef(ReasonDatatype, "metric %s has no string value", MetricName)
	}
	return ParseJSON([]byte(v.StringValue))
}

// ParseMessage parses the payload of a message received on topic, which
// must be an NCMD or a DCMD: a DCMD's commands must name its device, so a
// command cannot reach one device through another's topic.
func ParseMessage(topic sparkplug.Topic, payload []byte) ([]Command, error) {
	if topic.Type != sparkplug.NCMD && topic.Type != sparkplug.DCMD {
		return nil, refusef(ReasonTopic, "commands come in NCMD or DCMD, not %s", topic.Type)
	}
	cmds, err := Parse(payload)
	if topic.Type != sparkplug.DCMD {
		return cmds, err
	}
	errs := []error{err}
	kept := cmds[:0]
	for _, c := range cmds {
		if c.Device != topic.Device {
			errs = append(errs, refusef(ReasonTopic, "command %s names device %q in a DCMD for %q", c.ID, c.Device, topic.Device))
			continue
		}
		kept = append(kept, c)
	}
	return kept, errors.Join(errs...)
}

// NewPayload builds the NCMD or DCMD payload that carries cmds, for the
// collector to publish.
func NewPayload(cmds []Command, now time.Time) ([]byte, error) {
	if len(cmds) == 0 || len(cmds) > MaxPerPayload {
		return nil, fmt.Errorf("command: %d commands in a payload, want 1-%d", len(cmds), MaxPerPayload)
	}
	ts := uint64(now.UnixMilli())
	p := &pb.Payload{Timestamp: &ts}
	for _, c := range cmds {
		b, err := c.MarshalJSON()
		if err != nil {
			return nil, err
		}
		p.Metrics = append(p.Metrics, &pb.Payload_Metric{
			Name:      proto.String(MetricName),
			Timestamp: &ts,
			Datatype:  proto.Uint32(uint32(pb.DataType_String)),
			Value:     &pb.Payload_Metric_StringValue{StringValue: string(b)},
		})
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("command: marshal payload: %w", err)
	}
	return b, nil
}

// field is one key of the wire format: its bit in the seen mask and the
// JSON type its value must have.
type field struct {
	bit  uint16
	want jsonType
}

type jsonType int

const (
	jsonString jsonType = iota
	jsonNumber
	jsonBool
)

func (t jsonType) String() string {
	return [...]string{"a string", "a number", "a boolean"}[t]
}

const (
	fID uint16 = 1 << iota
	fVersion
	fKind
	fDevice
	fChannel
	fDuty
	fEnabled
	fPeriod
	fState
	fWeight
	fExpires
	fIssued
	fKeyID
	fCounter
	fValidUntil
	fSig
)

var fields = map[string]field{
	"id":             {fID, jsonString},
	"version":        {fVersion, jsonNumber},
	"kind":           {fKind, jsonString},
	"device":         {fDevice, jsonString},
	"channel":        {fChannel, jsonNumber},
	"duty":           {fDuty, jsonNumber},
	"enabled":        {fEnabled, jsonBool},
	"period":         {fPeriod, jsonString},
	"state":          {fState, jsonString},
	"weight_percent": {fWeight, jsonNumber},
	"expires":        {fExpires, jsonNumber},
	"issued":         {fIssued, jsonNumber},
	"key_id":         {fKeyID, jsonString},
	"counter":        {fCounter, jsonNumber},
	"valid_until":    {fValidUntil, jsonNumber},
	"sig":            {fSig, jsonString},
}

var fieldNames = func() map[uint16]string {
	m := map[uint16]string{}
	for k, f := range fields {
		m[f.bit] = k
	}
	return m
}()

const (
	common = fID | fVersion | fKind | fDevice
	// signed are the keys of the signature envelope: all or none.
	signed = fKeyID | fCounter | fValidUntil | fSig
)

// kindFields lists, per kind, the keys it requires and the ones it allows.
var kindFields = map[Kind]struct{ required, allowed uint16 }{
	KindFanDuty:      {common | fChannel | fDuty | fExpires, common | fChannel | fDuty | fExpires | fIssued | signed},
	KindSensorEnable: {common | fEnabled, common | fEnabled | fExpires | fIssued | signed},
	KindPollPeriod:   {common | fPeriod, common | fPeriod | fExpires | fIssued | signed},
	KindLBState:      {common | fState, common | fState | fWeight | fExpires | fIssued | signed},
}

// ParseJSON decodes one command from its JSON form. Decoding is strict:
// exactly one object of scalar values, each key known to the kind and
// given once, numbers where integers are expected written as integers.
func ParseJSON(b []byte) (Command, error) {
	if len(b) > MaxJSONLen {
		return Command{}, refusef(ReasonTooLarge, "%d bytes, at most %d", len(b), MaxJSONLen)
	}
	if !utf8.Valid(b) {
		return Command{}, refusef(ReasonMalformed, "not valid UTF-8")
	}
	vals, seen, err := scanObject(b)
	if err != nil {
		return Command{}, err
	}
	if seen&fKind == 0 {
		return Command{}, refusef(ReasonMissingField, "kind")
	}
	c := Command{Kind: Kind(vals[fKind].(string))}
	kf, ok := kindFields[c.Kind]
	if !ok {
		return Command{}, refusef(ReasonUnknownKind, "kind %.32q", string(c.Kind))
	}
	if extra := seen &^ kf.allowed; extra != 0 {
		return Command{}, refusef(ReasonUnknownField, "%s is not a field of %s", fieldNames[lowestBit(extra)], c.Kind)
	}
	if missing := kf.required &^ seen; missing != 0 {
		return Command{}, refusef(ReasonMissingField, "%s requires %s", c.Kind, fieldNames[lowestBit(missing)])
	}
	c.ID = vals[fID].(string)
	c.Device = vals[fDevice].(string)
	if c.Version, err = uintField("version", vals[fVersion]); err != nil {
		return Command{}, err
	}
	if seen&fExpires != 0 {
		if c.Expires, err = millisField("expires", vals[fExpires]); err != nil {
			return Command{}, err
		}
	}
	if seen&fIssued != 0 {
		if c.Issued, err = millisField("issued", vals[fIssued]); err != nil {
			return Command{}, err
		}
	}
	if sig := seen & signed; sig != 0 {
		if missing := signed &^ sig; missing != 0 {
			return Command{}, refusef(ReasonMissingField, "a signed command requires %s", fieldNames[lowestBit(missing)])
		}
		if c.Sig, err = signatureFields(vals); err != nil {
			return Command{}, err
		}
	}
	switch c.Kind {
	case KindFanDuty:
		ch, err := intField("channel", vals[fChannel])
		if err != nil {
			return Command{}, err
		}
		c.Channel = ch
		d, err := strconv.ParseFloat(string(vals[fDuty].(json.Number)), 64)
		if err != nil {
			return Command{}, refusef(ReasonOutOfRange, "duty %.32s", vals[fDuty])
		}
		c.Duty = d
	case KindSensorEnable:
		c.Enabled = vals[fEnabled].(bool)
	case KindPollPeriod:
		s := vals[fPeriod].(string)
		d, err := time.ParseDuration(s)
		if err != nil {
			return Command{}, refusef(ReasonInvalid, "period %.32q: a Go duration such as \"5s\"", s)
		}
		c.Period = d
	case KindLBState:
		c.State = LBState(vals[fState].(string))
		c.WeightPercent = 100
		if seen&fWeight != 0 {
			if c.WeightPercent, err = intField("weight_percent", vals[fWeight]); err != nil {
				return Command{}, err
			}
		} else if c.State == LBWeight {
			return Command{}, refusef(ReasonMissingField, "state weight requires weight_percent")
		}
	}
	if err := c.Validate(); err != nil {
		return Command{}, err
	}
	return c, nil
}

func lowestBit(m uint16) uint16 { return m & -m }

// signatureFields reads the signature envelope; ParseJSON has checked
// that all four keys are there.
func signatureFields(vals map[uint16]any) (Signature, error) {
	var (
		s   Signature
		err error
	)
	s.KeyID = vals[fKeyID].(string)
	if s.Counter, err = uintField("counter", vals[fCounter]); err != nil {
		return Signature{}, err
	}
	if s.ValidUntil, err = millisField("valid_until", vals[fValidUntil]); err != nil {
		return Signature{}, err
	}
	enc := vals[fSig].(string)
	if base64.RawURLEncoding.DecodedLen(len(enc)) != SignatureSize {
		return Signature{}, refusef(ReasonOutOfRange, "sig of %d characters, want %d (base64url, no padding)", len(enc), base64.RawURLEncoding.EncodedLen(SignatureSize))
	}
	if _, err := base64.RawURLEncoding.Strict().Decode(s.Value[:], []byte(enc)); err != nil {
		return Signature{}, refusef(ReasonInvalid, "sig: not base64url without padding")
	}
	return s, nil
}

// scanObject reads one flat JSON object token by token, so that duplicate
// keys, nested values and trailing data are refused rather than silently
// resolved as encoding/json would.
func scanObject(b []byte) (map[uint16]any, uint16, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, 0, refusef(ReasonMalformed, "not JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, 0, refusef(ReasonMalformed, "not a JSON object")
	}
	vals := make(map[uint16]any, 12)
	var seen uint16
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, 0, refusef(ReasonMalformed, "not JSON: %v", err)
		}
		key, _ := tok.(string)
		f, ok := fields[key]
		if !ok {
			return nil, 0, refusef(ReasonUnknownField, "%.32q", key)
		}
		if seen&f.bit != 0 {
			return nil, 0, refusef(ReasonDuplicateField, "%s given twice", key)
		}
		seen |= f.bit
		tok, err = dec.Token()
		if err != nil {
			return nil, 0, refusef(ReasonMalformed, "not JSON: %v", err)
		}
		ok = false
		switch tok.(type) {
		case string:
			ok = f.want == jsonString
		case json.Number:
			ok = f.want == jsonNumber
		case bool:
			ok = f.want == jsonBool
		}
		if !ok {
			// A nested object or array would leave the decoder inside
			// it; the command is refused here, so that does not matter.
			return nil, 0, refusef(ReasonWrongType, "%s must be %s", key, f.want)
		}
		vals[f.bit] = tok
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, 0, refusef(ReasonMalformed, "not JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, 0, refusef(ReasonMalformed, "data after the JSON object")
	}
	return vals, seen, nil
}

// uintField reads an unsigned integer written as one: 12, not 12.0 or 1.2e1.
func uintField(name string, v any) (uint64, error) {
	s := string(v.(json.Number))
	n, err := strconv.ParseUint(s, 10, 64)
	if err == nil {
		return n, nil
	}
	if isIntLiteral(s) {
		return 0, refusef(ReasonOutOfRange, "%s %.32s not in 0-%d", name, s, uint64(1<<64-1))
	}
	return 0, refusef(ReasonWrongType, "%s %.32s must be an integer", name, s)
}

func intField(name string, v any) (int, error) {
	s := string(v.(json.Number))
	n, err := strconv.ParseInt(s, 10, 32)
	if err == nil {
		return int(n), nil
	}
	if isIntLiteral(s) {
		return 0, refusef(ReasonOutOfRange, "%s %.32s", name, s)
	}
	return 0, refusef(ReasonWrongType, "%s %.32s must be an integer", name, s)
}

func millisField(name string, v any) (time.Time, error) {
	s := string(v.(json.Number))
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if isIntLiteral(s) {
			return time.Time{}, refusef(ReasonOutOfRange, "%s %.32s", name, s)
		}
		return time.Time{}, refusef(ReasonWrongType, "%s %.32s must be an integer (ms since the epoch)", name, s)
	}
	if err := checkMillis(name, n); err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(n).UTC(), nil
}

func isIntLiteral(s string) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
