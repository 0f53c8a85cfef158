package ina226_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/ina226"
	"github.com/rackwatch/rackwatch/drivers/sensor"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/host/v3"
)

// Reading an INA226 on the host's first I²C bus, on a board with a 10 mΩ
// shunt and 16 averages per result. The caller opens the bus, and closes
// it after the driver is halted; the driver never does.
func Example() {
	if _, err := host.Init(); err != nil {
		log.Fatal(err)
	}
	bus, err := i2creg.Open("")
	if err != nil {
		log.Fatal(err)
	}
	defer bus.Close()

	if err := ina226.Probe(bus, 0x40); err != nil {
		log.Fatal(err)
	}
	opts := ina226.DefaultOpts
	opts.ShuntResistance = 10 * physic.MilliOhm
	opts.MaxCurrent = 0 // the whole ±81.92 mV range: ±8.192 A
	opts.Averages = 16
	dev, err := ina226.New(bus, &opts)
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Halt()

	pm, err := dev.Sense()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %s\n", dev, pm)
}

// The same driver on an emulated bus, for demos and tests without
// hardware.
func Example_emulated() {
	var bus i2cemu.Bus
	chip := i2cemu.NewINA226()
	chip.SetConversionTime(0) // every read sees the values set last
	chip.SetShunt(100 * physic.MilliOhm)
	chip.SetCurrent(100 * physic.MilliAmpere)
	chip.SetBusVoltage(12 * physic.Volt)
	if err := bus.Attach(0x40, chip); err != nil {
		log.Fatal(err)
	}

	// The defaults suit a 100 mΩ shunt: Current_LSB 25 µA.
	dev, err := ina226.New(&bus, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Halt()

	pm, err := dev.Sense()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %s\n", dev, pm)

	// Current flowing back reads negative.
	chip.SetCurrent(-250 * physic.MilliAmpere)
	if pm, err = dev.Sense(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(pm)

	// Another chip at an INA226 address is recognised as such.
	other := i2cemu.NewINA226()
	other.SetIDs(0x5449, 0x2270)
	if err := bus.Attach(0x41, other); err != nil {
		log.Fatal(err)
	}
	err = ina226.Probe(&bus, 0x41)
	fmt.Println(errors.Is(err, sensor.ErrChipID), err)
	// Output:
	// INA226{i2cemu(64)}: shunt 10mV, bus 12V, current 100mA, power 1.200W
	// shunt -25mV, bus 12V, current -250mA, power -3W
	// true ina226: not an INA226 at 0x41: manufacturer ID 0x5449, die ID 0x2270: sensor: unexpected chip ID
}
