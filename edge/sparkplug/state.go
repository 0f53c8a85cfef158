package sparkplug

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// State is the payload of a primary host application's STATE message
// (spec §4.1.2 and §7.5): JSON, published retained at QoS 1, with the same
// timestamp in the birth and in the will that announces its death.
type State struct {
	Online    bool  `json:"online"`
	Timestamp int64 `json:"timestamp"`
}

// StatePayload encodes a STATE payload for ts.
func StatePayload(online bool, ts time.Time) []byte {
	b, _ := json.Marshal(State{Online: online, Timestamp: ts.UnixMilli()}) // cannot fail on this type
	return b
}

// ParseState decodes a STATE payload.
func ParseState(b []byte) (State, error) {
	var s State
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return State{}, fmt.Errorf("sparkplug: decode STATE: %w", err)
	}
	return s, nil
}
