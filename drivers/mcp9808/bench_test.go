package mcp9808_test

import (
	"testing"

	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/mcp9808"
	"github.com/rackwatch/rackwatch/drivers/sensor"
)

func BenchmarkRead(b *testing.B) {
	bus := &i2cemu.Bus{}
	chip := i2cemu.NewMCP9808()
	chip.SetConversionTime(0)
	if err := bus.Attach(0x18, chip); err != nil {
		b.Fatal(err)
	}
	d, err := mcp9808.New(bus, nil)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]sensor.Reading, 0, 1)
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = d.Read(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
