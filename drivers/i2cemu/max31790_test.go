package i2cemu

import (
	"errors"
	"testing"
	"time"
)

type max31790Clock struct{ t time.Time }

func (c *max31790Clock) now() time.Time          { return c.t }
func (c *max31790Clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// newMAX31790Model returns a powered-up model on a fake clock.
func newMAX31790Model() (*MAX31790, *max31790Clock) {
	c := &max31790Clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := NewMAX31790()
	m.now = c.now
	return m, c
}

func max31790Read(t *testing.T, m *MAX31790, reg byte, n int) []byte {
	t.Helper()
	r := make([]byte, n)
	if err := m.Tx([]byte{reg}, r); err != nil {
		t.Fatalf("read %#x: %v", reg, err)
	}
	return r
}

func max31790Read16(t *testing.T, m *MAX31790, reg byte) uint16 {
	t.Helper()
	r := max31790Read(t, m, reg, 2)
	return uint16(r[0])<<8 | uint16(r[1])
}

func max31790Write(t *testing.T, m *MAX31790, w ...byte) {
	t.Helper()
	if err := m.Tx(w, nil); err != nil {
		t.Fatalf("write % x: %v", w, err)
	}
}

func TestMAX31790PowerUp(t *testing.T) {
	m, _ := newMAX31790Model()
	for _, tc := range []struct {
		reg  byte
		want byte
	}{
		{0x00, 0x20},               // global configuration
		{0x01, 0x44},               // PWM frequency
		{0x02, 0x00}, {0x07, 0x00}, // fan configuration: PWM mode, no TACH input
		{0x08, 0x4C}, {0x0D, 0x4C}, // fan dynamics: SR = 4
		{0x10, 0x00}, {0x11, 0x00}, // no fault
	} {
		if got := max31790Read(t, m, tc.reg, 1)[0]; got != tc.want {
			t.Errorf("register %#02x = %#02x, want %#02x", tc.reg, got, tc.want)
		}
	}
	// TACH inputs are disabled: every count reads as a stopped fan, even
	// with the fan turning.
	m.SetFanRPM(1, 3000)
	for reg := byte(0x18); reg < 0x30; reg += 2 {
		if got := max31790Read16(t, m, reg); got != 0xFFE0 {
			t.Errorf("tach count %#02x = %#04x, want 0xffe0", reg, got)
		}
	}
}

func TestMAX31790TachEncoding(t *testing.T) {
	// Counts of the 8192 Hz clock over SR tach periods, in bits 15:5;
	// 1981 rpm at SR 4 is the worked example 0x3E00 (count 496). The
	// other counts were worked out by hand from the datasheet formula,
	// count = 60·SR·8192 / (NP·RPM) truncated (for NP = 2 they match the
	// count-against-RPM table published with the Driosenth MAX31790
	// Arduino library: 491 at 500 rpm and SR 1, 30 at 32000 rpm and SR 4).
	cases := []struct {
		name string
		dyn  byte
		np   int
		rpm  int
		want uint16
	}{
		{"worked example", 0x4C, 2, 1981, 0x3E00},
		{"500 rpm SR 1", 0x0C, 2, 500, 491 << 5},
		{"32000 rpm SR 1", 0x0C, 2, 32000, 7 << 5},
		{"500 rpm SR 2", 0x2C, 2, 500, 983 << 5},
		{"500 rpm SR 4", 0x4C, 2, 500, 1966 << 5},
		{"1000 rpm SR 4", 0x4C, 2, 1000, 983 << 5},
		{"8000 rpm SR 4", 0x4C, 2, 8000, 122 << 5},
		{"32000 rpm SR 4", 0x4C, 2, 32000, 30 << 5},
		{"1000 rpm NP 1", 0x4C, 1, 1000, 1966 << 5},
		{"1000 rpm NP 4", 0x4C, 4, 1000, 491 << 5},
		{"32000 rpm SR 32 (code 101)", 0xA0, 2, 32000, 245 << 5},
		{"32000 rpm SR 32 (code 111)", 0xEC, 2, 32000, 245 << 5},
		{"too slow for SR 8 saturates", 0x6C, 2, 500, 0xFFE0},
		{"stopped", 0x4C, 2, 0, 0xFFE0},
		{"negative is stopped", 0x4C, 2, -100, 0xFFE0},
		{"too fast to count reads 1", 0x0C, 2, 1_000_000, 0x0020},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newMAX31790Model()
			m.SetConversionTime(0)
			max31790Write(t, m, 0x04, 0x08) // TACH3 input
			max31790Write(t, m, 0x0A, tc.dyn)
			m.SetPulsesPerRev(3, tc.np)
			m.SetFanRPM(3, tc.rpm)
			if got := max31790Read16(t, m, 0x1C); got != tc.want {
				t.Errorf("tach count = %#04x (count %d), want %#04x (count %d)", got, got>>5, tc.want, tc.want>>5)
			}
		})
	}
}

func TestMAX31790MeasureTime(t *testing.T) {
	m, c := newMAX31790Model()
	m.SetFanRPM(2, 1981)
	max31790Write(t, m, 0x03, 0x08)
	c.advance(MAX31790MeasureTime - time.Nanosecond)
	if got := max31790Read16(t, m, 0x1A); got != 0xFFE0 {
		t.Errorf("count before the first measurement = %#04x, want 0xffe0", got)
	}
	c.advance(time.Nanosecond)
	if got := max31790Read16(t, m, 0x1A); got != 0x3E00 {
		t.Errorf("count after the first measurement = %#04x, want 0x3e00", got)
	}
	// Rewriting an enabled input does not restart the measurement.
	max31790Write(t, m, 0x03, 0x08)
	if got := max31790Read16(t, m, 0x1A); got != 0x3E00 {
		t.Errorf("count after rewriting the configuration = %#04x, want 0x3e00", got)
	}
}

func TestMAX31790RPMModeEnablesTach(t *testing.T) {
	m, _ := newMAX31790Model()
	max31790Write(t, m, 0x05, 0x80)
	if got := max31790Read(t, m, 0x05, 1)[0]; got != 0x88 {
		t.Errorf("fan config after setting RPM mode = %#02x, want 0x88", got)
	}
}

func TestMAX31790Duty(t *testing.T) {
	m, _ := newMAX31790Model()
	max31790Write(t, m, 0x42, 0xFF, 0xFF) // channel 2, bits 6:0 ignored
	max31790Write(t, m, 0x4A, 0x80, 0x00) // channel 6
	for _, tc := range []struct {
		reg  byte
		want uint16
	}{
		{0x42, 0xFF80}, {0x32, 0xFF80}, // target and current duty
		{0x4A, 0x8000}, {0x3A, 0x8000},
		{0x40, 0x0000}, {0x30, 0x0000},
	} {
		if got := max31790Read16(t, m, tc.reg); got != tc.want {
			t.Errorf("register %#02x = %#04x, want %#04x", tc.reg, got, tc.want)
		}
	}
	// The duty cycle registers are read only.
	max31790Write(t, m, 0x32, 0x00, 0x00)
	if got := max31790Read16(t, m, 0x32); got != 0xFF80 {
		t.Errorf("duty cycle after a write = %#04x, want 0xff80", got)
	}
	max31790Write(t, m, 0x54, 0x3E, 0x1F)
	if got := max31790Read16(t, m, 0x54); got != 0x3E00 {
		t.Errorf("target count = %#04x, want 0x3e00 (bits 4:0 read 0)", got)
	}
}

func TestMAX31790FaultsSticky(t *testing.T) {
	m, _ := newMAX31790Model()
	status := func() byte { return max31790Read(t, m, 0x11, 1)[0] }
	m.SetFanFault(2, true)
	m.SetFanFault(6, true)
	if got := status(); got != 0x22 {
		t.Fatalf("status = %#02x, want 0x22", got)
	}
	// The fault is still there: clearing does not stick.
	max31790Write(t, m, 0x52, 0x00)
	if got := status(); got != 0x22 {
		t.Errorf("status after clearing a present fault = %#02x, want 0x22", got)
	}
	// Gone, but latched until cleared.
	m.SetFanFault(2, false)
	if got := status(); got != 0x22 {
		t.Errorf("status after the fault ended = %#02x, want 0x22", got)
	}
	max31790Write(t, m, 0x53, 0x00) // low byte of target count 2
	if got := status(); got != 0x20 {
		t.Errorf("status after clearing fan 2 = %#02x, want 0x20", got)
	}
	m.SetFanFault(6, false)
	max31790Write(t, m, 0x4A, 0x00) // target duty of fan 6 clears too
	if got := status(); got != 0x00 {
		t.Errorf("status after clearing fan 6 = %#02x, want 0", got)
	}
	if got := max31790Read(t, m, 0x10, 1)[0]; got != 0 {
		t.Errorf("fault status 2 = %#02x, want 0", got)
	}
	// Out-of-range channels are ignored.
	m.SetFanFault(0, true)
	m.SetFanFault(7, true)
	if got := status(); got != 0 {
		t.Errorf("status after faults on channels 0 and 7 = %#02x, want 0", got)
	}
}

func TestMAX31790Stuck(t *testing.T) {
	m, _ := newMAX31790Model()
	m.SetConversionTime(0)
	max31790Write(t, m, 0x02, 0x08)
	max31790Write(t, m, 0x40, 0x80, 0x00)
	m.SetFanRPM(1, 1981)
	m.SetStuck(true)
	m.SetFanRPM(1, 1000)
	m.SetFanFault(1, true)
	max31790Write(t, m, 0x40, 0xFF, 0x80)
	if got := max31790Read16(t, m, 0x18); got != 0x3E00 {
		t.Errorf("stuck tach count = %#04x, want 0x3e00", got)
	}
	if got := max31790Read16(t, m, 0x30); got != 0x8000 {
		t.Errorf("stuck duty = %#04x, want 0x8000", got)
	}
	if got := max31790Read(t, m, 0x11, 1)[0]; got != 0 {
		t.Errorf("stuck status = %#02x, want 0", got)
	}
	// Configuration registers still answer.
	if got := max31790Read16(t, m, 0x40); got != 0xFF80 {
		t.Errorf("target duty while stuck = %#04x, want 0xff80", got)
	}
	m.SetStuck(false)
	if got := max31790Read16(t, m, 0x18); got != 983<<5 {
		t.Errorf("tach count after unsticking = %#04x, want %#04x", got, 983<<5)
	}
	if got := max31790Read(t, m, 0x11, 1)[0]; got != 0x01 {
		t.Errorf("status after unsticking = %#02x, want 0x01", got)
	}
}

func TestMAX31790Pointer(t *testing.T) {
	m, _ := newMAX31790Model()
	// Reads auto-increment: the six fan dynamics registers in one read.
	if got := max31790Read(t, m, 0x08, 6); string(got) != "\x4C\x4C\x4C\x4C\x4C\x4C" {
		t.Errorf("fan dynamics burst = % x", got)
	}
	// A read without a write goes on from the pointer.
	r := make([]byte, 2)
	if err := m.Tx(nil, r); err != nil || r[0] != 0x00 || r[1] != 0x00 {
		t.Errorf("read at 0x0e = % x, %v; want 00 00", r, err)
	}
	// Writes auto-increment too.
	max31790Write(t, m, 0x02, 0x08, 0x08, 0x80)
	if got := max31790Read(t, m, 0x02, 3); string(got) != "\x08\x08\x88" {
		t.Errorf("fan config after a burst write = % x", got)
	}
	// The read-only tach count ignores writes.
	max31790Write(t, m, 0x18, 0x12, 0x34)
	if got := max31790Read16(t, m, 0x18); got != 0xFFE0 {
		t.Errorf("tach count after a write = %#04x, want 0xffe0", got)
	}
	for _, tc := range []struct {
		name string
		w    []byte
		r    int
		nack bool
	}{
		{"register 0x68", []byte{0x68}, 0, true},
		{"register 0xff", []byte{0xFF}, 1, true},
		{"write past the end", []byte{0x67, 0x00, 0x00}, 0, true},
		{"read past the end", []byte{0x67}, 2, false},
	} {
		err := m.Tx(tc.w, make([]byte, tc.r))
		if err == nil {
			t.Errorf("%s: no error", tc.name)
		} else if errors.Is(err, ErrNACK) != tc.nack {
			t.Errorf("%s: err %v, NACK %v want %v", tc.name, err, errors.Is(err, ErrNACK), tc.nack)
		}
	}
}

func TestMAX31790Reset(t *testing.T) {
	m, _ := newMAX31790Model()
	max31790Write(t, m, 0x02, 0x88)
	max31790Write(t, m, 0x08, 0xEC)
	max31790Write(t, m, 0x40, 0xFF, 0x80)
	m.SetFanFault(1, false)
	max31790Write(t, m, 0x00, 0x40) // reset
	for _, tc := range []struct {
		reg  byte
		want byte
	}{{0x00, 0x20}, {0x02, 0x00}, {0x08, 0x4C}, {0x40, 0x00}, {0x41, 0x00}} {
		if got := max31790Read(t, m, tc.reg, 1)[0]; got != tc.want {
			t.Errorf("register %#02x after reset = %#02x, want %#02x", tc.reg, got, tc.want)
		}
	}
}
