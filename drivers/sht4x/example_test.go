package sht4x_test

import (
	"fmt"
	"log"

	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/sht4x"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/host/v3"
)

// Reading an SHT45 on the host's first I²C bus. The caller opens the bus,
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

	dev, err := sht4x.New(bus, &sht4x.DefaultOpts)
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Halt()

	var e physic.Env
	if err := dev.Sense(&e); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s serial %#08x: %s %s\n", dev, dev.SerialNumber(), e.Temperature, e.Humidity)
}

// The same driver on an emulated bus, for demos and tests without
// hardware.
func Example_emulated() {
	var bus i2cemu.Bus
	sensor := i2cemu.NewSHT4x()
	sensor.SetTemperature(physic.ZeroCelsius + 95*physic.Kelvin)
	sensor.SetHumidity(104 * physic.PercentRH) // condensation: the raw value exceeds 100 %RH
	if err := bus.Attach(0x44, sensor); err != nil {
		log.Fatal(err)
	}

	dev, err := sht4x.New(&bus, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Halt()

	var e physic.Env
	if err := dev.Sense(&e); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s serial %#08x: %s %s\n", dev, dev.SerialNumber(), e.Temperature, e.Humidity)

	// A sensor that stops answering is reported, not read as 0 °C.
	bus.FailNext(0x44, 1, nil)
	if err := dev.Sense(&e); err != nil {
		fmt.Println(err)
	}
	// Output:
	// SHT4x{i2cemu(68)} serial 0x0beef042: 95°C 100%rH
	// sht4x: start measurement at 0x44: i2cemu: injected fault at 0x44: i2cemu: NACK
}
