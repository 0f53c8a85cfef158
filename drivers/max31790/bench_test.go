package max31790_test

import (
	"testing"

	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/max31790"
	"github.com/rackwatch/rackwatch/drivers/sensor"
)

// BenchmarkRead reads six fans, one of them with a fault to clear, so the
// whole Read path runs.
func BenchmarkRead(b *testing.B) {
	bus := &i2cemu.Bus{}
	chip := i2cemu.NewMAX31790()
	chip.SetConversionTime(0)
	if err := bus.Attach(0x20, chip); err != nil {
		b.Fatal(err)
	}
	for ch := 1; ch <= max31790.Channels; ch++ {
		chip.SetFanRPM(ch, 1000*ch)
	}
	chip.SetFanFault(2, true)
	d, err := max31790.New(bus, nil)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]sensor.Reading, 0, 3*max31790.Channels)
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = d.Read(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
