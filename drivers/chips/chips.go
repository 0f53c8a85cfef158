// Package chips is the catalogue of the I2C chips rackwatch drives: for each
// one, how to open it from a configuration, how to recognise it on a bus,
// and how to emulate it. The edge's configuration, its sources and the
// `rackwatch-edge i2c` field commands all go through it, so adding a chip
// means adding its driver, its emulation and one entry here.
package chips

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/sensor"
	"github.com/rackwatch/rackwatch/drivers/tmp102"
	"periph.io/x/conn/v3/i2c"
)

// Params are the chip options a configuration may set. Each chip lists the
// ones it takes in Chip.Options; setting another is a configuration error.
type Params struct {
	// Extended selects the TMP102's 13-bit mode (to 150 °C).
	Extended bool
}

// Option names, as written in configuration files.
const (
	OptExtended = "extended"
)

// Chip describes one supported chip.
type Chip struct {
	Name string
	// Description says what the chip is, for listings.
	Description string
	// Addrs are the addresses the chip can be strapped to; Addrs[0] is the
	// default.
	Addrs []uint16
	// Measures lists the quantities a reading carries.
	Measures []sensor.Quantity
	// Options lists the Params fields the chip takes.
	Options []string
	// Open returns a driver for the chip at addr. The bus stays the
	// caller's.
	Open func(bus i2c.Bus, addr uint16, p Params) (sensor.Sensor, error)
	// Probe reports whether the device at addr is this chip, from ID
	// registers; nil when the chip has none.
	Probe func(bus i2c.Bus, addr uint16) error
	// Emulate returns a model of the chip in its power-on state.
	Emulate func() i2cemu.Device
}

// All lists the supported chips by name.
var All = []Chip{
	{
		Name: "tmp102", Description: "TI TMP102 temperature sensor",
		Addrs: addrRange(0x48, 0x4b), Measures: []sensor.Quantity{sensor.Temperature},
		Options: []string{OptExtended},
		Open: func(bus i2c.Bus, addr uint16, p Params) (sensor.Sensor, error) {
			return tmp102.New(bus, &tmp102.Opts{Addr: addr, Extended: p.Extended})
		},
		Probe:   tmp102.Probe,
		Emulate: func() i2cemu.Device { return i2cemu.NewTMP102() },
	},
}

func addrRange(lo, hi uint16) []uint16 {
	var a []uint16
	for x := lo; x <= hi; x++ {
		a = append(a, x)
	}
	return a
}

// ErrUnknownChip is returned for a chip name not in All.
var ErrUnknownChip = errors.New("chips: unknown chip")

// Lookup returns the chip called name.
func Lookup(name string) (Chip, error) {
	for _, c := range All {
		if c.Name == name {
			return c, nil
		}
	}
	return Chip{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownChip, name, strings.Join(Names(), ", "))
}

// Names lists the chip names.
func Names() []string {
	n := make([]string, len(All))
	for i, c := range All {
		n[i] = c.Name
	}
	return n
}

// CheckAddr reports an address the chip cannot have.
func (c Chip) CheckAddr(addr uint16) error {
	if !slices.Contains(c.Addrs, addr) {
		return fmt.Errorf("chips: %s cannot be at %#02x (its addresses: %s)", c.Name, addr, fmtAddrs(c.Addrs))
	}
	return nil
}

func fmtAddrs(a []uint16) string {
	if len(a) > 2 && a[len(a)-1]-a[0] == uint16(len(a)-1) {
		return fmt.Sprintf("%#02x–%#02x", a[0], a[len(a)-1])
	}
	s := make([]string, len(a))
	for i, x := range a {
		s[i] = fmt.Sprintf("%#02x", x)
	}
	return strings.Join(s, ", ")
}

// Takes reports whether the chip accepts option name.
func (c Chip) Takes(name string) bool { return slices.Contains(c.Options, name) }
