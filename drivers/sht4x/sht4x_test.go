package sht4x

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/drivers/sensor"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"
)

// celsius returns n nano-degrees Celsius; the expected values below are
// computed exactly from the datasheet formulas with rational arithmetic,
// independently of the driver.
func celsius(n int64) physic.Temperature {
	return physic.ZeroCelsius + physic.Temperature(n)
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

func closeBus(t *testing.T, bus *i2ctest.Playback) {
	t.Helper()
	if err := bus.Close(); err != nil {
		t.Errorf("bus.Close: %v", err)
	}
}

// serialBytes is serial number 0x0BEEF042 on the wire.
var serialBytes = []byte{0x0B, 0xEE, 0x45, 0xF0, 0x42, 0xC6}

// newOps are the transactions New makes on an SHT4x at addr.
func newOps(addr uint16) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: addr, W: []byte{0x89}},
		{Addr: addr, R: serialBytes},
	}
}

// measureOps are the transactions of one measurement.
func measureOps(addr uint16, cmd byte, r []byte) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: addr, W: []byte{cmd}},
		{Addr: addr, R: r},
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

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts *Opts
		addr uint16
		cmd  byte
		wait time.Duration
	}{
		{"nil opts", nil, 0x44, 0xFD, 8300 * time.Microsecond},
		{"default", &DefaultOpts, 0x44, 0xFD, 8300 * time.Microsecond},
		{"zero precision is high", &Opts{Addr: 0x45}, 0x45, 0xFD, 8300 * time.Microsecond},
		{"medium", &Opts{Addr: 0x46, Precision: PrecisionMedium}, 0x46, 0xF6, 4500 * time.Microsecond},
		{"low", &Opts{Addr: 0x44, Precision: PrecisionLow}, 0x44, 0xE0, 1700 * time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			bus := &i2ctest.Playback{DontPanic: true, Ops: append(newOps(tc.addr),
				measureOps(tc.addr, tc.cmd, []byte{0x66, 0x66, 0x93, 0x66, 0x66, 0x93})...)}
			defer closeBus(t, bus)
			d, err := New(bus, tc.opts)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if got, want := s.take(), []time.Duration{10 * time.Millisecond}; !slices.Equal(got, want) {
				t.Errorf("New slept %v, want %v", got, want)
			}
			if d.SerialNumber() != 0x0BEEF042 {
				t.Errorf("SerialNumber() = %#08x, want 0x0beef042", d.SerialNumber())
			}
			var e physic.Env
			if err := d.Sense(&e); err != nil {
				t.Fatalf("Sense: %v", err)
			}
			// The readout comes after the longest measurement duration of
			// the precision.
			if got, want := s.take(), []time.Duration{tc.wait}; !slices.Equal(got, want) {
				t.Errorf("Sense slept %v, want %v", got, want)
			}
		})
	}
}

func TestNewInvalidOpts(t *testing.T) {
	stubSleep(t)
	bus := &i2ctest.Playback{DontPanic: true} // no transaction at all
	defer closeBus(t, bus)
	for _, addr := range []uint16{0, 0x40, 0x43, 0x47, 0x144} {
		_, err := New(bus, &Opts{Addr: addr})
		if err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("New at %#x: err %v, want out of range", addr, err)
		}
	}
	if _, err := New(bus, &Opts{Addr: 0x44, Precision: 4}); err == nil || !strings.Contains(err.Error(), "precision") {
		t.Errorf("New with precision 4: err %v, want unknown precision", err)
	}
	if _, err := New(nil, nil); err == nil {
		t.Error("New(nil bus): no error")
	}
}

func TestNewNotSHT4x(t *testing.T) {
	for _, tc := range []struct {
		name   string
		serial []byte
		want   string
	}{
		{"floating bus", []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF},
			"sht4x: not an SHT4x at 0x44: sensor: unexpected chip ID: serial number high word 0xffff has CRC 0xff, want 0xac (sensor: checksum mismatch)"},
		{"all zero", []byte{0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
			"sht4x: not an SHT4x at 0x44: sensor: unexpected chip ID: serial number high word 0x0000 has CRC 0x00, want 0x81 (sensor: checksum mismatch)"},
		{"low word", []byte{0x0B, 0xEE, 0x45, 0xF0, 0x42, 0xC7},
			"sht4x: not an SHT4x at 0x44: sensor: unexpected chip ID: serial number low word 0xf042 has CRC 0xc7, want 0xc6 (sensor: checksum mismatch)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stubSleep(t)
			bus := &i2ctest.Playback{DontPanic: true, Ops: newOps(0x44)}
			bus.Ops[1].R = tc.serial
			defer closeBus(t, bus)
			_, err := New(bus, nil)
			if !errors.Is(err, sensor.ErrChipID) || !errors.Is(err, sensor.ErrCRC) {
				t.Fatalf("New: err %v, want ErrChipID and ErrCRC", err)
			}
			if err.Error() != tc.want {
				t.Errorf("New: err %q, want %q", err, tc.want)
			}
		})
	}
}

func TestNewBusError(t *testing.T) {
	for _, failAt := range []int{0, 1} {
		stubSleep(t)
		ops := newOps(0x44)
		bus := &faultBus{failAt: failAt, err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: ops[:failAt]}}
		_, err := New(bus, nil)
		if !errors.Is(err, errNACK) {
			t.Fatalf("New failing at %d: err %v, want it to wrap the bus error", failAt, err)
		}
		if want := "sht4x: read serial number at 0x44: remote I/O error"; err.Error() != want {
			t.Errorf("New: err %q, want %q", err, want)
		}
		closeBus(t, &bus.Playback)
	}
}

func TestSense(t *testing.T) {
	cases := []struct {
		name string
		raw  []byte
		temp physic.Temperature
		rh   physic.RelativeHumidity
	}{
		// REFERENCE.md's worked example: RH 0x6666 is 44.0 %RH.
		{"worked example", []byte{0x66, 0x66, 0x93, 0x66, 0x66, 0x93}, celsius(25_000_000_000), 44 * physic.PercentRH},
		{"minimum, RH cropped", []byte{0x00, 0x00, 0x81, 0x00, 0x00, 0x81}, celsius(-45_000_000_000), 0},
		{"maximum, RH cropped", []byte{0xFF, 0xFF, 0xAC, 0xFF, 0xFF, 0xAC}, celsius(130_000_000_000), 100 * physic.PercentRH},
		{"last step below 0 %RH", []byte{0x0C, 0x49, 0x80, 0x0C, 0x49, 0x80}, celsius(-36_601_815_824), 0},
		{"first step above 0 %RH", []byte{0x0C, 0x4A, 0xD3, 0x0C, 0x4A, 0xD3}, celsius(-36_599_145_495), 61},
		{"last step below 100 %RH", []byte{0xD9, 0x15, 0x30, 0xD9, 0x15, 0x30}, celsius(103_398_184_176), 9_999_870},
		{"first step above 100 %RH", []byte{0xD9, 0x16, 0x63, 0xD9, 0x16, 0x63}, celsius(103_400_854_505), 100 * physic.PercentRH},
		{"-10 °C exactly, 19 %RH", []byte{0x33, 0x33, 0x88, 0x33, 0x33, 0x88}, celsius(-10_000_000_000), 19 * physic.PercentRH},
		{"-32.56 °C", []byte{0x12, 0x34, 0x37, 0x12, 0x34, 0x37}, celsius(-32_556_267_643), 288_838},
		{"14.11 °C", []byte{0x56, 0x78, 0x7D, 0x72, 0xB0, 0xDC}, celsius(14_110_399_023), 5_000_061},
		{"95 °C exactly, 94 %RH", []byte{0xCC, 0xCC, 0xA5, 0xCC, 0xCC, 0xA5}, celsius(95_000_000_000), 94 * physic.PercentRH},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stubSleep(t)
			bus := &i2ctest.Playback{DontPanic: true, Ops: append(newOps(0x44), measureOps(0x44, 0xFD, tc.raw)...)}
			defer closeBus(t, bus)
			d, err := New(bus, nil)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			e := physic.Env{Pressure: 7}
			if err := d.Sense(&e); err != nil {
				t.Fatalf("Sense: %v", err)
			}
			if want := (physic.Env{Temperature: tc.temp, Humidity: tc.rh, Pressure: 7}); e != want {
				t.Errorf("Sense = %d nK, %d; want %d nK (%s), %d (%s)", e.Temperature, e.Humidity, tc.temp, tc.temp, tc.rh, tc.rh)
			}
		})
	}
}

func TestRead(t *testing.T) {
	stubSleep(t)
	bus := &i2ctest.Playback{DontPanic: true, Ops: append(newOps(0x44),
		measureOps(0x44, 0xFD, []byte{0x66, 0x66, 0x93, 0x66, 0x66, 0x93})...)}
	defer closeBus(t, bus)
	d, err := New(bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	got, err := d.Read(nil)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	want := []sensor.Reading{
		{Quantity: sensor.Temperature, Value: int64(physic.ZeroCelsius + 25*physic.Kelvin)},
		{Quantity: sensor.Humidity, Value: int64(44 * physic.PercentRH)},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Read = %v, want %v", got, want)
	}
}

func TestReadCRCMismatch(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  []byte
		want string
	}{
		{"temperature", []byte{0x66, 0x67, 0x93, 0x66, 0x66, 0x93},
			"sht4x: temperature at 0x44: sensor: checksum mismatch: word 0x6667 has CRC 0x93, want 0xa2"},
		{"humidity", []byte{0x66, 0x66, 0x93, 0x66, 0x66, 0x92},
			"sht4x: humidity at 0x44: sensor: checksum mismatch: word 0x6666 has CRC 0x92, want 0x93"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stubSleep(t)
			bus := &i2ctest.Playback{DontPanic: true, Ops: append(append(newOps(0x44),
				measureOps(0x44, 0xFD, tc.raw)...), measureOps(0x44, 0xFD, tc.raw)...)}
			defer closeBus(t, bus)
			d, err := New(bus, nil)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			out, err := d.Read(make([]sensor.Reading, 0, 2))
			if !errors.Is(err, sensor.ErrCRC) {
				t.Fatalf("Read: err %v, want ErrCRC", err)
			}
			if err.Error() != tc.want {
				t.Errorf("Read: err %q, want %q", err, tc.want)
			}
			if len(out) != 0 {
				t.Errorf("Read appended %v on a CRC error", out)
			}
			e := physic.Env{Temperature: 42, Humidity: 43}
			if err := d.Sense(&e); !errors.Is(err, sensor.ErrCRC) {
				t.Fatalf("Sense: err %v, want ErrCRC", err)
			}
			if e != (physic.Env{Temperature: 42, Humidity: 43}) {
				t.Errorf("Sense changed the env to %+v on error", e)
			}
		})
	}
}

func TestReadBusError(t *testing.T) {
	for _, tc := range []struct {
		failAt int
		want   string
	}{
		{2, "sht4x: start measurement at 0x44: remote I/O error"},
		// The sensor NACKs the read header while it measures.
		{3, "sht4x: read measurement at 0x44: remote I/O error"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			stubSleep(t)
			ops := append(newOps(0x44), measureOps(0x44, 0xFD, []byte{0x66, 0x66, 0x93, 0x66, 0x66, 0x93})...)
			bus := &faultBus{failAt: tc.failAt, err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: ops[:tc.failAt]}}
			defer closeBus(t, &bus.Playback)
			d, err := New(bus, nil)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			out, err := d.Read(nil)
			if !errors.Is(err, errNACK) {
				t.Fatalf("Read: err %v, want it to wrap the bus error", err)
			}
			if err.Error() != tc.want {
				t.Errorf("Read: err %q, want %q", err, tc.want)
			}
			if len(out) != 0 {
				t.Errorf("Read appended %v on a bus error", out)
			}
		})
	}
}

func TestProbe(t *testing.T) {
	for _, tc := range []struct {
		name   string
		serial []byte
		want   error
	}{
		{"serial 0x0beef042", serialBytes, nil},
		{"serial 0", []byte{0x00, 0x00, 0x81, 0x00, 0x00, 0x81}, nil},
		{"bad CRC", []byte{0x0B, 0xEE, 0x44, 0xF0, 0x42, 0xC6}, sensor.ErrChipID},
		{"floating bus", []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, sensor.ErrChipID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			bus := &i2ctest.Playback{DontPanic: true, Ops: newOps(0x46)}
			bus.Ops[1].R = tc.serial
			defer closeBus(t, bus)
			err := Probe(bus, 0x46)
			if tc.want == nil && err != nil || !errors.Is(err, tc.want) {
				t.Errorf("Probe: err %v, want %v", err, tc.want)
			}
			if got, want := s.take(), []time.Duration{10 * time.Millisecond}; !slices.Equal(got, want) {
				t.Errorf("Probe slept %v, want %v", got, want)
			}
		})
	}
	t.Run("nothing there", func(t *testing.T) {
		stubSleep(t)
		bus := &faultBus{failAt: 0, err: errNACK, Playback: i2ctest.Playback{DontPanic: true}}
		defer closeBus(t, &bus.Playback)
		err := Probe(bus, 0x44)
		if !errors.Is(err, errNACK) || errors.Is(err, sensor.ErrChipID) {
			t.Errorf("Probe: err %v, want the bus error and not ErrChipID", err)
		}
	})
	if err := Probe(nil, 0x44); err == nil {
		t.Error("Probe(nil bus): no error")
	}
}

func TestReset(t *testing.T) {
	s := stubSleep(t)
	bus := &faultBus{failAt: 3, err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: append(newOps(0x44),
		i2ctest.IO{Addr: 0x44, W: []byte{0x94}})}}
	defer closeBus(t, &bus.Playback)
	d, err := New(bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s.take()
	if err := d.Reset(); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	if got, want := s.take(), []time.Duration{time.Millisecond}; !slices.Equal(got, want) {
		t.Errorf("Reset slept %v, want %v", got, want)
	}
	if err := d.Reset(); !errors.Is(err, errNACK) || err.Error() != "sht4x: soft reset at 0x44: remote I/O error" {
		t.Errorf("Reset: err %v, want the wrapped bus error", err)
	}
}

func TestHaltStringPrecision(t *testing.T) {
	stubSleep(t)
	bus := &i2ctest.Playback{DontPanic: true, Ops: newOps(0x45)}
	defer closeBus(t, bus)
	d, err := New(bus, &Opts{Addr: 0x45})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	// Halt sends nothing: Playback fails on any extra transaction.
	for range 2 {
		if err := d.Halt(); err != nil {
			t.Errorf("Halt: %v", err)
		}
	}
	if got, want := d.String(), "SHT4x{playback(69)}"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	var e physic.Env
	d.Precision(&e)
	// 175/65535 °C = 2.670329 m°C; 125/65535 %RH = 0.00191 %RH.
	if e.Temperature != 2_670_329 || e.Humidity != 191 {
		t.Errorf("Precision = %d nK, %d; want 2670329 nK, 191", e.Temperature, e.Humidity)
	}
}

func TestPrecisionText(t *testing.T) {
	for _, tc := range []struct {
		text string
		p    Precision
		wait time.Duration
	}{
		{"high", PrecisionHigh, 8300 * time.Microsecond},
		{"medium", PrecisionMedium, 4500 * time.Microsecond},
		{"low", PrecisionLow, 1700 * time.Microsecond},
	} {
		var p Precision
		if err := p.UnmarshalText([]byte(tc.text)); err != nil || p != tc.p {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", tc.text, p, err, tc.p)
		}
		if p.String() != tc.text || p.MeasurementTime() != tc.wait {
			t.Errorf("%v: String %q, MeasurementTime %v; want %q, %v", tc.p, p.String(), p.MeasurementTime(), tc.text, tc.wait)
		}
	}
	var zero Precision
	if zero.String() != "high" || zero.MeasurementTime() != 8300*time.Microsecond {
		t.Errorf("zero Precision: %q, %v; want high", zero.String(), zero.MeasurementTime())
	}
	p := PrecisionLow
	if err := p.UnmarshalText([]byte("max")); err == nil || p != PrecisionLow {
		t.Errorf("UnmarshalText(max) = %v, %v; want an error and no change", p, err)
	}
	if s := Precision(9).String(); s != "precision(9)" {
		t.Errorf("String() = %q", s)
	}
}
