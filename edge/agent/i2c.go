package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/rackwatch/rackwatch/drivers/chips"
	"github.com/rackwatch/rackwatch/drivers/sensor"
	"github.com/rackwatch/rackwatch/edge/config"
	"github.com/rackwatch/rackwatch/edge/sample"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

func init() { register("i2c", i2cEntries) }

// I2CConfig is what an I2C source is built from: a sensor and its bus.
type I2CConfig struct {
	Bus    string
	Sensor config.I2CSensor
}

func i2cEntries(cfg *config.Config) []Entry {
	var out []Entry
	for _, bc := range cfg.I2C {
		for _, s := range bc.Sensors {
			c := I2CConfig{Bus: bc.Bus, Sensor: s}
			out = append(out, Entry{Kind: "i2c", Device: s.Name, Config: c, Build: c.build})
		}
	}
	return out
}

func (c I2CConfig) build(b *Builder) (Source, error) {
	s := c.Sensor
	chip, err := chips.Lookup(s.Chip)
	if err != nil {
		return nil, fmt.Errorf("agent: %s: %w", s.Name, err)
	}
	bus, err := b.i2cBus(c.Bus)
	if err != nil {
		return nil, err
	}
	if c.Bus == EmulatedBus {
		if err := b.emulate(c.Bus, s.Address, chip, s.Name); err != nil {
			return nil, err
		}
	}
	return &I2CSource{Name: s.Name, Chip: chip, Addr: s.Address, Params: s.Params(),
		Bus: bus, Interval: s.Period, Now: b.opts.Now}, nil
}

// I2CSource reads one sensor chip under the fault policy of sensor.Guard:
// discarded and failed reads publish no value, only the sensor's status
// and counters, so a faulted sensor never looks like a valid reading.
type I2CSource struct {
	Name     string
	Chip     chips.Chip
	Addr     uint16
	Params   chips.Params
	Bus      *SharedBus
	Interval time.Duration
	Policy   *sensor.Policy
	Now      func() time.Time

	mu    sync.Mutex
	guard *sensor.Guard
	lazy  *lazySensor
	buf   []sensor.Reading
}

// Device implements Source.
func (s *I2CSource) Device() string { return s.Name }

// Period implements Source.
func (s *I2CSource) Period() time.Duration { return s.Interval }

// Collect implements Source.
func (s *I2CSource) Collect(context.Context) ([]sample.Sample, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.guard == nil {
		s.lazy = &lazySensor{src: s}
		s.guard = sensor.NewGuard(s.lazy, s.Policy, s.Now)
	}
	before := s.guard.Status()
	var err error
	s.buf, err = s.guard.Read(s.buf[:0])
	now := s.Now()
	if err != nil && s.guard.Status() == sensor.StatusFaulted && before != sensor.StatusFaulted {
		// The edge owns the bus: a sensor that just faulted may be behind
		// a wedged adapter, which reopening recovers.
		s.Bus.Recover(now)
	}
	samples := make([]sample.Sample, 0, len(s.buf)+3)
	for _, r := range s.buf {
		labels := sample.L("sensor", s.Name)
		if r.Channel != "" {
			labels = sample.L("sensor", s.Name, "channel", r.Channel)
		}
		v := sample.Float(r.Float())
		if r.Quantity == sensor.FanFault {
			v = sample.Bool(r.Value != 0)
		}
		samples = append(samples, sample.Sample{Metric: r.Quantity.Metric(), Labels: labels, Value: v, Unit: r.Quantity.Unit(), TS: now})
	}
	c := s.guard.Counters()
	labels := sample.L("sensor", s.Name)
	samples = append(samples,
		sample.Sample{Metric: sample.SensorStatus, Labels: labels, Value: sample.Uint(uint64(s.guard.Status())), Unit: "status", TS: now},
		sample.Sample{Metric: sample.SensorFailures, Labels: labels, Value: sample.Uint(c.Failures), Unit: "reads", TS: now},
		sample.Sample{Metric: sample.SensorDiscarded, Labels: labels, Value: sample.Uint(c.Discarded), Unit: "reads", TS: now},
	)
	if err != nil {
		return samples, fmt.Errorf("agent: %s (%s at %#02x on %s): %w", s.Name, s.Chip.Name, s.Addr, s.Bus, err)
	}
	return samples, nil
}

// Close implements Source: the chip is halted; the bus stays the edge's.
func (s *I2CSource) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lazy == nil || s.lazy.dev == nil {
		return nil
	}
	return s.lazy.dev.Halt()
}

// lazySensor opens the driver on first use and again after a failed read,
// so a sensor that is unplugged, power-cycled or reset comes back
// configured without a restart.
type lazySensor struct {
	src *I2CSource
	dev sensor.Sensor
}

func (l *lazySensor) Read(dst []sensor.Reading) ([]sensor.Reading, error) {
	if l.dev == nil {
		d, err := l.src.Chip.Open(l.src.Bus, l.src.Addr, l.src.Params)
		if err != nil {
			return dst, err
		}
		l.dev = d
	}
	out, err := l.dev.Read(dst)
	if err != nil {
		l.dev = nil
	}
	return out, err
}

func (l *lazySensor) Halt() error    { return nil }
func (l *lazySensor) String() string { return l.src.Name }

// SharedBus is the edge's handle on one I2C bus, shared by the sources on
// it. Recover reopens the underlying bus, at most once per RecoverEvery.
type SharedBus struct {
	Name         string
	RecoverEvery time.Duration
	open         func() (i2c.BusCloser, error)
	log          *slog.Logger

	mu          sync.RWMutex
	bus         i2c.BusCloser
	lastRecover time.Time
}

// NewSharedBus opens the bus with open.
func NewSharedBus(name string, open func() (i2c.BusCloser, error), log *slog.Logger) (*SharedBus, error) {
	b, err := open()
	if err != nil {
		return nil, err
	}
	return &SharedBus{Name: name, RecoverEvery: time.Minute, open: open, log: log, bus: b}, nil
}

// ErrBusClosed is returned by Tx while the bus is closed or being reopened.
var ErrBusClosed = errors.New("agent: i2c bus closed")

// Tx implements i2c.Bus.
func (b *SharedBus) Tx(addr uint16, w, r []byte) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.bus == nil {
		return fmt.Errorf("%w: %s", ErrBusClosed, b.Name)
	}
	return b.bus.Tx(addr, w, r)
}

// SetSpeed implements i2c.Bus.
func (b *SharedBus) SetSpeed(f physic.Frequency) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.bus == nil {
		return fmt.Errorf("%w: %s", ErrBusClosed, b.Name)
	}
	return b.bus.SetSpeed(f)
}

func (b *SharedBus) String() string { return "i2c bus " + b.Name }

// Recover closes and reopens the bus, unless it did so less than
// RecoverEvery ago.
func (b *SharedBus) Recover(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.lastRecover.IsZero() && now.Sub(b.lastRecover) < b.RecoverEvery {
		return
	}
	b.lastRecover = now
	if b.bus != nil {
		b.bus.Close()
		b.bus = nil
	}
	nb, err := b.open()
	if err != nil {
		b.log.Error("reopening i2c bus failed; retrying later", "bus", b.Name, "err", err)
		return
	}
	b.bus = nb
	b.log.Warn("reopened i2c bus after a sensor faulted", "bus", b.Name)
}

// Close closes the bus.
func (b *SharedBus) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bus == nil {
		return nil
	}
	err := b.bus.Close()
	b.bus = nil
	return err
}
