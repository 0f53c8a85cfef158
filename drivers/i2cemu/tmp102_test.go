package i2cemu

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// newModel returns a freshly powered-up model on a fake clock.
func newModel() (*TMP102, *fakeClock) {
	c := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := NewTMP102()
	m.now = c.now
	m.busyUntil = c.now().Add(m.convTime)
	return m, c
}

func celsius(micro int64) physic.Temperature {
	return physic.ZeroCelsius + physic.Temperature(micro)*physic.MicroKelvin
}

func reg(t *testing.T, m *TMP102, ptr byte) uint16 {
	t.Helper()
	var r [2]byte
	if err := m.Tx([]byte{ptr}, r[:]); err != nil {
		t.Fatalf("read register %d: %v", ptr, err)
	}
	return uint16(r[0])<<8 | uint16(r[1])
}

func write(t *testing.T, m *TMP102, b ...byte) {
	t.Helper()
	if err := m.Tx(b, nil); err != nil {
		t.Fatalf("write %x: %v", b, err)
	}
}

func TestTMP102PowerUp(t *testing.T) {
	m, c := newModel()
	for _, tc := range []struct {
		ptr  byte
		want uint16
	}{
		{0x01, 0x60A0}, // SBOS397 §7.5.3
		{0x02, 0x4B00}, // 75 °C, §7.5.4
		{0x03, 0x5000}, // 80 °C
		{0x00, 0x0000}, // 0 °C until the first conversion completes
	} {
		if got := reg(t, m, tc.ptr); got != tc.want {
			t.Errorf("register %d = %#04x, want %#04x", tc.ptr, got, tc.want)
		}
	}
	c.advance(TMP102TypicalConversionTime - time.Nanosecond)
	if got := reg(t, m, 0x00); got != 0 {
		t.Errorf("temperature before the first conversion = %#04x, want 0", got)
	}
	c.advance(time.Nanosecond)
	if got := reg(t, m, 0x00); got != 0x1900 {
		t.Errorf("temperature after the first conversion = %#04x, want 0x1900 (25 °C)", got)
	}
}

func TestTMP102Encoding(t *testing.T) {
	cases := []struct {
		temp     physic.Temperature
		normal   uint16
		extended uint16
	}{
		// SBOS397 §7.3.1 and §7.4.2 tables, left-justified (§7.5.2).
		{celsius(150_000_000), 0x7FF0, 0x4B01}, // normal mode saturates
		{celsius(128_000_000), 0x7FF0, 0x4001},
		{celsius(127_937_500), 0x7FF0, 0x3FF9},
		{celsius(100_000_000), 0x6400, 0x3201},
		{celsius(80_000_000), 0x5000, 0x2801},
		{celsius(75_000_000), 0x4B00, 0x2581},
		{celsius(50_000_000), 0x3200, 0x1901},
		{celsius(25_000_000), 0x1900, 0x0C81},
		{celsius(250_000), 0x0040, 0x0021},
		{celsius(0), 0x0000, 0x0001},
		{celsius(-250_000), 0xFFC0, 0xFFE1},
		{celsius(-25_000_000), 0xE700, 0xF381},
		{celsius(-55_000_000), 0xC900, 0xE481},
		// Between two codes the result rounds down.
		{celsius(25_030_000), 0x1900, 0x0C81},
		{celsius(-24_970_000), 0xE700, 0xF381},
		{celsius(-1), 0xFFF0, 0xFFF9},
		// Outside the operating range SetTemperature clamps to it.
		{celsius(200_000_000), 0x7FF0, 0x4B01},
		{celsius(-100_000_000), 0xC900, 0xE481},
	}
	for _, tc := range cases {
		t.Run(tc.temp.String(), func(t *testing.T) {
			m, _ := newModel()
			m.SetConversionTime(0)
			m.SetTemperature(tc.temp)
			if got := reg(t, m, 0x00); got != tc.normal {
				t.Errorf("normal mode: %#04x, want %#04x", got, tc.normal)
			}
			write(t, m, 0x01, 0x60, 0xB0)
			if got := reg(t, m, 0x00); got != tc.extended {
				t.Errorf("extended mode: %#04x, want %#04x", got, tc.extended)
			}
		})
	}
}

func TestTMP102Pointer(t *testing.T) {
	m, _ := newModel()
	// A read without a write uses the pointer set last (§7.5.1).
	write(t, m, 0x03)
	var r [2]byte
	if err := m.Tx(nil, r[:]); err != nil {
		t.Fatal(err)
	}
	if r != [2]byte{0x50, 0x00} {
		t.Errorf("read after pointing at T(HIGH) = % x, want 50 00", r)
	}
	// A one-byte read returns the MSB.
	var one [1]byte
	if err := m.Tx([]byte{0x01}, one[:]); err != nil || one[0] != 0x60 {
		t.Errorf("one-byte config read = %#x, %v; want 0x60", one[0], err)
	}
	for _, tc := range []struct {
		name string
		w    []byte
		r    int
		nack bool
	}{
		{"pointer 4", []byte{0x04}, 0, true},
		{"pointer 0x81", []byte{0x81}, 2, true},
		{"3 data bytes", []byte{0x01, 0x60, 0xA0, 0x00}, 0, true},
		{"3-byte read", []byte{0x00}, 3, false},
	} {
		err := m.Tx(tc.w, make([]byte, tc.r))
		if err == nil {
			t.Errorf("%s: no error", tc.name)
		} else if errors.Is(err, ErrNACK) != tc.nack {
			t.Errorf("%s: err %v, NACK %v want %v", tc.name, err, errors.Is(err, ErrNACK), tc.nack)
		}
	}
}

func TestTMP102ConfigBits(t *testing.T) {
	m, _ := newModel()
	m.SetConversionTime(0)
	// Read-only bits ignore writes: R1 R0 stay 11, AL follows the
	// comparator, D3–D0 read 0; OS is a command. Writable: F1 F0 POL TM
	// (SD left clear) and CR1 CR0 EM.
	write(t, m, 0x01, 0x9E, 0x3F)
	if got, want := reg(t, m, 0x01), uint16(0x7E10); got != want {
		// POL = 1 and no alert: AL reads 0.
		t.Errorf("config = %#04x, want %#04x", got, want)
	}
	write(t, m, 0x01, 0x00, 0xC0)
	if got, want := reg(t, m, 0x01), uint16(0x60E0); got != want {
		t.Errorf("config = %#04x, want %#04x", got, want)
	}
	// One data byte writes byte 1 only (§7.5.3: byte by byte).
	write(t, m, 0x01, 0x61)
	if got, want := reg(t, m, 0x01), uint16(0x61E0); got != want {
		t.Errorf("config after one-byte write = %#04x, want %#04x", got, want)
	}
	// The temperature register is read only.
	write(t, m, 0x00, 0x12, 0x34)
	if got := reg(t, m, 0x00); got != 0x1900 {
		t.Errorf("temperature after a write = %#04x, want 0x1900", got)
	}
}

func TestTMP102ShutdownAndOneShot(t *testing.T) {
	m, c := newModel()
	c.advance(TMP102TypicalConversionTime)
	write(t, m, 0x01, 0x61, 0xA0) // SD
	m.SetTemperature(celsius(40_000_000))
	if got := reg(t, m, 0x00); got != 0x1900 {
		t.Errorf("in shutdown: %#04x, want the last result 0x1900", got)
	}
	if got := reg(t, m, 0x01); got&0x8000 != 0 {
		t.Errorf("OS reads 1 before any one-shot: %#04x", got)
	}
	// §7.4.4: OS = 1 in shutdown starts one conversion; OS reads 0 until
	// it completes, then 1.
	write(t, m, 0x01, 0xE1, 0xA0)
	if got := reg(t, m, 0x01); got != 0x61A0 {
		t.Errorf("config during one-shot = %#04x, want 0x61a0", got)
	}
	if got := reg(t, m, 0x00); got != 0x1900 {
		t.Errorf("during one-shot: %#04x, want 0x1900", got)
	}
	c.advance(TMP102TypicalConversionTime)
	if got := reg(t, m, 0x01); got != 0xE1A0 {
		t.Errorf("config after one-shot = %#04x, want 0xe1a0", got)
	}
	if got := reg(t, m, 0x00); got != 0x2800 {
		t.Errorf("after one-shot: %#04x, want 0x2800 (40 °C)", got)
	}
	m.SetTemperature(celsius(45_000_000))
	if got := reg(t, m, 0x00); got != 0x2800 {
		t.Errorf("in shutdown after one-shot: %#04x, want 0x2800", got)
	}
	// Leaving shutdown restarts conversions; the old result stays until
	// the first completes.
	write(t, m, 0x01, 0x60, 0xA0)
	if got := reg(t, m, 0x00); got != 0x2800 {
		t.Errorf("right after wake-up: %#04x, want 0x2800", got)
	}
	c.advance(TMP102TypicalConversionTime)
	if got := reg(t, m, 0x00); got != 0x2D00 {
		t.Errorf("after wake-up: %#04x, want 0x2d00 (45 °C)", got)
	}
}

func TestTMP102ModeChange(t *testing.T) {
	m, c := newModel()
	c.advance(TMP102TypicalConversionTime)
	write(t, m, 0x01, 0x60, 0xB0) // EM
	if got := reg(t, m, 0x00); got != 0x1900 {
		t.Errorf("right after EM = 1: %#04x, want the 12-bit result 0x1900", got)
	}
	c.advance(TMP102TypicalConversionTime)
	if got := reg(t, m, 0x00); got != 0x0C81 {
		t.Errorf("after EM = 1: %#04x, want 0x0c81", got)
	}
	write(t, m, 0x01, 0x60, 0xA0)
	if got := reg(t, m, 0x00); got != 0x0C81 {
		t.Errorf("right after EM = 0: %#04x, want 0x0c81", got)
	}
	c.advance(TMP102TypicalConversionTime)
	if got := reg(t, m, 0x00); got != 0x1900 {
		t.Errorf("after EM = 0: %#04x, want 0x1900", got)
	}
}

func TestTMP102Alert(t *testing.T) {
	m, _ := newModel()
	m.SetConversionTime(0)
	al := func() bool { return reg(t, m, 0x01)&0x0020 != 0 }
	// §7.5.3.8, POL = 0: AL reads 1 until T(HIGH) (80 °C) is reached, then
	// 0 until the temperature falls below T(LOW) (75 °C).
	steps := []struct {
		micro int64
		al    bool
	}{
		{79_937_500, true},
		{80_000_000, false},
		{76_000_000, false},
		{75_000_000, false},
		{74_937_500, true},
	}
	for _, s := range steps {
		m.SetTemperature(celsius(s.micro))
		if got := al(); got != s.al {
			t.Errorf("at %s: AL %v, want %v", celsius(s.micro), got, s.al)
		}
	}
	// POL = 1 inverts it.
	write(t, m, 0x01, 0x64, 0xA0)
	if al() {
		t.Error("POL = 1, no alert: AL reads 1")
	}
	// New limits, written in the current format.
	write(t, m, 0x03, 0x1E, 0x00) // 30 °C
	write(t, m, 0x02, 0x19, 0x0F) // 25 °C; the low nibble reads 0
	if got := reg(t, m, 0x02); got != 0x1900 {
		t.Errorf("T(LOW) = %#04x, want 0x1900", got)
	}
	m.SetTemperature(celsius(30_000_000))
	if !al() {
		t.Error("POL = 1, at T(HIGH): AL reads 0")
	}
}

func TestTMP102ConcurrentSet(t *testing.T) {
	m, _ := newModel()
	m.SetConversionTime(0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 500 {
			m.SetTemperature(celsius(int64(i%2) * 10_000_000))
		}
	}()
	for range 500 {
		if got := reg(t, m, 0x00); got != 0x0000 && got != 0x0A00 && got != 0x1900 {
			t.Fatalf("read %#04x, want 0 °C, 10 °C or the initial 25 °C", got)
		}
	}
	<-done
}

func ExampleTMP102() {
	var bus Bus
	sensor := NewTMP102()
	sensor.SetConversionTime(0)
	sensor.SetTemperature(physic.ZeroCelsius - 25*physic.Kelvin)
	if err := bus.Attach(0x48, sensor); err != nil {
		fmt.Println(err)
		return
	}
	r := make([]byte, 2)
	if err := bus.Tx(0x48, []byte{0x00}, r); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("% X\n", r)
	// Output: E7 00
}

func TestTMP102Stuck(t *testing.T) {
	m := NewTMP102()
	m.SetConversionTime(0)
	read := func() uint16 {
		r := make([]byte, 2)
		if err := m.Tx([]byte{0x00}, r); err != nil {
			t.Fatal(err)
		}
		return uint16(r[0])<<8 | uint16(r[1])
	}
	m.SetTemperature(physic.ZeroCelsius + 25*physic.Kelvin)
	if got := read(); got != 0x1900 {
		t.Fatalf("25 °C reads %#04x, want 0x1900", got)
	}
	m.SetStuck(true)
	m.SetTemperature(physic.ZeroCelsius + 60*physic.Kelvin)
	if got := read(); got != 0x1900 {
		t.Errorf("stuck register reads %#04x, want the frozen 0x1900", got)
	}
	m.SetStuck(false)
	if got := read(); got != 0x3C00 {
		t.Errorf("released register reads %#04x, want 60 °C = 0x3c00", got)
	}
}
