package sht4x

import (
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/sensor"
)

// BenchmarkRead measures the cost of one Read on the emulated bus: the
// measurement completes at once and the driver's wait is skipped, so the
// figure is the CPU time of command, readout, CRC checks and conversion.
// Read must not allocate.
func BenchmarkRead(b *testing.B) {
	old := doSleep
	doSleep = func(time.Duration) {}
	defer func() { doSleep = old }()
	bus := &i2cemu.Bus{}
	chip := i2cemu.NewSHT4x()
	chip.SetConversionTime(0)
	if err := bus.Attach(0x44, chip); err != nil {
		b.Fatal(err)
	}
	d, err := New(bus, nil)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]sensor.Reading, 0, 2)
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = d.Read(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
