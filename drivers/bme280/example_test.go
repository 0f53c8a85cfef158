package bme280_test

import (
	"fmt"
	"log"

	"github.com/rackwatch/rackwatch/drivers/bme280"
	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/host/v3"
)

// Reading a BME280 on the host's first I²C bus. The caller opens the bus,
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

	opts := bme280.DefaultOpts
	opts.Addr = 0x77          // SDO tied to VDDIO
	opts.Pressure = bme280.X4 // less pressure noise, 6.9 ms more per read
	dev, err := bme280.New(bus, &opts)
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Halt()

	var e physic.Env
	if err := dev.Sense(&e); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %s %s %s\n", dev, e.Temperature, e.Pressure, e.Humidity)
}

// The same driver on an emulated bus, for demos and tests without
// hardware.
func Example_emulated() {
	var bus i2cemu.Bus
	chip := i2cemu.NewBME280()
	chip.SetTemperature(physic.ZeroCelsius + 23*physic.Kelvin + 450*physic.MilliKelvin)
	chip.SetPressure(101325 * physic.Pascal)
	chip.SetHumidity(45 * physic.PercentRH)
	if err := bus.Attach(0x76, chip); err != nil {
		log.Fatal(err)
	}

	dev, err := bme280.New(&bus, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Halt()

	var e physic.Env
	if err := dev.Sense(&e); err != nil {
		log.Fatal(err)
	}
	// physic's String truncates humidity to 0.1 %RH; the chip resolves
	// 1/1024 %RH.
	fmt.Printf("%s: %s %s %.2f%%rH\n", dev, e.Temperature, e.Pressure, float64(e.Humidity)/float64(physic.PercentRH))

	// A sensor that stops answering is reported, not read as a value.
	bus.FailNext(0x76, 1, nil)
	if err := dev.Sense(&e); err != nil {
		fmt.Println(err)
	}
	// Output:
	// BME280{i2cemu(118)}: 23.450°C 101.326kPa 45.00%rH
	// bme280: start measurement at 0x76: i2cemu: injected fault at 0x76: i2cemu: NACK
}
