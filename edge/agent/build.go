package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/rackwatch/rackwatch/drivers/chips"
	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/edge/config"
	"github.com/rackwatch/rackwatch/edge/hostsignals"
	"github.com/rackwatch/rackwatch/edge/snmppoll"
	"periph.io/x/conn/v3/i2c"
)

// EmulatedBus is the bus name that selects the built-in emulation.
const EmulatedBus = "emulated"

// BusOpener opens a real I2C bus by name (periph's i2creg.Open).
type BusOpener func(name string) (i2c.BusCloser, error)

// Built is what Build made from a configuration.
type Built struct {
	Sources []Source
	// Emulated holds the emulated chip models by sensor name, so a demo or
	// a test can change what they sense (type-assert to the model, such as
	// *i2cemu.TMP102).
	Emulated map[string]i2cemu.Device
	// EmulatedBuses holds the emulated buses by configured name, for fault
	// injection.
	EmulatedBuses map[string]*i2cemu.Bus
	buses         []*SharedBus
}

// Close releases the buses Build opened. Sources are closed by Run.
func (b *Built) Close() error {
	var errs []error
	for _, bus := range b.buses {
		errs = append(errs, bus.Close())
	}
	return errors.Join(errs...)
}

// nopCloser gives the emulated bus the BusCloser shape; it has nothing to
// release.
type nopCloser struct{ *i2cemu.Bus }

func (nopCloser) Close() error { return nil }

// EmulatedBusFor returns an emulated bus with a model of each configured
// chip at its address, and the models by sensor name.
func EmulatedBusFor(sensors []config.I2CSensor) (*i2cemu.Bus, map[string]i2cemu.Device, error) {
	bus := &i2cemu.Bus{}
	models := map[string]i2cemu.Device{}
	for _, s := range sensors {
		chip, err := chips.Lookup(s.Chip)
		if err != nil {
			return nil, nil, err
		}
		m := chip.Emulate()
		if err := bus.Attach(s.Address, m); err != nil {
			return nil, nil, fmt.Errorf("agent: emulated bus: %w", err)
		}
		models[s.Name] = m
	}
	return bus, models, nil
}

// Build creates the sources cfg describes. Real buses are opened with open,
// which is only called when the configuration names one.
func Build(cfg *config.Config, open BusOpener, now func() time.Time, log *slog.Logger) (*Built, error) {
	if log == nil {
		log = slog.Default()
	}
	b := &Built{Emulated: map[string]i2cemu.Device{}, EmulatedBuses: map[string]*i2cemu.Bus{}}
	for _, bc := range cfg.I2C {
		var opener func() (i2c.BusCloser, error)
		if bc.Bus == EmulatedBus {
			eb, models, err := EmulatedBusFor(bc.Sensors)
			if err != nil {
				b.Close()
				return nil, err
			}
			for name, m := range models {
				b.Emulated[name] = m
			}
			b.EmulatedBuses[bc.Bus] = eb
			opener = func() (i2c.BusCloser, error) { return nopCloser{eb}, nil }
		} else {
			if open == nil {
				b.Close()
				return nil, fmt.Errorf("agent: i2c bus %q: no I2C host support", bc.Bus)
			}
			name := bc.Bus
			opener = func() (i2c.BusCloser, error) { return open(name) }
		}
		bus, err := NewSharedBus(bc.Bus, opener, log)
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("agent: open i2c bus %q: %w", bc.Bus, err)
		}
		b.buses = append(b.buses, bus)
		for _, s := range bc.Sensors {
			chip, err := chips.Lookup(s.Chip)
			if err != nil {
				b.Close()
				return nil, err
			}
			b.Sources = append(b.Sources, &I2CSource{
				Name: s.Name, Chip: chip, Addr: s.Address, Params: s.Params(),
				Bus: bus, Interval: s.Period, Now: now,
			})
		}
	}
	if h := cfg.Host; h.Enabled {
		src := &HostSource{Name: h.Device, Interval: h.Period, Reader: &hostsignals.Reader{Root: h.Root, Now: now}}
		if h.Kmsg {
			src.Kmsg = hostsignals.NewKmsg(filepath.Join(h.Root, "dev/kmsg"))
			src.Kmsg.Now = now
		}
		b.Sources = append(b.Sources, src)
	}
	for i := range cfg.SNMP {
		t := &cfg.SNMP[i]
		o := t.PollerOpts()
		o.Now, o.ProfileDirs = now, cfg.SNMPProfiles
		p, err := snmppoll.New(o)
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("agent: %w", err)
		}
		b.Sources = append(b.Sources, &SNMPSource{Name: t.Name, Poller: p, Interval: t.Period})
	}
	return b, nil
}
