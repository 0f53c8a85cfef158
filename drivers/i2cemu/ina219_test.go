package i2cemu

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"
)

// inaClock is a manual clock for the INA219 and INA226 models.
type inaClock struct{ t time.Time }

func (c *inaClock) now() time.Time          { return c.t }
func (c *inaClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// ina219Model returns a freshly powered-up INA219 on a manual clock.
func ina219Model() (*INA219, *inaClock) {
	c := &inaClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := NewINA219()
	m.now = c.now
	m.doneAt = c.now().Add(m.cycle())
	return m, c
}

// inaReg reads a 16-bit register of either model.
func inaReg(t *testing.T, d Device, ptr byte) uint16 {
	t.Helper()
	var r [2]byte
	if err := d.Tx([]byte{ptr}, r[:]); err != nil {
		t.Fatalf("read register %#x: %v", ptr, err)
	}
	return uint16(r[0])<<8 | uint16(r[1])
}

// inaWrite writes a 16-bit register of either model.
func inaWrite(t *testing.T, d Device, ptr byte, v uint16) {
	t.Helper()
	if err := d.Tx([]byte{ptr, byte(v >> 8), byte(v)}, nil); err != nil {
		t.Fatalf("write %#04x to register %#x: %v", v, ptr, err)
	}
}

func TestINA219PowerOn(t *testing.T) {
	m, c := ina219Model()
	m.SetCurrent(100 * physic.MilliAmpere)
	m.SetBusVoltage(12 * physic.Volt)
	// SBOS448G §8.6.1: configuration 399Fh, everything else 0 until the
	// first conversion.
	for _, tc := range []struct {
		ptr  byte
		want uint16
	}{{0, 0x399F}, {1, 0}, {2, 0}, {3, 0}, {4, 0}, {5, 0}} {
		if got := inaReg(t, m, tc.ptr); got != tc.want {
			t.Errorf("register %d = %#04x, want %#04x", tc.ptr, got, tc.want)
		}
	}
	// Power-on: 12-bit shunt and bus, 532 µs each.
	c.advance(1064*time.Microsecond - time.Nanosecond)
	if got := inaReg(t, m, 2); got != 0 {
		t.Errorf("bus before the first conversion = %#04x, want 0", got)
	}
	c.advance(time.Nanosecond)
	// 10 mV; 3000 × 4 mV with CNVR; no calibration, so no current.
	for _, tc := range []struct {
		ptr  byte
		want uint16
	}{{1, 0x03E8}, {2, 3000<<3 | 2}, {4, 0}, {3, 0}} {
		if got := inaReg(t, m, tc.ptr); got != tc.want {
			t.Errorf("after the first conversion, register %d = %#04x, want %#04x", tc.ptr, got, tc.want)
		}
	}
}

func TestINA219Registers(t *testing.T) {
	cases := []struct {
		name    string
		shunt   physic.ElectricResistance
		current physic.ElectricCurrent
		bus     physic.ElectricPotential
		config  uint16
		cal     uint16
		// Registers 01h to 04h.
		shuntReg, busReg, powerReg, currentReg uint16
	}{
		// SBOS448G §8.5.1, Configure/Measure/Calculate example: 10 A
		// through 2 mΩ, bus 11.98 V, ±40 mV and 16 V ranges, Cal 5000h
		// (the example shows the bus register without CNVR).
		{"datasheet example", 2 * physic.MilliOhm, 10 * physic.Ampere, 11980 * physic.MilliVolt, 0x019F, 0x5000, 0x07D0, 0x5D9A, 0x1766, 0x2710},
		{"datasheet example, 32 V and ÷8", 2 * physic.MilliOhm, 10 * physic.Ampere, 11980 * physic.MilliVolt, 0x399F, 0x5000, 0x07D0, 0x5D9A, 0x1766, 0x2710},
		// 10 mV across 100 mΩ, Cal 8192: current LSB 50 µA, power 1 mW.
		{"100 mA", 100 * physic.MilliOhm, 100 * physic.MilliAmpere, 11980 * physic.MilliVolt, 0x399F, 0x2000, 0x03E8, 0x5D9A, 0x04AE, 0x07D0},
		// Negative: two's complement shunt and current, power a magnitude.
		{"reverse 100 mA", 100 * physic.MilliOhm, -100 * physic.MilliAmpere, 11980 * physic.MilliVolt, 0x399F, 0x2000, 0xFC18, 0x5D9A, 0x04AE, 0xF830},
		{"zero", 100 * physic.MilliOhm, 0, 0, 0x399F, 0x2000, 0, 0x0002, 0, 0},
		// Cal 4194: trunc(1000 × 4194 / 4096) = 1023.
		{"truncated current", 100 * physic.MilliOhm, 100 * physic.MilliAmpere, 5 * physic.Volt, 0x399F, 4194, 0x03E8, 1250<<3 | 2, 0x00FF, 0x03FF},
		{"truncated reverse current", 100 * physic.MilliOhm, -100 * physic.MilliAmpere, 5 * physic.Volt, 0x399F, 4194, 0xFC18, 1250<<3 | 2, 0x00FF, 0xFC01},
		// Rounding to the nearest 10 µV and 4 mV step.
		{"rounding down", 100 * physic.MilliOhm, 149 * physic.MicroAmpere, 11981 * physic.MilliVolt, 0x399F, 0x2000, 0x0001, 0x5D9A, 0x0001, 0x0002},
		{"rounding up", 100 * physic.MilliOhm, 151 * physic.MicroAmpere, 11982 * physic.MilliVolt, 0x399F, 0x2000, 0x0002, 0x5DA2, 0x0002, 0x0004},
		{"half away from zero", 100 * physic.MilliOhm, -50 * physic.MicroAmpere, 0, 0x399F, 0x2000, 0xFFFF, 0x0002, 0, 0xFFFE},
		{"negative bus reads 0", 100 * physic.MilliOhm, 0, -5 * physic.Volt, 0x399F, 0x2000, 0, 0x0002, 0, 0},
		// The bus register tops out at BD12–BD0 all ones, or BD11–BD0 in
		// the 16 V range.
		{"bus beyond 32 V", 100 * physic.MilliOhm, 0, 40 * physic.Volt, 0x399F, 0x2000, 0, 0xFFFA, 0, 0},
		{"bus beyond 16 V", 100 * physic.MilliOhm, 0, 20 * physic.Volt, 0x199F, 0x2000, 0, 0x7FFA, 0, 0},
		// The ADC saturates at the PGA range: ±40 mV with PG = 00. 20000
		// fits the current register: no overflow.
		{"shunt beyond 40 mV", 2 * physic.MilliOhm, 30 * physic.Ampere, 11980 * physic.MilliVolt, 0x019F, 0x5000, 0x0FA0, 0x5D9A, 0x2ECC, 0x4E20},
		{"shunt beyond -40 mV", 2 * physic.MilliOhm, -30 * physic.Ampere, 11980 * physic.MilliVolt, 0x019F, 0x5000, 0xF060, 0x5D9A, 0x2ECC, 0xB1E0},
		// Clipped at 32000: 32000 × 4194 / 4096 = 32765 still fits, so no
		// OVF; only the full-scale code tells.
		{"shunt beyond 320 mV", 100 * physic.MilliOhm, 5 * physic.Ampere, 0, 0x399F, 4194, 0x7D00, 0x0002, 0, 0x7FFD},
		{"product beyond 128 bits of headroom", physic.ElectricResistance(math.MaxInt64), physic.ElectricCurrent(math.MaxInt64), 0, 0x399F, 4194, 0x7D00, 0x0002, 0, 0x7FFD},
		{"negative product beyond headroom", physic.ElectricResistance(math.MaxInt64), physic.ElectricCurrent(math.MinInt64), 0, 0x399F, 4194, 0x8300, 0x0002, 0, 0x8003},
		// 200 mV × 8192 / 4096 = 40000 does not fit: OVF, and the current
		// register saturates.
		{"overflow", 100 * physic.MilliOhm, 2 * physic.Ampere, 11980 * physic.MilliVolt, 0x399F, 0x2000, 0x4E20, 0x5D9B, 0x4CAB, 0x7FFF},
		{"reverse overflow", 100 * physic.MilliOhm, -2 * physic.Ampere, 11980 * physic.MilliVolt, 0x399F, 0x2000, 0xB1E0, 0x5D9B, 0x4CAC, 0x8000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := ina219Model()
			m.SetConversionTime(0)
			m.SetShunt(tc.shunt)
			m.SetCurrent(tc.current)
			m.SetBusVoltage(tc.bus)
			inaWrite(t, m, 0x05, tc.cal)
			inaWrite(t, m, 0x00, tc.config)
			for _, r := range []struct {
				ptr  byte
				want uint16
			}{{1, tc.shuntReg}, {2, tc.busReg}, {4, tc.currentReg}, {3, tc.powerReg}} {
				if got := inaReg(t, m, r.ptr); got != r.want {
					t.Errorf("register %d = %#04x, want %#04x", r.ptr, got, r.want)
				}
			}
		})
	}
}

func TestINA219WritableBits(t *testing.T) {
	m, _ := ina219Model()
	// Bit 14 of the configuration is unused and reads 0.
	inaWrite(t, m, 0x00, 0x7FFF)
	if got := inaReg(t, m, 0x00); got != 0x3FFF {
		t.Errorf("config = %#04x, want 0x3fff", got)
	}
	// FS0 of the calibration is void (§8.6.4.1).
	for _, tc := range []struct{ w, want uint16 }{{0x1063, 0x1062}, {0xFFFF, 0xFFFE}, {0x5000, 0x5000}} {
		inaWrite(t, m, 0x05, tc.w)
		if got := inaReg(t, m, 0x05); got != tc.want {
			t.Errorf("calibration after writing %#04x = %#04x, want %#04x", tc.w, got, tc.want)
		}
	}
	// The data registers are read only.
	inaWrite(t, m, 0x01, 0x1234)
	inaWrite(t, m, 0x04, 0x1234)
	if got := inaReg(t, m, 0x01); got != 0 {
		t.Errorf("shunt after a write = %#04x, want 0", got)
	}
	if got := inaReg(t, m, 0x04); got != 0 {
		t.Errorf("current after a write = %#04x, want 0", got)
	}
}

func TestINA219Reset(t *testing.T) {
	m, _ := ina219Model()
	m.SetConversionTime(0)
	m.SetCurrent(100 * physic.MilliAmpere)
	inaWrite(t, m, 0x05, 0x2000)
	inaWrite(t, m, 0x00, 0x019F)
	if got := inaReg(t, m, 0x04); got != 0x07D0 {
		t.Fatalf("current = %#04x, want 0x07d0", got)
	}
	// RST restores every register; the power-on mode converts again, but
	// without calibration the current is 0.
	inaWrite(t, m, 0x00, 0x8000)
	for _, tc := range []struct {
		ptr  byte
		want uint16
	}{{0, 0x399F}, {5, 0}, {4, 0}, {1, 0x03E8}} {
		if got := inaReg(t, m, tc.ptr); got != tc.want {
			t.Errorf("after RST, register %d = %#04x, want %#04x", tc.ptr, got, tc.want)
		}
	}
}

func TestINA219ConversionTiming(t *testing.T) {
	m, c := ina219Model()
	m.SetShunt(100 * physic.MilliOhm)
	m.SetCurrent(100 * physic.MilliAmpere)
	m.SetBusVoltage(11980 * physic.MilliVolt)
	c.advance(time.Second)
	inaWrite(t, m, 0x05, 0x2000)
	if got := inaReg(t, m, 0x02); got != 0x5D9A {
		t.Fatalf("bus = %#04x, want 0x5d9a", got)
	}
	// Reading the power register clears CNVR (§8.6.3.2).
	if got := inaReg(t, m, 0x03); got != 0 {
		t.Errorf("power with a calibration newer than the conversion = %#04x, want 0", got)
	}
	if got := inaReg(t, m, 0x02); got != 0x5D98 {
		t.Errorf("bus after the power read = %#04x, want the datasheet's 0x5d98", got)
	}
	// 128 averages on both ADCs: 2 × 68.10 ms. A new mode clears CNVR;
	// results stay until the conversion completes.
	inaWrite(t, m, 0x00, 0x3FFF)
	m.SetCurrent(200 * physic.MilliAmpere)
	c.advance(136200*time.Microsecond - time.Nanosecond)
	if got := inaReg(t, m, 0x01); got != 0x03E8 {
		t.Errorf("shunt during the conversion = %#04x, want the old 0x03e8", got)
	}
	if got := inaReg(t, m, 0x02); got&2 != 0 {
		t.Errorf("CNVR set during the conversion: %#04x", got)
	}
	c.advance(time.Nanosecond)
	if got := inaReg(t, m, 0x02); got != 0x5D9A {
		t.Errorf("bus after the conversion = %#04x, want 0x5d9a", got)
	}
	if got := inaReg(t, m, 0x04); got != 0x0FA0 {
		t.Errorf("current after the conversion = %#04x, want 0x0fa0", got)
	}
	if got := inaReg(t, m, 0x03); got != 0x095C {
		t.Errorf("power after the conversion = %#04x, want 0x095c", got)
	}
	// Continuous: the next conversion sets CNVR again one cycle later;
	// cycles that pass unobserved leave only the last result.
	c.advance(3 * 136200 * time.Microsecond)
	m.SetCurrent(300 * physic.MilliAmpere)
	if got := inaReg(t, m, 0x02); got&2 == 0 {
		t.Errorf("CNVR clear after further conversions: %#04x", got)
	}
	if got := inaReg(t, m, 0x01); got != 0x0BB8 {
		t.Errorf("shunt = %#04x, want 0x0bb8", got)
	}
	// Power-down converts nothing and leaves CNVR alone.
	inaWrite(t, m, 0x00, 0x3FF8)
	m.SetCurrent(400 * physic.MilliAmpere)
	c.advance(time.Second)
	if got := inaReg(t, m, 0x02); got != 0x5D9A {
		t.Errorf("bus in power-down = %#04x, want 0x5d9a", got)
	}
	if got := inaReg(t, m, 0x01); got != 0x0BB8 {
		t.Errorf("shunt in power-down = %#04x, want the last 0x0bb8", got)
	}
	// Shunt and bus, triggered: one conversion of 2 × 532 µs, then none.
	inaWrite(t, m, 0x00, 0x399B)
	c.advance(1064 * time.Microsecond)
	if got := inaReg(t, m, 0x01); got != 0x0FA0 {
		t.Errorf("shunt after a triggered conversion = %#04x, want 0x0fa0", got)
	}
	m.SetCurrent(500 * physic.MilliAmpere)
	c.advance(time.Second)
	if got := inaReg(t, m, 0x01); got != 0x0FA0 {
		t.Errorf("shunt long after a triggered conversion = %#04x, want 0x0fa0", got)
	}
	// Shunt only, continuous, 9-bit: 84 µs, and the bus is not converted.
	m.SetBusVoltage(5 * physic.Volt)
	inaWrite(t, m, 0x00, 0x3985)
	c.advance(84 * time.Microsecond)
	if got := inaReg(t, m, 0x01); got != 0x1388 {
		t.Errorf("shunt-only conversion: shunt = %#04x, want 0x1388", got)
	}
	if got := inaReg(t, m, 0x02) >> 3; got != 2995 {
		t.Errorf("shunt-only conversion: bus = %d, want the old 2995", got)
	}
}

func TestINA219SetConversionTime(t *testing.T) {
	m, c := ina219Model()
	m.SetConversionTime(5 * time.Millisecond)
	m.SetCurrent(100 * physic.MilliAmpere)
	inaWrite(t, m, 0x00, 0x3FFF) // 136.2 ms by the datasheet, 5 ms here
	c.advance(5*time.Millisecond - time.Nanosecond)
	if got := inaReg(t, m, 0x01); got != 0 {
		t.Errorf("shunt before 5 ms = %#04x, want 0", got)
	}
	c.advance(time.Nanosecond)
	if got := inaReg(t, m, 0x01); got != 0x03E8 {
		t.Errorf("shunt after 5 ms = %#04x, want 0x03e8", got)
	}
}

func TestINA219Stuck(t *testing.T) {
	m, _ := ina219Model()
	m.SetConversionTime(0)
	m.SetCurrent(100 * physic.MilliAmpere)
	inaWrite(t, m, 0x05, 0x2000)
	if got := inaReg(t, m, 0x04); got != 0x07D0 {
		t.Fatalf("current = %#04x, want 0x07d0", got)
	}
	m.SetStuck(true)
	inaReg(t, m, 0x03) // clears CNVR
	m.SetCurrent(-100 * physic.MilliAmpere)
	for range 3 {
		if got := inaReg(t, m, 0x04); got != 0x07D0 {
			t.Errorf("stuck current = %#04x, want the frozen 0x07d0", got)
		}
		if got := inaReg(t, m, 0x02); got&2 != 0 {
			t.Errorf("stuck: CNVR set again: %#04x", got)
		}
	}
	m.SetStuck(false)
	if got := inaReg(t, m, 0x04); got != 0xF830 {
		t.Errorf("current after unsticking = %#04x, want 0xf830", got)
	}
}

func TestINA219Pointer(t *testing.T) {
	m, _ := ina219Model()
	// A read without a write uses the pointer set last.
	if err := m.Tx([]byte{0x00}, nil); err != nil {
		t.Fatal(err)
	}
	var r [2]byte
	if err := m.Tx(nil, r[:]); err != nil || r != [2]byte{0x39, 0x9F} {
		t.Errorf("read after pointing at the config = % x, %v; want 39 9f", r, err)
	}
	var one [1]byte
	if err := m.Tx([]byte{0x00}, one[:]); err != nil || one[0] != 0x39 {
		t.Errorf("one-byte read = %#x, %v; want 0x39", one[0], err)
	}
	for _, tc := range []struct {
		name string
		w    []byte
		r    int
		nack bool
	}{
		{"pointer 6", []byte{0x06}, 2, true},
		{"pointer 0xff", []byte{0xFF}, 0, true},
		{"one data byte", []byte{0x05, 0x10}, 0, true},
		{"three data bytes", []byte{0x05, 0x10, 0x00, 0x00}, 0, true},
		{"3-byte read", []byte{0x01}, 3, false},
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

func TestINA219Concurrent(t *testing.T) {
	m, _ := ina219Model()
	m.SetConversionTime(0)
	inaWrite(t, m, 0x05, 0x2000)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 500 {
			m.SetCurrent(physic.ElectricCurrent(i%2) * 100 * physic.MilliAmpere)
			m.SetBusVoltage(12 * physic.Volt)
		}
	}()
	for range 500 {
		if got := inaReg(t, m, 0x01); got != 0 && got != 0x03E8 {
			t.Fatalf("shunt %#04x, want 0 or 0x03e8", got)
		}
	}
	<-done
}

func TestINA2xxMulDivRound(t *testing.T) {
	for _, tc := range []struct {
		a, b int64
		d    uint64
		q    int64
		ok   bool
	}{
		{3, 5, 2, 8, true},
		{-3, 5, 2, -8, true},
		{3, -5, 2, -8, true},
		{-3, -5, 2, 8, true},
		{7, 1, 2, 4, true},
		{5, 1, 3, 2, true},
		{0, math.MaxInt64, 1, 0, true},
		{math.MaxInt64, 1, 1, math.MaxInt64, true},
		{math.MinInt64, 1, 2, math.MinInt64 / 2, true},
		{math.MinInt64, 1, 1, 0, false},
		{math.MaxInt64, math.MaxInt64, 1, 0, false},
		// 1e12 nA × 1e9 nΩ / 1e13 = 1e8, beyond 64 bits before dividing.
		{1e12, 1e9, 1e13, 1e8, true},
	} {
		q, ok := ina2xxMulDivRound(tc.a, tc.b, tc.d)
		if q != tc.q || ok != tc.ok {
			t.Errorf("%d × %d / %d = %d, %v; want %d, %v", tc.a, tc.b, tc.d, q, ok, tc.q, tc.ok)
		}
	}
}

func ExampleINA219() {
	var bus Bus
	chip := NewINA219()
	chip.SetConversionTime(0)
	chip.SetShunt(100 * physic.MilliOhm)
	chip.SetCurrent(100 * physic.MilliAmpere)
	chip.SetBusVoltage(11980 * physic.MilliVolt)
	if err := bus.Attach(0x40, chip); err != nil {
		fmt.Println(err)
		return
	}
	for _, reg := range []byte{0x01, 0x02} {
		r := make([]byte, 2)
		if err := bus.Tx(0x40, []byte{reg}, r); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("% X\n", r)
	}
	// Output:
	// 03 E8
	// 5D 9A
}
