package sht3x

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
// computed exactly from §4.13 with rational arithmetic, independently of
// the driver.
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

// newOps are the transactions New makes on an SHT3x at addr in its
// power-up state (status 0x8010: alert pending, reset detected).
func newOps(addr uint16) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: addr, W: []byte{0xF3, 0x2D}},
		{Addr: addr, R: []byte{0x80, 0x10, 0xE1}},
		{Addr: addr, W: []byte{0x30, 0x93}},
		{Addr: addr, W: []byte{0x30, 0xA2}},
	}
}

// measureOps are the transactions of one measurement.
func measureOps(addr uint16, cmd []byte, r []byte) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: addr, W: cmd},
		{Addr: addr, R: r},
	}
}

var cmdHigh = []byte{0x24, 0x00}

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
		cmd  []byte
		wait time.Duration
	}{
		{"nil opts", nil, 0x44, []byte{0x24, 0x00}, 15500 * time.Microsecond},
		{"default", &DefaultOpts, 0x44, []byte{0x24, 0x00}, 15500 * time.Microsecond},
		{"zero repeatability is high", &Opts{Addr: 0x45}, 0x45, []byte{0x24, 0x00}, 15500 * time.Microsecond},
		{"medium", &Opts{Addr: 0x44, Repeatability: RepeatabilityMedium}, 0x44, []byte{0x24, 0x0B}, 6500 * time.Microsecond},
		{"low", &Opts{Addr: 0x45, Repeatability: RepeatabilityLow}, 0x45, []byte{0x24, 0x16}, 4500 * time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			bus := &i2ctest.Playback{DontPanic: true, Ops: append(newOps(tc.addr),
				measureOps(tc.addr, tc.cmd, []byte{0x66, 0x66, 0x93, 0x80, 0x00, 0xA2})...)}
			defer closeBus(t, bus)
			d, err := New(bus, tc.opts)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			// §4.8: the break takes 1 ms; §2.2: the soft reset 1.5 ms.
			if got, want := s.take(), []time.Duration{time.Millisecond, 1500 * time.Microsecond}; !slices.Equal(got, want) {
				t.Errorf("New slept %v, want %v", got, want)
			}
			var e physic.Env
			if err := d.Sense(&e); err != nil {
				t.Fatalf("Sense: %v", err)
			}
			// The readout comes after the longest measurement duration
			// of the repeatability, over the whole supply range (§2.2).
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
	for _, addr := range []uint16{0, 0x43, 0x46, 0x48, 0x144} {
		_, err := New(bus, &Opts{Addr: addr})
		if err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("New at %#x: err %v, want out of range", addr, err)
		}
	}
	if _, err := New(bus, &Opts{Addr: 0x44, Repeatability: 4}); err == nil || !strings.Contains(err.Error(), "repeatability") {
		t.Errorf("New with repeatability 4: err %v, want unknown repeatability", err)
	}
	if _, err := New(nil, nil); err == nil {
		t.Error("New(nil bus): no error")
	}
}

func TestNewNotSHT3x(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status []byte
		crc    bool // the error also wraps ErrCRC
	}{
		{"floating bus", []byte{0xFF, 0xFF, 0xFF}, true},
		{"all zero", []byte{0x00, 0x00, 0x00}, true},
		{"bad CRC", []byte{0x80, 0x10, 0xE0}, true},
		{"reserved bit 14", []byte{0xC0, 0x10, 0x68}, false},
		{"reserved bit 12", []byte{0x90, 0x10, 0x8F}, false},
		{"reserved bits 3:2", []byte{0x80, 0x1C, 0x9C}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			// Only the status read: nothing else may be sent to a foreign
			// chip.
			bus := &i2ctest.Playback{DontPanic: true, Ops: newOps(0x44)[:2]}
			bus.Ops[1].R = tc.status
			defer closeBus(t, bus)
			_, err := New(bus, nil)
			if !errors.Is(err, sensor.ErrChipID) {
				t.Fatalf("New: err %v, want ErrChipID", err)
			}
			if errors.Is(err, sensor.ErrCRC) != tc.crc {
				t.Errorf("New: err %v, wraps ErrCRC %v, want %v", err, !tc.crc, tc.crc)
			}
			if len(s.take()) != 0 {
				t.Error("New slept after rejecting the device")
			}
		})
	}
	bus := &i2ctest.Playback{DontPanic: true, Ops: newOps(0x45)[:2]}
	bus.Ops[1].R = []byte{0x80, 0x10, 0x00}
	defer closeBus(t, bus)
	_, err := New(bus, &Opts{Addr: 0x45})
	want := "sht3x: not an SHT3x at 0x45: sensor: unexpected chip ID: status word 0x8010 has CRC 0x00, want 0xe1 (sensor: checksum mismatch)"
	if err == nil || err.Error() != want {
		t.Errorf("New: err %v, want %q", err, want)
	}
}

func TestNewBusError(t *testing.T) {
	for _, tc := range []struct {
		failAt int
		want   string
	}{
		{0, "sht3x: read status at 0x44: remote I/O error"},
		{1, "sht3x: read status at 0x44: remote I/O error"},
		{2, "sht3x: stop periodic acquisition at 0x44: remote I/O error"},
		{3, "sht3x: soft reset at 0x44: remote I/O error"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			stubSleep(t)
			bus := &faultBus{failAt: tc.failAt, err: errNACK, Playback: i2ctest.Playback{DontPanic: true}}
			ops := newOps(0x44)
			bus.Ops = append(ops[:tc.failAt:tc.failAt], ops[tc.failAt+1:]...)
			_, err := New(bus, nil)
			if !errors.Is(err, errNACK) {
				t.Fatalf("New: err %v, want it to wrap the bus error", err)
			}
			if err.Error() != tc.want {
				t.Errorf("New: err %q, want %q", err, tc.want)
			}
			// The failed step ends New: every op before it was played and
			// none after it.
			if bus.Count != tc.failAt {
				t.Errorf("%d transactions played, want %d", bus.Count, tc.failAt)
			}
		})
	}
}

func TestSense(t *testing.T) {
	// Raw words with their CRCs; expected values computed exactly from
	// §4.13 and rounded to the nearest unit.
	cases := []struct {
		name string
		raw  []byte
		temp physic.Temperature
		rh   physic.RelativeHumidity
	}{
		// The worked example: 25.00 °C and 50.0 %RH (0x8000 is 50.00076).
		{"worked example", []byte{0x66, 0x66, 0x93, 0x80, 0x00, 0xA2}, celsius(25_000_000_000), 5_000_076},
		{"minimum", []byte{0x00, 0x00, 0x81, 0x00, 0x00, 0x81}, celsius(-45_000_000_000), 0},
		{"one step", []byte{0x00, 0x01, 0xB0, 0x00, 0x01, 0xB0}, celsius(-44_997_329_671), 153},
		{"maximum", []byte{0xFF, 0xFF, 0xAC, 0xFF, 0xFF, 0xAC}, celsius(130_000_000_000), 100 * physic.PercentRH},
		{"-40 °C, specified minimum", []byte{0x07, 0x50, 0x51, 0x40, 0x00, 0x08}, celsius(-40_001_144_427), 2_500_038},
		{"-25 °C", []byte{0x1D, 0x1E, 0xF3, 0x33, 0x33, 0x88}, celsius(-25_095_368_887), 20 * physic.PercentRH},
		{"-10 °C exactly", []byte{0x33, 0x33, 0x88, 0x66, 0x66, 0x93}, celsius(-10_000_000_000), 40 * physic.PercentRH},
		{"just below 0 °C", []byte{0x41, 0xD3, 0xAB, 0x80, 0x00, 0xA2}, celsius(-2_288_853), 5_000_076},
		{"just above 0 °C", []byte{0x41, 0xD4, 0x3C, 0x7F, 0xFF, 0x8F}, celsius(381_476), 4_999_924},
		{"19 °C", []byte{0x5D, 0x9F, 0x31, 0xCC, 0xCC, 0xA5}, celsius(18_999_771_115), 80 * physic.PercentRH},
		{"95 °C exactly", []byte{0xCC, 0xCC, 0xA5, 0x07, 0x50, 0x51}, celsius(95_000_000_000), 285_649},
		{"125 °C, specified maximum", []byte{0xF3, 0xB5, 0xFE, 0xE8, 0xB4, 0xBB}, celsius(121_599_145_495), 9_090_105},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stubSleep(t)
			bus := &i2ctest.Playback{DontPanic: true, Ops: append(newOps(0x44), measureOps(0x44, cmdHigh, tc.raw)...)}
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
		measureOps(0x44, cmdHigh, []byte{0x66, 0x66, 0x93, 0x80, 0x00, 0xA2})...)}
	defer closeBus(t, bus)
	d, err := New(bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	prev := sensor.Reading{Quantity: sensor.Voltage, Value: 1}
	got, err := d.Read([]sensor.Reading{prev})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	want := []sensor.Reading{
		prev,
		{Quantity: sensor.Temperature, Value: int64(physic.ZeroCelsius + 25*physic.Kelvin)},
		{Quantity: sensor.Humidity, Value: 5_000_076},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Read = %v, want %v", got, want)
	}
	if got[1].String() != "temperature: 25 celsius" || got[2].String() != "humidity: 50.0008 percent" {
		t.Errorf("Read = %s, %s", got[1], got[2])
	}
}

func TestReadCRCMismatch(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  []byte
		want string
	}{
		{"temperature", []byte{0x66, 0x66, 0x94, 0x80, 0x00, 0xA2},
			"sht3x: temperature at 0x44: sensor: checksum mismatch: word 0x6666 has CRC 0x94, want 0x93"},
		{"humidity", []byte{0x66, 0x66, 0x93, 0x80, 0x01, 0xA2},
			"sht3x: humidity at 0x44: sensor: checksum mismatch: word 0x8001 has CRC 0xa2, want 0x93"},
		{"both", []byte{0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
			"sht3x: temperature at 0x44: sensor: checksum mismatch: word 0x0000 has CRC 0x00, want 0x81"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stubSleep(t)
			bus := &i2ctest.Playback{DontPanic: true, Ops: append(append(newOps(0x44),
				measureOps(0x44, cmdHigh, tc.raw)...),
				measureOps(0x44, cmdHigh, tc.raw)...)}
			defer closeBus(t, bus)
			d, err := New(bus, nil)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			buf := make([]sensor.Reading, 0, 2)
			out, err := d.Read(buf)
			if !errors.Is(err, sensor.ErrCRC) {
				t.Fatalf("Read: err %v, want ErrCRC", err)
			}
			if err.Error() != tc.want {
				t.Errorf("Read: err %q, want %q", err, tc.want)
			}
			if len(out) != 0 {
				t.Errorf("Read appended %v on a CRC error", out)
			}
			// Sense leaves the Env alone: nothing of a corrupt
			// measurement is used, not even the good word.
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
		{4, "sht3x: start measurement at 0x44: remote I/O error"},
		// The sensor NACKs the read header while it has no data (§4.3).
		{5, "sht3x: read measurement at 0x44: remote I/O error"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			stubSleep(t)
			ops := append(newOps(0x44), measureOps(0x44, cmdHigh, []byte{0x66, 0x66, 0x93, 0x80, 0x00, 0xA2})...)
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
		status []byte
		want   error
	}{
		{"power-up status", []byte{0x80, 0x10, 0xE1}, nil},
		{"cleared status", []byte{0x00, 0x00, 0x81}, nil},
		{"heater on, reset", []byte{0x20, 0x10, 0x1E}, nil},
		{"undefined reserved bits 9:5 set", []byte{0x83, 0xF0, 0x0D}, nil},
		{"bad CRC", []byte{0x80, 0x10, 0xE2}, sensor.ErrChipID},
		{"reserved bits set", []byte{0x50, 0x00, 0x66}, sensor.ErrChipID},
		{"floating bus", []byte{0xFF, 0xFF, 0xFF}, sensor.ErrChipID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			// Probe only reads: a write other than the status command
			// would not match.
			bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
				{Addr: 0x45, W: []byte{0xF3, 0x2D}},
				{Addr: 0x45, R: tc.status},
			}}
			defer closeBus(t, bus)
			err := Probe(bus, 0x45)
			if tc.want == nil && err != nil || !errors.Is(err, tc.want) {
				t.Errorf("Probe: err %v, want %v", err, tc.want)
			}
			if len(s.take()) != 0 {
				t.Error("Probe slept")
			}
		})
	}
	t.Run("nothing there", func(t *testing.T) {
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

func TestStatus(t *testing.T) {
	stubSleep(t)
	bus := &i2ctest.Playback{DontPanic: true, Ops: append(newOps(0x44),
		i2ctest.IO{Addr: 0x44, W: []byte{0xF3, 0x2D}},
		i2ctest.IO{Addr: 0x44, R: []byte{0x20, 0x10, 0x1E}})}
	defer closeBus(t, bus)
	d, err := New(bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	st, err := d.Status()
	if err != nil || st != StatusHeater|StatusReset {
		t.Errorf("Status = %#04x, %v; want heater and reset bits", st, err)
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
	if got, want := d.String(), "SHT3x{playback(69)}"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	var e physic.Env
	d.Precision(&e)
	// 175/65535 °C = 2.670329 m°C; 100/65535 %RH = 0.00153 %RH.
	if e.Temperature != 2_670_329 || e.Humidity != 153 {
		t.Errorf("Precision = %d nK, %d; want 2670329 nK, 153", e.Temperature, e.Humidity)
	}
}

func TestRepeatabilityText(t *testing.T) {
	for _, tc := range []struct {
		text string
		r    Repeatability
		wait time.Duration
	}{
		{"high", RepeatabilityHigh, 15500 * time.Microsecond},
		{"medium", RepeatabilityMedium, 6500 * time.Microsecond},
		{"low", RepeatabilityLow, 4500 * time.Microsecond},
	} {
		var r Repeatability
		if err := r.UnmarshalText([]byte(tc.text)); err != nil || r != tc.r {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", tc.text, r, err, tc.r)
		}
		if r.String() != tc.text || r.MeasurementTime() != tc.wait {
			t.Errorf("%v: String %q, MeasurementTime %v; want %q, %v", tc.r, r.String(), r.MeasurementTime(), tc.text, tc.wait)
		}
	}
	var zero Repeatability
	if zero.String() != "high" || zero.MeasurementTime() != 15500*time.Microsecond {
		t.Errorf("zero Repeatability: %q, %v; want high", zero.String(), zero.MeasurementTime())
	}
	r := RepeatabilityLow
	if err := r.UnmarshalText([]byte("High")); err == nil || r != RepeatabilityLow {
		t.Errorf("UnmarshalText(High) = %v, %v; want an error and no change", r, err)
	}
	if s := Repeatability(9).String(); s != "repeatability(9)" {
		t.Errorf("String() = %q", s)
	}
}
