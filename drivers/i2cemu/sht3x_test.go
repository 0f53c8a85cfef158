package i2cemu

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"
)

// shtClock is a settable clock for the Sensirion models.
type shtClock struct{ t time.Time }

func (c *shtClock) now() time.Time          { return c.t }
func (c *shtClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newSHT3xModel() (*SHT3x, *shtClock) {
	c := &shtClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := NewSHT3x()
	m.now = c.now
	return m, c
}

// shtCelsius returns n milli-degrees Celsius.
func shtCelsius(milli int64) physic.Temperature {
	return physic.ZeroCelsius + physic.Temperature(milli)*physic.MilliKelvin
}

// sht3xMeasure sends cmd and reads the 6-byte answer at once.
func sht3xMeasure(t *testing.T, m *SHT3x, cmd ...byte) []byte {
	t.Helper()
	if err := m.Tx(cmd, nil); err != nil {
		t.Fatalf("command % X: %v", cmd, err)
	}
	r := make([]byte, 6)
	if err := m.Tx(nil, r); err != nil {
		t.Fatalf("read after % X: %v", cmd, err)
	}
	return r
}

func sht3xStatus(t *testing.T, m *SHT3x) []byte {
	t.Helper()
	r := make([]byte, 3)
	if err := m.Tx([]byte{0xF3, 0x2D}, r); err != nil {
		t.Fatalf("read status: %v", err)
	}
	return r
}

func TestSHT3xCRC(t *testing.T) {
	// SHT3x-DIS §4.12 Table 20, and the vectors of REFERENCE.md §1.
	for w, want := range map[uint16]byte{0xBEEF: 0x92, 0x01A4: 0x4D, 0xABCD: 0x6F, 0x6666: 0x93, 0x8000: 0xA2, 0x0000: 0x81} {
		if got := shtCRC(w); got != want {
			t.Errorf("shtCRC(%#04x) = %#02x, want %#02x", w, got, want)
		}
	}
}

func TestSHT3xWorkedExample(t *testing.T) {
	m, _ := newSHT3xModel()
	m.SetConversionTime(0)
	// Power-up exposure 25 °C, 50 %RH: the datasheet conversion's worked
	// example, byte for byte.
	if got, want := sht3xMeasure(t, m, 0x24, 0x00), []byte{0x66, 0x66, 0x93, 0x80, 0x00, 0xA2}; !bytes.Equal(got, want) {
		t.Errorf("measurement = % X, want % X", got, want)
	}
}

func TestSHT3xEncoding(t *testing.T) {
	// Raw words: S_T = (T + 45)·65535/175 and S_RH = RH·65535/100, rounded
	// to nearest (§4.13), each followed by its CRC.
	cases := []struct {
		temp physic.Temperature
		rh   physic.RelativeHumidity
		want []byte
	}{
		{shtCelsius(25_000), 50 * physic.PercentRH, []byte{0x66, 0x66, 0x93, 0x80, 0x00, 0xA2}},
		{shtCelsius(-45_000), 0, []byte{0x00, 0x00, 0x81, 0x00, 0x00, 0x81}},
		{shtCelsius(130_000), 100 * physic.PercentRH, []byte{0xFF, 0xFF, 0xAC, 0xFF, 0xFF, 0xAC}},
		{shtCelsius(-10_000), 20 * physic.PercentRH, []byte{0x33, 0x33, 0x88, 0x33, 0x33, 0x88}},
		{shtCelsius(95_000), 80 * physic.PercentRH, []byte{0xCC, 0xCC, 0xA5, 0xCC, 0xCC, 0xA5}},
		{shtCelsius(0), 40 * physic.PercentRH, []byte{0x41, 0xD4, 0x3C, 0x66, 0x66, 0x93}},       // 16851.86 steps
		{shtCelsius(-40_000), 25 * physic.PercentRH, []byte{0x07, 0x50, 0x51, 0x40, 0x00, 0x08}}, // 1872.43, 16383.75
		// Outside what the format represents: clamped.
		{shtCelsius(-60_000), -5 * physic.PercentRH, []byte{0x00, 0x00, 0x81, 0x00, 0x00, 0x81}},
		{shtCelsius(200_000), 150 * physic.PercentRH, []byte{0xFF, 0xFF, 0xAC, 0xFF, 0xFF, 0xAC}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s %s", tc.temp, tc.rh), func(t *testing.T) {
			m, _ := newSHT3xModel()
			m.SetConversionTime(0)
			m.SetTemperature(tc.temp)
			m.SetHumidity(tc.rh)
			for _, cmd := range [][]byte{{0x24, 0x00}, {0x24, 0x0B}, {0x24, 0x16}, {0x2C, 0x06}} {
				if got := sht3xMeasure(t, m, cmd...); !bytes.Equal(got, tc.want) {
					t.Errorf("command % X: % X, want % X", cmd, got, tc.want)
				}
			}
		})
	}
}

func TestSHT3xTiming(t *testing.T) {
	for _, tc := range []struct {
		cmd  []byte
		want time.Duration
	}{
		{[]byte{0x24, 0x00}, 12500 * time.Microsecond}, // §2.2 typical
		{[]byte{0x24, 0x0B}, 4500 * time.Microsecond},
		{[]byte{0x24, 0x16}, 2500 * time.Microsecond},
	} {
		t.Run(fmt.Sprintf("% X", tc.cmd), func(t *testing.T) {
			m, c := newSHT3xModel()
			if err := m.Tx(tc.cmd, nil); err != nil {
				t.Fatal(err)
			}
			c.advance(tc.want - time.Nanosecond)
			r := make([]byte, 6)
			// §4.3: without clock stretching, a read header is NACKed
			// until the measurement is done.
			if err := m.Tx(nil, r); !errors.Is(err, ErrNACK) {
				t.Fatalf("read before %v: err %v, want ErrNACK", tc.want, err)
			}
			if err := m.Tx([]byte{0xF3, 0x2D}, nil); !errors.Is(err, ErrNACK) {
				t.Errorf("command while measuring: err %v, want ErrNACK", err)
			}
			c.advance(time.Nanosecond)
			if err := m.Tx(nil, r); err != nil {
				t.Fatalf("read after %v: %v", tc.want, err)
			}
			if !bytes.Equal(r, []byte{0x66, 0x66, 0x93, 0x80, 0x00, 0xA2}) {
				t.Errorf("read % X", r)
			}
			// The result is read once.
			if err := m.Tx(nil, r); !errors.Is(err, ErrNACK) {
				t.Errorf("second read: err %v, want ErrNACK", err)
			}
		})
	}
	t.Run("clock stretching", func(t *testing.T) {
		m, _ := newSHT3xModel()
		r := make([]byte, 6)
		// The sensor holds SCL until the result is ready: the read waits
		// instead of failing.
		if err := m.Tx([]byte{0x2C, 0x06}, r); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(r, []byte{0x66, 0x66, 0x93, 0x80, 0x00, 0xA2}) {
			t.Errorf("read % X", r)
		}
	})
	t.Run("set conversion time", func(t *testing.T) {
		m, c := newSHT3xModel()
		m.SetConversionTime(time.Second)
		if err := m.Tx([]byte{0x24, 0x16}, nil); err != nil {
			t.Fatal(err)
		}
		c.advance(999 * time.Millisecond)
		if err := m.Tx(nil, make([]byte, 6)); !errors.Is(err, ErrNACK) {
			t.Errorf("read at 999 ms: err %v, want ErrNACK", err)
		}
		c.advance(time.Millisecond)
		if err := m.Tx(nil, make([]byte, 6)); err != nil {
			t.Errorf("read at 1 s: %v", err)
		}
		m.SetConversionTime(-1) // back to the datasheet's typical times
		if err := m.Tx([]byte{0x24, 0x16}, nil); err != nil {
			t.Fatal(err)
		}
		c.advance(SHT3xTypicalTimeLow)
		if err := m.Tx(nil, make([]byte, 6)); err != nil {
			t.Errorf("read after the typical low-repeatability time: %v", err)
		}
	})
}

func TestSHT3xStatusRegister(t *testing.T) {
	m, _ := newSHT3xModel()
	steps := []struct {
		name string
		cmd  []byte
		nack bool
		want []byte // status afterwards
	}{
		{"power-up: alert pending, reset detected", nil, false, []byte{0x80, 0x10, 0xE1}},
		{"clear status", []byte{0x30, 0x41}, false, []byte{0x00, 0x00, 0x81}},
		{"heater on", []byte{0x30, 0x6D}, false, []byte{0x20, 0x00, 0x5D}},
		{"break is harmless in single shot", []byte{0x30, 0x93}, false, []byte{0x20, 0x00, 0x5D}},
		{"periodic mode is not modelled", []byte{0x21, 0x30}, true, []byte{0x20, 0x02, 0x3F}},
		{"a valid command clears the command status", []byte{0x30, 0x66}, false, []byte{0x00, 0x00, 0x81}},
		{"soft reset", []byte{0x30, 0xA2}, false, []byte{0x80, 0x10, 0xE1}},
	}
	for _, s := range steps {
		if s.cmd != nil {
			err := m.Tx(s.cmd, nil)
			if errors.Is(err, ErrNACK) != s.nack {
				t.Errorf("%s: err %v, want NACK %v", s.name, err, s.nack)
			}
		}
		if got := sht3xStatus(t, m); !bytes.Equal(got, s.want) {
			t.Errorf("%s: status % X, want % X", s.name, got, s.want)
		}
	}
	// The status is an answer to its command, not a register a bare read
	// header returns.
	if err := m.Tx(nil, make([]byte, 3)); !errors.Is(err, ErrNACK) {
		t.Errorf("read without a command: err %v, want ErrNACK", err)
	}
}

func TestSHT3xProtocolErrors(t *testing.T) {
	m, _ := newSHT3xModel()
	m.SetConversionTime(0)
	for _, tc := range []struct {
		name string
		w    []byte
		r    int
		nack bool
	}{
		{"1-byte write", []byte{0x24}, 0, true},
		{"command with data (alert limit)", []byte{0x61, 0x1D, 0x00, 0x00, 0x81}, 0, true},
		{"read with no command", nil, 6, true},
		{"7-byte measurement read", []byte{0x24, 0x00}, 7, false},
		{"4-byte status read", []byte{0xF3, 0x2D}, 4, false},
	} {
		err := m.Tx(tc.w, make([]byte, tc.r))
		if err == nil {
			t.Errorf("%s: no error", tc.name)
		} else if errors.Is(err, ErrNACK) != tc.nack {
			t.Errorf("%s: err %v, NACK %v want %v", tc.name, err, errors.Is(err, ErrNACK), tc.nack)
		}
	}
	// The master may stop after any byte (§4.4): three bytes are the
	// temperature and its CRC.
	r := make([]byte, 3)
	if err := m.Tx([]byte{0x24, 0x00}, r); err != nil || !bytes.Equal(r, []byte{0x66, 0x66, 0x93}) {
		t.Errorf("3-byte read = % X, %v", r, err)
	}
}

func TestSHT3xStuck(t *testing.T) {
	m, _ := newSHT3xModel()
	m.SetConversionTime(0)
	m.SetTemperature(shtCelsius(-10_000))
	m.SetHumidity(20 * physic.PercentRH)
	first := sht3xMeasure(t, m, 0x24, 0x00)
	m.SetStuck(true)
	m.SetTemperature(shtCelsius(95_000))
	m.SetHumidity(80 * physic.PercentRH)
	for range 3 {
		if got := sht3xMeasure(t, m, 0x24, 0x00); !bytes.Equal(got, first) {
			t.Errorf("stuck: % X, want the frozen % X", got, first)
		}
	}
	m.SetStuck(false)
	if got, want := sht3xMeasure(t, m, 0x24, 0x00), []byte{0xCC, 0xCC, 0xA5, 0xCC, 0xCC, 0xA5}; !bytes.Equal(got, want) {
		t.Errorf("unstuck: % X, want % X", got, want)
	}
}

func TestSHT3xCorruptCRC(t *testing.T) {
	m, _ := newSHT3xModel()
	m.SetConversionTime(0)
	m.CorruptCRC(2)
	if got, want := sht3xMeasure(t, m, 0x24, 0x00), []byte{0x66, 0x66, 0x6C, 0x80, 0x00, 0x5D}; !bytes.Equal(got, want) {
		t.Errorf("first corrupted read: % X, want % X", got, want)
	}
	if got, want := sht3xStatus(t, m), []byte{0x80, 0x10, 0x1E}; !bytes.Equal(got, want) {
		t.Errorf("second corrupted read: % X, want % X", got, want)
	}
	if got, want := sht3xMeasure(t, m, 0x24, 0x00), []byte{0x66, 0x66, 0x93, 0x80, 0x00, 0xA2}; !bytes.Equal(got, want) {
		t.Errorf("third read: % X, want % X", got, want)
	}
	m.CorruptCRC(5)
	m.CorruptCRC(0)
	if got, want := sht3xStatus(t, m), []byte{0x80, 0x10, 0xE1}; !bytes.Equal(got, want) {
		t.Errorf("after cancelling: % X, want % X", got, want)
	}
}

func TestSHT3xConcurrentSet(t *testing.T) {
	m, _ := newSHT3xModel()
	m.SetConversionTime(0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 500 {
			m.SetTemperature(shtCelsius(int64(i%2) * 95_000))
			m.SetHumidity(physic.RelativeHumidity(i%2) * 80 * physic.PercentRH)
		}
	}()
	for range 500 {
		got := sht3xMeasure(t, m, 0x24, 0x00)
		if !bytes.Equal(got[:3], []byte{0x41, 0xD4, 0x3C}) && !bytes.Equal(got[:3], []byte{0xCC, 0xCC, 0xA5}) &&
			!bytes.Equal(got[:3], []byte{0x66, 0x66, 0x93}) {
			t.Fatalf("read % X, want 0 °C, 95 °C or the initial 25 °C", got)
		}
	}
	<-done
}

func ExampleSHT3x() {
	var bus Bus
	sensor := NewSHT3x()
	sensor.SetConversionTime(0)
	sensor.SetTemperature(physic.ZeroCelsius - 10*physic.Kelvin)
	sensor.SetHumidity(80 * physic.PercentRH)
	if err := bus.Attach(0x44, sensor); err != nil {
		fmt.Println(err)
		return
	}
	if err := bus.Tx(0x44, []byte{0x24, 0x00}, nil); err != nil {
		fmt.Println(err)
		return
	}
	r := make([]byte, 6)
	if err := bus.Tx(0x44, nil, r); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("% X\n", r)
	// Output: 33 33 88 CC CC A5
}
