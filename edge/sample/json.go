package sample

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// The JSON schema, one object per sample:
//
//	{"metric":"if_in_errors_total","labels":{"ifname":"Gi1/0/1"},"value":18446744073709551615,"unit":"packets","ts":1764158400000}
//
// value is a JSON number: integers are written exactly (a Counter64 keeps
// all 64 bits), floats always carry a '.' or an exponent so that their kind
// survives a round trip; booleans are true/false; a non-finite float is null.
// ts is milliseconds since the Unix epoch, as in Sparkplug.

// AppendJSON appends the JSON object for s to b without allocating beyond b's
// growth.
func AppendJSON(b []byte, s Sample) []byte {
	b = append(b, `{"metric":`...)
	b = appendString(b, s.Metric)
	b = append(b, `,"labels":{`...)
	for i, l := range s.Labels {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, l.Name)
		b = append(b, ':')
		b = appendString(b, l.Value)
	}
	b = append(b, `},"value":`...)
	b = appendJSONValue(b, s.Value)
	b = append(b, `,"unit":`...)
	b = appendString(b, s.Unit)
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, s.TS.UnixMilli(), 10)
	return append(b, '}')
}

// appendString appends s as a JSON string (RFC 8259 §7). Invalid UTF-8
// becomes U+FFFD, as encoding/json does.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}

func appendJSONValue(b []byte, v Value) []byte {
	if v.kind != KindFloat {
		return v.AppendText(b)
	}
	f := math.Float64frombits(v.bits)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, 'g', -1, 64)
	if !bytes.ContainsAny(b[start:], ".eE") {
		b = append(b, ".0"...)
	}
	return b
}

// MarshalJSON implements json.Marshaler with the schema above.
func (s Sample) MarshalJSON() ([]byte, error) { return AppendJSON(nil, s), nil }

type jsonSample struct {
	Metric *string           `json:"metric"`
	Labels map[string]string `json:"labels"`
	Value  json.RawMessage   `json:"value"`
	Unit   string            `json:"unit"`
	TS     *int64            `json:"ts"`
}

// UnmarshalJSON implements json.Unmarshaler. Unknown keys are rejected so a
// consumer notices a schema change instead of silently losing fields.
func (s *Sample) UnmarshalJSON(data []byte) error {
	var j jsonSample
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("sample: decode json: %w", err)
	}
	if j.Metric == nil || *j.Metric == "" {
		return errors.New("sample: decode json: missing metric")
	}
	if j.TS == nil {
		return errors.New("sample: decode json: missing ts")
	}
	v, err := parseJSONValue(j.Value)
	if err != nil {
		return fmt.Errorf("sample: decode json: metric %q: %w", *j.Metric, err)
	}
	ls := make(Labels, 0, len(j.Labels))
	for k, val := range j.Labels {
		ls = append(ls, Label{k, val})
	}
	ls.Sort()
	*s = Sample{Metric: *j.Metric, Labels: ls, Value: v, Unit: j.Unit, TS: time.UnixMilli(*j.TS).UTC()}
	return nil
}

func parseJSONValue(raw json.RawMessage) (Value, error) {
	t := string(bytes.TrimSpace(raw))
	switch t {
	case "", "null":
		return Float(math.NaN()), nil
	case "true":
		return Bool(true), nil
	case "false":
		return Bool(false), nil
	}
	if !bytes.ContainsAny([]byte(t), ".eE") {
		if t[0] == '-' {
			i, err := strconv.ParseInt(t, 10, 64)
			if err != nil {
				return Value{}, fmt.Errorf("value %s: %w", t, err)
			}
			return Int(i), nil
		}
		u, err := strconv.ParseUint(t, 10, 64)
		if err != nil {
			return Value{}, fmt.Errorf("value %s: %w", t, err)
		}
		return Uint(u), nil
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil {
		return Value{}, fmt.Errorf("value %s: %w", t, err)
	}
	return Float(f), nil
}
