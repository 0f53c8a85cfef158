package lm75_test

import (
	"fmt"
	"log"

	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/lm75"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/host/v3"
)

// Reading an NXP LM75B on the host's first I²C bus. The caller opens the
// bus, and closes it after the driver is halted; the driver never does.
func Example() {
	if _, err := host.Init(); err != nil {
		log.Fatal(err)
	}
	bus, err := i2creg.Open("")
	if err != nil {
		log.Fatal(err)
	}
	defer bus.Close()

	opts := lm75.DefaultOpts
	opts.Variant = lm75.LM75B // 11 bits, 0.125 °C steps
	dev, err := lm75.New(bus, &opts)
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
// hardware. Each variant reads the register in its own format.
func Example_emulated() {
	var bus i2cemu.Bus
	chip := i2cemu.NewLM75(11)
	chip.SetTemperature(physic.ZeroCelsius + 41*physic.Kelvin + 375*physic.MilliKelvin)
	if err := bus.Attach(0x49, chip); err != nil {
		log.Fatal(err)
	}

	for _, v := range []lm75.Variant{lm75.LM75B, lm75.LM75} {
		dev, err := lm75.New(&bus, &lm75.Opts{Addr: 0x49, Variant: v})
		if err != nil {
			log.Fatal(err)
		}
		var e physic.Env
		if err := dev.Sense(&e); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %s\n", dev, e.Temperature)
	}

	// A sensor that stops answering is reported, not read as 0 °C.
	dev, err := lm75.New(&bus, &lm75.Opts{Addr: 0x49, Variant: lm75.LM75B})
	if err != nil {
		log.Fatal(err)
	}
	bus.FailNext(0x49, 1, nil)
	if _, err := dev.SenseTemperature(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// LM75B{i2cemu(73)}: 41.375°C
	// LM75{i2cemu(73)}: 41°C
	// lm75: read temperature at 0x49: i2cemu: injected fault at 0x49: i2cemu: NACK
}
