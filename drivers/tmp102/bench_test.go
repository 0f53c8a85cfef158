package tmp102_test

import (
	"testing"

	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/sensor"
	"github.com/rackwatch/rackwatch/drivers/tmp102"
)

func BenchmarkRead(b *testing.B) {
	bus := &i2cemu.Bus{}
	chip := i2cemu.NewTMP102()
	chip.SetConversionTime(0)
	if err := bus.Attach(0x48, chip); err != nil {
		b.Fatal(err)
	}
	d, err := tmp102.New(bus, nil)
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
