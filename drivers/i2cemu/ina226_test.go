package i2cemu

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"
)

// ina226Model returns a freshly powered-up INA226 on a manual clock.
func ina226Model() (*INA226, *inaClock) {
	c := &inaClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := NewINA226()
	m.now = c.now
	m.doneAt = c.now().Add(m.cycle())
	return m, c
}

func TestINA226PowerOn(t *testing.T) {
	m, c := ina226Model()
	m.SetCurrent(100 * physic.MilliAmpere)
	m.SetBusVoltage(12 * physic.Volt)
	// SBOS547B §7.1: configuration 4127h, IDs 5449h and 2260h, everything
	// else 0 until the first conversion.
	for _, tc := range []struct {
		ptr  byte
		want uint16
	}{{0, 0x4127}, {1, 0}, {2, 0}, {3, 0}, {4, 0}, {5, 0}, {6, 0}, {7, 0}, {0xFE, 0x5449}, {0xFF, 0x2260}} {
		if got := inaReg(t, m, tc.ptr); got != tc.want {
			t.Errorf("register %#x = %#04x, want %#04x", tc.ptr, got, tc.want)
		}
	}
	c.advance(2200*time.Microsecond - time.Nanosecond)
	if got := inaReg(t, m, 6); got != 0 {
		t.Errorf("mask/enable before the first conversion = %#04x, want 0", got)
	}
	c.advance(time.Nanosecond)
	// 10 mV, 12 V, CVRF; no calibration, so no current.
	for _, tc := range []struct {
		ptr  byte
		want uint16
	}{{1, 0x0FA0}, {2, 0x2580}, {4, 0}, {3, 0}, {6, 0x0008}} {
		if got := inaReg(t, m, tc.ptr); got != tc.want {
			t.Errorf("after the first conversion, register %d = %#04x, want %#04x", tc.ptr, got, tc.want)
		}
	}
}

func TestINA226Registers(t *testing.T) {
	cases := []struct {
		name    string
		shunt   physic.ElectricResistance
		current physic.ElectricCurrent
		bus     physic.ElectricPotential
		cal     uint16
		// Registers 01h to 04h and 06h.
		shuntReg, busReg, powerReg, currentReg, mask uint16
	}{
		// SBOS547B §6.5.1, Configure/Measure/Calculate example: 10 A
		// through 2 mΩ, bus 11.98 V, CAL 0A00h.
		{"datasheet example", 2 * physic.MilliOhm, 10 * physic.Ampere, 11980 * physic.MilliVolt, 0x0A00, 0x1F40, 0x2570, 0x12B8, 0x2710, 0x0008},
		// 10 mV across 100 mΩ, CAL 2048: current LSB 25 µA.
		{"100 mA", 100 * physic.MilliOhm, 100 * physic.MilliAmpere, 12 * physic.Volt, 0x0800, 0x0FA0, 0x2580, 0x0780, 0x0FA0, 0x0008},
		{"reverse 100 mA", 100 * physic.MilliOhm, -100 * physic.MilliAmpere, 12 * physic.Volt, 0x0800, 0xF060, 0x2580, 0x0780, 0xF060, 0x0008},
		{"zero", 100 * physic.MilliOhm, 0, 0, 0x0800, 0, 0, 0, 0, 0x0008},
		// trunc(2000 × 3355 / 2048) = 3276, trunc(3276 × 9600 / 20000) =
		// 1572; negative currents truncate toward zero.
		{"truncated", 50 * physic.MilliOhm, 100 * physic.MilliAmpere, 12 * physic.Volt, 3355, 0x07D0, 0x2580, 0x0624, 0x0CCC, 0x0008},
		{"truncated reverse", 50 * physic.MilliOhm, -100 * physic.MilliAmpere, 12 * physic.Volt, 3355, 0xF830, 0x2580, 0x0624, 0xF334, 0x0008},
		// Rounding to the nearest 2.5 µV and 1.25 mV step.
		{"rounding down", 100 * physic.MilliOhm, 12 * physic.MicroAmpere, 12000600 * physic.MicroVolt, 0x0800, 0, 0x2580, 0, 0, 0x0008},
		{"rounding up", 100 * physic.MilliOhm, 13 * physic.MicroAmpere, 12000625 * physic.MicroVolt, 0x0800, 0x0001, 0x2581, 0, 0x0001, 0x0008},
		{"half away from zero", 100 * physic.MilliOhm, -12500 * physic.NanoAmpere, 0, 0x0800, 0xFFFF, 0, 0, 0xFFFF, 0x0008},
		{"negative bus reads 0", 100 * physic.MilliOhm, 0, -5 * physic.Volt, 0x0800, 0, 0, 0, 0, 0x0008},
		{"bus beyond 40.96 V", 100 * physic.MilliOhm, 0, 48 * physic.Volt, 0x0800, 0, 0x7FFF, 0, 0, 0x0008},
		// The shunt ADC saturates at ±81.92 mV; with CAL 2048 the current
		// still fits.
		{"shunt beyond 81.92 mV", 100 * physic.MilliOhm, physic.Ampere, 12 * physic.Volt, 0x0800, 0x7FFF, 0x2580, 0x3D70, 0x7FFF, 0x0008},
		{"shunt beyond -81.92 mV", 100 * physic.MilliOhm, -physic.Ampere, 12 * physic.Volt, 0x0800, 0x8000, 0x2580, 0x3D70, 0x8000, 0x0008},
		{"product beyond 128 bits of headroom", physic.ElectricResistance(math.MaxInt64), physic.ElectricCurrent(math.MaxInt64), 0, 0x0800, 0x7FFF, 0, 0, 0x7FFF, 0x0008},
		// 20000 × 4096 / 2048 = 40000 does not fit: OVF, and the current
		// register saturates.
		{"overflow", 100 * physic.MilliOhm, 500 * physic.MilliAmpere, 12 * physic.Volt, 0x1000, 0x4E20, 0x2580, 0x3D70, 0x7FFF, 0x000C},
		{"reverse overflow", 100 * physic.MilliOhm, -500 * physic.MilliAmpere, 12 * physic.Volt, 0x1000, 0xB1E0, 0x2580, 0x3D70, 0x8000, 0x000C},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := ina226Model()
			m.SetConversionTime(0)
			m.SetShunt(tc.shunt)
			m.SetCurrent(tc.current)
			m.SetBusVoltage(tc.bus)
			inaWrite(t, m, 0x05, tc.cal)
			inaWrite(t, m, 0x00, 0x4127)
			for _, r := range []struct {
				ptr  byte
				want uint16
			}{{6, tc.mask}, {1, tc.shuntReg}, {2, tc.busReg}, {4, tc.currentReg}, {3, tc.powerReg}} {
				if got := inaReg(t, m, r.ptr); got != r.want {
					t.Errorf("register %d = %#04x, want %#04x", r.ptr, got, r.want)
				}
			}
		})
	}
}

func TestINA226WritableBits(t *testing.T) {
	m, _ := ina226Model()
	for _, tc := range []struct {
		ptr      byte
		w, want  uint16
		describe string
	}{
		{0x00, 0x7FFF, 0x4FFF, "config: bits 14–12 read 100"},
		{0x05, 0xFFFF, 0x7FFF, "calibration: bit 15 reserved"},
		{0x06, 0xFFFF, 0xFC03, "mask/enable: AFF, CVRF and OVF are flags"},
		{0x07, 0xABCD, 0xABCD, "alert limit"},
		{0xFE, 0x0000, 0x5449, "manufacturer ID is read only"},
		{0xFF, 0x0000, 0x2260, "die ID is read only"},
		{0x01, 0x1234, 0x0000, "shunt voltage is read only"},
	} {
		inaWrite(t, m, tc.ptr, tc.w)
		if got := inaReg(t, m, tc.ptr); got != tc.want {
			t.Errorf("%s: wrote %#04x, read %#04x, want %#04x", tc.describe, tc.w, got, tc.want)
		}
	}
	m.SetIDs(0x5449, 0x2270)
	if got := inaReg(t, m, 0xFF); got != 0x2270 {
		t.Errorf("die ID after SetIDs = %#04x, want 0x2270", got)
	}
}

func TestINA226Reset(t *testing.T) {
	m, _ := ina226Model()
	m.SetConversionTime(0)
	m.SetCurrent(100 * physic.MilliAmpere)
	inaWrite(t, m, 0x05, 0x0800)
	inaWrite(t, m, 0x06, 0x8001)
	inaWrite(t, m, 0x07, 0x1234)
	inaWrite(t, m, 0x00, 0x4527)
	if got := inaReg(t, m, 0x04); got != 0x0FA0 {
		t.Fatalf("current = %#04x, want 0x0fa0", got)
	}
	inaWrite(t, m, 0x00, 0x8000)
	for _, tc := range []struct {
		ptr  byte
		want uint16
	}{{0, 0x4127}, {5, 0}, {7, 0}, {4, 0}, {1, 0x0FA0}, {6, 0x0008}} {
		if got := inaReg(t, m, tc.ptr); got != tc.want {
			t.Errorf("after RST, register %d = %#04x, want %#04x", tc.ptr, got, tc.want)
		}
	}
}

func TestINA226ConversionTiming(t *testing.T) {
	m, c := ina226Model()
	m.SetCurrent(100 * physic.MilliAmpere)
	m.SetBusVoltage(12 * physic.Volt)
	c.advance(time.Second)
	inaWrite(t, m, 0x05, 0x0800)
	// Reading Mask/Enable returns CVRF and clears it (§7.1.7).
	if got := inaReg(t, m, 0x06); got != 0x0008 {
		t.Fatalf("mask/enable = %#04x, want CVRF", got)
	}
	if got := inaReg(t, m, 0x06); got != 0 {
		t.Errorf("mask/enable read twice = %#04x, want 0", got)
	}
	if got := inaReg(t, m, 0x04); got != 0 {
		t.Errorf("current with a calibration newer than the conversion = %#04x, want 0", got)
	}
	// 16 averages of 1.1 ms + 1.1 ms.
	inaWrite(t, m, 0x00, 0x4527)
	m.SetCurrent(200 * physic.MilliAmpere)
	c.advance(35200*time.Microsecond - time.Nanosecond)
	if got := inaReg(t, m, 0x06); got != 0 {
		t.Errorf("CVRF during the conversion: %#04x", got)
	}
	if got := inaReg(t, m, 0x01); got != 0x0FA0 {
		t.Errorf("shunt during the conversion = %#04x, want the old 0x0fa0", got)
	}
	c.advance(time.Nanosecond)
	for _, tc := range []struct {
		ptr  byte
		want uint16
	}{{6, 0x0008}, {1, 0x1F40}, {4, 0x1F40}, {3, 0x0F00}} {
		if got := inaReg(t, m, tc.ptr); got != tc.want {
			t.Errorf("after the conversion, register %d = %#04x, want %#04x", tc.ptr, got, tc.want)
		}
	}
	// Writing the configuration clears CVRF, except for power-down.
	c.advance(35200 * time.Microsecond)
	inaWrite(t, m, 0x00, 0x4520)
	m.SetCurrent(300 * physic.MilliAmpere)
	c.advance(time.Second)
	if got := inaReg(t, m, 0x06); got != 0x0008 {
		t.Errorf("mask/enable after power-down = %#04x, want the CVRF from before", got)
	}
	if got := inaReg(t, m, 0x01); got != 0x1F40 {
		t.Errorf("shunt in power-down = %#04x, want the last 0x1f40", got)
	}
	// Shunt and bus, triggered, 140 µs + 8.244 ms, 4 averages: one
	// conversion, then none.
	inaWrite(t, m, 0x00, 0x43C3)
	c.advance(4 * 8384 * time.Microsecond)
	if got := inaReg(t, m, 0x01); got != 0x2EE0 {
		t.Errorf("shunt after a triggered conversion = %#04x, want 0x2ee0", got)
	}
	m.SetCurrent(400 * physic.MilliAmpere)
	c.advance(time.Second)
	if got := inaReg(t, m, 0x01); got != 0x2EE0 {
		t.Errorf("shunt long after a triggered conversion = %#04x, want 0x2ee0", got)
	}
	// Bus only, continuous, 140 µs: the shunt is not converted.
	m.SetBusVoltage(5 * physic.Volt)
	inaWrite(t, m, 0x00, 0x4006)
	c.advance(140 * time.Microsecond)
	if got := inaReg(t, m, 0x02); got != 0x0FA0 {
		t.Errorf("bus-only conversion: bus = %#04x, want 0x0fa0", got)
	}
	if got := inaReg(t, m, 0x01); got != 0x2EE0 {
		t.Errorf("bus-only conversion: shunt = %#04x, want the old 0x2ee0", got)
	}
}

func TestINA226SetConversionTime(t *testing.T) {
	m, c := ina226Model()
	m.SetConversionTime(5 * time.Millisecond)
	m.SetCurrent(100 * physic.MilliAmpere)
	inaWrite(t, m, 0x00, 0x4FFF) // 16.9 s by the datasheet, 5 ms here
	c.advance(5*time.Millisecond - time.Nanosecond)
	if got := inaReg(t, m, 0x01); got != 0 {
		t.Errorf("shunt before 5 ms = %#04x, want 0", got)
	}
	c.advance(time.Nanosecond)
	if got := inaReg(t, m, 0x01); got != 0x0FA0 {
		t.Errorf("shunt after 5 ms = %#04x, want 0x0fa0", got)
	}
}

func TestINA226Stuck(t *testing.T) {
	m, _ := ina226Model()
	m.SetConversionTime(0)
	m.SetCurrent(100 * physic.MilliAmpere)
	inaWrite(t, m, 0x05, 0x0800)
	if got := inaReg(t, m, 0x04); got != 0x0FA0 {
		t.Fatalf("current = %#04x, want 0x0fa0", got)
	}
	m.SetStuck(true)
	inaReg(t, m, 0x06) // clears CVRF
	m.SetCurrent(-100 * physic.MilliAmpere)
	for range 3 {
		if got := inaReg(t, m, 0x04); got != 0x0FA0 {
			t.Errorf("stuck current = %#04x, want the frozen 0x0fa0", got)
		}
		if got := inaReg(t, m, 0x06); got != 0 {
			t.Errorf("stuck: CVRF set again: %#04x", got)
		}
	}
	m.SetStuck(false)
	if got := inaReg(t, m, 0x04); got != 0xF060 {
		t.Errorf("current after unsticking = %#04x, want 0xf060", got)
	}
}

func TestINA226Pointer(t *testing.T) {
	m, _ := ina226Model()
	if err := m.Tx([]byte{0xFE}, nil); err != nil {
		t.Fatal(err)
	}
	var r [2]byte
	if err := m.Tx(nil, r[:]); err != nil || r != [2]byte{0x54, 0x49} {
		t.Errorf("read after pointing at the manufacturer ID = % x, %v; want 54 49", r, err)
	}
	for _, tc := range []struct {
		name string
		w    []byte
		r    int
		nack bool
	}{
		{"pointer 8", []byte{0x08}, 2, true},
		{"pointer 0xfd", []byte{0xFD}, 2, true},
		{"one data byte", []byte{0x05, 0x10}, 0, true},
		{"three data bytes", []byte{0x05, 0x10, 0x00, 0x00}, 0, true},
		{"3-byte read", []byte{0xFF}, 3, false},
	} {
		err := m.Tx(tc.w, make([]byte, tc.r))
		if err == nil {
			t.Errorf("%s: no error", tc.name)
		} else if errors.Is(err, ErrNACK) != tc.nack {
			t.Errorf("%s: err %v, NACK %v want %v", tc.name, err, errors.Is(err, ErrNACK), tc.nack)
		}
	}
	if got := inaReg(t, m, 0x05); got != 0 {
		t.Errorf("calibration after refused writes = %#04x, want 0", got)
	}
}

func TestINA226Concurrent(t *testing.T) {
	m, _ := ina226Model()
	m.SetConversionTime(0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 500 {
			m.SetCurrent(physic.ElectricCurrent(i%2) * 100 * physic.MilliAmpere)
			m.SetIDs(0x5449, 0x2260)
		}
	}()
	for range 500 {
		if got := inaReg(t, m, 0x01); got != 0 && got != 0x0FA0 {
			t.Fatalf("shunt %#04x, want 0 or 0x0fa0", got)
		}
	}
	<-done
}

func ExampleINA226() {
	var bus Bus
	chip := NewINA226()
	chip.SetConversionTime(0)
	chip.SetShunt(100 * physic.MilliOhm)
	chip.SetCurrent(100 * physic.MilliAmpere)
	chip.SetBusVoltage(12 * physic.Volt)
	if err := bus.Attach(0x40, chip); err != nil {
		fmt.Println(err)
		return
	}
	for _, reg := range []byte{0x01, 0x02, 0xFE, 0xFF} {
		r := make([]byte, 2)
		if err := bus.Tx(0x40, []byte{reg}, r); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("% X\n", r)
	}
	// Output:
	// 0F A0
	// 25 80
	// 54 49
	// 22 60
}
