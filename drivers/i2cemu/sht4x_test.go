package i2cemu

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"
)

func newSHT4xModel() (*SHT4x, *shtClock) {
	c := &shtClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := NewSHT4x()
	m.now = c.now
	return m, c
}

// sht4xAsk sends cmd and reads the 6-byte answer at once.
func sht4xAsk(t *testing.T, m *SHT4x, cmd byte) []byte {
	t.Helper()
	if err := m.Tx([]byte{cmd}, nil); err != nil {
		t.Fatalf("command %#02x: %v", cmd, err)
	}
	r := make([]byte, 6)
	if err := m.Tx(nil, r); err != nil {
		t.Fatalf("read after %#02x: %v", cmd, err)
	}
	return r
}

func TestSHT4xEncoding(t *testing.T) {
	// Raw words: S_T = (T + 45)·65535/175 and S_RH = (RH + 6)·65535/125,
	// rounded to nearest, each followed by its CRC.
	cases := []struct {
		temp physic.Temperature
		rh   physic.RelativeHumidity
		want []byte
	}{
		// REFERENCE.md's worked example: 0x6666 is 25 °C and 44 %RH.
		{shtCelsius(25_000), 44 * physic.PercentRH, []byte{0x66, 0x66, 0x93, 0x66, 0x66, 0x93}},
		{shtCelsius(25_000), 50 * physic.PercentRH, []byte{0x66, 0x66, 0x93, 0x72, 0xB0, 0xDC}}, // 29359.68
		{shtCelsius(-10_000), 19 * physic.PercentRH, []byte{0x33, 0x33, 0x88, 0x33, 0x33, 0x88}},
		{shtCelsius(95_000), 94 * physic.PercentRH, []byte{0xCC, 0xCC, 0xA5, 0xCC, 0xCC, 0xA5}},
		// The ends of the RH scale lie inside the raw format: 0 %RH is
		// 3145.68 steps and 100 %RH 55573.68.
		{shtCelsius(0), 0, []byte{0x41, 0xD4, 0x3C, 0x0C, 0x4A, 0xD3}},
		{shtCelsius(0), 100 * physic.PercentRH, []byte{0x41, 0xD4, 0x3C, 0xD9, 0x16, 0x63}},
		{shtCelsius(-45_000), -6 * physic.PercentRH, []byte{0x00, 0x00, 0x81, 0x00, 0x00, 0x81}},
		{shtCelsius(130_000), 119 * physic.PercentRH, []byte{0xFF, 0xFF, 0xAC, 0xFF, 0xFF, 0xAC}},
		// Beyond the format: clamped.
		{shtCelsius(-100_000), -50 * physic.PercentRH, []byte{0x00, 0x00, 0x81, 0x00, 0x00, 0x81}},
		{shtCelsius(300_000), 200 * physic.PercentRH, []byte{0xFF, 0xFF, 0xAC, 0xFF, 0xFF, 0xAC}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s %s", tc.temp, tc.rh), func(t *testing.T) {
			m, _ := newSHT4xModel()
			m.SetConversionTime(0)
			m.SetTemperature(tc.temp)
			m.SetHumidity(tc.rh)
			for _, cmd := range []byte{0xFD, 0xF6, 0xE0} {
				if got := sht4xAsk(t, m, cmd); !bytes.Equal(got, tc.want) {
					t.Errorf("command %#02x: % X, want % X", cmd, got, tc.want)
				}
			}
		})
	}
}

func TestSHT4xTiming(t *testing.T) {
	for _, tc := range []struct {
		cmd  byte
		want time.Duration
	}{
		{0xFD, 6900 * time.Microsecond}, // typical
		{0xF6, 3700 * time.Microsecond},
		{0xE0, 1300 * time.Microsecond},
		{0x39, time.Second + 6900*time.Microsecond}, // heater, 200 mW for 1 s, then 0xFD
		{0x15, 100*time.Millisecond + 6900*time.Microsecond},
	} {
		t.Run(fmt.Sprintf("%#02x", tc.cmd), func(t *testing.T) {
			m, c := newSHT4xModel()
			if err := m.Tx([]byte{tc.cmd}, nil); err != nil {
				t.Fatal(err)
			}
			c.advance(tc.want - time.Nanosecond)
			r := make([]byte, 6)
			if err := m.Tx(nil, r); !errors.Is(err, ErrNACK) {
				t.Fatalf("read before %v: err %v, want ErrNACK", tc.want, err)
			}
			if err := m.Tx([]byte{0x89}, nil); !errors.Is(err, ErrNACK) {
				t.Errorf("command while measuring: err %v, want ErrNACK", err)
			}
			c.advance(time.Nanosecond)
			if err := m.Tx(nil, r); err != nil {
				t.Fatalf("read after %v: %v", tc.want, err)
			}
			if !bytes.Equal(r, []byte{0x66, 0x66, 0x93, 0x72, 0xB0, 0xDC}) {
				t.Errorf("read % X", r)
			}
			if err := m.Tx(nil, r); !errors.Is(err, ErrNACK) {
				t.Errorf("second read: err %v, want ErrNACK", err)
			}
		})
	}
	t.Run("combined transaction", func(t *testing.T) {
		m, _ := newSHT4xModel()
		// No clock stretching on the SHT4x: command and read in one
		// transaction fail while it measures.
		if err := m.Tx([]byte{0xFD}, make([]byte, 6)); !errors.Is(err, ErrNACK) {
			t.Errorf("err %v, want ErrNACK", err)
		}
	})
	t.Run("set conversion time", func(t *testing.T) {
		m, c := newSHT4xModel()
		m.SetConversionTime(50 * time.Millisecond)
		if err := m.Tx([]byte{0xE0}, nil); err != nil {
			t.Fatal(err)
		}
		c.advance(49 * time.Millisecond)
		if err := m.Tx(nil, make([]byte, 6)); !errors.Is(err, ErrNACK) {
			t.Errorf("read at 49 ms: err %v, want ErrNACK", err)
		}
		c.advance(time.Millisecond)
		if err := m.Tx(nil, make([]byte, 6)); err != nil {
			t.Errorf("read at 50 ms: %v", err)
		}
		m.SetConversionTime(-1)
		if err := m.Tx([]byte{0xE0}, nil); err != nil {
			t.Fatal(err)
		}
		c.advance(SHT4xTypicalTimeLow)
		if err := m.Tx(nil, make([]byte, 6)); err != nil {
			t.Errorf("read after the typical low-precision time: %v", err)
		}
	})
}

func TestSHT4xSerialAndReset(t *testing.T) {
	m, _ := newSHT4xModel()
	m.SetConversionTime(0)
	if got, want := sht4xAsk(t, m, 0x89), []byte{0x0B, 0xEE, 0x45, 0xF0, 0x42, 0xC6}; !bytes.Equal(got, want) {
		t.Errorf("serial = % X, want % X", got, want)
	}
	m.SetSerialNumber(0xBEEF01A4)
	if got, want := sht4xAsk(t, m, 0x89), []byte{0xBE, 0xEF, 0x92, 0x01, 0xA4, 0x4D}; !bytes.Equal(got, want) {
		t.Errorf("serial = % X, want % X", got, want)
	}
	// A soft reset drops a result not read yet.
	if err := m.Tx([]byte{0xFD}, nil); err != nil {
		t.Fatal(err)
	}
	if err := m.Tx([]byte{0x94}, nil); err != nil {
		t.Fatalf("soft reset: %v", err)
	}
	if err := m.Tx(nil, make([]byte, 6)); !errors.Is(err, ErrNACK) {
		t.Errorf("read after reset: err %v, want ErrNACK", err)
	}
}

func TestSHT4xProtocolErrors(t *testing.T) {
	m, _ := newSHT4xModel()
	m.SetConversionTime(0)
	for _, tc := range []struct {
		name string
		w    []byte
		r    int
		nack bool
	}{
		{"2-byte command (SHT3x status)", []byte{0xF3, 0x2D}, 3, true},
		{"unknown command", []byte{0x42}, 0, true},
		{"read with no command", nil, 6, true},
		{"7-byte read", []byte{0xFD}, 7, false},
	} {
		err := m.Tx(tc.w, make([]byte, tc.r))
		if err == nil {
			t.Errorf("%s: no error", tc.name)
		} else if errors.Is(err, ErrNACK) != tc.nack {
			t.Errorf("%s: err %v, NACK %v want %v", tc.name, err, errors.Is(err, ErrNACK), tc.nack)
		}
	}
	r := make([]byte, 3)
	if err := m.Tx([]byte{0xFD}, r); err != nil || !bytes.Equal(r, []byte{0x66, 0x66, 0x93}) {
		t.Errorf("3-byte read = % X, %v", r, err)
	}
}

func TestSHT4xStuckAndCorrupt(t *testing.T) {
	m, _ := newSHT4xModel()
	m.SetConversionTime(0)
	m.SetHumidity(44 * physic.PercentRH)
	first := sht4xAsk(t, m, 0xFD)
	m.SetStuck(true)
	m.SetTemperature(shtCelsius(95_000))
	m.SetHumidity(94 * physic.PercentRH)
	if got := sht4xAsk(t, m, 0xFD); !bytes.Equal(got, first) {
		t.Errorf("stuck: % X, want the frozen % X", got, first)
	}
	m.SetStuck(false)
	m.CorruptCRC(1)
	if got, want := sht4xAsk(t, m, 0xFD), []byte{0xCC, 0xCC, 0x5A, 0xCC, 0xCC, 0x5A}; !bytes.Equal(got, want) {
		t.Errorf("corrupted: % X, want % X", got, want)
	}
	if got, want := sht4xAsk(t, m, 0xFD), []byte{0xCC, 0xCC, 0xA5, 0xCC, 0xCC, 0xA5}; !bytes.Equal(got, want) {
		t.Errorf("after the corrupted read: % X, want % X", got, want)
	}
}

func ExampleSHT4x() {
	var bus Bus
	sensor := NewSHT4x()
	sensor.SetConversionTime(0)
	sensor.SetHumidity(44 * physic.PercentRH)
	if err := bus.Attach(0x44, sensor); err != nil {
		fmt.Println(err)
		return
	}
	if err := bus.Tx(0x44, []byte{0xFD}, nil); err != nil {
		fmt.Println(err)
		return
	}
	r := make([]byte, 6)
	if err := bus.Tx(0x44, nil, r); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("% X\n", r)
	// Output: 66 66 93 66 66 93
}
