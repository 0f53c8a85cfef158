// Package chips is the catalogue of the I2C chips rackwatch drives: for each
// one, how to open it from a configuration, how to recognise it on a bus,
// and how to emulate it. The edge's configuration, its sources and the
// `rackwatch-edge i2c` field commands all go through it, so adding a chip
// means adding its driver, its emulation and one entry here.
package chips

import (
	"encoding"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/rackwatch/rackwatch/drivers/bme280"
	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/ina219"
	"github.com/rackwatch/rackwatch/drivers/ina226"
	"github.com/rackwatch/rackwatch/drivers/lm75"
	"github.com/rackwatch/rackwatch/drivers/max31790"
	"github.com/rackwatch/rackwatch/drivers/mcp9808"
	"github.com/rackwatch/rackwatch/drivers/sensor"
	"github.com/rackwatch/rackwatch/drivers/sht3x"
	"github.com/rackwatch/rackwatch/drivers/sht4x"
	"github.com/rackwatch/rackwatch/drivers/tmp102"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// Params are the chip options a configuration may set. Each chip lists the
// ones it takes in Chip.Options; setting another is a configuration error.
type Params struct {
	// Extended selects the TMP102's 13-bit mode (to 150 °C).
	Extended bool
	// Precision is the SHT3x repeatability or the SHT4x precision: "high"
	// (the default), "medium" or "low".
	Precision string
	// Fans lists the MAX31790 channels that have a fan.
	Fans []Fan
	// Resolution is the MCP9808 resolution in °C: "0.5", "0.25", "0.125" or
	// "0.0625" (the default).
	Resolution string
	// ShuntOhms is the INA219/INA226 shunt resistance (required for them)
	// and MaxAmps the largest current to measure (0: the shunt's range).
	ShuntOhms, MaxAmps float64
	// Averages is the INA219/INA226 number of samples averaged (0: 1).
	Averages int
	// Oversampling is the BME280 oversampling of all three measurements
	// (0: 1).
	Oversampling int
}

// Fan is one MAX31790 fan channel.
type Fan struct {
	// Channel is 1 to 6; SpeedRange is the tach SR (1–32, 0 keeps the
	// chip's); PulsesPerRev is the fan's tach pulses per revolution
	// (0 means 2).
	Channel, SpeedRange, PulsesPerRev int
}

// Option names, as written in configuration files.
const (
	OptExtended     = "extended"
	OptPrecision    = "precision"
	OptFans         = "fans"
	OptResolution   = "resolution"
	OptShuntOhms    = "shunt_ohms"
	OptMaxAmps      = "max_amps"
	OptAverages     = "averages"
	OptOversampling = "oversampling"
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
	lm75Chip("lm75", "LM75/LM75A (9-bit) temperature sensor", lm75.LM75, 9),
	lm75Chip("lm75b", "NXP LM75B (11-bit) temperature sensor", lm75.LM75B, 11),
	{
		Name: "mcp9808", Description: "Microchip MCP9808 temperature sensor",
		Addrs: addrRange(0x18, 0x1f), Measures: []sensor.Quantity{sensor.Temperature},
		Options: []string{OptResolution},
		Open: func(bus i2c.Bus, addr uint16, p Params) (sensor.Sensor, error) {
			o := mcp9808.Opts{Addr: addr}
			if p.Resolution != "" {
				r, err := mcp9808.ParseResolution(p.Resolution)
				if err != nil {
					return nil, fmt.Errorf("chips: %w", err)
				}
				o.Resolution = r
			}
			return mcp9808.New(bus, &o)
		},
		Probe:   mcp9808.Probe,
		Emulate: func() i2cemu.Device { return i2cemu.NewMCP9808() },
	},
	{
		Name: "sht3x", Description: "Sensirion SHT30/31/35 humidity and temperature",
		Addrs: addrRange(0x44, 0x45), Measures: []sensor.Quantity{sensor.Temperature, sensor.Humidity},
		Options: []string{OptPrecision},
		Open: func(bus i2c.Bus, addr uint16, p Params) (sensor.Sensor, error) {
			o := sht3x.Opts{Addr: addr}
			if err := textOpt(&o.Repeatability, p.Precision); err != nil {
				return nil, err
			}
			return sht3x.New(bus, &o)
		},
		Probe:   sht3x.Probe,
		Emulate: func() i2cemu.Device { return i2cemu.NewSHT3x() },
	},
	{
		Name: "sht4x", Description: "Sensirion SHT40/41/45 humidity and temperature",
		Addrs: addrRange(0x44, 0x46), Measures: []sensor.Quantity{sensor.Temperature, sensor.Humidity},
		Options: []string{OptPrecision},
		Open: func(bus i2c.Bus, addr uint16, p Params) (sensor.Sensor, error) {
			o := sht4x.Opts{Addr: addr}
			if err := textOpt(&o.Precision, p.Precision); err != nil {
				return nil, err
			}
			return sht4x.New(bus, &o)
		},
		Probe:   sht4x.Probe,
		Emulate: func() i2cemu.Device { return i2cemu.NewSHT4x() },
	},
	{
		Name: "bme280", Description: "Bosch BME280 temperature, pressure, humidity (BMP280: no humidity)",
		Addrs: addrRange(0x76, 0x77), Measures: []sensor.Quantity{sensor.Temperature, sensor.Pressure, sensor.Humidity},
		Options: []string{OptOversampling},
		Open: func(bus i2c.Bus, addr uint16, p Params) (sensor.Sensor, error) {
			os := bme280.X1
			if p.Oversampling != 0 {
				os = bme280.Oversampling(p.Oversampling)
			}
			return bme280.New(bus, &bme280.Opts{Addr: addr, Temperature: os, Pressure: os, Humidity: os})
		},
		Probe:   bme280.Probe,
		Emulate: func() i2cemu.Device { return i2cemu.NewBME280() },
	},
	{
		Name: "ina219", Description: "TI INA219 current and power monitor",
		Addrs: addrRange(0x40, 0x4f), Measures: []sensor.Quantity{sensor.Voltage, sensor.Current, sensor.Power},
		Options: []string{OptShuntOhms, OptMaxAmps, OptAverages},
		Open: func(bus i2c.Bus, addr uint16, p Params) (sensor.Sensor, error) {
			o := ina219.DefaultOpts
			o.Addr, o.Averages = addr, p.Averages
			if p.ShuntOhms != 0 {
				o.ShuntResistance, o.MaxCurrent = ohms(p.ShuntOhms), amps(p.MaxAmps)
			}
			return ina219.New(bus, &o)
		},
		Emulate: func() i2cemu.Device { return i2cemu.NewINA219() },
	},
	{
		Name: "ina226", Description: "TI INA226 current and power monitor",
		Addrs: addrRange(0x40, 0x4f), Measures: []sensor.Quantity{sensor.Voltage, sensor.Current, sensor.Power},
		Options: []string{OptShuntOhms, OptMaxAmps, OptAverages},
		Open: func(bus i2c.Bus, addr uint16, p Params) (sensor.Sensor, error) {
			o := ina226.DefaultOpts
			o.Addr, o.Averages = addr, p.Averages
			if p.ShuntOhms != 0 {
				o.ShuntResistance, o.MaxCurrent = ohms(p.ShuntOhms), amps(p.MaxAmps)
			}
			return ina226.New(bus, &o)
		},
		Probe:   ina226.Probe,
		Emulate: func() i2cemu.Device { return i2cemu.NewINA226() },
	},
	{
		Name: "max31790", Description: "Maxim MAX31790 six-channel fan controller",
		Addrs: addrRange(max31790.MinAddr, max31790.MaxAddr), Measures: []sensor.Quantity{sensor.FanSpeed, sensor.FanDuty, sensor.FanFault},
		Options: []string{OptFans},
		Open: func(bus i2c.Bus, addr uint16, p Params) (sensor.Sensor, error) {
			o := max31790.Opts{Addr: addr}
			for _, f := range p.Fans {
				o.Fans = append(o.Fans, max31790.Fan{Channel: f.Channel, SpeedRange: f.SpeedRange, PulsesPerRev: f.PulsesPerRev})
			}
			return max31790.New(bus, &o)
		},
		Emulate: func() i2cemu.Device { return i2cemu.NewMAX31790() },
	},
}

// lm75Chip describes an LM75 variant. The part has no ID register, so a
// scan can only name it as a candidate by address.
func lm75Chip(name, desc string, v lm75.Variant, bits int) Chip {
	return Chip{
		Name: name, Description: desc,
		Addrs: addrRange(0x48, 0x4f), Measures: []sensor.Quantity{sensor.Temperature},
		Open: func(bus i2c.Bus, addr uint16, _ Params) (sensor.Sensor, error) {
			return lm75.New(bus, &lm75.Opts{Addr: addr, Variant: v})
		},
		Emulate: func() i2cemu.Device { return i2cemu.NewLM75(bits) },
	}
}

func ohms(v float64) physic.ElectricResistance {
	return physic.ElectricResistance(math.Round(v * float64(physic.Ohm)))
}

func amps(v float64) physic.ElectricCurrent {
	return physic.ElectricCurrent(math.Round(v * float64(physic.Ampere)))
}

// textOpt decodes a textual option into v when it is set.
func textOpt(v encoding.TextUnmarshaler, s string) error {
	if s == "" {
		return nil
	}
	if err := v.UnmarshalText([]byte(s)); err != nil {
		return fmt.Errorf("chips: %w", err)
	}
	return nil
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
