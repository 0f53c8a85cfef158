package i2cemu

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"
)

type mcpClock struct{ t time.Time }

func (c *mcpClock) now() time.Time          { return c.t }
func (c *mcpClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// mcpModel returns a freshly powered-up model on a fake clock.
func mcpModel() (*MCP9808, *mcpClock) {
	c := &mcpClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := NewMCP9808()
	m.now = c.now
	m.busyUntil = c.now().Add(m.conversionTime())
	return m, c
}

// mcpCelsius returns t µ°C above 0 °C.
func mcpCelsius(micro int64) physic.Temperature {
	return physic.ZeroCelsius + physic.Temperature(micro)*physic.MicroKelvin
}

func mcpReg(t *testing.T, m *MCP9808, ptr byte) uint16 {
	t.Helper()
	if ptr == mcpRegRes {
		var r [1]byte
		if err := m.Tx([]byte{ptr}, r[:]); err != nil {
			t.Fatalf("read resolution: %v", err)
		}
		return uint16(r[0])
	}
	var r [2]byte
	if err := m.Tx([]byte{ptr}, r[:]); err != nil {
		t.Fatalf("read register %d: %v", ptr, err)
	}
	return uint16(r[0])<<8 | uint16(r[1])
}

func mcpWrite(t *testing.T, m *MCP9808, b ...byte) {
	t.Helper()
	if err := m.Tx(b, nil); err != nil {
		t.Fatalf("write % x: %v", b, err)
	}
}

// mcpNoFlags sets the limits to the ends of their range, so that no flag
// bit is set in T_A within the operating range.
func mcpNoFlags(t *testing.T, m *MCP9808) {
	t.Helper()
	mcpWrite(t, m, 0x02, 0x0F, 0xFC) // T_UPPER +255.75 °C
	mcpWrite(t, m, 0x03, 0x10, 0x00) // T_LOWER −256 °C
	mcpWrite(t, m, 0x04, 0x0F, 0xFC) // T_CRIT +255.75 °C
}

func TestMCP9808PowerUp(t *testing.T) {
	m, c := mcpModel()
	for _, tc := range []struct {
		ptr  byte
		want uint16
	}{
		{0x00, 0x0000}, // reserved
		{0x01, 0x0000}, // DS25095A Register 5-2
		{0x02, 0x0000}, // limits at 0 °C, Register 5-3
		{0x03, 0x0000},
		{0x04, 0x0000},
		{0x06, 0x0054}, // §5.1.4
		{0x07, 0x0400}, // §5.1.5
		{0x08, 0x0003}, // 0.0625 °C
		// 0 °C until the first conversion completes; 0 ≥ T_CRIT = 0
		// already sets the critical flag.
		{0x05, 0x8000},
	} {
		if got := mcpReg(t, m, tc.ptr); got != tc.want {
			t.Errorf("register %d = %#04x, want %#04x", tc.ptr, got, tc.want)
		}
	}
	c.advance(250*time.Millisecond - time.Nanosecond)
	if got := mcpReg(t, m, 0x05); got != 0x8000 {
		t.Errorf("T_A before the first conversion = %#04x, want 0x8000", got)
	}
	c.advance(time.Nanosecond)
	// 25 °C is above T_UPPER and T_CRIT, both 0 °C at power-up.
	if got := mcpReg(t, m, 0x05); got != 0xC190 {
		t.Errorf("T_A after the first conversion = %#04x, want 0xc190 (25 °C, flags 110)", got)
	}
}

func TestMCP9808Encoding(t *testing.T) {
	cases := []struct {
		name string
		temp physic.Temperature
		raw  [4]uint16 // at resolution register values 0 (0.5 °C) to 3 (0.0625 °C)
	}{
		// REFERENCE worked examples.
		{"+25", mcpCelsius(25_000_000), [4]uint16{0x0190, 0x0190, 0x0190, 0x0190}},
		{"-7", mcpCelsius(-7_000_000), [4]uint16{0x1F90, 0x1F90, 0x1F90, 0x1F90}},
		// One step of each resolution; the bits below it read 0.
		{"+25.5", mcpCelsius(25_500_000), [4]uint16{0x0198, 0x0198, 0x0198, 0x0198}},
		{"+25.25", mcpCelsius(25_250_000), [4]uint16{0x0190, 0x0194, 0x0194, 0x0194}},
		{"+25.125", mcpCelsius(25_125_000), [4]uint16{0x0190, 0x0190, 0x0192, 0x0192}},
		{"+25.0625", mcpCelsius(25_062_500), [4]uint16{0x0190, 0x0190, 0x0190, 0x0191}},
		{"+24.99", mcpCelsius(24_990_000), [4]uint16{0x0188, 0x018C, 0x018E, 0x018F}},
		{"0", physic.ZeroCelsius, [4]uint16{0x0000, 0x0000, 0x0000, 0x0000}},
		{"-0.0625", mcpCelsius(-62_500), [4]uint16{0x1FF8, 0x1FFC, 0x1FFE, 0x1FFF}},
		{"-0.001", mcpCelsius(-1_000), [4]uint16{0x1FF8, 0x1FFC, 0x1FFE, 0x1FFF}},
		// The operating range, and beyond it, where SetTemperature clamps.
		{"+125", mcpCelsius(125_000_000), [4]uint16{0x07D0, 0x07D0, 0x07D0, 0x07D0}},
		{"-40", mcpCelsius(-40_000_000), [4]uint16{0x1D80, 0x1D80, 0x1D80, 0x1D80}},
		{"+200", mcpCelsius(200_000_000), [4]uint16{0x07D0, 0x07D0, 0x07D0, 0x07D0}},
		{"-60", mcpCelsius(-60_000_000), [4]uint16{0x1D80, 0x1D80, 0x1D80, 0x1D80}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := mcpModel()
			m.SetConversionTime(0)
			mcpNoFlags(t, m)
			m.SetTemperature(tc.temp)
			for res, want := range tc.raw {
				mcpWrite(t, m, 0x08, byte(res))
				if got := mcpReg(t, m, 0x05); got != want {
					t.Errorf("resolution %d: %#04x, want %#04x", res, got, want)
				}
			}
		})
	}
}

func TestMCP9808Flags(t *testing.T) {
	m, _ := mcpModel()
	m.SetConversionTime(0)
	m.SetTemperature(mcpCelsius(-7_000_000))
	// Power-up limits, 0 °C: −7 °C is below T_LOWER.
	if got := mcpReg(t, m, 0x05); got != 0x3F90 {
		t.Errorf("-7 °C with limits at 0 °C = %#04x, want 0x3f90", got)
	}
	mcpWrite(t, m, 0x02, 0x01, 0xE0) // T_UPPER 30 °C
	mcpWrite(t, m, 0x03, 0x00, 0xA0) // T_LOWER 10 °C
	mcpWrite(t, m, 0x04, 0x03, 0x20) // T_CRIT 50 °C
	for _, tc := range []struct {
		micro int64
		want  uint16
	}{
		{25_000_000, 0x0190},
		{30_000_000, 0x01E0}, // T_A > T_UPPER is strict
		{30_062_500, 0x41E1},
		{49_937_500, 0x431F},
		{50_000_000, 0xC320}, // T_A ≥ T_CRIT is not
		{10_000_000, 0x00A0}, // T_A < T_LOWER is strict
		{9_937_500, 0x209F},
	} {
		m.SetTemperature(mcpCelsius(tc.micro))
		if got := mcpReg(t, m, 0x05); got != tc.want {
			t.Errorf("at %s: T_A = %#04x, want %#04x", mcpCelsius(tc.micro), got, tc.want)
		}
	}
	// Limits hold bits 12–2.
	mcpWrite(t, m, 0x02, 0xFF, 0xFF)
	if got := mcpReg(t, m, 0x02); got != 0x1FFC {
		t.Errorf("T_UPPER after writing ffff = %#04x, want 0x1ffc", got)
	}
}

func TestMCP9808Pointer(t *testing.T) {
	m, _ := mcpModel()
	// A read without a write uses the pointer set last (§5.1.4, note).
	mcpWrite(t, m, 0x06)
	var r [2]byte
	if err := m.Tx(nil, r[:]); err != nil {
		t.Fatal(err)
	}
	if r != [2]byte{0x00, 0x54} {
		t.Errorf("read after pointing at the manufacturer ID = % x, want 00 54", r)
	}
	for _, tc := range []struct {
		name string
		w    []byte
		r    int
		nack bool
	}{
		{"test register 0x09", []byte{0x09}, 2, true},
		{"test register 0x0f", []byte{0x0F}, 2, true},
		{"pointer 0x15", []byte{0x15}, 2, true},
		{"1 byte to the configuration", []byte{0x01, 0x01}, 0, true},
		{"3 bytes to the configuration", []byte{0x01, 0x01, 0x00, 0x00}, 0, true},
		{"2 bytes to the resolution", []byte{0x08, 0x00, 0x03}, 0, true},
		{"2-byte resolution read", []byte{0x08}, 2, false},
		{"3-byte T_A read", []byte{0x05}, 3, false},
	} {
		err := m.Tx(tc.w, make([]byte, tc.r))
		if err == nil {
			t.Errorf("%s: no error", tc.name)
		} else if errors.Is(err, ErrNACK) != tc.nack {
			t.Errorf("%s: err %v, NACK %v want %v", tc.name, err, errors.Is(err, ErrNACK), tc.nack)
		}
	}
	// Read-only registers ignore writes; the resolution register keeps
	// bits 1–0.
	mcpWrite(t, m, 0x06, 0x12, 0x34)
	mcpWrite(t, m, 0x07, 0x12, 0x34)
	mcpWrite(t, m, 0x08, 0xFD)
	if mfr, dev, res := mcpReg(t, m, 0x06), mcpReg(t, m, 0x07), mcpReg(t, m, 0x08); mfr != 0x0054 || dev != 0x0400 || res != 0x01 {
		t.Errorf("after writes: IDs %#04x %#04x, resolution %#02x; want 0x0054 0x0400 0x01", mfr, dev, res)
	}
}

func TestMCP9808Config(t *testing.T) {
	m, _ := mcpModel()
	// Bits 15–11 are unimplemented, Int. Clear reads 0, Alert Stat. is
	// read only.
	mcpWrite(t, m, 0x01, 0xFE, 0x33)
	if got := mcpReg(t, m, 0x01); got != 0x0603 {
		t.Errorf("configuration = %#04x, want 0x0603", got)
	}
	mcpWrite(t, m, 0x01, 0x00, 0xC0) // both locks
	steps := []struct {
		name  string
		write uint16
		want  uint16
	}{
		{"locks stay set", 0x0000, 0x00C0},
		{"SHDN cannot be set", 0x01C0, 0x00C0},
		{"T_HYST cannot change", 0x06C0, 0x00C0},
		{"Alert Cnt. cannot change", 0x00C8, 0x00C0},
		{"Alert Sel. cannot change under the window lock", 0x00C4, 0x00C0},
		{"Alert Pol. can", 0x00C2, 0x00C2},
	}
	for _, s := range steps {
		mcpWrite(t, m, 0x01, byte(s.write>>8), byte(s.write))
		if got := mcpReg(t, m, 0x01); got != s.want {
			t.Errorf("%s: configuration = %#04x, want %#04x", s.name, got, s.want)
		}
	}
	// Locked limits ignore writes.
	mcpWrite(t, m, 0x02, 0x01, 0xE0)
	mcpWrite(t, m, 0x04, 0x03, 0x20)
	if up, crit := mcpReg(t, m, 0x02), mcpReg(t, m, 0x04); up != 0 || crit != 0 {
		t.Errorf("locked limits after writes: T_UPPER %#04x T_CRIT %#04x, want 0", up, crit)
	}

	// SHDN can be cleared while locked (§5.2.1).
	m, _ = mcpModel()
	mcpWrite(t, m, 0x01, 0x01, 0x00)
	mcpWrite(t, m, 0x01, 0x01, 0x80)
	mcpWrite(t, m, 0x01, 0x00, 0x80)
	if got := mcpReg(t, m, 0x01); got != 0x0080 {
		t.Errorf("after clearing SHDN under Crit. Lock: %#04x, want 0x0080", got)
	}
	// The critical lock alone leaves the window registers writable.
	mcpWrite(t, m, 0x02, 0x01, 0xE0)
	if got := mcpReg(t, m, 0x02); got != 0x01E0 {
		t.Errorf("T_UPPER under Crit. Lock = %#04x, want 0x01e0", got)
	}
}

func TestMCP9808ShutdownAndResolution(t *testing.T) {
	m, c := mcpModel()
	mcpNoFlags(t, m)
	c.advance(250 * time.Millisecond)
	mcpWrite(t, m, 0x01, 0x01, 0x00) // SHDN
	m.SetTemperature(mcpCelsius(40_062_500))
	c.advance(time.Hour)
	if got := mcpReg(t, m, 0x05); got != 0x0190 {
		t.Errorf("in shutdown: %#04x, want the last result 0x0190", got)
	}
	// Leaving shutdown restarts conversions; the old result stays until
	// the first completes.
	mcpWrite(t, m, 0x01, 0x00, 0x00)
	c.advance(250*time.Millisecond - time.Nanosecond)
	if got := mcpReg(t, m, 0x05); got != 0x0190 {
		t.Errorf("before the first conversion after wake-up: %#04x, want 0x0190", got)
	}
	c.advance(time.Nanosecond)
	if got := mcpReg(t, m, 0x05); got != 0x0281 {
		t.Errorf("after wake-up: %#04x, want 0x0281 (40.0625 °C)", got)
	}
	// A new resolution shows after one conversion at that resolution.
	mcpWrite(t, m, 0x08, 0x00)
	if got := mcpReg(t, m, 0x05); got != 0x0281 {
		t.Errorf("right after the resolution change: %#04x, want 0x0281", got)
	}
	c.advance(30 * time.Millisecond)
	if got := mcpReg(t, m, 0x05); got != 0x0280 {
		t.Errorf("30 ms after the change to 0.5 °C: %#04x, want 0x0280 (40 °C)", got)
	}
	// Writing the same resolution restarts nothing.
	m.SetTemperature(mcpCelsius(41_000_000))
	mcpWrite(t, m, 0x08, 0x00)
	if got := mcpReg(t, m, 0x05); got != 0x0290 {
		t.Errorf("after rewriting the resolution: %#04x, want 0x0290 (41 °C)", got)
	}
}

func TestMCP9808SetConversionTime(t *testing.T) {
	m, c := mcpModel()
	m.SetConversionTime(time.Second)
	c.advance(250 * time.Millisecond)
	if got := mcpReg(t, m, 0x05); got != 0x8000 {
		t.Errorf("250 ms into a 1 s conversion: %#04x, want 0x8000", got)
	}
	c.advance(750 * time.Millisecond)
	if got := mcpReg(t, m, 0x05); got != 0xC190 {
		t.Errorf("after 1 s: %#04x, want 0xc190", got)
	}
	// The fixed time applies at every resolution.
	mcpWrite(t, m, 0x08, 0x00)
	m.SetTemperature(mcpCelsius(30_000_000))
	c.advance(30 * time.Millisecond)
	if got := mcpReg(t, m, 0x05); got != 0xC190 {
		t.Errorf("30 ms after the resolution change: %#04x, want the old 0xc190", got)
	}
	m.SetConversionTime(0)
	if got := mcpReg(t, m, 0x05); got != 0xC1E0 {
		t.Errorf("with instant conversions: %#04x, want 0xc1e0 (30 °C)", got)
	}
}

func TestMCP9808IDsAndStuck(t *testing.T) {
	m, _ := mcpModel()
	m.SetConversionTime(0)
	m.SetIDs(0x0054, 0x0201) // an MCP9804
	if mfr, dev := mcpReg(t, m, 0x06), mcpReg(t, m, 0x07); mfr != 0x0054 || dev != 0x0201 {
		t.Errorf("IDs %#04x %#04x, want 0x0054 0x0201", mfr, dev)
	}
	mcpNoFlags(t, m)
	if got := mcpReg(t, m, 0x05); got != 0x0190 {
		t.Fatalf("T_A = %#04x, want 0x0190", got)
	}
	m.SetStuck(true)
	m.SetTemperature(mcpCelsius(-7_000_000))
	if got := mcpReg(t, m, 0x05); got != 0x0190 {
		t.Errorf("stuck: %#04x, want the frozen 0x0190", got)
	}
	// The flags still follow the limits, against the frozen value.
	mcpWrite(t, m, 0x03, 0x01, 0xE0) // T_LOWER 30 °C
	if got := mcpReg(t, m, 0x05); got != 0x2190 {
		t.Errorf("stuck, below the new T_LOWER: %#04x, want 0x2190", got)
	}
	m.SetStuck(false)
	if got := mcpReg(t, m, 0x05); got != 0x3F90 {
		t.Errorf("unstuck: %#04x, want 0x3f90 (-7 °C, below T_LOWER)", got)
	}
}

func ExampleMCP9808() {
	var bus Bus
	sensor := NewMCP9808()
	sensor.SetConversionTime(0)
	if err := bus.Attach(0x18, sensor); err != nil {
		fmt.Println(err)
		return
	}
	r := make([]byte, 2)
	if err := bus.Tx(0x18, []byte{0x05}, r); err != nil {
		fmt.Println(err)
		return
	}
	// 25 °C, with the T_CRIT and T_UPPER flags set: both limits power up
	// at 0 °C.
	fmt.Printf("% X\n", r)
	// Output: C1 90
}
