package tmp102_test

import (
	"fmt"
	"log"

	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/tmp102"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/host/v3"
)

// Reading a TMP102 on the host's first I²C bus. The caller opens the bus,
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

	opts := tmp102.DefaultOpts
	opts.Extended = true // report up to 150 °C
	dev, err := tmp102.New(bus, &opts)
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Halt()

	var e physic.Env
	if err := dev.Sense(&e); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %s\n", dev, e.Temperature)
}

// The same driver on an emulated bus, for demos and tests without
// hardware.
func Example_emulated() {
	var bus i2cemu.Bus
	sensor := i2cemu.NewTMP102()
	sensor.SetTemperature(physic.ZeroCelsius + 41*physic.Kelvin + 500*physic.MilliKelvin)
	if err := bus.Attach(0x48, sensor); err != nil {
		log.Fatal(err)
	}

	dev, err := tmp102.New(&bus, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Halt()

	var e physic.Env
	if err := dev.Sense(&e); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %s\n", dev, e.Temperature)

	// A sensor that stops answering is reported, not read as 0 °C.
	bus.FailNext(0x48, 1, nil)
	if err := dev.Sense(&e); err != nil {
		fmt.Println(err)
	}
	// Output:
	// TMP102{i2cemu(72)}: 41.500°C
	// tmp102: read temperature at 0x48: i2cemu: injected fault at 0x48: i2cemu: NACK
}
