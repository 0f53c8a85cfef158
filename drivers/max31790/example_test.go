package max31790_test

import (
	"fmt"
	"log"

	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/max31790"
	"github.com/rackwatch/rackwatch/drivers/sensor"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/host/v3"
)

// Reading the fans on a MAX31790 at 0x20 on the host's first I²C bus. The
// caller opens the bus and closes it; the driver never does. Halt leaves
// the fans running.
func Example() {
	if _, err := host.Init(); err != nil {
		log.Fatal(err)
	}
	bus, err := i2creg.Open("")
	if err != nil {
		log.Fatal(err)
	}
	defer bus.Close()

	dev, err := max31790.New(bus, &max31790.Opts{
		Addr: 0x20,
		Fans: []max31790.Fan{
			{Channel: 1},                 // 2 pulses per revolution
			{Channel: 2, SpeedRange: 16}, // a fast 40 mm fan
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Halt()

	readings, err := dev.Read(nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range readings {
		fmt.Println(r)
	}
}

// The same driver on an emulated bus, for demos and tests without
// hardware.
func Example_emulated() {
	var bus i2cemu.Bus
	chip := i2cemu.NewMAX31790()
	chip.SetConversionTime(0)
	chip.SetFanRPM(1, 1981)
	chip.SetFanFault(2, true)
	if err := bus.Attach(0x20, chip); err != nil {
		log.Fatal(err)
	}

	dev, err := max31790.New(&bus, &max31790.Opts{
		Addr: 0x20,
		Fans: []max31790.Fan{{Channel: 1}, {Channel: 2}},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := dev.SetDuty(1, gpio.DutyMax*3/4); err != nil {
		log.Fatal(err)
	}
	readings, err := dev.Read(make([]sensor.Reading, 0, 6))
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range readings {
		fmt.Println(r)
	}

	// A controller that stops answering is reported, not read as
	// stopped fans.
	bus.FailNext(0x20, 1, nil)
	if _, err := dev.Read(nil); err != nil {
		fmt.Println(err)
	}
	// Output:
	// fan1 fan speed: 1981.93 rpm
	// fan1 fan duty: 0.749511 ratio
	// fan1 fan fault: 0 bool
	// fan2 fan speed: 0 rpm
	// fan2 fan duty: 0 ratio
	// fan2 fan fault: 1 bool
	// max31790: read fault status at 0x20: i2cemu: injected fault at 0x20: i2cemu: NACK
}
