package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/rackwatch/rackwatch/drivers/chips"
	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/edge/config"
	"periph.io/x/conn/v3/i2c"
)

// EmulatedBus is the bus name that selects the built-in emulation.
const EmulatedBus = "emulated"

// BusOpener opens a real I2C bus by name (periph's i2creg.Open).
type BusOpener func(name string) (i2c.BusCloser, error)

// BuilderOpts configure a Builder.
type BuilderOpts struct {
	// OpenBus opens real I2C buses; it is only called when an entry names
	// one. nil leaves only the emulated bus.
	OpenBus BusOpener
	Now     func() time.Time
	Logger  *slog.Logger
}

// Builder builds sources from entries and owns what they share: the I2C
// buses and, on the emulated bus, the chip models. It lives as long as the
// sources it built, across reloads, so a rebuilt sensor uses the bus its
// unchanged neighbours keep using.
type Builder struct {
	opts BuilderOpts

	mu    sync.Mutex
	buses map[string]*SharedBus
	emu   map[string]*emulation
}

// emulation is an emulated bus: a socket at each configured address holds
// the model of the chip configured there.
type emulation struct {
	bus     *i2cemu.Bus
	sockets map[uint16]*socket
}

// socket is an address of an emulated bus. A reload may put another chip
// into it, or empty it; i2cemu.Bus has no detach.
type socket struct {
	mu     sync.Mutex
	chip   string
	sensor string
	dev    i2cemu.Device // nil: nothing answers
}

func (s *socket) Tx(w, r []byte) error {
	s.mu.Lock()
	d := s.dev
	s.mu.Unlock()
	if d == nil {
		return i2cemu.ErrNACK
	}
	return d.Tx(w, r)
}

// NewBuilder returns a builder that has opened nothing yet.
func NewBuilder(opts BuilderOpts) *Builder {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Builder{opts: opts, buses: map[string]*SharedBus{}, emu: map[string]*emulation{}}
}

// Build builds the entries, in order. On error it closes what it built and
// returns no source; buses it opened stay with the builder until Prune or
// Close.
func (b *Builder) Build(entries []Entry) ([]Source, error) {
	out := make([]Source, 0, len(entries))
	for i := range entries {
		s, err := entries[i].Build(b)
		if err != nil {
			for _, s := range out {
				s.Close()
			}
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// i2cBus returns the shared bus of that name, opening it on first use.
func (b *Builder) i2cBus(name string) (*SharedBus, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if bus, ok := b.buses[name]; ok {
		return bus, nil
	}
	var opener func() (i2c.BusCloser, error)
	if name == EmulatedBus {
		e := &emulation{bus: &i2cemu.Bus{}, sockets: map[uint16]*socket{}}
		b.emu[name] = e
		opener = func() (i2c.BusCloser, error) { return nopCloser{e.bus}, nil }
	} else {
		if b.opts.OpenBus == nil {
			return nil, fmt.Errorf("agent: i2c bus %q: no I2C host support", name)
		}
		open := b.opts.OpenBus
		opener = func() (i2c.BusCloser, error) { return open(name) }
	}
	bus, err := NewSharedBus(name, opener, b.opts.Logger)
	if err != nil {
		return nil, fmt.Errorf("agent: open i2c bus %q: %w", name, err)
	}
	b.buses[name] = bus
	return bus, nil
}

// emulate puts a model of chip at addr of the emulated bus busName, for
// sensor. A model of the same chip already there is kept, so what a demo
// or a test set on it survives a reload.
func (b *Builder) emulate(busName string, addr uint16, chip chips.Chip, sensor string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.emu[busName]
	s, ok := e.sockets[addr]
	if !ok {
		s = &socket{}
		if err := e.bus.Attach(addr, s); err != nil {
			return fmt.Errorf("agent: emulated bus: %w", err)
		}
		e.sockets[addr] = s
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dev == nil || s.chip != chip.Name {
		s.dev, s.chip = chip.Emulate(), chip.Name
	}
	s.sensor = sensor
	return nil
}

// Prune releases what no entry of keep uses: I2C buses are closed, and
// emptied addresses of the emulated bus stop answering. Call it after the
// sources of the other entries were closed.
func (b *Builder) Prune(keep []Entry) {
	used := map[string]map[uint16]string{} // bus → address → sensor
	for _, e := range keep {
		if c, ok := e.Config.(I2CConfig); ok {
			if used[c.Bus] == nil {
				used[c.Bus] = map[uint16]string{}
			}
			used[c.Bus][c.Sensor.Address] = c.Sensor.Name
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for name, bus := range b.buses {
		if _, ok := used[name]; ok {
			continue
		}
		if err := bus.Close(); err != nil {
			b.opts.Logger.Warn("closing i2c bus", "bus", name, "err", err)
		}
		delete(b.buses, name)
		delete(b.emu, name)
	}
	for name, e := range b.emu {
		for addr, s := range e.sockets {
			if _, ok := used[name][addr]; !ok {
				s.mu.Lock()
				s.dev, s.chip, s.sensor = nil, "", ""
				s.mu.Unlock()
			}
		}
	}
}

// Emulated returns the model of an emulated sensor by sensor name, so a
// demo or a test can change what it senses (type-assert to the model, such
// as *i2cemu.TMP102).
func (b *Builder) Emulated(sensor string) (i2cemu.Device, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.emu {
		for _, s := range e.sockets {
			s.mu.Lock()
			d, name := s.dev, s.sensor
			s.mu.Unlock()
			if d != nil && name == sensor {
				return d, true
			}
		}
	}
	return nil, false
}

// EmulatedBus returns an emulated bus by configured name, for fault
// injection.
func (b *Builder) EmulatedBus(name string) (*i2cemu.Bus, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.emu[name]
	if !ok {
		return nil, false
	}
	return e.bus, true
}

// Close closes the buses. Sources are closed by whoever runs them.
func (b *Builder) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var errs []error
	for name, bus := range b.buses {
		errs = append(errs, bus.Close())
		delete(b.buses, name)
	}
	return errors.Join(errs...)
}

// Built is what Build made from a configuration.
type Built struct {
	Sources []Source
	// Entries are the entries Sources were built from, in the same order.
	Entries []Entry
	// Emulated holds the emulated chip models by sensor name, so a demo or
	// a test can change what they sense (type-assert to the model, such as
	// *i2cemu.TMP102).
	Emulated map[string]i2cemu.Device
	// EmulatedBuses holds the emulated buses by configured name, for fault
	// injection.
	EmulatedBuses map[string]*i2cemu.Bus
	// Builder built the sources and owns their buses.
	Builder *Builder
}

// Close releases the buses Build opened. Sources are closed by Run.
func (b *Built) Close() error { return b.Builder.Close() }

// nopCloser gives the emulated bus the BusCloser shape; it has nothing to
// release.
type nopCloser struct{ *i2cemu.Bus }

func (nopCloser) Close() error { return nil }

// Build creates the sources cfg describes. Real buses are opened with open,
// which is only called when the configuration names one.
func Build(cfg *config.Config, open BusOpener, now func() time.Time, log *slog.Logger) (*Built, error) {
	b := NewBuilder(BuilderOpts{OpenBus: open, Now: now, Logger: log})
	entries := Entries(cfg)
	srcs, err := b.Build(entries)
	if err != nil {
		b.Close()
		return nil, err
	}
	built := &Built{Sources: srcs, Entries: entries, Emulated: map[string]i2cemu.Device{}, EmulatedBuses: map[string]*i2cemu.Bus{}, Builder: b}
	for _, e := range entries {
		if c, ok := e.Config.(I2CConfig); ok && c.Bus == EmulatedBus {
			if d, ok := b.Emulated(c.Sensor.Name); ok {
				built.Emulated[c.Sensor.Name] = d
			}
			built.EmulatedBuses[c.Bus], _ = b.EmulatedBus(c.Bus)
		}
	}
	return built, nil
}
