package lm75

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

// celsius returns t m°C above 0 °C; every LM75 code is exact in m°C.
func celsius(milli int64) physic.Temperature {
	return physic.ZeroCelsius + physic.Temperature(milli)*physic.MilliKelvin
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

func closeBus(t *testing.T, bus *i2ctest.Playback) {
	t.Helper()
	if err := bus.Close(); err != nil {
		t.Errorf("bus.Close: %v", err)
	}
}

// newOps are the transactions New makes at 0x48 on a running sensor with
// the power-up configuration 0x00: one one-byte read of the configuration.
func newOps() []i2ctest.IO {
	return []i2ctest.IO{{Addr: 0x48, W: []byte{0x01}, R: []byte{0x00}}}
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

func TestNew(t *testing.T) {
	cases := []struct {
		name  string
		opts  *Opts
		conf  byte
		write []byte // configuration written, nil for none
		sleep time.Duration
	}{
		{"nil opts", nil, 0x00, nil, 300 * time.Millisecond},
		{"default", &DefaultOpts, 0x00, nil, 300 * time.Millisecond},
		{"zero variant is lm75", &Opts{Addr: 0x48}, 0x00, nil, 300 * time.Millisecond},
		{"lm75b", &Opts{Addr: 0x48, Variant: LM75B}, 0x00, nil, 100 * time.Millisecond},
		// In shutdown: only B0 is cleared; fault queue 11, polarity high
		// and interrupt mode stay.
		{"wakes up", nil, 0x1F, []byte{0x01, 0x1E}, 300 * time.Millisecond},
		{"wakes up lm75b", &Opts{Addr: 0x48, Variant: LM75B}, 0x01, []byte{0x01, 0x00}, 100 * time.Millisecond},
		// Running with OS settings: nothing to write.
		{"keeps OS settings", nil, 0x1E, nil, 300 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			ops := []i2ctest.IO{{Addr: 0x48, W: []byte{0x01}, R: []byte{tc.conf}}}
			if tc.write != nil {
				ops = append(ops, i2ctest.IO{Addr: 0x48, W: tc.write})
			}
			bus := &i2ctest.Playback{DontPanic: true, Ops: ops}
			defer closeBus(t, bus)
			if _, err := New(bus, tc.opts); err != nil {
				t.Fatalf("New: %v", err)
			}
			// The first read must not come before a conversion: 300 ms
			// maximum (TI SNIS153), one 100 ms period (NXP LM75B).
			if got, want := s.take(), []time.Duration{tc.sleep}; !equalDurations(got, want) {
				t.Errorf("New slept %v, want %v", got, want)
			}
		})
	}
}

func TestNewAddress(t *testing.T) {
	stubSleep(t)
	for addr := uint16(0x48); addr <= 0x4F; addr++ {
		bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
			{Addr: addr, W: []byte{0x01}, R: []byte{0x00}},
		}}
		if _, err := New(bus, &Opts{Addr: addr}); err != nil {
			t.Errorf("New at %#x: %v", addr, err)
		}
		closeBus(t, bus)
	}
	for _, addr := range []uint16{0, 0x18, 0x47, 0x50, 0x90} {
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
	if _, err := New(bus, &Opts{Addr: 0x48, Variant: 3}); err == nil || !strings.Contains(err.Error(), "variant") {
		t.Errorf("New with variant 3: err %v, want unknown variant", err)
	}
}

func TestNewNotLM75(t *testing.T) {
	for _, tc := range []struct {
		name string
		conf byte
	}{
		{"TMP102 configuration MSB", 0x60},
		{"all ones", 0xFF},
		{"B7", 0x80},
		{"B6", 0x40},
		{"B5", 0x21},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			// Only the read: nothing may be written to a foreign chip.
			bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
				{Addr: 0x48, W: []byte{0x01}, R: []byte{tc.conf}},
			}}
			defer closeBus(t, bus)
			_, err := New(bus, nil)
			if !errors.Is(err, sensor.ErrChipID) {
				t.Fatalf("New: err %v, want sensor.ErrChipID", err)
			}
			if got := s.take(); len(got) != 0 {
				t.Errorf("New slept %v after rejecting the device", got)
			}
		})
	}
	stubSleep(t)
	bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
		{Addr: 0x4D, W: []byte{0x01}, R: []byte{0x60}},
	}}
	defer closeBus(t, bus)
	_, err := New(bus, &Opts{Addr: 0x4D})
	want := "lm75: device at 0x4d is not an LM75: configuration 0x60 has reserved bits 7-5 set: sensor: unexpected chip ID"
	if err == nil || err.Error() != want {
		t.Errorf("New: err %v, want %q", err, want)
	}
}

func TestNewBusError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		failAt int
		ops    []i2ctest.IO
		want   string
	}{
		{"read configuration", 0, nil, "lm75: read configuration at 0x48: remote I/O error"},
		{"write configuration", 1, []i2ctest.IO{{Addr: 0x48, W: []byte{0x01}, R: []byte{0x01}}},
			"lm75: write configuration at 0x48: remote I/O error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			bus := &faultBus{failAt: tc.failAt, err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: tc.ops}}
			defer closeBus(t, &bus.Playback)
			_, err := New(bus, nil)
			if !errors.Is(err, errNACK) {
				t.Fatalf("New: err %v, want it to wrap the bus error", err)
			}
			if err.Error() != tc.want {
				t.Errorf("New: err %q, want %q", err, tc.want)
			}
			if got := s.take(); len(got) != 0 {
				t.Errorf("New slept %v after a bus error", got)
			}
		})
	}
}

func TestSense(t *testing.T) {
	cases := []struct {
		name    string
		variant Variant
		raw     []byte
		want    physic.Temperature
	}{
		// REFERENCE worked example: 51 × 0.5 °C and 204 × 0.125 °C.
		{"9-bit worked example", LM75, []byte{0x19, 0x80}, celsius(25_500)},
		{"11-bit worked example", LM75B, []byte{0x19, 0x80}, celsius(25_500)},
		// TI SNIS153 "Temperature Data Format" table, left-justified.
		{"9-bit +125", LM75, []byte{0x7D, 0x00}, celsius(125_000)},
		{"9-bit +25", LM75, []byte{0x19, 0x00}, celsius(25_000)},
		{"9-bit +0.5", LM75, []byte{0x00, 0x80}, celsius(500)},
		{"9-bit 0", LM75, []byte{0x00, 0x00}, physic.ZeroCelsius},
		{"9-bit -0.5", LM75, []byte{0xFF, 0x80}, celsius(-500)},
		{"9-bit -25", LM75, []byte{0xE7, 0x00}, celsius(-25_000)},
		{"9-bit -55", LM75, []byte{0xC9, 0x00}, celsius(-55_000)},
		// The ends of the format.
		{"9-bit max code", LM75, []byte{0x7F, 0x80}, celsius(127_500)},
		{"9-bit min code", LM75, []byte{0x80, 0x00}, celsius(-128_000)},
		// D6–D0 are undefined on the TI parts: whatever they hold is
		// ignored.
		{"9-bit undefined bits", LM75, []byte{0x19, 0xFF}, celsius(25_500)},
		{"9-bit undefined bits negative", LM75, []byte{0xE7, 0x7F}, celsius(-25_000)},
		// NXP LM75B §7.4.3 Table 10, left-justified by 5 bits.
		{"11-bit +127", LM75B, []byte{0x7F, 0x00}, celsius(127_000)},
		{"11-bit +126.875", LM75B, []byte{0x7E, 0xE0}, celsius(126_875)},
		{"11-bit +126.125", LM75B, []byte{0x7E, 0x20}, celsius(126_125)},
		{"11-bit +125", LM75B, []byte{0x7D, 0x00}, celsius(125_000)},
		{"11-bit +25", LM75B, []byte{0x19, 0x00}, celsius(25_000)},
		{"11-bit +0.125", LM75B, []byte{0x00, 0x20}, celsius(125)},
		{"11-bit 0", LM75B, []byte{0x00, 0x00}, physic.ZeroCelsius},
		{"11-bit -0.125", LM75B, []byte{0xFF, 0xE0}, celsius(-125)},
		{"11-bit -25", LM75B, []byte{0xE7, 0x00}, celsius(-25_000)},
		{"11-bit -54.875", LM75B, []byte{0xC9, 0x20}, celsius(-54_875)},
		{"11-bit -55", LM75B, []byte{0xC9, 0x00}, celsius(-55_000)},
		{"11-bit max code", LM75B, []byte{0x7F, 0xE0}, celsius(127_875)},
		{"11-bit min code", LM75B, []byte{0x80, 0x00}, celsius(-128_000)},
		// The 5 low bits read 0 on an NXP part; if set, they are ignored.
		{"11-bit low bits", LM75B, []byte{0x19, 0x1F}, celsius(25_000)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			bus := &i2ctest.Playback{DontPanic: true, Ops: append(newOps(),
				i2ctest.IO{Addr: 0x48, W: []byte{0x00}, R: tc.raw})}
			defer closeBus(t, bus)
			d, err := New(bus, &Opts{Addr: 0x48, Variant: tc.variant})
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
				t.Errorf("Sense slept %v", got)
			}
		})
	}
}

func TestRead(t *testing.T) {
	stubSleep(t)
	bus := &faultBus{failAt: 2, err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: append(newOps(),
		i2ctest.IO{Addr: 0x48, W: []byte{0x00}, R: []byte{0xE7, 0x00}})}}
	defer closeBus(t, &bus.Playback)
	d, err := New(bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	prior := sensor.Reading{Quantity: sensor.Humidity, Value: 1}
	got, err := d.Read([]sensor.Reading{prior})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if want := []sensor.Reading{prior, sensor.Temp(celsius(-25_000))}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Read = %v, want %v", got, want)
	}
	// All or nothing: a failed read appends nothing.
	got, err = d.Read(got[:1])
	if !errors.Is(err, errNACK) || len(got) != 1 {
		t.Errorf("Read on a bus error = %v, %v; want the prior reading only and the bus error", got, err)
	}
}

func TestSenseBusError(t *testing.T) {
	stubSleep(t)
	bus := &faultBus{failAt: 1, err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: newOps()}}
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
	if want := "lm75: read temperature at 0x48: remote I/O error"; err.Error() != want {
		t.Errorf("Sense: err %q, want %q", err, want)
	}
	if e.Temperature != 42 {
		t.Errorf("Sense changed the temperature to %s on error", e.Temperature)
	}
}

func TestHalt(t *testing.T) {
	for _, v := range []Variant{LM75, LM75B} {
		t.Run(v.String(), func(t *testing.T) {
			s := stubSleep(t)
			bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
				{Addr: 0x48, W: []byte{0x01}, R: []byte{0x06}},
				// Halt sets B0 and keeps the OS settings.
				{Addr: 0x48, W: []byte{0x01, 0x07}},
				// Sense after Halt clears it again and waits for a
				// conversion.
				{Addr: 0x48, W: []byte{0x01, 0x06}},
				{Addr: 0x48, W: []byte{0x00}, R: []byte{0x19, 0x00}},
				{Addr: 0x48, W: []byte{0x01, 0x07}},
			}}
			defer closeBus(t, bus)
			d, err := New(bus, &Opts{Addr: 0x48, Variant: v})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			s.take()
			if err := d.Halt(); err != nil {
				t.Fatalf("Halt: %v", err)
			}
			// A second Halt has nothing to do: Playback fails on an
			// extra write.
			if err := d.Halt(); err != nil {
				t.Fatalf("second Halt: %v", err)
			}
			got, err := d.SenseTemperature()
			if err != nil {
				t.Fatalf("SenseTemperature after Halt: %v", err)
			}
			if want := celsius(25_000); got != want {
				t.Errorf("SenseTemperature = %s, want %s", got, want)
			}
			if got, want := s.take(), []time.Duration{v.ConversionTime()}; !equalDurations(got, want) {
				t.Errorf("wake-up slept %v, want %v", got, want)
			}
			if err := d.Halt(); err != nil {
				t.Fatalf("Halt: %v", err)
			}
		})
	}
}

func TestHaltBusError(t *testing.T) {
	stubSleep(t)
	bus := &faultBus{failAt: 1, err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: append(newOps(),
		i2ctest.IO{Addr: 0x48, W: []byte{0x01, 0x01}})}}
	defer closeBus(t, &bus.Playback)
	d, err := New(bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	err = d.Halt()
	if !errors.Is(err, errNACK) {
		t.Fatalf("Halt: err %v, want the bus error", err)
	}
	if want := "lm75: write configuration at 0x48: remote I/O error"; err.Error() != want {
		t.Errorf("Halt: err %q, want %q", err, want)
	}
	// Not halted: the next Halt tries again.
	if err := d.Halt(); err != nil {
		t.Fatalf("Halt retry: %v", err)
	}
}

func TestWakeUpBusError(t *testing.T) {
	s := stubSleep(t)
	bus := &faultBus{failAt: 2, err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: append(newOps(),
		i2ctest.IO{Addr: 0x48, W: []byte{0x01, 0x01}},
		i2ctest.IO{Addr: 0x48, W: []byte{0x01, 0x00}},
		i2ctest.IO{Addr: 0x48, W: []byte{0x00}, R: []byte{0x00, 0x80}})}}
	defer closeBus(t, &bus.Playback)
	d, err := New(bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := d.Halt(); err != nil {
		t.Fatalf("Halt: %v", err)
	}
	s.take()
	if _, err := d.SenseTemperature(); !errors.Is(err, errNACK) {
		t.Fatalf("SenseTemperature: err %v, want the bus error", err)
	}
	if got := s.take(); len(got) != 0 {
		t.Errorf("slept %v although the wake-up failed", got)
	}
	// Still halted: the next read wakes the sensor up again.
	if got, err := d.SenseTemperature(); err != nil || got != celsius(500) {
		t.Errorf("SenseTemperature = %s, %v; want 0.5°C", got, err)
	}
}

func TestStringAndPrecision(t *testing.T) {
	for _, tc := range []struct {
		variant Variant
		str     string
		step    physic.Temperature
	}{
		{LM75, "LM75{playback(79)}", 500 * physic.MilliKelvin},
		{LM75B, "LM75B{playback(79)}", 125 * physic.MilliKelvin},
	} {
		stubSleep(t)
		bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
			{Addr: 0x4F, W: []byte{0x01}, R: []byte{0x00}},
		}}
		d, err := New(bus, &Opts{Addr: 0x4F, Variant: tc.variant})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if got := d.String(); got != tc.str {
			t.Errorf("String() = %q, want %q", got, tc.str)
		}
		var e physic.Env
		d.Precision(&e)
		if e.Temperature != tc.step {
			t.Errorf("%s: Precision = %s, want %s", tc.variant, e.Temperature, tc.step)
		}
		closeBus(t, bus)
	}
}

func TestVariant(t *testing.T) {
	for _, tc := range []struct {
		name string
		want Variant
	}{
		{"lm75", LM75},
		{"lm75a", LM75},
		{"lm75b", LM75B},
	} {
		got, err := ParseVariant(tc.name)
		if err != nil || got != tc.want {
			t.Errorf("ParseVariant(%q) = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "LM75", "lm75c", "tmp75"} {
		if _, err := ParseVariant(bad); err == nil {
			t.Errorf("ParseVariant(%q): no error", bad)
		}
	}
	for _, tc := range []struct {
		v    Variant
		str  string
		conv time.Duration
	}{
		{0, "lm75", 300 * time.Millisecond},
		{LM75, "lm75", 300 * time.Millisecond},
		{LM75B, "lm75b", 100 * time.Millisecond},
		{9, "variant(9)", 300 * time.Millisecond},
	} {
		if tc.v.String() != tc.str || tc.v.ConversionTime() != tc.conv {
			t.Errorf("Variant(%d): %q %s, want %q %s", tc.v, tc.v.String(), tc.v.ConversionTime(), tc.str, tc.conv)
		}
	}
}

func TestSenseContinuousInterval(t *testing.T) {
	for _, tc := range []struct {
		variant  Variant
		interval time.Duration
	}{
		{LM75, 0},
		{LM75, -time.Second},
		{LM75, 299 * time.Millisecond},
		{LM75B, 99 * time.Millisecond},
	} {
		stubSleep(t)
		bus := &i2ctest.Playback{DontPanic: true, Ops: newOps()}
		d, err := New(bus, &Opts{Addr: 0x48, Variant: tc.variant})
		if err != nil {
			t.Fatal(err)
		}
		if ch, err := d.SenseContinuous(tc.interval); err == nil || ch != nil {
			t.Errorf("%s: SenseContinuous(%s) = %v, %v; want an error", tc.variant, tc.interval, ch, err)
		}
		closeBus(t, bus)
	}
}
