package sparkplug

import (
	"errors"
	"fmt"
	"strings"
)

// Namespace is the Sparkplug B topic namespace (spec §4.1.1).
const Namespace = "spBv1.0"

// MessageType is the message_type element of a Sparkplug topic.
type MessageType string

// Sparkplug message types (spec §4.1.1.3).
const (
	NBIRTH MessageType = "NBIRTH"
	NDEATH MessageType = "NDEATH"
	DBIRTH MessageType = "DBIRTH"
	DDEATH MessageType = "DDEATH"
	NDATA  MessageType = "NDATA"
	DDATA  MessageType = "DDATA"
	NCMD   MessageType = "NCMD"
	DCMD   MessageType = "DCMD"
	STATE  MessageType = "STATE"
)

// DeviceLevel reports whether t addresses a device rather than the edge node.
func (t MessageType) DeviceLevel() bool {
	return t == DBIRTH || t == DDEATH || t == DDATA || t == DCMD
}

func (t MessageType) valid() bool {
	switch t {
	case NBIRTH, NDEATH, DBIRTH, DDEATH, NDATA, DDATA, NCMD, DCMD:
		return true
	}
	return false
}

// Topic is a parsed Sparkplug topic. For STATE topics only HostID is set.
type Topic struct {
	Group    string
	Type     MessageType
	EdgeNode string
	Device   string
	HostID   string
}

// String renders t as an MQTT topic name.
func (t Topic) String() string {
	if t.Type == STATE {
		return Namespace + "/STATE/" + t.HostID
	}
	s := Namespace + "/" + t.Group + "/" + string(t.Type) + "/" + t.EdgeNode
	if t.Device != "" {
		s += "/" + t.Device
	}
	return s
}

// NodeTopic returns the topic of a node-level message.
func NodeTopic(group string, typ MessageType, edge string) Topic {
	return Topic{Group: group, Type: typ, EdgeNode: edge}
}

// DeviceTopic returns the topic of a device-level message.
func DeviceTopic(group string, typ MessageType, edge, device string) Topic {
	return Topic{Group: group, Type: typ, EdgeNode: edge, Device: device}
}

// StateTopic returns the primary host application's STATE topic (spec §4.1.2).
func StateTopic(hostID string) Topic { return Topic{Type: STATE, HostID: hostID} }

// GroupFilter is the subscription that receives every message of a group.
func GroupFilter(group string) string { return Namespace + "/" + group + "/#" }

// ErrTopic is returned for a topic that is not a valid Sparkplug B topic.
var ErrTopic = errors.New("not a Sparkplug B topic")

// ParseTopic parses an MQTT topic name.
func ParseTopic(s string) (Topic, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 3 || parts[0] != Namespace {
		return Topic{}, fmt.Errorf("sparkplug: topic %q: %w", s, ErrTopic)
	}
	if parts[1] == string(STATE) {
		if len(parts) != 3 || ValidateID(parts[2]) != nil {
			return Topic{}, fmt.Errorf("sparkplug: topic %q: %w", s, ErrTopic)
		}
		return StateTopic(parts[2]), nil
	}
	if len(parts) < 4 || len(parts) > 5 {
		return Topic{}, fmt.Errorf("sparkplug: topic %q: %w", s, ErrTopic)
	}
	t := Topic{Group: parts[1], Type: MessageType(parts[2]), EdgeNode: parts[3]}
	if len(parts) == 5 {
		t.Device = parts[4]
	}
	if !t.Type.valid() || t.Type.DeviceLevel() != (t.Device != "") {
		return Topic{}, fmt.Errorf("sparkplug: topic %q: %w", s, ErrTopic)
	}
	for _, id := range parts[1:] {
		if ValidateID(id) != nil {
			return Topic{}, fmt.Errorf("sparkplug: topic %q: %w", s, ErrTopic)
		}
	}
	return t, nil
}

// ValidateID checks a group, edge node, device or host ID: a non-empty
// UTF-8 string without the MQTT separators and wildcards (spec §4.1.1).
func ValidateID(id string) error {
	if id == "" {
		return errors.New("sparkplug: empty id")
	}
	if strings.ContainsAny(id, "/+#") {
		return fmt.Errorf("sparkplug: id %q contains '/', '+' or '#'", id)
	}
	return nil
}
