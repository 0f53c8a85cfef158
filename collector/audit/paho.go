package audit

import (
	"errors"
	"fmt"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Paho publishes through a paho MQTT client owned by the caller, which
// connects it and keeps it connected.
type Paho struct {
	Client paho.Client
	// Timeout bounds the wait for the broker's acknowledgement.
	Timeout time.Duration
}

// PahoPublisher returns a Publisher over c that waits at most 5 s for each
// acknowledgement.
func PahoPublisher(c paho.Client) *Paho {
	return &Paho{Client: c, Timeout: 5 * time.Second}
}

var _ Publisher = (*Paho)(nil)

// Publish sends one message and waits for the broker's acknowledgement. It
// returns ErrNotConnected, without handing the message to paho, while the
// connection is down: paho would otherwise keep every message published
// during a reconnect in its store, without bound.
func (p *Paho) Publish(topic string, qos byte, retained bool, payload []byte) error {
	if !p.Client.IsConnectionOpen() {
		return ErrNotConnected
	}
	t := p.Client.Publish(topic, qos, retained, payload)
	if !t.WaitTimeout(p.Timeout) {
		return fmt.Errorf("audit: publish to %s: no acknowledgement within %s", topic, p.Timeout)
	}
	if err := t.Error(); err != nil {
		if errors.Is(err, paho.ErrNotConnected) {
			return fmt.Errorf("audit: publish to %s: %w: %w", topic, ErrNotConnected, err)
		}
		return fmt.Errorf("audit: publish to %s: %w", topic, err)
	}
	return nil
}
