package bme280

import (
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/drivers/sensor"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"
)

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

func celsius(centi int64) physic.Temperature {
	return physic.ZeroCelsius + physic.Temperature(centi)*10*physic.MilliKelvin
}

// newOps are the transactions New makes on a chip with the given ID and
// calibration: read the chip ID, soft reset, read the status (NVM copy
// done), read the calibration blocks (the second only on a BME280).
func newOps(addr uint16, id byte, nvm1, nvm2 []byte) []i2ctest.IO {
	ops := []i2ctest.IO{
		{Addr: addr, W: []byte{0xD0}, R: []byte{id}},
		{Addr: addr, W: []byte{0xE0, 0xB6}},
		{Addr: addr, W: []byte{0xF3}, R: []byte{0x00}},
		{Addr: addr, W: []byte{0x88}, R: nvm1},
	}
	if id == 0x60 {
		ops = append(ops, i2ctest.IO{Addr: addr, W: []byte{0xE1}, R: nvm2})
	}
	return ops
}

// burst is what a BME280 returns to a 13-byte read from 0xF2: ctrl_hum,
// status, ctrl_meas, config, reserved, then press, temp and hum.
func burst(ctrlHum, status, ctrlMeas byte, data ...byte) []byte {
	return append([]byte{ctrlHum, status, ctrlMeas, 0x00, 0x00}, data...)
}

// measureOps are the transactions of one forced measurement on a BME280
// with ctrl_hum h and ctrl_meas m (forced mode bits included), answered
// with data after the measurement.
func measureOps(addr uint16, h, m byte, data ...byte) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: addr, W: []byte{0xF2, h, 0xF4, m}},
		{Addr: addr, W: []byte{0xF2}, R: burst(h, 0x00, m&^0x03, data...)},
	}
}

// Data registers of the reference vectors.
var (
	// tRaw 524112, pRaw 309104, hRaw 30987 (the worked example).
	workedData = []byte{0x4B, 0x77, 0x00, 0x7F, 0xF5, 0x00, 0x79, 0x0B}
	// periph's real-part playback.
	realData = []byte{0x4A, 0x52, 0xC0, 0x80, 0x96, 0xC0, 0x7A, 0x76}
)

// newDev returns a Dev on a playback that first answers New with the real
// part's calibration (or nvm1 when given), then plays ops.
func newDev(t *testing.T, opts *Opts, nvm1 []byte, ops ...i2ctest.IO) (*Dev, *i2ctest.Playback) {
	t.Helper()
	if nvm1 == nil {
		nvm1 = periphNVM1
	}
	addr := uint16(0x76)
	if opts != nil {
		addr = opts.Addr
	}
	bus := &i2ctest.Playback{DontPanic: true, Ops: append(newOps(addr, 0x60, nvm1, periphNVM2), ops...)}
	d, err := New(bus, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d, bus
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  *Opts
		addr  uint16
		id    byte
		model Model
		meas  time.Duration
	}{
		{"nil opts", nil, 0x76, 0x60, BME280, 9300 * time.Microsecond},
		{"0x77", &Opts{Addr: 0x77, Temperature: X1, Pressure: X1, Humidity: X1}, 0x77, 0x60, BME280, 9300 * time.Microsecond},
		{"BMP280", &DefaultOpts, 0x76, 0x58, BMP280, 6425 * time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			bus := &i2ctest.Playback{DontPanic: true, Ops: newOps(tc.addr, tc.id, periphNVM1, periphNVM2)}
			defer closeBus(t, bus)
			d, err := New(bus, tc.opts)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if d.Model() != tc.model || d.MeasurementTime() != tc.meas {
				t.Errorf("Model %s, MeasurementTime %s; want %s, %s", d.Model(), d.MeasurementTime(), tc.model, tc.meas)
			}
			// §1: 2 ms from the reset to the first communication.
			if got, want := s.take(), []time.Duration{2 * time.Millisecond}; !equalDurations(got, want) {
				t.Errorf("New slept %v, want %v", got, want)
			}
		})
	}
}

func TestNewInvalid(t *testing.T) {
	stubSleep(t)
	for _, tc := range []struct {
		name string
		opts Opts
		want string
	}{
		{"address 0x75", Opts{Addr: 0x75, Temperature: X1}, "bme280: address 0x75 out of range (0x76 or 0x77)"},
		{"address 0x48", Opts{Addr: 0x48, Temperature: X1}, "out of range"},
		{"zero opts", Opts{Addr: 0x76}, "temperature oversampling is Off"},
		{"oversampling 3", Opts{Addr: 0x76, Temperature: X1, Pressure: 3}, "bme280: pressure oversampling 3 is not 0, 1, 2, 4, 8 or 16"},
		{"oversampling 32", Opts{Addr: 0x76, Temperature: 32}, "temperature oversampling 32"},
		{"humidity 5", Opts{Addr: 0x76, Temperature: X1, Humidity: 5}, "humidity oversampling 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bus := &i2ctest.Playback{DontPanic: true}
			defer closeBus(t, bus) // no transaction at all
			_, err := New(bus, &tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: err %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := New(nil, nil); err == nil {
		t.Error("New(nil bus): no error")
	}
}

func TestNewWrongChipID(t *testing.T) {
	for _, tc := range []struct {
		name string
		id   byte
	}{
		{"BME680", 0x61},
		{"BMP180", 0x55},
		{"BMP280 sample", 0x56},
		{"no pull-ups", 0xFF},
		{"zero", 0x00},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			// Only the read: nothing may be written to a foreign chip.
			bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{{Addr: 0x77, W: []byte{0xD0}, R: []byte{tc.id}}}}
			defer closeBus(t, bus)
			_, err := New(bus, &Opts{Addr: 0x77, Temperature: X1})
			if !errors.Is(err, sensor.ErrChipID) {
				t.Fatalf("New: err %v, want ErrChipID", err)
			}
			if len(s.take()) != 0 {
				t.Error("New slept after rejecting the device")
			}
		})
	}
	bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{{Addr: 0x76, W: []byte{0xD0}, R: []byte{0x61}}}}
	defer closeBus(t, bus)
	_, err := New(bus, nil)
	if want := "bme280: chip ID 0x61 at 0x76, want 0x60 (BME280) or 0x58 (BMP280): sensor: unexpected chip ID"; err == nil || err.Error() != want {
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
	ops := newOps(0x76, 0x60, periphNVM1, periphNVM2)
	for _, tc := range []struct {
		failAt int
		want   string
	}{
		{0, "bme280: read chip ID at 0x76: remote I/O error"},
		{1, "bme280: reset at 0x76: remote I/O error"},
		{2, "bme280: read status at 0x76: remote I/O error"},
		{3, "bme280: read calibration at 0x76: remote I/O error"},
		{4, "bme280: read humidity calibration at 0x76: remote I/O error"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			stubSleep(t)
			bus := &faultBus{failAt: tc.failAt, err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: ops[:tc.failAt]}}
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

func TestNewWaitsForNVMCopy(t *testing.T) {
	t.Run("copy completes", func(t *testing.T) {
		s := stubSleep(t)
		ops := newOps(0x76, 0x60, periphNVM1, periphNVM2)
		// im_update (status bit 0) reads 1 twice after the 2 ms start-up.
		busy := i2ctest.IO{Addr: 0x76, W: []byte{0xF3}, R: []byte{0x01}}
		ops = append(ops[:2], append([]i2ctest.IO{busy, busy}, ops[2:]...)...)
		bus := &i2ctest.Playback{DontPanic: true, Ops: ops}
		defer closeBus(t, bus)
		if _, err := New(bus, nil); err != nil {
			t.Fatalf("New: %v", err)
		}
		if got, want := s.take(), []time.Duration{2 * time.Millisecond, time.Millisecond, time.Millisecond}; !equalDurations(got, want) {
			t.Errorf("New slept %v, want %v", got, want)
		}
	})
	t.Run("copy never completes", func(t *testing.T) {
		s := stubSleep(t)
		ops := newOps(0x76, 0x60, periphNVM1, periphNVM2)[:2]
		for range maxPolls + 1 {
			ops = append(ops, i2ctest.IO{Addr: 0x76, W: []byte{0xF3}, R: []byte{0x09}})
		}
		bus := &i2ctest.Playback{DontPanic: true, Ops: ops}
		defer closeBus(t, bus)
		_, err := New(bus, nil)
		if !errors.Is(err, sensor.ErrNotReady) {
			t.Fatalf("New: err %v, want ErrNotReady", err)
		}
		if want := "bme280: still copying the NVM at 0x76 7ms after a reset (status 0x09): sensor: conversion not ready"; err.Error() != want {
			t.Errorf("err %q, want %q", err, want)
		}
		if got := s.take(); len(got) != 1+maxPolls {
			t.Errorf("slept %v, want the start-up time and %d polls", got, maxPolls)
		}
	})
}

func TestNewInvalidCalibration(t *testing.T) {
	stubSleep(t)
	for _, tc := range []struct {
		name string
		nvm1 []byte
	}{
		{"all zero", make([]byte, 26)},
		{"dig_T1 zero", append([]byte{0x00, 0x00}, periphNVM1[2:]...)},
		{"dig_P1 zero", append(append(append([]byte{}, periphNVM1[:6]...), 0x00, 0x00), periphNVM1[8:]...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bus := &i2ctest.Playback{DontPanic: true, Ops: newOps(0x76, 0x60, tc.nvm1, periphNVM2)}
			defer closeBus(t, bus)
			if _, err := New(bus, nil); !errors.Is(err, ErrCalibration) {
				t.Errorf("New: err %v, want ErrCalibration", err)
			}
		})
	}
}

func TestRead(t *testing.T) {
	cases := []struct {
		name string
		nvm1 []byte
		data []byte
		t    physic.Temperature
		p    physic.Pressure
		h    physic.RelativeHumidity
	}{
		// The reference's worked example: 22.93 °C, 25611063/256 Pa,
		// 64686/1024 %RH.
		{"worked example", workedNVM1, workedData, celsius(2293), 25611063 * 3906250, 6316992},
		// periph's playback of a real part: 23.72 °C, 100942.6953125 Pa;
		// 66873/1024 %RH.
		{"real part", nil, realData, celsius(2372), 100942695312500, 6530566},
		// tRaw 0x6E100 is exactly 0 °C (t_fine 0).
		{"zero", nil, []byte{0x80, 0x00, 0x00, 0x6E, 0x10, 0x00, 0x4E, 0x20}, celsius(0), 62459847656250, 120703},
		{"negative", nil, []byte{0x80, 0x00, 0x00, 0x5E, 0x70, 0x00, 0x00, 0x00}, celsius(-2000), 60339660156250, 0},
		// The ends of the operating range (§1: −40 … 85 °C).
		{"-40 °C", nil, []byte{0x80, 0x00, 0x00, 0x4E, 0xCF, 0x00, 0x80, 0x00}, celsius(-4000), 58273273437500, 6284570},
		{"85 °C", nil, []byte{0x80, 0x00, 0x00, 0xB0, 0x6C, 0x00, 0xFF, 0xFF}, celsius(8500), 71917074218750, 10000000},
		// 0x80000 and 0x8000 are the reset values of the data registers,
		// but with the oversampling read back as written they are a
		// genuine measurement near room temperature.
		{"mid-scale codes", nil, []byte{0x80, 0x00, 0x00, 0x80, 0x00, 0x00, 0x80, 0x00}, celsius(2297), 64953613281250, 7309766},
		// The lowest pressure ADC value: the highest pressure.
		{"pressure ADC zero", nil, []byte{0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x80, 0x00}, celsius(2297), 150999597656250, 7309766},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			d, bus := newDev(t, nil, tc.nvm1, measureOps(0x76, 0x01, 0x25, tc.data...)...)
			defer closeBus(t, bus)
			s.take()
			before := sensor.Reading{Quantity: sensor.FanSpeed, Value: 7}
			got, err := d.Read([]sensor.Reading{before})
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			want := []sensor.Reading{before, sensor.Temp(tc.t),
				{Quantity: sensor.Pressure, Value: int64(tc.p)},
				{Quantity: sensor.Humidity, Value: int64(tc.h)}}
			if len(got) != len(want) {
				t.Fatalf("Read = %v, want %v", got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("reading %d = %v (%d), want %v (%d)", i, got[i], got[i].Value, want[i], want[i].Value)
				}
			}
			if got, want := s.take(), []time.Duration{9300 * time.Microsecond}; !equalDurations(got, want) {
				t.Errorf("Read slept %v, want %v", got, want)
			}
		})
	}
}

// The expected values of TestRead come from the integer formulas; the
// floating-point formulas of §8.1 must agree with them.
func TestReadCasesMatchFloat(t *testing.T) {
	c := parseCalibration(periphNVM1, periphNVM2)
	for _, tc := range []struct {
		tRaw, pRaw, hRaw int32
		t, p, h          float64 // °C, Pa, %RH as TestRead expects them
	}{
		{0x6E100, 0x80000, 0x4E20, 0, 62459.84765625, 1.20703},
		{0x5E700, 0x80000, 0, -20, 60339.66015625, 0},
		{0x4ECF0, 0x80000, 0x8000, -40, 58273.2734375, 62.84570},
		{0xB06C0, 0x80000, 0xFFFF, 85, 71917.07421875, 100},
		{0x80000, 0x80000, 0x8000, 22.97, 64953.61328125, 73.09766},
		{0x80000, 0, 0x8000, 22.97, 150999.59765625, 73.09766},
	} {
		ft := floatTemperature(&c, tc.tRaw)
		tFine := ft * 5120
		fp, fh := floatPressure(&c, tc.pRaw, tFine), floatHumidity(&c, tc.hRaw, tFine)
		if math.Abs(ft-tc.t) > 0.01 || math.Abs(fp-tc.p) > 0.1 || math.Abs(fh-tc.h) > 0.01 {
			t.Errorf("raw %#x %#x %#x: float %.4f °C %.3f Pa %.4f %%RH; TestRead expects %.4f, %.3f, %.4f",
				tc.tRaw, tc.pRaw, tc.hRaw, ft, fp, fh, tc.t, tc.p, tc.h)
		}
	}
}

func TestReadTiming(t *testing.T) {
	// §9.1: t_measure,max = 1.25 + 2.3·T + (2.3·P + 0.575) + (2.3·H + 0.575)
	// ms, without the terms of skipped measurements.
	for _, tc := range []struct {
		name string
		opts Opts
		h, m byte // ctrl_hum, ctrl_meas written
		want time.Duration
	}{
		{"x1", Opts{Addr: 0x76, Temperature: X1, Pressure: X1, Humidity: X1}, 0x01, 0x25, 9300 * time.Microsecond},
		{"x16", Opts{Addr: 0x76, Temperature: X16, Pressure: X16, Humidity: X16}, 0x05, 0xB5, 112800 * time.Microsecond},
		{"x2 x4 x8", Opts{Addr: 0x76, Temperature: X2, Pressure: X4, Humidity: X8}, 0x04, 0x4D, 34600 * time.Microsecond},
		{"no pressure", Opts{Addr: 0x76, Temperature: X2, Humidity: X1}, 0x01, 0x41, 8725 * time.Microsecond},
		{"temperature only", Opts{Addr: 0x76, Temperature: X1}, 0x00, 0x21, 3550 * time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			if got := tc.opts.MeasurementTime(); got != tc.want {
				t.Errorf("Opts.MeasurementTime = %s, want %s", got, tc.want)
			}
			d, bus := newDev(t, &tc.opts, nil, measureOps(0x76, tc.h, tc.m, realData...)...)
			defer closeBus(t, bus)
			s.take()
			if _, err := d.Read(nil); err != nil {
				t.Fatalf("Read: %v", err)
			}
			if got := s.take(); !equalDurations(got, []time.Duration{tc.want}) {
				t.Errorf("Read slept %v, want [%s]", got, tc.want)
			}
		})
	}
}

func TestReadPolls(t *testing.T) {
	for _, tc := range []struct {
		name     string
		busy     [][]byte // ctrl_hum, status, ctrl_meas of the early reads
		wantPoll int
	}{
		{"measuring bit", [][]byte{{0x01, 0x08, 0x24}}, 1},
		{"still in forced mode", [][]byte{{0x01, 0x00, 0x25}, {0x01, 0x08, 0x25}}, 2},
		{"NVM copy", [][]byte{{0x01, 0x01, 0x24}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			ops := []i2ctest.IO{{Addr: 0x76, W: []byte{0xF2, 0x01, 0xF4, 0x25}}}
			for _, b := range tc.busy {
				// The data registers still hold an older measurement.
				ops = append(ops, i2ctest.IO{Addr: 0x76, W: []byte{0xF2}, R: burst(b[0], b[1], b[2], workedData...)})
			}
			ops = append(ops, i2ctest.IO{Addr: 0x76, W: []byte{0xF2}, R: burst(0x01, 0x00, 0x24, realData...)})
			d, bus := newDev(t, nil, nil, ops...)
			defer closeBus(t, bus)
			s.take()
			var e physic.Env
			if err := d.Sense(&e); err != nil {
				t.Fatalf("Sense: %v", err)
			}
			if e.Temperature != celsius(2372) {
				t.Errorf("Sense read %s, want the completed measurement, 23.72°C", e.Temperature)
			}
			want := []time.Duration{9300 * time.Microsecond}
			for range tc.wantPoll {
				want = append(want, time.Millisecond)
			}
			if got := s.take(); !equalDurations(got, want) {
				t.Errorf("slept %v, want %v", got, want)
			}
		})
	}
}

func TestReadNotReady(t *testing.T) {
	s := stubSleep(t)
	ops := []i2ctest.IO{{Addr: 0x76, W: []byte{0xF2, 0x01, 0xF4, 0x25}}}
	for range maxPolls + 1 {
		ops = append(ops, i2ctest.IO{Addr: 0x76, W: []byte{0xF2}, R: burst(0x01, 0x08, 0x25, realData...)})
	}
	d, bus := newDev(t, nil, nil, ops...)
	defer closeBus(t, bus)
	s.take()
	got, err := d.Read(nil)
	if !errors.Is(err, sensor.ErrNotReady) || len(got) != 0 {
		t.Fatalf("Read = %v, %v; want nothing and ErrNotReady", got, err)
	}
	if want := "bme280: still measuring at 0x76 5ms after the datasheet maximum (status 0x08, ctrl_meas 0x25): sensor: conversion not ready"; err.Error() != want {
		t.Errorf("err %q, want %q", err, want)
	}
	if n := len(s.take()); n != 1+maxPolls {
		t.Errorf("slept %d times, want %d", n, 1+maxPolls)
	}
}

func TestReadSkipped(t *testing.T) {
	skipped := []byte{0x80, 0x00, 0x00, 0x80, 0x00, 0x00, 0x80, 0x00}
	for _, tc := range []struct {
		name string
		read []byte
	}{
		// Reset between the write and the read: every register at its
		// reset value (§5.3).
		{"chip reset", burst(0x00, 0x00, 0x00, skipped...)},
		// Only ctrl_hum lost: humidity was skipped.
		{"ctrl_hum lost", burst(0x00, 0x00, 0x24, realData[:6]...)},
		{"other oversampling", burst(0x01, 0x00, 0xB4, realData...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stubSleep(t)
			read := append(tc.read, make([]byte, 13-len(tc.read))...)
			d, bus := newDev(t, nil, nil,
				i2ctest.IO{Addr: 0x76, W: []byte{0xF2, 0x01, 0xF4, 0x25}},
				i2ctest.IO{Addr: 0x76, W: []byte{0xF2}, R: read})
			defer closeBus(t, bus)
			e := physic.Env{Temperature: 1, Pressure: 2, Humidity: 3}
			err := d.Sense(&e)
			if !errors.Is(err, sensor.ErrImplausible) {
				t.Fatalf("Sense: err %v, want ErrImplausible", err)
			}
			if !strings.Contains(err.Error(), "measurement skipped at 0x76") {
				t.Errorf("err %q does not say the measurement was skipped", err)
			}
			if e != (physic.Env{Temperature: 1, Pressure: 2, Humidity: 3}) {
				t.Errorf("Sense changed %+v on error", e)
			}
		})
	}
}

func TestReadImplausiblePressure(t *testing.T) {
	stubSleep(t)
	// A pressure ADC value near full scale compensates to a negative
	// pressure (the datasheet's uint32 cast would make it 16.7 MPa).
	d, bus := newDev(t, nil, nil, measureOps(0x76, 0x01, 0x25, 0xFF, 0xFF, 0x00, 0x80, 0x96, 0xC0, 0x7A, 0x76)...)
	defer closeBus(t, bus)
	got, err := d.Read(nil)
	if !errors.Is(err, sensor.ErrImplausible) || len(got) != 0 {
		t.Errorf("Read = %v, %v; want nothing and ErrImplausible", got, err)
	}
}

func TestReadBusError(t *testing.T) {
	for _, tc := range []struct {
		failAt int // counted after New's 5 transactions
		want   string
	}{
		{0, "bme280: start measurement at 0x76: remote I/O error"},
		{1, "bme280: read measurement at 0x76: remote I/O error"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			stubSleep(t)
			ops := append(newOps(0x76, 0x60, periphNVM1, periphNVM2), measureOps(0x76, 0x01, 0x25, realData...)...)
			bus := &faultBus{failAt: 5 + tc.failAt, err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: ops[:5+tc.failAt]}}
			defer closeBus(t, &bus.Playback)
			d, err := New(bus, nil)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			dst := []sensor.Reading{sensor.Temp(1)}
			got, err := d.Read(dst)
			if !errors.Is(err, errNACK) {
				t.Fatalf("Read: err %v, want it to wrap the bus error", err)
			}
			if err.Error() != tc.want {
				t.Errorf("err %q, want %q", err, tc.want)
			}
			if len(got) != 1 {
				t.Errorf("Read appended %v on error", got[1:])
			}
		})
	}
}

func TestReadQuantities(t *testing.T) {
	for _, tc := range []struct {
		name   string
		id     byte
		opts   Opts
		w      []byte
		r      []byte
		want   []sensor.Quantity
		meas   time.Duration
		sensed physic.Env // fields set by Sense over {1, 2, 3}
	}{
		{"all", 0x60, DefaultOpts, []byte{0xF2, 0x01, 0xF4, 0x25}, burst(0x01, 0, 0x24, realData...),
			[]sensor.Quantity{sensor.Temperature, sensor.Pressure, sensor.Humidity}, 9300 * time.Microsecond,
			physic.Env{Temperature: celsius(2372), Pressure: 100942695312500, Humidity: 6530566}},
		{"pressure off", 0x60, Opts{Addr: 0x76, Temperature: X1, Humidity: X1}, []byte{0xF2, 0x01, 0xF4, 0x21}, burst(0x01, 0, 0x20, realData...),
			[]sensor.Quantity{sensor.Temperature, sensor.Humidity}, 6425 * time.Microsecond,
			physic.Env{Temperature: celsius(2372), Pressure: 2, Humidity: 6530566}},
		{"humidity off", 0x60, Opts{Addr: 0x76, Temperature: X1, Pressure: X1}, []byte{0xF2, 0x00, 0xF4, 0x25}, burst(0x00, 0, 0x24, realData...),
			[]sensor.Quantity{sensor.Temperature, sensor.Pressure}, 6425 * time.Microsecond,
			physic.Env{Temperature: celsius(2372), Pressure: 100942695312500, Humidity: 3}},
		// A BMP280 has no ctrl_hum: only ctrl_meas is written, and the
		// burst starts at status and ends at temp_xlsb (0xF3–0xFC).
		{"BMP280", 0x58, DefaultOpts, []byte{0xF4, 0x25}, append([]byte{0x00, 0x24, 0x00, 0x00}, realData[:6]...),
			[]sensor.Quantity{sensor.Temperature, sensor.Pressure}, 6425 * time.Microsecond,
			physic.Env{Temperature: celsius(2372), Pressure: 100942695312500, Humidity: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			m := i2ctest.IO{Addr: 0x76, W: tc.w}
			r := i2ctest.IO{Addr: 0x76, W: []byte{0xF2}, R: tc.r}
			if tc.id == 0x58 {
				r.W = []byte{0xF3}
			}
			bus := &i2ctest.Playback{DontPanic: true, Ops: append(newOps(0x76, tc.id, periphNVM1, periphNVM2), m, r, m, r)}
			defer closeBus(t, bus)
			d, err := New(bus, &tc.opts)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			s.take()
			got, err := d.Read(nil)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("Read = %v, want quantities %v", got, tc.want)
			}
			for i, q := range tc.want {
				if got[i].Quantity != q {
					t.Errorf("reading %d is %s, want %s", i, got[i].Quantity, q)
				}
			}
			if got := s.take(); !equalDurations(got, []time.Duration{tc.meas}) {
				t.Errorf("Read slept %v, want [%s]", got, tc.meas)
			}
			e := physic.Env{Temperature: 1, Pressure: 2, Humidity: 3}
			if err := d.Sense(&e); err != nil {
				t.Fatalf("Sense: %v", err)
			}
			if e != tc.sensed {
				t.Errorf("Sense = %+v, want %+v", e, tc.sensed)
			}
		})
	}
}

func TestStringPrecision(t *testing.T) {
	stubSleep(t)
	bus := &i2ctest.Playback{DontPanic: true, Ops: newOps(0x77, 0x58, periphNVM1, nil)}
	defer closeBus(t, bus)
	d, err := New(bus, &Opts{Addr: 0x77, Temperature: X1, Pressure: X1, Humidity: X1})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if got, want := d.String(), "BMP280{playback(119)}"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	e := physic.Env{Humidity: 5}
	d.Precision(&e)
	want := physic.Env{Temperature: 10 * physic.MilliKelvin, Pressure: 3906250, Humidity: 5}
	if e != want {
		t.Errorf("Precision = %+v, want %+v", e, want)
	}
	d2, bus2 := newDev(t, nil, nil)
	defer closeBus(t, bus2)
	d2.Precision(&e)
	if e.Humidity != 98 || d2.String() != "BME280{playback(118)}" {
		t.Errorf("BME280: Precision humidity %d, String %q", e.Humidity, d2.String())
	}
	if Model(0x61).String() != "Model(0x61)" {
		t.Errorf("Model(0x61) = %q", Model(0x61).String())
	}
}

func TestProbe(t *testing.T) {
	for _, tc := range []struct {
		name    string
		addr    uint16
		id      []byte // chip ID read, or nil for no transaction
		busErr  error  // the read fails with it
		model   Model
		wantErr error // nil, sensor.ErrChipID or the bus error
	}{
		{"BME280", 0x76, []byte{0x60}, nil, BME280, nil},
		{"BMP280", 0x77, []byte{0x58}, nil, BMP280, nil},
		{"BME680", 0x77, []byte{0x61}, nil, 0, sensor.ErrChipID},
		{"BMP180", 0x77, []byte{0x55}, nil, 0, sensor.ErrChipID},
		{"not a BME280 address", 0x48, nil, nil, 0, sensor.ErrChipID},
		{"no device", 0x76, nil, errNACK, 0, errNACK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, probe := range []bool{false, true} {
				bus := &faultBus{failAt: -1, Playback: i2ctest.Playback{DontPanic: true}}
				if tc.id != nil {
					bus.Ops = []i2ctest.IO{{Addr: tc.addr, W: []byte{0xD0}, R: tc.id}}
				}
				if tc.busErr != nil {
					bus.failAt, bus.err = 0, tc.busErr
				}
				var err error
				if probe {
					err = Probe(bus, tc.addr)
				} else {
					var m Model
					m, err = Identify(bus, tc.addr)
					if m != tc.model {
						t.Errorf("Identify = %s, want %s", m, tc.model)
					}
				}
				if (err == nil) != (tc.wantErr == nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
					t.Errorf("probe %v: err %v, want %v", probe, err, tc.wantErr)
				}
				if tc.busErr != nil && errors.Is(err, sensor.ErrChipID) {
					t.Errorf("a bus error reads as a wrong chip: %v", err)
				}
				closeBus(t, &bus.Playback)
			}
		})
	}
}

func TestSenseContinuous(t *testing.T) {
	stubSleep(t)
	ops := append(measureOps(0x76, 0x01, 0x25, realData...), measureOps(0x76, 0x01, 0x25, workedData...)...)
	d, bus := newDev(t, nil, nil, ops...)
	defer closeBus(t, bus)
	if _, err := d.SenseContinuous(0); err == nil {
		t.Error("SenseContinuous(0): no error")
	}
	// The first measurement comes at once; the next only after an hour.
	c1, err := d.SenseContinuous(time.Hour)
	if err != nil {
		t.Fatalf("SenseContinuous: %v", err)
	}
	if e := <-c1; e.Temperature != celsius(2372) || e.Humidity != 6530566 {
		t.Errorf("first = %+v", e)
	}
	// A second call replaces the first.
	c2, err := d.SenseContinuous(time.Hour)
	if err != nil {
		t.Fatalf("SenseContinuous: %v", err)
	}
	if _, ok := <-c1; ok {
		t.Error("the first channel is still open")
	}
	if e := <-c2; e.Pressure != 100040132812500 {
		t.Errorf("second = %+v", e)
	}
	if err := d.Halt(); err != nil {
		t.Fatalf("Halt: %v", err)
	}
	if _, ok := <-c2; ok {
		t.Error("Halt left the channel open")
	}
	if err := d.Halt(); err != nil {
		t.Errorf("second Halt: %v", err)
	}
}

func TestSenseContinuousStopsOnError(t *testing.T) {
	stubSleep(t)
	d, bus := newDev(t, nil, nil) // no measurement ops: the first write fails
	defer closeBus(t, bus)
	c, err := d.SenseContinuous(time.Millisecond)
	if err != nil {
		t.Fatalf("SenseContinuous: %v", err)
	}
	if e, ok := <-c; ok {
		t.Errorf("received %+v from a failing sensor", e)
	}
	if err := d.Halt(); err != nil {
		t.Errorf("Halt: %v", err)
	}
}
