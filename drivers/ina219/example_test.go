package ina219_test

import (
	"fmt"
	"log"

	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/ina219"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/host/v3"
)

// Reading an INA219 on the host's first I²C bus, on a board with a 100 mΩ
// shunt. The caller opens the bus, and closes it after the driver is
// halted; the driver never does.
func Example() {
	if _, err := host.Init(); err != nil {
		log.Fatal(err)
	}
	bus, err := i2creg.Open("")
	if err != nil {
		log.Fatal(err)
	}
	defer bus.Close()

	opts := ina219.DefaultOpts
	opts.ShuntResistance = 100 * physic.MilliOhm
	opts.MaxCurrent = 2 * physic.Ampere
	dev, err := ina219.New(bus, &opts)
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
	chip := i2cemu.NewINA219()
	chip.SetConversionTime(0) // every read sees the values set last
	chip.SetShunt(100 * physic.MilliOhm)
	chip.SetCurrent(1500 * physic.MilliAmpere)
	chip.SetBusVoltage(12 * physic.Volt)
	if err := bus.Attach(0x40, chip); err != nil {
		log.Fatal(err)
	}

	// 1.6384 A = 2^15 × 50 µA: a round Current_LSB, so that every reading
	// is decimal-exact.
	opts := ina219.Opts{Addr: 0x40, ShuntResistance: 100 * physic.MilliOhm, MaxCurrent: 1638400 * physic.MicroAmpere}
	dev, err := ina219.New(&bus, &opts)
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

	// Beyond MaxCurrent the chip flags an overflow: no value is reported.
	chip.SetCurrent(2 * physic.Ampere)
	if _, err := dev.Sense(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// INA219{i2cemu(64)}: shunt 150mV, bus 12V, current 1.500A, power 18W
	// shunt -25mV, bus 12V, current -250mA, power -3W
	// ina219: math overflow at 0x40: the current exceeds 1.638A: sensor: implausible value
}
