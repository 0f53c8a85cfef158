package ina226_test

import (
	"testing"

	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/ina226"
	"github.com/rackwatch/rackwatch/drivers/sensor"
	"periph.io/x/conn/v3/physic"
)

func BenchmarkRead(b *testing.B) {
	bus := &i2cemu.Bus{}
	chip := i2cemu.NewINA226()
	chip.SetConversionTime(0)
	chip.SetCurrent(600 * physic.MilliAmpere)
	chip.SetBusVoltage(12 * physic.Volt)
	if err := bus.Attach(0x40, chip); err != nil {
		b.Fatal(err)
	}
	d, err := ina226.New(bus, nil)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]sensor.Reading, 0, 4)
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = d.Read(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
