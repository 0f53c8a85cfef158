package ina219

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

// Options used throughout, with what New writes for them.
var (
	// exact50uA: 100 mΩ, MaxCurrent 1.6384 A, so Current_LSB is 50 µA and
	// Cal = 0.04096 / (50 µA × 0.1 Ω) = 8192 exactly.
	exact50uA = Opts{Addr: 0x40, ShuntResistance: 100 * physic.MilliOhm, MaxCurrent: 1638400 * physic.MicroAmpere}
	// datasheet: the SBOS448G §8.5.1 example's 2 mΩ shunt and 1 mA
	// Current_LSB (MaxCurrent = 2^15 mA, Cal = 20480 = 5000h).
	datasheet = Opts{Addr: 0x40, ShuntResistance: 2 * physic.MilliOhm, MaxCurrent: 32768 * physic.MilliAmpere}
	// pga40: 2 mΩ × 20 A = 40 mV fits the ±40 mV range, PG = 00, and the
	// 16 V bus range: the example's configuration register 019Fh.
	pga40 = Opts{Addr: 0x40, ShuntResistance: 2 * physic.MilliOhm, MaxCurrent: 20 * physic.Ampere, Bus16V: true}
)

// newOps are the writes New makes at 0x40: calibration, then config.
func newOps(cal, cfg uint16) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: 0x40, W: []byte{0x05, byte(cal >> 8), byte(cal)}},
		{Addr: 0x40, W: []byte{0x00, byte(cfg >> 8), byte(cfg)}},
	}
}

// readOps are the reads of one measurement: bus (with the flags), shunt,
// current, power.
func readOps(bus, shunt, current, power uint16) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: 0x40, W: []byte{0x02}, R: []byte{byte(bus >> 8), byte(bus)}},
		{Addr: 0x40, W: []byte{0x01}, R: []byte{byte(shunt >> 8), byte(shunt)}},
		{Addr: 0x40, W: []byte{0x04}, R: []byte{byte(current >> 8), byte(current)}},
		{Addr: 0x40, W: []byte{0x03}, R: []byte{byte(power >> 8), byte(power)}},
	}
}

func join(ops ...[]i2ctest.IO) []i2ctest.IO {
	var all []i2ctest.IO
	for _, o := range ops {
		all = append(all, o...)
	}
	return all
}

const conv1 = 1064 * time.Microsecond // 532 µs shunt + 532 µs bus

func TestNewWritesCalibrationAndConfig(t *testing.T) {
	cases := []struct {
		name  string
		opts  *Opts
		cal   uint16
		cfg   uint16
		sleep time.Duration
	}{
		// 0.04096 / (3.2 A / 2^15 × 0.1 Ω) = 4194.304; 320 mV needs PGA ÷8;
		// the power-on configuration.
		{"nil opts", nil, 4194, 0x399F, conv1},
		{"default", &DefaultOpts, 4194, 0x399F, conv1},
		{"zero max current is the full range", &Opts{Addr: 0x40, ShuntResistance: 100 * physic.MilliOhm}, 4194, 0x399F, conv1},
		{"round 50 µA LSB", &exact50uA, 0x2000, 0x399F, conv1},
		{"datasheet 1 mA LSB, PGA ÷2", &datasheet, 0x5000, 0x299F, conv1},
		// 33554.432 truncated; ±40 mV range and 16 V bus: 019Fh.
		{"PGA ÷1, 16 V", &pga40, 33554, 0x019F, conv1},
		// 4473.92 truncates to 4473; FS0 is void, so 4472 is written.
		{"odd calibration", &Opts{Addr: 0x40, ShuntResistance: 100 * physic.MilliOhm, MaxCurrent: 3 * physic.Ampere}, 4472, 0x399F, conv1},
		{"PGA ÷1 at 32 V", &Opts{Addr: 0x40, ShuntResistance: 100 * physic.MilliOhm, MaxCurrent: 400 * physic.MilliAmpere}, 33554, 0x219F, conv1},
		{"PGA ÷4", &Opts{Addr: 0x40, ShuntResistance: 100 * physic.MilliOhm, MaxCurrent: 1600 * physic.MilliAmpere}, 8388, 0x319F, conv1},
		{"2 averages", &Opts{Addr: 0x40, ShuntResistance: 100 * physic.MilliOhm, MaxCurrent: 3200 * physic.MilliAmpere, Averages: 2}, 4194, 0x3CCF, 2120 * time.Microsecond},
		{"16 averages, 16 V", &Opts{Addr: 0x40, ShuntResistance: 100 * physic.MilliOhm, Averages: 16, Bus16V: true}, 4194, 0x1E67, 17020 * time.Microsecond},
		// The worst case: 68.10 ms for each of the two ADCs.
		{"128 averages", &Opts{Addr: 0x40, ShuntResistance: 100 * physic.MilliOhm, Averages: 128}, 4194, 0x3FFF, 136200 * time.Microsecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			bus := &i2ctest.Playback{DontPanic: true, Ops: newOps(tc.cal, tc.cfg)}
			defer closeBus(t, bus)
			d, err := New(bus, tc.opts)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if got, want := s.take(), []time.Duration{tc.sleep}; !equalDurations(got, want) {
				t.Errorf("New slept %v, want %v", got, want)
			}
			if d.ConversionTime() != tc.sleep {
				t.Errorf("ConversionTime() = %v, want %v", d.ConversionTime(), tc.sleep)
			}
		})
	}
}

func TestNewAddress(t *testing.T) {
	stubSleep(t)
	for _, addr := range []uint16{0x40, 0x45, 0x4F} {
		bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
			{Addr: addr, W: []byte{0x05, 0x10, 0x62}},
			{Addr: addr, W: []byte{0x00, 0x39, 0x9F}},
		}}
		opts := DefaultOpts
		opts.Addr = addr
		if _, err := New(bus, &opts); err != nil {
			t.Errorf("New at %#x: %v", addr, err)
		}
		closeBus(t, bus)
	}
}

func TestNewInvalid(t *testing.T) {
	r := 100 * physic.MilliOhm
	cases := []struct {
		name string
		opts Opts
		want string
	}{
		{"address 0", Opts{ShuntResistance: r}, "address 0x0 out of range"},
		{"address 0x3f", Opts{Addr: 0x3F, ShuntResistance: r}, "out of range"},
		{"address 0x50", Opts{Addr: 0x50, ShuntResistance: r}, "out of range"},
		{"no shunt", Opts{Addr: 0x40}, "shunt resistance 0Ω: must be positive"},
		{"negative shunt", Opts{Addr: 0x40, ShuntResistance: -r}, "must be positive"},
		{"negative max current", Opts{Addr: 0x40, ShuntResistance: r, MaxCurrent: -physic.Ampere}, "max current -1A"},
		{"beyond 320 mV", Opts{Addr: 0x40, ShuntResistance: r, MaxCurrent: 3201 * physic.MilliAmpere}, "±320mV shunt range"},
		{"calibration overflow", Opts{Addr: 0x40, ShuntResistance: r, MaxCurrent: 100 * physic.MilliAmpere}, "exceeds 16 bits"},
		{"above 1 kA", Opts{Addr: 0x40, ShuntResistance: 100 * physic.NanoOhm, MaxCurrent: 1001 * physic.Ampere}, "at most 1kA"},
		{"full range above 1 kA", Opts{Addr: 0x40, ShuntResistance: physic.NanoOhm}, "too small"},
		{"3 averages", Opts{Addr: 0x40, ShuntResistance: r, Averages: 3}, "averages 3"},
		{"256 averages", Opts{Addr: 0x40, ShuntResistance: r, Averages: 256}, "averages 256"},
		{"negative averages", Opts{Addr: 0x40, ShuntResistance: r, Averages: -1}, "averages -1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			bus := &i2ctest.Playback{DontPanic: true} // no transaction at all
			defer closeBus(t, bus)
			_, err := New(bus, &tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "ina219: ") {
				t.Errorf("New: err %v, want one containing %q", err, tc.want)
			}
			if len(s.take()) != 0 {
				t.Error("New slept after rejecting the options")
			}
		})
	}
	if _, err := New(nil, nil); err == nil {
		t.Error("New(nil bus): no error")
	}
}

func TestNewBusError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		failAt int
		ops    []i2ctest.IO
		want   string
	}{
		{"calibration", 0, nil, "ina219: write calibration at 0x40: remote I/O error"},
		{"config", 1, newOps(4194, 0x399F)[:1], "ina219: write config at 0x40: remote I/O error"},
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
			if len(s.take()) != 0 {
				t.Error("New slept after a bus error")
			}
		})
	}
}

func TestRead(t *testing.T) {
	cases := []struct {
		name                       string
		opts                       Opts
		cal, cfg                   uint16
		bus, shunt, current, power uint16
		want                       PowerMonitor
	}{
		{
			// SBOS448G §8.5.1, Configure/Measure/Calculate example: 10 A
			// through 2 mΩ; CNVR set in the bus register.
			name: "datasheet 10 A", opts: datasheet, cal: 0x5000, cfg: 0x299F,
			bus: 0x5D9A, shunt: 0x07D0, current: 0x2710, power: 0x1766,
			want: PowerMonitor{Shunt: 20 * physic.MilliVolt, Bus: 11980 * physic.MilliVolt, Current: 10 * physic.Ampere, Power: 119800 * physic.MilliWatt},
		},
		{
			// 10 mV across 100 mΩ is 100 mA; 2995 × 4 mV = 11.98 V.
			name: "100 mA", opts: exact50uA, cal: 0x2000, cfg: 0x399F,
			bus: 0x5D9A, shunt: 0x03E8, current: 0x07D0, power: 0x04AE,
			want: PowerMonitor{Shunt: 10 * physic.MilliVolt, Bus: 11980 * physic.MilliVolt, Current: 100 * physic.MilliAmpere, Power: 1198 * physic.MilliWatt},
		},
		{
			name: "reverse 100 mA", opts: exact50uA, cal: 0x2000, cfg: 0x399F,
			bus: 0x5D9A, shunt: 0xFC18, current: 0xF830, power: 0x04AE,
			want: PowerMonitor{Shunt: -10 * physic.MilliVolt, Bus: 11980 * physic.MilliVolt, Current: -100 * physic.MilliAmpere, Power: -1198 * physic.MilliWatt},
		},
		{
			name: "zero", opts: DefaultOpts, cal: 4194, cfg: 0x399F,
			bus: 0x0002, shunt: 0, current: 0, power: 0,
			want: PowerMonitor{},
		},
		{
			// One LSB below the ±320 mV full scale at 26 V, the highest bus
			// voltage the chip takes: Current_LSB 97.65625 µA, Power_LSB
			// 1.953125 mW.
			name: "near full scale", opts: DefaultOpts, cal: 4194, cfg: 0x399F,
			bus: 6500<<3 | 2, shunt: 31999, current: 32764, power: 42593,
			want: PowerMonitor{Shunt: 319990 * physic.MicroVolt, Bus: 26 * physic.Volt, Current: 3199609375, Power: 83189453125},
		},
		{
			name: "near negative full scale, top of the bus register", opts: DefaultOpts, cal: 4194, cfg: 0x399F,
			bus: 0xFFFA, shunt: 0x8301, current: 0x8004, power: 0xFFFF,
			want: PowerMonitor{Shunt: -319990 * physic.MicroVolt, Bus: 32764 * physic.MilliVolt, Current: -3199609375, Power: -127998046875},
		},
		{
			// 1 × 97656.25 nA rounds down, 2 × 97656.25 = 195312.5 rounds
			// away from zero.
			name: "one LSB", opts: DefaultOpts, cal: 4194, cfg: 0x399F,
			bus: 0x0002, shunt: 1, current: 1, power: 1,
			want: PowerMonitor{Shunt: 10 * physic.MicroVolt, Current: 97656, Power: 1953125},
		},
		{
			name: "two LSB reverse", opts: DefaultOpts, cal: 4194, cfg: 0x399F,
			bus: 0x0002, shunt: 0xFFFE, current: 0xFFFE, power: 2,
			want: PowerMonitor{Shunt: -20 * physic.MicroVolt, Current: -195313, Power: -3906250},
		},
		{
			// One LSB inside the ±40 mV range.
			name: "PGA ÷1 edge", opts: pga40, cal: 33554, cfg: 0x019F,
			bus: 0x5D9A, shunt: 3999, current: 0x7FFF, power: 0,
			want: PowerMonitor{Shunt: 39990 * physic.MicroVolt, Bus: 11980 * physic.MilliVolt, Current: 19999389648, Power: 0},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			bus := &i2ctest.Playback{DontPanic: true, Ops: join(newOps(tc.cal, tc.cfg), readOps(tc.bus, tc.shunt, tc.current, tc.power))}
			defer closeBus(t, bus)
			d, err := New(bus, &tc.opts)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			s.take()
			dst := []sensor.Reading{{Quantity: sensor.Temperature, Value: 1}}
			got, err := d.Read(dst)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			want := []sensor.Reading{
				{Quantity: sensor.Temperature, Value: 1},
				{Quantity: sensor.Voltage, Channel: "shunt", Value: int64(tc.want.Shunt)},
				{Quantity: sensor.Voltage, Channel: "bus", Value: int64(tc.want.Bus)},
				{Quantity: sensor.Current, Value: int64(tc.want.Current)},
				{Quantity: sensor.Power, Value: int64(tc.want.Power)},
			}
			if len(got) != len(want) {
				t.Fatalf("Read appended %d readings, want 4: %v", len(got)-1, got)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("reading %d = %+v (%s), want %+v", i, got[i], got[i], want[i])
				}
			}
			if got := s.take(); len(got) != 0 {
				t.Errorf("Read slept %v with CNVR set", got)
			}
		})
	}
}

func TestReadImplausible(t *testing.T) {
	cases := []struct {
		name     string
		opts     Opts
		cal, cfg uint16
		ops      []i2ctest.IO
		want     string
	}{
		{
			// OVF: nothing else is read.
			name: "math overflow", opts: exact50uA, cal: 0x2000, cfg: 0x399F,
			ops:  readOps(0x5D9B, 0, 0, 0)[:1],
			want: "ina219: math overflow at 0x40: the current exceeds 1.638A: sensor: implausible value",
		},
		{
			name: "shunt at +320 mV", opts: DefaultOpts, cal: 4194, cfg: 0x399F,
			ops:  readOps(0x5D9A, 0x7D00, 0x7FFF, 0xFFFF),
			want: "ina219: shunt voltage 320mV at 0x40 is at the ±320mV full scale: sensor: implausible value",
		},
		{
			name: "shunt at -320 mV", opts: DefaultOpts, cal: 4194, cfg: 0x399F,
			ops:  readOps(0x5D9A, 0x8300, 0x8000, 0xFFFF),
			want: "ina219: shunt voltage -320mV at 0x40 is at the ±320mV full scale: sensor: implausible value",
		},
		{
			name: "shunt beyond +40 mV", opts: pga40, cal: 33554, cfg: 0x019F,
			ops:  readOps(0x5D9A, 0x0FA0, 0x7FFF, 0x1766),
			want: "ina219: shunt voltage 40mV at 0x40 is at the ±40mV full scale: sensor: implausible value",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stubSleep(t)
			bus := &i2ctest.Playback{DontPanic: true, Ops: join(newOps(tc.cal, tc.cfg), tc.ops)}
			defer closeBus(t, bus)
			d, err := New(bus, &tc.opts)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			dst := make([]sensor.Reading, 1, 8)
			got, err := d.Read(dst)
			if !errors.Is(err, sensor.ErrImplausible) {
				t.Fatalf("Read: err %v, want ErrImplausible", err)
			}
			if err.Error() != tc.want {
				t.Errorf("err %q, want %q", err, tc.want)
			}
			if len(got) != 1 {
				t.Errorf("Read appended %d readings on error", len(got)-1)
			}
		})
	}
}

func TestReadWaitsForConversion(t *testing.T) {
	s := stubSleep(t)
	bus := &i2ctest.Playback{DontPanic: true, Ops: join(
		newOps(0x2000, 0x399F),
		// The datasheet's 5D98h: no CNVR yet. One more conversion time,
		// still none: not ready, nothing else read.
		readOps(0x5D98, 0, 0, 0)[:1],
		readOps(0x5D98, 0, 0, 0)[:1],
		// The next read waits again, and the conversion has completed.
		readOps(0x5D98, 0, 0, 0)[:1],
		readOps(0x5D9A, 0x03E8, 0x07D0, 0x04AE),
		// From then on CNVR is not required: continuous mode keeps the
		// registers current.
		readOps(0x5D98, 0x03E8, 0x07D0, 0x04AE),
	)}
	defer closeBus(t, bus)
	d, err := New(bus, &exact50uA)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if got, want := s.take(), []time.Duration{conv1}; !equalDurations(got, want) {
		t.Errorf("New slept %v, want %v", got, want)
	}
	_, err = d.Sense()
	if !errors.Is(err, sensor.ErrNotReady) || err.Error() != "ina219: no conversion completed at 0x40: sensor: conversion not ready" {
		t.Fatalf("Sense: err %v, want ErrNotReady", err)
	}
	if got, want := s.take(), []time.Duration{conv1}; !equalDurations(got, want) {
		t.Errorf("Sense slept %v, want %v", got, want)
	}
	want := PowerMonitor{Shunt: 10 * physic.MilliVolt, Bus: 11980 * physic.MilliVolt, Current: 100 * physic.MilliAmpere, Power: 1198 * physic.MilliWatt}
	for i, sleep := range [][]time.Duration{{conv1}, nil} {
		got, err := d.Sense()
		if err != nil || got != want {
			t.Fatalf("Sense %d = %v, %v; want %v", i, got, err, want)
		}
		if s := s.take(); !equalDurations(s, sleep) {
			t.Errorf("Sense %d slept %v, want %v", i, s, sleep)
		}
	}
}

func TestReadCalibrationLost(t *testing.T) {
	t.Run("chip reset", func(t *testing.T) {
		s := stubSleep(t)
		bus := &i2ctest.Playback{DontPanic: true, Ops: join(
			newOps(0x2000, 0x399F),
			// 10 mV across the shunt but no current: the calibration
			// register reads its power-on 0, so the driver writes
			// calibration and configuration again.
			readOps(0x5D9A, 0x03E8, 0x0000, 0x0000),
			[]i2ctest.IO{{Addr: 0x40, W: []byte{0x05}, R: []byte{0x00, 0x00}}},
			newOps(0x2000, 0x399F),
			// And waits for a conversion with the calibration.
			readOps(0x5D98, 0, 0, 0)[:1],
			readOps(0x5D9A, 0x03E8, 0x07D0, 0x04AE),
		)}
		defer closeBus(t, bus)
		d, err := New(bus, &exact50uA)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		s.take()
		_, err = d.Read(nil)
		if !errors.Is(err, sensor.ErrNotReady) {
			t.Fatalf("Read: err %v, want ErrNotReady", err)
		}
		if want := "ina219: calibration at 0x40 read 0x0000 instead of 0x2000, the chip was reset; configured again: sensor: conversion not ready"; err.Error() != want {
			t.Errorf("err %q, want %q", err, want)
		}
		got, err := d.Read(nil)
		if err != nil || len(got) != 4 || got[2].Value != int64(100*physic.MilliAmpere) {
			t.Fatalf("Read after reconfiguring = %v, %v; want 100 mA", got, err)
		}
		if got, want := s.take(), []time.Duration{conv1}; !equalDurations(got, want) {
			t.Errorf("slept %v, want %v", got, want)
		}
	})
	t.Run("calibration intact", func(t *testing.T) {
		stubSleep(t)
		// 10 µV predicts 1 × 8192 / 4096 = 2 LSB but the current register
		// reads 0 (its samples straddled the change); the calibration is
		// intact, so the reading stands.
		bus := &i2ctest.Playback{DontPanic: true, Ops: join(
			newOps(0x2000, 0x399F),
			readOps(0x5D9A, 0x0001, 0x0000, 0x0000),
			[]i2ctest.IO{{Addr: 0x40, W: []byte{0x05}, R: []byte{0x20, 0x00}}},
		)}
		defer closeBus(t, bus)
		d, err := New(bus, &exact50uA)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		got, err := d.Sense()
		if want := (PowerMonitor{Shunt: 10 * physic.MicroVolt, Bus: 11980 * physic.MilliVolt}); err != nil || got != want {
			t.Errorf("Sense = %v, %v; want %v", got, err, want)
		}
	})
	t.Run("nothing flows", func(t *testing.T) {
		stubSleep(t)
		// No shunt voltage and no current: nothing to check, no extra read.
		bus := &i2ctest.Playback{DontPanic: true, Ops: join(
			newOps(4194, 0x399F),
			readOps(0x0002, 0x0000, 0x0000, 0x0000),
		)}
		defer closeBus(t, bus)
		d, err := New(bus, nil)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if _, err := d.Sense(); err != nil {
			t.Errorf("Sense: %v", err)
		}
	})
}

func TestReadBusError(t *testing.T) {
	base := join(newOps(0x2000, 0x399F), readOps(0x5D9A, 0x03E8, 0x0000, 0x0000))
	for _, tc := range []struct {
		name   string
		failAt int
		want   string
	}{
		{"bus voltage", 2, "ina219: read bus voltage at 0x40: remote I/O error"},
		{"shunt voltage", 3, "ina219: read shunt voltage at 0x40: remote I/O error"},
		{"current", 4, "ina219: read current at 0x40: remote I/O error"},
		{"power", 5, "ina219: read power at 0x40: remote I/O error"},
		{"calibration check", 6, "ina219: read calibration at 0x40: remote I/O error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stubSleep(t)
			bus := &faultBus{failAt: tc.failAt, err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: base[:tc.failAt]}}
			defer closeBus(t, &bus.Playback)
			d, err := New(bus, &exact50uA)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			got, err := d.Read(make([]sensor.Reading, 0, 4))
			if !errors.Is(err, errNACK) {
				t.Fatalf("Read: err %v, want it to wrap the bus error", err)
			}
			if err.Error() != tc.want {
				t.Errorf("err %q, want %q", err, tc.want)
			}
			if len(got) != 0 {
				t.Errorf("Read appended %v on error", got)
			}
		})
	}
}

func TestHalt(t *testing.T) {
	s := stubSleep(t)
	bus := &i2ctest.Playback{DontPanic: true, Ops: join(
		newOps(0x2000, 0x399F),
		// Halt: MODE = 000, everything else kept.
		[]i2ctest.IO{{Addr: 0x40, W: []byte{0x00, 0x39, 0x98}}},
		// Sense after Halt restores continuous mode, waits a conversion
		// and checks CNVR again.
		[]i2ctest.IO{{Addr: 0x40, W: []byte{0x00, 0x39, 0x9F}}},
		readOps(0x5D9A, 0x03E8, 0x07D0, 0x04AE),
		[]i2ctest.IO{{Addr: 0x40, W: []byte{0x00, 0x39, 0x98}}},
	)}
	defer closeBus(t, bus)
	d, err := New(bus, &exact50uA)
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
	got, err := d.Sense()
	if err != nil || got.Current != 100*physic.MilliAmpere {
		t.Fatalf("Sense after Halt = %v, %v; want 100 mA", got, err)
	}
	if got, want := s.take(), []time.Duration{conv1}; !equalDurations(got, want) {
		t.Errorf("wake-up slept %v, want %v", got, want)
	}
	if err := d.Halt(); err != nil {
		t.Fatalf("Halt: %v", err)
	}
}

func TestHaltBusError(t *testing.T) {
	stubSleep(t)
	bus := &faultBus{failAt: 2, err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: join(
		newOps(4194, 0x399F),
		[]i2ctest.IO{{Addr: 0x40, W: []byte{0x00, 0x39, 0x98}}},
	)}}
	defer closeBus(t, &bus.Playback)
	d, err := New(bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := d.Halt(); !errors.Is(err, errNACK) || err.Error() != "ina219: write config at 0x40: remote I/O error" {
		t.Fatalf("Halt: err %v, want the bus error", err)
	}
	// Not halted: the next Halt tries again.
	if err := d.Halt(); err != nil {
		t.Fatalf("Halt retry: %v", err)
	}
}

func TestWakeBusError(t *testing.T) {
	stubSleep(t)
	bus := &faultBus{failAt: 3, err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: join(
		newOps(4194, 0x399F),
		[]i2ctest.IO{{Addr: 0x40, W: []byte{0x00, 0x39, 0x98}}},
	)}}
	defer closeBus(t, &bus.Playback)
	d, err := New(bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Sense(); !errors.Is(err, errNACK) {
		t.Fatalf("Sense: err %v, want the bus error", err)
	}
}

func TestStrings(t *testing.T) {
	stubSleep(t)
	bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
		{Addr: 0x4A, W: []byte{0x05, 0x10, 0x62}},
		{Addr: 0x4A, W: []byte{0x00, 0x39, 0x9F}},
	}}
	defer closeBus(t, bus)
	opts := DefaultOpts
	opts.Addr = 0x4A
	d, err := New(bus, &opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if got, want := d.String(), "INA219{playback(74)}"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	pm := PowerMonitor{Shunt: -10 * physic.MilliVolt, Bus: 11980 * physic.MilliVolt, Current: -100 * physic.MilliAmpere, Power: -1198 * physic.MilliWatt}
	if got, want := pm.String(), "shunt -10mV, bus 11.980V, current -100mA, power -1.198W"; got != want {
		t.Errorf("PowerMonitor.String() = %q, want %q", got, want)
	}
}
