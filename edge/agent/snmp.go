package agent

import (
	"context"
	"time"

	"github.com/rackwatch/rackwatch/edge/sample"
	"github.com/rackwatch/rackwatch/edge/snmppoll"
)

// SNMPSource polls one SNMP target.
type SNMPSource struct {
	Name     string
	Poller   *snmppoll.Poller
	Interval time.Duration
}

// Device implements Source.
func (s *SNMPSource) Device() string { return s.Name }

// Period implements Source.
func (s *SNMPSource) Period() time.Duration { return s.Interval }

// Collect implements Source.
func (s *SNMPSource) Collect(ctx context.Context) ([]sample.Sample, error) {
	return s.Poller.Poll(ctx)
}

// Close implements Source.
func (s *SNMPSource) Close() error { return s.Poller.Close() }
