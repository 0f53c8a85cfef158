package agent

import (
	"errors"
	"fmt"
	"time"

	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/tmp102"
	"github.com/rackwatch/rackwatch/edge/config"
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
	// Emulated holds the emulated chips by sensor name, so a demo or a test
	// can change what they sense.
	Emulated map[string]*i2cemu.TMP102
	closers  []func() error
}

// Close releases the buses Build opened. Sources are closed by Run.
func (b *Built) Close() error {
	var errs []error
	for _, c := range b.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// Build creates the sources cfg describes. Real buses are opened with open,
// which is only called when the configuration names one.
func Build(cfg *config.Config, open BusOpener, now func() time.Time) (*Built, error) {
	b := &Built{Emulated: map[string]*i2cemu.TMP102{}}
	for _, bc := range cfg.I2C {
		var bus i2c.Bus
		if bc.Bus == EmulatedBus {
			eb := &i2cemu.Bus{}
			for _, s := range bc.Sensors {
				m := i2cemu.NewTMP102()
				if err := eb.Attach(s.Address, m); err != nil {
					return nil, fmt.Errorf("agent: emulated bus: %w", err)
				}
				b.Emulated[s.Name] = m
			}
			bus = eb
		} else {
			if open == nil {
				return nil, fmt.Errorf("agent: i2c bus %q: no I2C host support", bc.Bus)
			}
			rb, err := open(bc.Bus)
			if err != nil {
				b.Close()
				return nil, fmt.Errorf("agent: open i2c bus %q: %w", bc.Bus, err)
			}
			b.closers = append(b.closers, rb.Close)
			bus = rb
		}
		for _, s := range bc.Sensors {
			b.Sources = append(b.Sources, &TMP102Source{
				Name: s.Name, Bus: bus, Interval: s.Period, Now: now,
				Opts: tmp102.Opts{Addr: s.Address, Extended: s.Extended},
			})
		}
	}
	for i := range cfg.SNMP {
		t := &cfg.SNMP[i]
		o := t.PollerOpts()
		o.Now = now
		p, err := snmppoll.New(o)
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("agent: %w", err)
		}
		b.Sources = append(b.Sources, &SNMPSource{Name: t.Name, Poller: p, Interval: t.Period})
	}
	return b, nil
}
