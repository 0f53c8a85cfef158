package i2cemu

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"
)

type lm75Clock struct{ t time.Time }

func (c *lm75Clock) now() time.Time          { return c.t }
func (c *lm75Clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// lm75Model returns a freshly powered-up model on a fake clock.
func lm75Model(bits int) (*LM75, *lm75Clock) {
	c := &lm75Clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := NewLM75(bits)
	m.now = c.now
	m.busyUntil = c.now().Add(m.convTime)
	return m, c
}

// lm75Celsius returns t m°C above 0 °C.
func lm75Celsius(milli int64) physic.Temperature {
	return physic.ZeroCelsius + physic.Temperature(milli)*physic.MilliKelvin
}

func lm75Reg(t *testing.T, m *LM75, ptr byte) uint16 {
	t.Helper()
	if ptr == lm75RegConf {
		var r [1]byte
		if err := m.Tx([]byte{ptr}, r[:]); err != nil {
			t.Fatalf("read configuration: %v", err)
		}
		return uint16(r[0])
	}
	var r [2]byte
	if err := m.Tx([]byte{ptr}, r[:]); err != nil {
		t.Fatalf("read register %d: %v", ptr, err)
	}
	return uint16(r[0])<<8 | uint16(r[1])
}

func lm75Write(t *testing.T, m *LM75, b ...byte) {
	t.Helper()
	if err := m.Tx(b, nil); err != nil {
		t.Fatalf("write % x: %v", b, err)
	}
}

func TestLM75PowerUp(t *testing.T) {
	for _, bits := range []int{9, 11} {
		t.Run(fmt.Sprint(bits), func(t *testing.T) {
			m, c := lm75Model(bits)
			for _, tc := range []struct {
				ptr  byte
				want uint16
			}{
				{0x01, 0x00},   // NXP LM75B Table 8, TI SNIS153: all bits 0
				{0x02, 0x4B00}, // T(HYST) 75 °C
				{0x03, 0x5000}, // T(OS) 80 °C
				{0x00, 0x0000}, // 0 °C until the first conversion completes
			} {
				if got := lm75Reg(t, m, tc.ptr); got != tc.want {
					t.Errorf("register %d = %#04x, want %#04x", tc.ptr, got, tc.want)
				}
			}
			c.advance(LM75TypicalConversionTime - time.Nanosecond)
			if got := lm75Reg(t, m, 0x00); got != 0 {
				t.Errorf("temperature before the first conversion = %#04x, want 0", got)
			}
			c.advance(time.Nanosecond)
			if got := lm75Reg(t, m, 0x00); got != 0x1900 {
				t.Errorf("temperature after the first conversion = %#04x, want 0x1900 (25 °C)", got)
			}
		})
	}
}

func TestLM75Encoding(t *testing.T) {
	cases := []struct {
		name         string
		temp         physic.Temperature
		nine, eleven uint16
	}{
		// REFERENCE worked example: 25.5 °C is 19 80 in both formats.
		{"worked example", lm75Celsius(25_500), 0x1980, 0x1980},
		// TI SNIS153 "Temperature Data Format" (9 bits) and NXP LM75B
		// Table 10 (11 bits), left-justified.
		{"+125", lm75Celsius(125_000), 0x7D00, 0x7D00},
		{"+126.875 saturates", lm75Celsius(126_875), 0x7D00, 0x7D00},
		{"+25", lm75Celsius(25_000), 0x1900, 0x1900},
		{"+0.5", lm75Celsius(500), 0x0080, 0x0080},
		{"+0.125", lm75Celsius(125), 0x0000, 0x0020},
		{"0", physic.ZeroCelsius, 0x0000, 0x0000},
		{"-0.125", lm75Celsius(-125), 0xFF80, 0xFFE0},
		{"-0.5", lm75Celsius(-500), 0xFF80, 0xFF80},
		{"-25", lm75Celsius(-25_000), 0xE700, 0xE700},
		{"-54.875", lm75Celsius(-54_875), 0xC900, 0xC920},
		{"-55", lm75Celsius(-55_000), 0xC900, 0xC900},
		// Between two codes the result rounds down.
		{"+25.7", lm75Celsius(25_700), 0x1980, 0x19A0},
		{"-0.001", lm75Celsius(-1), 0xFF80, 0xFFE0},
		// Outside the operating range SetTemperature clamps to it.
		{"+200", lm75Celsius(200_000), 0x7D00, 0x7D00},
		{"-100", lm75Celsius(-100_000), 0xC900, 0xC900},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, f := range []struct {
				bits int
				want uint16
			}{{9, tc.nine}, {11, tc.eleven}} {
				m, _ := lm75Model(f.bits)
				m.SetConversionTime(0)
				m.SetTemperature(tc.temp)
				if got := lm75Reg(t, m, 0x00); got != f.want {
					t.Errorf("%d bits: %#04x, want %#04x", f.bits, got, f.want)
				}
			}
		})
	}
}

func TestLM75Pointer(t *testing.T) {
	m, _ := lm75Model(11)
	m.SetConversionTime(0)
	// A read without a write uses the pointer set last.
	lm75Write(t, m, 0x03)
	var r [2]byte
	if err := m.Tx(nil, r[:]); err != nil {
		t.Fatal(err)
	}
	if r != [2]byte{0x50, 0x00} {
		t.Errorf("read after pointing at T(OS) = % x, want 50 00", r)
	}
	// A one-byte read of the temperature returns the MSByte (NXP §7.4.3).
	var one [1]byte
	if err := m.Tx([]byte{0x00}, one[:]); err != nil || one[0] != 0x19 {
		t.Errorf("one-byte temperature read = %#x, %v; want 0x19", one[0], err)
	}
	for _, tc := range []struct {
		name string
		w    []byte
		r    int
		nack bool
	}{
		{"pointer 4", []byte{0x04}, 0, true},
		{"pointer 7", []byte{0x07}, 1, true},
		{"pointer 0x81", []byte{0x81}, 2, true},
		{"2 bytes to the configuration", []byte{0x01, 0x00, 0x00}, 0, true},
		{"3 bytes to T(OS)", []byte{0x03, 0x50, 0x00, 0x00}, 0, true},
		{"2-byte configuration read", []byte{0x01}, 2, false},
		{"3-byte temperature read", []byte{0x00}, 3, false},
	} {
		err := m.Tx(tc.w, make([]byte, tc.r))
		if err == nil {
			t.Errorf("%s: no error", tc.name)
		} else if errors.Is(err, ErrNACK) != tc.nack {
			t.Errorf("%s: err %v, NACK %v want %v", tc.name, err, errors.Is(err, ErrNACK), tc.nack)
		}
	}
}

func TestLM75Registers(t *testing.T) {
	m, _ := lm75Model(9)
	m.SetConversionTime(0)
	// B7–B5 read 0 whatever is written.
	lm75Write(t, m, 0x01, 0xFE)
	if got := lm75Reg(t, m, 0x01); got != 0x1E {
		t.Errorf("configuration = %#02x, want 0x1e", got)
	}
	lm75Write(t, m, 0x01, 0x00)
	// Set points hold 9 bits.
	lm75Write(t, m, 0x03, 0x55, 0xFF)
	if got := lm75Reg(t, m, 0x03); got != 0x5580 {
		t.Errorf("T(OS) = %#04x, want 0x5580", got)
	}
	// A one-byte write changes the MSByte.
	lm75Write(t, m, 0x02, 0x3C)
	if got := lm75Reg(t, m, 0x02); got != 0x3C00 {
		t.Errorf("T(HYST) = %#04x, want 0x3c00", got)
	}
	// The temperature register is read only.
	lm75Write(t, m, 0x00, 0x12, 0x34)
	if got := lm75Reg(t, m, 0x00); got != 0x1900 {
		t.Errorf("temperature after a write = %#04x, want 0x1900", got)
	}
}

func TestLM75Shutdown(t *testing.T) {
	m, c := lm75Model(11)
	c.advance(LM75TypicalConversionTime)
	lm75Write(t, m, 0x01, 0x01)
	m.SetTemperature(lm75Celsius(40_125))
	if got := lm75Reg(t, m, 0x00); got != 0x1900 {
		t.Errorf("in shutdown: %#04x, want the last result 0x1900", got)
	}
	c.advance(time.Hour)
	if got := lm75Reg(t, m, 0x00); got != 0x1900 {
		t.Errorf("an hour in shutdown: %#04x, want 0x1900", got)
	}
	// Leaving shutdown restarts conversions; the old result stays until
	// the first completes.
	lm75Write(t, m, 0x01, 0x00)
	if got := lm75Reg(t, m, 0x00); got != 0x1900 {
		t.Errorf("right after wake-up: %#04x, want 0x1900", got)
	}
	c.advance(LM75TypicalConversionTime)
	if got := lm75Reg(t, m, 0x00); got != 0x2820 {
		t.Errorf("after wake-up: %#04x, want 0x2820 (40.125 °C)", got)
	}
	// Writing the configuration while running does not restart anything.
	m.SetTemperature(lm75Celsius(41_000))
	lm75Write(t, m, 0x01, 0x02)
	if got := lm75Reg(t, m, 0x00); got != 0x2900 {
		t.Errorf("after an OS mode change: %#04x, want 0x2900 (41 °C)", got)
	}
}

func TestLM75Stuck(t *testing.T) {
	m, _ := lm75Model(9)
	m.SetConversionTime(0)
	m.SetStuck(true)
	m.SetTemperature(lm75Celsius(-20_000))
	if got := lm75Reg(t, m, 0x00); got != 0x0000 {
		t.Errorf("stuck since power-up: %#04x, want the power-up 0x0000", got)
	}
	m.SetStuck(false)
	if got := lm75Reg(t, m, 0x00); got != 0xEC00 {
		t.Errorf("unstuck: %#04x, want 0xec00 (-20 °C)", got)
	}
	m.SetStuck(true)
	m.SetTemperature(lm75Celsius(30_000))
	if got := lm75Reg(t, m, 0x00); got != 0xEC00 {
		t.Errorf("stuck: %#04x, want the frozen 0xec00", got)
	}
}

func TestLM75SetConversionTimeWhileBusy(t *testing.T) {
	m, c := lm75Model(9)
	m.SetConversionTime(time.Second)
	c.advance(LM75TypicalConversionTime)
	if got := lm75Reg(t, m, 0x00); got != 0 {
		t.Errorf("with a longer conversion time: %#04x, want 0", got)
	}
	m.SetConversionTime(0)
	if got := lm75Reg(t, m, 0x00); got != 0x1900 {
		t.Errorf("with instant conversions: %#04x, want 0x1900", got)
	}
}

func TestNewLM75Bits(t *testing.T) {
	for _, bits := range []int{0, 8, 10, 12, 16} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewLM75(%d) did not panic", bits)
				}
			}()
			NewLM75(bits)
		}()
	}
}

func ExampleLM75() {
	var bus Bus
	sensor := NewLM75(11)
	sensor.SetConversionTime(0)
	sensor.SetTemperature(physic.ZeroCelsius - 25*physic.Kelvin)
	if err := bus.Attach(0x4C, sensor); err != nil {
		fmt.Println(err)
		return
	}
	r := make([]byte, 2)
	if err := bus.Tx(0x4C, []byte{0x00}, r); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("% X\n", r)
	// Output: E7 00
}
