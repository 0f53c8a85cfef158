package bme280

import (
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/sensor"
)

// BenchmarkRead measures the cost of a read on the emulated bus: the bus
// transactions, the emulated conversion and the compensation. The wait for
// the measurement (9.3 ms at ×1, the datasheet maximum) is skipped, as it
// is time spent asleep, not work; this benchmark lives in the package to
// replace doSleep.
func BenchmarkRead(b *testing.B) {
	bus := &i2cemu.Bus{}
	chip := i2cemu.NewBME280()
	chip.SetConversionTime(0)
	if err := bus.Attach(0x76, chip); err != nil {
		b.Fatal(err)
	}
	d, err := New(bus, nil) // sleeps for real: the model's start-up takes 2 ms
	if err != nil {
		b.Fatal(err)
	}
	old := doSleep
	doSleep = func(time.Duration) {}
	defer func() { doSleep = old }()
	buf := make([]sensor.Reading, 0, 3)
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = d.Read(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
