package lm75_test

import (
	"testing"

	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/lm75"
	"github.com/rackwatch/rackwatch/drivers/sensor"
)

func BenchmarkRead(b *testing.B) {
	for _, v := range []lm75.Variant{lm75.LM75, lm75.LM75B} {
		b.Run(v.String(), func(b *testing.B) {
			bus := &i2cemu.Bus{}
			bits := 9
			if v == lm75.LM75B {
				bits = 11
			}
			chip := i2cemu.NewLM75(bits)
			chip.SetConversionTime(0)
			if err := bus.Attach(0x48, chip); err != nil {
				b.Fatal(err)
			}
			d, err := lm75.New(bus, &lm75.Opts{Addr: 0x48, Variant: v})
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
		})
	}
}
