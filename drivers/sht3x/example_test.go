package sht3x_test

import (
	"fmt"
	"log"

	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/sht3x"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/host/v3"
)

// Reading an SHT31 on the host's first I²C bus. The caller opens the bus,
// and closes it after the driver is halted; the driver never does.
func Example() {
	if _, err := host.Init(); err != nil {
		log.Fatal(err)
	}
	bus, err := i2creg.Open("")
	if err != nil {
		log.Fatal(err)
	}
	defer bus.Close()

	if err := sht3x.Probe(bus, 0x44); err != nil {
		log.Fatal(err)
	}
	opts := sht3x.DefaultOpts
	opts.Repeatability = sht3x.RepeatabilityMedium // 6.5 ms instead of 15.5 ms
	dev, err := sht3x.New(bus, &opts)
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Halt()

	var e physic.Env
	if err := dev.Sense(&e); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %s %s\n", dev, e.Temperature, e.Humidity)
}

// The same driver on an emulated bus, for demos and tests without
// hardware.
func Example_emulated() {
	var bus i2cemu.Bus
	sensor := i2cemu.NewSHT3x()
	sensor.SetTemperature(physic.ZeroCelsius - 10*physic.Kelvin)
	sensor.SetHumidity(80 * physic.PercentRH)
	if err := bus.Attach(0x44, sensor); err != nil {
		log.Fatal(err)
	}

	dev, err := sht3x.New(&bus, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Halt()

	var e physic.Env
	if err := dev.Sense(&e); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %s %s\n", dev, e.Temperature, e.Humidity)

	// A corrupted transfer is reported, not read as a plausible value.
	sensor.CorruptCRC(1)
	if err := dev.Sense(&e); err != nil {
		fmt.Println(err)
	}
	// Output:
	// SHT3x{i2cemu(68)}: -10°C 80%rH
	// sht3x: temperature at 0x44: sensor: checksum mismatch: word 0x3333 has CRC 0x77, want 0x88
}
