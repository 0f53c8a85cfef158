package tmp102

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/drivers/sensor"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"
)

// celsius returns t µ°C above 0 °C; the datasheet values are exact in µ°C.
func celsius(micro int64) physic.Temperature {
	return physic.ZeroCelsius + physic.Temperature(micro)*physic.MicroKelvin
}

// sleeps replaces doSleep for the test and records the requested waits.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func stubSleep(t *testing.T) *sleeps {
	t.Helper()
	s := &sleeps{}
	old := doSleep
	doSleep = func(d time.Duration) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.d = append(s.d, d)
	}
	t.Cleanup(func() { doSleep = old })
	return s
}

func (s *sleeps) take() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.d
	s.d = nil
	return d
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// newOps are the transactions New makes at 0x48 on a TMP102 in its
// power-up state (config 0x60A0): read the configuration, write it back
// with EM as requested.
func newOps(extended bool) []i2ctest.IO {
	lsb := byte(0xA0)
	if extended {
		lsb = 0xB0
	}
	return []i2ctest.IO{
		{Addr: 0x48, W: []byte{0x01}, R: []byte{0x60, 0xA0}},
		{Addr: 0x48, W: []byte{0x01, 0x60, lsb}},
	}
}

func closeBus(t *testing.T, bus *i2ctest.Playback) {
	t.Helper()
	if err := bus.Close(); err != nil {
		t.Errorf("bus.Close: %v", err)
	}
}

func TestNewWritesConfiguration(t *testing.T) {
	cases := []struct {
		name string
		opts *Opts
		read []byte // configuration read back
		want []byte // configuration written
	}{
		{"nil opts", nil, []byte{0x60, 0xA0}, []byte{0x60, 0xA0}},
		{"default", &DefaultOpts, []byte{0x60, 0xA0}, []byte{0x60, 0xA0}},
		{"extended", &Opts{Addr: 0x48, Extended: true}, []byte{0x60, 0xA0}, []byte{0x60, 0xB0}},
		{"zero rate is 4 Hz", &Opts{Addr: 0x48}, []byte{0x60, 0xA0}, []byte{0x60, 0xA0}},
		{"quarter Hz", &Opts{Addr: 0x48, Rate: RateQuarterHz}, []byte{0x60, 0xA0}, []byte{0x60, 0x20}},
		{"1 Hz", &Opts{Addr: 0x48, Rate: Rate1Hz}, []byte{0x60, 0xA0}, []byte{0x60, 0x60}},
		{"8 Hz extended", &Opts{Addr: 0x48, Rate: Rate8Hz, Extended: true}, []byte{0x60, 0xA0}, []byte{0x60, 0xF0}},
		// Shut down after a one-shot (OS = 1, SD = 1), fault queue 11,
		// POL = 1, TM = 1, extended, alert (AL = 0): New keeps F1 F0, POL
		// and TM, clears OS, SD and EM.
		{"keeps alert settings", nil, []byte{0xFF, 0x10}, []byte{0x7E, 0x80}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
				{Addr: 0x48, W: []byte{0x01}, R: tc.read},
				{Addr: 0x48, W: append([]byte{0x01}, tc.want...)},
			}}
			defer closeBus(t, bus)
			if _, err := New(bus, tc.opts); err != nil {
				t.Fatalf("New: %v", err)
			}
			// The first read must not come before the first conversion
			// in the new configuration (SBOS397 §6.5: 35 ms maximum).
			if got, want := s.take(), []time.Duration{35 * time.Millisecond}; !equalDurations(got, want) {
				t.Errorf("New slept %v, want %v", got, want)
			}
		})
	}
}

func TestNewAddress(t *testing.T) {
	stubSleep(t)
	for _, addr := range []uint16{0x48, 0x49, 0x4A, 0x4B} {
		bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
			{Addr: addr, W: []byte{0x01}, R: []byte{0x60, 0xA0}},
			{Addr: addr, W: []byte{0x01, 0x60, 0xA0}},
		}}
		if _, err := New(bus, &Opts{Addr: addr}); err != nil {
			t.Errorf("New at %#x: %v", addr, err)
		}
		closeBus(t, bus)
	}
	for _, addr := range []uint16{0, 0x40, 0x47, 0x4C, 0x90} {
		bus := &i2ctest.Playback{DontPanic: true}
		_, err := New(bus, &Opts{Addr: addr})
		if err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("New at %#x: err %v, want out of range", addr, err)
		}
		closeBus(t, bus) // no transaction at all
	}
}

func TestNewInvalid(t *testing.T) {
	stubSleep(t)
	bus := &i2ctest.Playback{DontPanic: true}
	defer closeBus(t, bus)
	if _, err := New(nil, nil); err == nil {
		t.Error("New(nil bus): no error")
	}
	if _, err := New(bus, &Opts{Addr: 0x48, Rate: 9}); err == nil || !strings.Contains(err.Error(), "rate") {
		t.Errorf("New with rate 9: err %v, want unknown rate", err)
	}
}

func TestNewNotTMP102(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  []byte
	}{
		{"all zero", []byte{0x00, 0x00}},
		{"all ones", []byte{0xFF, 0xFF}},
		{"R1 R0 = 01", []byte{0x20, 0xA0}},
		{"R1 R0 = 10", []byte{0x40, 0xA0}},
		{"unused bits set", []byte{0x60, 0xA1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			// Only the read: nothing may be written to a foreign chip.
			bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
				{Addr: 0x48, W: []byte{0x01}, R: tc.cfg},
			}}
			defer closeBus(t, bus)
			_, err := New(bus, nil)
			if !errors.Is(err, ErrNotTMP102) {
				t.Fatalf("New: err %v, want ErrNotTMP102", err)
			}
			if len(s.take()) != 0 {
				t.Error("New slept after rejecting the device")
			}
		})
	}
	bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
		{Addr: 0x49, W: []byte{0x01}, R: []byte{0x00, 0x00}},
	}}
	defer closeBus(t, bus)
	_, err := New(bus, &Opts{Addr: 0x49})
	if want := "tmp102: not a TMP102 at 0x49: config 0x0000"; err == nil || err.Error() != want {
		t.Errorf("New: err %v, want %q", err, want)
	}
}

// faultBus fails the transaction numbered failAt (0-based) with err and
// plays back the others.
type faultBus struct {
	i2ctest.Playback
	failAt int
	err    error
	n      int
}

func (b *faultBus) Tx(addr uint16, w, r []byte) error {
	b.n++
	if b.n-1 == b.failAt {
		return b.err
	}
	return b.Playback.Tx(addr, w, r)
}

var errNACK = errors.New("remote I/O error")

func TestNewBusError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		failAt int
		ops    []i2ctest.IO
		want   string
	}{
		{"read config", 0, nil, "tmp102: read config at 0x48: remote I/O error"},
		{"write config", 1, newOps(false)[:1], "tmp102: write config at 0x48: remote I/O error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stubSleep(t)
			bus := &faultBus{failAt: tc.failAt, err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: tc.ops}}
			defer closeBus(t, &bus.Playback)
			_, err := New(bus, nil)
			if !errors.Is(err, errNACK) {
				t.Fatalf("New: err %v, want it to wrap the bus error", err)
			}
			if err.Error() != tc.want {
				t.Errorf("New: err %q, want %q", err, tc.want)
			}
		})
	}
}

func TestSense(t *testing.T) {
	// SBOS397 §7.3.1 (12-bit) and §7.4.2 (13-bit) data format tables, left
	// justified as in §7.5.2, plus the ends of each format.
	cases := []struct {
		name     string
		extended bool
		raw      []byte
		want     physic.Temperature
	}{
		{"normal 127.9375", false, []byte{0x7F, 0xF0}, celsius(127_937_500)},
		{"normal 100", false, []byte{0x64, 0x00}, celsius(100_000_000)},
		{"normal 80", false, []byte{0x50, 0x00}, celsius(80_000_000)},
		{"normal 75", false, []byte{0x4B, 0x00}, celsius(75_000_000)},
		{"normal 50", false, []byte{0x32, 0x00}, celsius(50_000_000)},
		{"normal 25", false, []byte{0x19, 0x00}, celsius(25_000_000)},
		{"normal 0.25", false, []byte{0x00, 0x40}, celsius(250_000)},
		{"normal 0.0625", false, []byte{0x00, 0x10}, celsius(62_500)},
		{"normal 0", false, []byte{0x00, 0x00}, physic.ZeroCelsius},
		{"normal -0.0625", false, []byte{0xFF, 0xF0}, celsius(-62_500)},
		{"normal -0.25", false, []byte{0xFF, 0xC0}, celsius(-250_000)},
		{"normal -25", false, []byte{0xE7, 0x00}, celsius(-25_000_000)},
		{"normal -55", false, []byte{0xC9, 0x00}, celsius(-55_000_000)},
		{"normal -128", false, []byte{0x80, 0x00}, celsius(-128_000_000)},
		{"extended 150", true, []byte{0x4B, 0x01}, celsius(150_000_000)},
		{"extended 128", true, []byte{0x40, 0x01}, celsius(128_000_000)},
		{"extended 127.9375", true, []byte{0x3F, 0xF9}, celsius(127_937_500)},
		{"extended 100", true, []byte{0x32, 0x01}, celsius(100_000_000)},
		{"extended 80", true, []byte{0x28, 0x01}, celsius(80_000_000)},
		{"extended 75", true, []byte{0x25, 0x81}, celsius(75_000_000)},
		{"extended 50", true, []byte{0x19, 0x01}, celsius(50_000_000)},
		{"extended 25", true, []byte{0x0C, 0x81}, celsius(25_000_000)},
		{"extended 0.25", true, []byte{0x00, 0x21}, celsius(250_000)},
		{"extended 0", true, []byte{0x00, 0x01}, physic.ZeroCelsius},
		{"extended -0.25", true, []byte{0xFF, 0xE1}, celsius(-250_000)},
		{"extended -25", true, []byte{0xF3, 0x81}, celsius(-25_000_000)},
		{"extended -55", true, []byte{0xE4, 0x81}, celsius(-55_000_000)},
		{"extended -256", true, []byte{0x80, 0x01}, celsius(-256_000_000)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			bus := &i2ctest.Playback{DontPanic: true, Ops: append(newOps(tc.extended),
				i2ctest.IO{Addr: 0x48, W: []byte{0x00}, R: tc.raw})}
			defer closeBus(t, bus)
			d, err := New(bus, &Opts{Addr: 0x48, Extended: tc.extended})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			s.take()
			// Sense sets the temperature only.
			e := physic.Env{Pressure: 7, Humidity: 9}
			if err := d.Sense(&e); err != nil {
				t.Fatalf("Sense: %v", err)
			}
			if want := (physic.Env{Temperature: tc.want, Pressure: 7, Humidity: 9}); e != want {
				t.Errorf("Sense = %+v (%s), want %s", e, e.Temperature, tc.want)
			}
			if got := s.take(); len(got) != 0 {
				t.Errorf("Sense slept %v with a matching EM flag", got)
			}
		})
	}
}

func TestSenseBusError(t *testing.T) {
	stubSleep(t)
	bus := &faultBus{failAt: 2, err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: newOps(false)}}
	defer closeBus(t, &bus.Playback)
	d, err := New(bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e := physic.Env{Temperature: 42}
	err = d.Sense(&e)
	if !errors.Is(err, errNACK) {
		t.Fatalf("Sense: err %v, want it to wrap the bus error", err)
	}
	if want := "tmp102: read temperature at 0x48: remote I/O error"; err.Error() != want {
		t.Errorf("Sense: err %q, want %q", err, want)
	}
	if e.Temperature != 42 {
		t.Errorf("Sense changed the temperature to %s on error", e.Temperature)
	}
}

func TestSenseModeMismatch(t *testing.T) {
	t.Run("settles", func(t *testing.T) {
		s := stubSleep(t)
		// Extended mode was just enabled: the register still holds the
		// 12-bit result 25 °C; one conversion later it holds 26 °C in
		// 13 bits.
		bus := &i2ctest.Playback{DontPanic: true, Ops: append(newOps(true),
			i2ctest.IO{Addr: 0x48, W: []byte{0x00}, R: []byte{0x19, 0x00}},
			i2ctest.IO{Addr: 0x48, W: []byte{0x00}, R: []byte{0x0D, 0x01}})}
		defer closeBus(t, bus)
		d, err := New(bus, &Opts{Addr: 0x48, Extended: true})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		s.take()
		got, err := d.SenseTemperature()
		if err != nil {
			t.Fatalf("SenseTemperature: %v", err)
		}
		if want := celsius(26_000_000); got != want {
			t.Errorf("SenseTemperature = %s, want %s", got, want)
		}
		if got, want := s.take(), []time.Duration{ConversionTime}; !equalDurations(got, want) {
			t.Errorf("slept %v, want %v", got, want)
		}
	})
	t.Run("device reset", func(t *testing.T) {
		stubSleep(t)
		bus := &i2ctest.Playback{DontPanic: true, Ops: append(newOps(true),
			i2ctest.IO{Addr: 0x48, W: []byte{0x00}, R: []byte{0x19, 0x00}},
			i2ctest.IO{Addr: 0x48, W: []byte{0x00}, R: []byte{0x19, 0x00}})}
		defer closeBus(t, bus)
		d, err := New(bus, &Opts{Addr: 0x48, Extended: true})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		_, err = d.SenseTemperature()
		if !errors.Is(err, ErrModeMismatch) {
			t.Fatalf("SenseTemperature: err %v, want ErrModeMismatch", err)
		}
		if want := "tmp102: extended-mode flag mismatch at 0x48: temperature register 0x1900, configured extended mode"; err.Error() != want {
			t.Errorf("err %q, want %q", err, want)
		}
	})
	t.Run("normal mode sees extended", func(t *testing.T) {
		stubSleep(t)
		bus := &i2ctest.Playback{DontPanic: true, Ops: append(newOps(false),
			i2ctest.IO{Addr: 0x48, W: []byte{0x00}, R: []byte{0x0C, 0x81}},
			i2ctest.IO{Addr: 0x48, W: []byte{0x00}, R: []byte{0x0C, 0x81}})}
		defer closeBus(t, bus)
		d, err := New(bus, nil)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if _, err := d.SenseTemperature(); !errors.Is(err, ErrModeMismatch) {
			t.Fatalf("SenseTemperature: err %v, want ErrModeMismatch", err)
		}
	})
	t.Run("bus error on re-read", func(t *testing.T) {
		stubSleep(t)
		bus := &faultBus{failAt: 3, err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: append(newOps(true),
			i2ctest.IO{Addr: 0x48, W: []byte{0x00}, R: []byte{0x19, 0x00}})}}
		defer closeBus(t, &bus.Playback)
		d, err := New(bus, &Opts{Addr: 0x48, Extended: true})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if _, err := d.SenseTemperature(); !errors.Is(err, errNACK) {
			t.Fatalf("SenseTemperature: err %v, want the bus error", err)
		}
	})
}

func TestHalt(t *testing.T) {
	s := stubSleep(t)
	bus := &i2ctest.Playback{DontPanic: true, Ops: append(newOps(true),
		// Halt sets SD and nothing else.
		i2ctest.IO{Addr: 0x48, W: []byte{0x01, 0x61, 0xB0}},
		// Sense after Halt clears SD again and waits for a conversion.
		i2ctest.IO{Addr: 0x48, W: []byte{0x01, 0x60, 0xB0}},
		i2ctest.IO{Addr: 0x48, W: []byte{0x00}, R: []byte{0x0C, 0x81}},
		i2ctest.IO{Addr: 0x48, W: []byte{0x01, 0x61, 0xB0}},
	)}
	defer closeBus(t, bus)
	d, err := New(bus, &Opts{Addr: 0x48, Extended: true})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s.take()
	if err := d.Halt(); err != nil {
		t.Fatalf("Halt: %v", err)
	}
	// A second Halt has nothing to do: Playback fails on an extra write.
	if err := d.Halt(); err != nil {
		t.Fatalf("second Halt: %v", err)
	}
	got, err := d.SenseTemperature()
	if err != nil {
		t.Fatalf("SenseTemperature after Halt: %v", err)
	}
	if want := celsius(25_000_000); got != want {
		t.Errorf("SenseTemperature = %s, want %s", got, want)
	}
	if got, want := s.take(), []time.Duration{ConversionTime}; !equalDurations(got, want) {
		t.Errorf("wake-up slept %v, want %v", got, want)
	}
	if err := d.Halt(); err != nil {
		t.Fatalf("Halt: %v", err)
	}
}

func TestHaltBusError(t *testing.T) {
	stubSleep(t)
	bus := &faultBus{failAt: 2, err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: append(newOps(false),
		i2ctest.IO{Addr: 0x48, W: []byte{0x01, 0x61, 0xA0}})}}
	defer closeBus(t, &bus.Playback)
	d, err := New(bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := d.Halt(); !errors.Is(err, errNACK) {
		t.Fatalf("Halt: err %v, want the bus error", err)
	}
	// Not halted: the next Halt tries again.
	if err := d.Halt(); err != nil {
		t.Fatalf("Halt retry: %v", err)
	}
}

func TestStringAndPrecision(t *testing.T) {
	stubSleep(t)
	bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
		{Addr: 0x4A, W: []byte{0x01}, R: []byte{0x60, 0xA0}},
		{Addr: 0x4A, W: []byte{0x01, 0x60, 0xA0}},
	}}
	defer closeBus(t, bus)
	d, err := New(bus, &Opts{Addr: 0x4A})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if got, want := d.String(), "TMP102{playback(74)}"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	var e physic.Env
	d.Precision(&e)
	if want := physic.Temperature(62_500_000); e.Temperature != want {
		t.Errorf("Precision = %d nK, want %d", e.Temperature, want)
	}
}

func TestProbe(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    []byte
		err  error
	}{
		{"power-on TMP102", []byte{0x60, 0xA0}, nil},
		{"LM75 (config is one byte, then 0x00)", []byte{0x00, 0x00}, sensor.ErrChipID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bus := i2ctest.Playback{Ops: []i2ctest.IO{{Addr: 0x49, W: []byte{0x01}, R: tc.r}}, DontPanic: true}
			err := Probe(&bus, 0x49)
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Errorf("Probe = %v, want %v", err, tc.err)
			}
			if err := bus.Close(); err != nil {
				t.Error(err)
			}
		})
	}
}
