package mcp9808_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/mcp9808"
	"github.com/rackwatch/rackwatch/drivers/sensor"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/host/v3"
)

// Reading an MCP9808 on the host's first I²C bus. The caller opens the
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

	opts := mcp9808.DefaultOpts
	opts.Resolution = mcp9808.Res0_25 // 65 ms per conversion instead of 250
	dev, err := mcp9808.New(bus, &opts)
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
// hardware. Probe tells an MCP9808 from the other JC-42.4 sensors that
// share its addresses.
func Example_emulated() {
	var bus i2cemu.Bus
	chip := i2cemu.NewMCP9808()
	chip.SetTemperature(physic.ZeroCelsius - 7*physic.Kelvin)
	if err := bus.Attach(0x18, chip); err != nil {
		log.Fatal(err)
	}
	dimm := i2cemu.NewMCP9808()
	dimm.SetIDs(0x0054, 0x2101) // an MCP98243 on a memory module
	if err := bus.Attach(0x19, dimm); err != nil {
		log.Fatal(err)
	}
	for _, addr := range []uint16{0x18, 0x19, 0x1A} {
		err := mcp9808.Probe(&bus, addr)
		fmt.Printf("%#x: MCP9808 %t, other chip %t\n", addr, err == nil, errors.Is(err, sensor.ErrChipID))
	}

	opts := mcp9808.Opts{Addr: 0x18, Resolution: mcp9808.Res0_5}
	dev, err := mcp9808.New(&bus, &opts)
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Halt()

	var e physic.Env
	if err := dev.Sense(&e); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %s\n", dev, e.Temperature)
	// Output:
	// 0x18: MCP9808 true, other chip false
	// 0x19: MCP9808 false, other chip true
	// 0x1a: MCP9808 false, other chip false
	// MCP9808{i2cemu(24)}: -7°C
}
