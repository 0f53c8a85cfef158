package agent

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rackwatch/rackwatch/drivers/tmp102"
	"github.com/rackwatch/rackwatch/edge/sample"
	"periph.io/x/conn/v3/i2c"
)

// TMP102Source reads one TMP102. The chip is probed lazily and probed again
// after a failure, so a sensor that is unplugged and plugged back recovers
// without a restart.
type TMP102Source struct {
	Name     string
	Bus      i2c.Bus
	Opts     tmp102.Opts
	Interval time.Duration
	Now      func() time.Time

	mu  sync.Mutex
	dev *tmp102.Dev
}

// Device implements Source.
func (s *TMP102Source) Device() string { return s.Name }

// Period implements Source.
func (s *TMP102Source) Period() time.Duration { return s.Interval }

// Collect implements Source.
func (s *TMP102Source) Collect(context.Context) ([]sample.Sample, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dev == nil {
		d, err := tmp102.New(s.Bus, &s.Opts)
		if err != nil {
			return nil, fmt.Errorf("agent: %s: %w", s.Name, err)
		}
		s.dev = d
	}
	t, err := s.dev.SenseTemperature()
	if err != nil {
		s.dev = nil
		return nil, fmt.Errorf("agent: %s: %w", s.Name, err)
	}
	return []sample.Sample{{
		Metric: sample.TemperatureCelsius, Labels: sample.L("sensor", s.Name),
		Value: sample.Float(t.Celsius()), Unit: "celsius", TS: s.Now(),
	}}, nil
}

// Close implements Source: it shuts the chip down to save power; the bus
// belongs to the caller.
func (s *TMP102Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dev == nil {
		return nil
	}
	return s.dev.Halt()
}
