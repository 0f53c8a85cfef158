package ina226

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

// datasheet: the SBOS547B §6.5.1 example's 2 mΩ shunt and 1 mA
// Current_LSB (MaxCurrent = 2^15 mA, CAL = 2560 = 0A00h).
var datasheet = Opts{Addr: 0x40, ShuntResistance: 2 * physic.MilliOhm, MaxCurrent: 32768 * physic.MilliAmpere}

// idOps are the reads of the identification registers of a genuine
// INA226 at 0x40.
func idOps(mfr, die uint16) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: 0x40, W: []byte{0xFE}, R: []byte{byte(mfr >> 8), byte(mfr)}},
		{Addr: 0x40, W: []byte{0xFF}, R: []byte{byte(die >> 8), byte(die)}},
	}
}

// newOps are the transactions New makes at 0x40 on an INA226: the IDs,
// then calibration and config writes.
func newOps(cal, cfg uint16) []i2ctest.IO {
	return append(idOps(0x5449, 0x2260),
		i2ctest.IO{Addr: 0x40, W: []byte{0x05, byte(cal >> 8), byte(cal)}},
		i2ctest.IO{Addr: 0x40, W: []byte{0x00, byte(cfg >> 8), byte(cfg)}},
	)
}

// readOps are the reads of one measurement: mask/enable (the flags),
// shunt, bus, current, power.
func readOps(mask, shunt, bus, current, power uint16) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: 0x40, W: []byte{0x06}, R: []byte{byte(mask >> 8), byte(mask)}},
		{Addr: 0x40, W: []byte{0x01}, R: []byte{byte(shunt >> 8), byte(shunt)}},
		{Addr: 0x40, W: []byte{0x02}, R: []byte{byte(bus >> 8), byte(bus)}},
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

const conv1 = 2200 * time.Microsecond // one average of 1.1 ms + 1.1 ms

func TestNewWritesCalibrationAndConfig(t *testing.T) {
	r := 100 * physic.MilliOhm
	cases := []struct {
		name  string
		opts  *Opts
		cal   uint16
		cfg   uint16
		sleep time.Duration
	}{
		// 0.00512 / (25 µA × 0.1 Ω) = 2048; the power-on configuration.
		{"nil opts", nil, 0x0800, 0x4127, conv1},
		{"default", &DefaultOpts, 0x0800, 0x4127, conv1},
		{"zero fields are the defaults", &Opts{Addr: 0x40, ShuntResistance: r}, 0x0800, 0x4127, conv1},
		{"datasheet 1 mA LSB", &datasheet, 0x0A00, 0x4127, conv1},
		// 3355.44 truncated.
		{"500 mA", &Opts{Addr: 0x40, ShuntResistance: r, MaxCurrent: 500 * physic.MilliAmpere}, 3355, 0x4127, conv1},
		{"4 averages of 588 µs", &Opts{Addr: 0x40, ShuntResistance: r, Averages: 4, BusConversionTime: 588 * time.Microsecond, ShuntConversionTime: 588 * time.Microsecond}, 0x0800, 0x42DF, 4704 * time.Microsecond},
		{"16 averages, slow bus, fast shunt", &Opts{Addr: 0x40, ShuntResistance: r, Averages: 16, BusConversionTime: 8244 * time.Microsecond, ShuntConversionTime: 140 * time.Microsecond}, 0x0800, 0x45C7, 134144 * time.Microsecond},
		{"the slowest", &Opts{Addr: 0x40, ShuntResistance: r, Averages: 1024, BusConversionTime: 8244 * time.Microsecond, ShuntConversionTime: 8244 * time.Microsecond}, 0x0800, 0x4FFF, 16883712 * time.Microsecond},
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
	for _, addr := range []uint16{0x40, 0x44, 0x4F} {
		bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
			{Addr: addr, W: []byte{0xFE}, R: []byte{0x54, 0x49}},
			{Addr: addr, W: []byte{0xFF}, R: []byte{0x22, 0x60}},
			{Addr: addr, W: []byte{0x05, 0x08, 0x00}},
			{Addr: addr, W: []byte{0x00, 0x41, 0x27}},
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
		{"beyond 81.92 mV", Opts{Addr: 0x40, ShuntResistance: r, MaxCurrent: 820 * physic.MilliAmpere}, "±81.92mV shunt range"},
		{"calibration overflow", Opts{Addr: 0x40, ShuntResistance: r, MaxCurrent: 50 * physic.MilliAmpere}, "exceeds 15 bits"},
		{"above 1 kA", Opts{Addr: 0x40, ShuntResistance: 10 * physic.NanoOhm, MaxCurrent: 1001 * physic.Ampere}, "at most 1kA"},
		{"full range above 1 kA", Opts{Addr: 0x40, ShuntResistance: physic.NanoOhm}, "too small"},
		{"2 averages", Opts{Addr: 0x40, ShuntResistance: r, Averages: 2}, "averages 2: want one of [1 4 16 64 128 256 512 1024]"},
		{"negative averages", Opts{Addr: 0x40, ShuntResistance: r, Averages: -4}, "averages -4"},
		{"bus 1 ms", Opts{Addr: 0x40, ShuntResistance: r, BusConversionTime: time.Millisecond}, "bus conversion time 1ms: want one of [140µs"},
		{"shunt 1 µs", Opts{Addr: 0x40, ShuntResistance: r, ShuntConversionTime: time.Microsecond}, "shunt conversion time 1µs"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			bus := &i2ctest.Playback{DontPanic: true} // no transaction at all
			defer closeBus(t, bus)
			_, err := New(bus, &tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "ina226: ") {
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

func TestNewWrongChip(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mfr, die uint16
		want     string
	}{
		{"no manufacturer ID", 0x0000, 0x2260, "ina226: not an INA226 at 0x40: manufacturer ID 0x0000, die ID 0x2260: sensor: unexpected chip ID"},
		{"INA260", 0x5449, 0x2270, "ina226: not an INA226 at 0x40: manufacturer ID 0x5449, die ID 0x2270: sensor: unexpected chip ID"},
		{"INA228", 0x5449, 0x2281, "die ID 0x2281"},
		{"floating bus", 0xFFFF, 0xFFFF, "manufacturer ID 0xffff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			// Only the ID reads: nothing may be written to a foreign chip.
			bus := &i2ctest.Playback{DontPanic: true, Ops: idOps(tc.mfr, tc.die)}
			defer closeBus(t, bus)
			_, err := New(bus, nil)
			if !errors.Is(err, sensor.ErrChipID) {
				t.Fatalf("New: err %v, want ErrChipID", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %q, want it to contain %q", err, tc.want)
			}
			if len(s.take()) != 0 {
				t.Error("New slept after rejecting the device")
			}
		})
	}
	t.Run("die revision 1", func(t *testing.T) {
		stubSleep(t)
		bus := &i2ctest.Playback{DontPanic: true, Ops: join(idOps(0x5449, 0x2261), newOps(0x0800, 0x4127)[2:])}
		defer closeBus(t, bus)
		if _, err := New(bus, nil); err != nil {
			t.Errorf("New: %v", err)
		}
	})
}

func TestNewBusError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		failAt int
		want   string
	}{
		{"manufacturer ID", 0, "ina226: read manufacturer ID at 0x40: remote I/O error"},
		{"die ID", 1, "ina226: read die ID at 0x40: remote I/O error"},
		{"calibration", 2, "ina226: write calibration at 0x40: remote I/O error"},
		{"config", 3, "ina226: write config at 0x40: remote I/O error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			bus := &faultBus{failAt: tc.failAt, err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: newOps(0x0800, 0x4127)[:tc.failAt]}}
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

func TestProbe(t *testing.T) {
	for _, tc := range []struct {
		name   string
		addr   uint16
		ops    []i2ctest.IO
		failAt int
		chipID bool
		nack   bool
	}{
		{"INA226", 0x40, idOps(0x5449, 0x2260), -1, false, false},
		{"INA226 revision 3", 0x40, idOps(0x5449, 0x2263), -1, false, false},
		{"INA260", 0x40, idOps(0x5449, 0x2270), -1, true, false},
		{"other vendor", 0x40, idOps(0x4D43, 0x2260), -1, true, false},
		{"outside 0x40-0x4f", 0x48 + 0x10, nil, -1, true, false},
		{"no device", 0x40, nil, 0, false, true},
		{"NACK on the die ID", 0x40, idOps(0x5449, 0x2260)[:1], 1, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bus := &faultBus{failAt: tc.failAt, err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: tc.ops}}
			defer closeBus(t, &bus.Playback)
			err := Probe(bus, tc.addr)
			if errors.Is(err, sensor.ErrChipID) != tc.chipID || errors.Is(err, errNACK) != tc.nack || (err == nil) != (!tc.chipID && !tc.nack) {
				t.Errorf("Probe: err %v; want chip ID error %v, bus error %v", err, tc.chipID, tc.nack)
			}
		})
	}
}

func TestRead(t *testing.T) {
	lsb30 := Opts{Addr: 0x40, ShuntResistance: 50 * physic.MilliOhm, MaxCurrent: physic.Ampere}
	cases := []struct {
		name                             string
		opts                             Opts
		cal                              uint16
		mask, shunt, bus, current, power uint16
		want                             PowerMonitor
	}{
		{
			// SBOS547B §6.5.1, Configure/Measure/Calculate example: 10 A
			// through 2 mΩ, bus 11.98 V.
			name: "datasheet 10 A", opts: datasheet, cal: 0x0A00,
			mask: 0x0008, shunt: 0x1F40, bus: 0x2570, current: 0x2710, power: 0x12B8,
			want: PowerMonitor{Shunt: 20 * physic.MilliVolt, Bus: 11980 * physic.MilliVolt, Current: 10 * physic.Ampere, Power: 119800 * physic.MilliWatt},
		},
		{
			// 10 mV across 100 mΩ is 100 mA; 9600 × 1.25 mV = 12.000 V.
			name: "100 mA", opts: DefaultOpts, cal: 0x0800,
			mask: 0x0008, shunt: 0x0FA0, bus: 0x2580, current: 0x0FA0, power: 0x0780,
			want: PowerMonitor{Shunt: 10 * physic.MilliVolt, Bus: 12 * physic.Volt, Current: 100 * physic.MilliAmpere, Power: 1200 * physic.MilliWatt},
		},
		{
			name: "reverse 100 mA, alert bits set", opts: DefaultOpts, cal: 0x0800,
			mask: 0x8009, shunt: 0xF060, bus: 0x2580, current: 0xF060, power: 0x0780,
			want: PowerMonitor{Shunt: -10 * physic.MilliVolt, Bus: 12 * physic.Volt, Current: -100 * physic.MilliAmpere, Power: -1200 * physic.MilliWatt},
		},
		{
			name: "zero", opts: DefaultOpts, cal: 0x0800,
			mask: 0x0008,
			want: PowerMonitor{},
		},
		{
			// One LSB inside full scale, at the 36 V the VBUS pin takes:
			// Current_LSB 25 µA, Power_LSB 625 µW.
			name: "near full scale", opts: DefaultOpts, cal: 0x0800,
			mask: 0x0008, shunt: 0x7FFE, bus: 0x7080, current: 0x7FFE, power: 0xB84F,
			want: PowerMonitor{Shunt: 81915 * physic.MicroVolt, Bus: 36 * physic.Volt, Current: 819150 * physic.MicroAmpere, Power: 29489375 * physic.MicroWatt},
		},
		{
			name: "near negative full scale, top of the bus register", opts: DefaultOpts, cal: 0x0800,
			mask: 0x0008, shunt: 0x8001, bus: 0x7FFE, current: 0x8001, power: 0xFFFF,
			want: PowerMonitor{Shunt: -81917500 * physic.NanoVolt, Bus: 40957500 * physic.MicroVolt, Current: -819175 * physic.MicroAmpere, Power: -40959375 * physic.MicroWatt},
		},
		{
			// Current_LSB 1 A / 2^15 = 30517.578125 nA.
			name: "one LSB", opts: lsb30, cal: 3355,
			mask: 0x0008, shunt: 0x0001, bus: 0x0001, current: 0x0001, power: 0x0001,
			want: PowerMonitor{Shunt: 2500 * physic.NanoVolt, Bus: 1250 * physic.MicroVolt, Current: 30518, Power: 762939},
		},
		{
			name: "three LSB reverse", opts: lsb30, cal: 3355,
			mask: 0x0008, shunt: 0xFFFD, bus: 0x0001, current: 0xFFFD, power: 0x0003,
			want: PowerMonitor{Shunt: -7500 * physic.NanoVolt, Bus: 1250 * physic.MicroVolt, Current: -91553, Power: -2288818},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			bus := &i2ctest.Playback{DontPanic: true, Ops: join(newOps(tc.cal, 0x4127), readOps(tc.mask, tc.shunt, tc.bus, tc.current, tc.power))}
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
				t.Errorf("Read slept %v with CVRF set", got)
			}
		})
	}
}

func TestReadImplausible(t *testing.T) {
	cases := []struct {
		name string
		ops  []i2ctest.IO
		want string
	}{
		{
			// OVF: nothing else is read.
			name: "math overflow",
			ops:  readOps(0x000C, 0, 0, 0, 0)[:1],
			want: "ina226: math overflow at 0x40: the current exceeds 819.200mA: sensor: implausible value",
		},
		{
			name: "shunt at +81.92 mV",
			ops:  readOps(0x0008, 0x7FFF, 0x2580, 0x7FFF, 0xEFFF),
			want: "ina226: shunt voltage register 0x7fff at 0x40 is at the ±81.92mV full scale: sensor: implausible value",
		},
		{
			name: "shunt at -81.92 mV",
			ops:  readOps(0x0008, 0x8000, 0x2580, 0x8000, 0xEFFF),
			want: "ina226: shunt voltage register 0x8000 at 0x40 is at the ±81.92mV full scale: sensor: implausible value",
		},
		{
			name: "bus at 40.96 V",
			ops:  readOps(0x0008, 0x0FA0, 0x7FFF, 0x0FA0, 0x0780),
			want: "ina226: bus voltage register 0x7fff at 0x40 is at or beyond the 40.96V full scale: sensor: implausible value",
		},
		{
			name: "bus bit 15",
			ops:  readOps(0x0008, 0x0FA0, 0x8000, 0x0FA0, 0x0780),
			want: "ina226: bus voltage register 0x8000 at 0x40 is at or beyond the 40.96V full scale: sensor: implausible value",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stubSleep(t)
			bus := &i2ctest.Playback{DontPanic: true, Ops: join(newOps(0x0800, 0x4127), tc.ops)}
			defer closeBus(t, bus)
			d, err := New(bus, nil)
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
		newOps(0x0800, 0x4127),
		// No CVRF yet; one more conversion time, still none: not ready,
		// nothing else read.
		readOps(0x0000, 0, 0, 0, 0)[:1],
		readOps(0x0000, 0, 0, 0, 0)[:1],
		// The next read waits again, and the conversion has completed.
		readOps(0x0000, 0, 0, 0, 0)[:1],
		readOps(0x0008, 0x0FA0, 0x2580, 0x0FA0, 0x0780),
		// From then on CVRF is not required: continuous mode keeps the
		// registers current.
		readOps(0x0000, 0x0FA0, 0x2580, 0x0FA0, 0x0780),
	)}
	defer closeBus(t, bus)
	d, err := New(bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if got, want := s.take(), []time.Duration{conv1}; !equalDurations(got, want) {
		t.Errorf("New slept %v, want %v", got, want)
	}
	_, err = d.Sense()
	if !errors.Is(err, sensor.ErrNotReady) || err.Error() != "ina226: no conversion completed at 0x40: sensor: conversion not ready" {
		t.Fatalf("Sense: err %v, want ErrNotReady", err)
	}
	if got, want := s.take(), []time.Duration{conv1}; !equalDurations(got, want) {
		t.Errorf("Sense slept %v, want %v", got, want)
	}
	want := PowerMonitor{Shunt: 10 * physic.MilliVolt, Bus: 12 * physic.Volt, Current: 100 * physic.MilliAmpere, Power: 1200 * physic.MilliWatt}
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
			newOps(0x0800, 0x4127),
			// 10 mV across the shunt but no current: the calibration
			// register reads its power-on 0, so the driver writes
			// calibration and configuration again.
			readOps(0x0008, 0x0FA0, 0x2580, 0x0000, 0x0000),
			[]i2ctest.IO{
				{Addr: 0x40, W: []byte{0x05}, R: []byte{0x00, 0x00}},
				{Addr: 0x40, W: []byte{0x05, 0x08, 0x00}},
				{Addr: 0x40, W: []byte{0x00, 0x41, 0x27}},
			},
			// And waits for a conversion with the calibration.
			readOps(0x0000, 0, 0, 0, 0)[:1],
			readOps(0x0008, 0x0FA0, 0x2580, 0x0FA0, 0x0780),
		)}
		defer closeBus(t, bus)
		d, err := New(bus, nil)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		s.take()
		_, err = d.Read(nil)
		if !errors.Is(err, sensor.ErrNotReady) {
			t.Fatalf("Read: err %v, want ErrNotReady", err)
		}
		if want := "ina226: calibration at 0x40 read 0x0000 instead of 0x0800, the chip was reset; configured again: sensor: conversion not ready"; err.Error() != want {
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
		// 2.5 µV predicts 1 × 4096 / 2048 = 2 LSB with CAL 4096, but the
		// current register reads 0; the calibration is intact, so the
		// reading stands.
		bus := &i2ctest.Playback{DontPanic: true, Ops: join(
			newOps(0x1000, 0x4127),
			readOps(0x0008, 0x0001, 0x2580, 0x0000, 0x0000),
			[]i2ctest.IO{{Addr: 0x40, W: []byte{0x05}, R: []byte{0x10, 0x00}}},
		)}
		defer closeBus(t, bus)
		d, err := New(bus, &Opts{Addr: 0x40, ShuntResistance: 100 * physic.MilliOhm, MaxCurrent: 409600 * physic.MicroAmpere})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		got, err := d.Sense()
		if want := (PowerMonitor{Shunt: 2500 * physic.NanoVolt, Bus: 12 * physic.Volt}); err != nil || got != want {
			t.Errorf("Sense = %v, %v; want %v", got, err, want)
		}
	})
	t.Run("nothing flows", func(t *testing.T) {
		stubSleep(t)
		// No shunt voltage and no current: nothing to check, no extra read.
		bus := &i2ctest.Playback{DontPanic: true, Ops: join(
			newOps(0x0800, 0x4127),
			readOps(0x0008, 0x0000, 0x2580, 0x0000, 0x0000),
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
	base := join(newOps(0x0800, 0x4127), readOps(0x0008, 0x0FA0, 0x2580, 0x0000, 0x0000))
	for _, tc := range []struct {
		name   string
		failAt int
		want   string
	}{
		{"mask/enable", 4, "ina226: read mask/enable at 0x40: remote I/O error"},
		{"shunt voltage", 5, "ina226: read shunt voltage at 0x40: remote I/O error"},
		{"bus voltage", 6, "ina226: read bus voltage at 0x40: remote I/O error"},
		{"current", 7, "ina226: read current at 0x40: remote I/O error"},
		{"power", 8, "ina226: read power at 0x40: remote I/O error"},
		{"calibration check", 9, "ina226: read calibration at 0x40: remote I/O error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stubSleep(t)
			bus := &faultBus{failAt: tc.failAt, err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: base[:tc.failAt]}}
			defer closeBus(t, &bus.Playback)
			d, err := New(bus, nil)
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
		newOps(0x0800, 0x4127),
		// Halt: MODE = 000, everything else kept.
		[]i2ctest.IO{{Addr: 0x40, W: []byte{0x00, 0x41, 0x20}}},
		// Sense after Halt restores continuous mode, waits a conversion
		// and checks CVRF again.
		[]i2ctest.IO{{Addr: 0x40, W: []byte{0x00, 0x41, 0x27}}},
		readOps(0x0008, 0x0FA0, 0x2580, 0x0FA0, 0x0780),
		[]i2ctest.IO{{Addr: 0x40, W: []byte{0x00, 0x41, 0x20}}},
	)}
	defer closeBus(t, bus)
	d, err := New(bus, nil)
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
	bus := &faultBus{failAt: 4, err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: join(
		newOps(0x0800, 0x4127),
		[]i2ctest.IO{{Addr: 0x40, W: []byte{0x00, 0x41, 0x20}}},
	)}}
	defer closeBus(t, &bus.Playback)
	d, err := New(bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := d.Halt(); !errors.Is(err, errNACK) || err.Error() != "ina226: write config at 0x40: remote I/O error" {
		t.Fatalf("Halt: err %v, want the bus error", err)
	}
	// Not halted: the next Halt tries again.
	if err := d.Halt(); err != nil {
		t.Fatalf("Halt retry: %v", err)
	}
}

func TestStrings(t *testing.T) {
	stubSleep(t)
	bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
		{Addr: 0x4A, W: []byte{0xFE}, R: []byte{0x54, 0x49}},
		{Addr: 0x4A, W: []byte{0xFF}, R: []byte{0x22, 0x60}},
		{Addr: 0x4A, W: []byte{0x05, 0x08, 0x00}},
		{Addr: 0x4A, W: []byte{0x00, 0x41, 0x27}},
	}}
	defer closeBus(t, bus)
	opts := DefaultOpts
	opts.Addr = 0x4A
	d, err := New(bus, &opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if got, want := d.String(), "INA226{playback(74)}"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	pm := PowerMonitor{Shunt: 20 * physic.MilliVolt, Bus: 11980 * physic.MilliVolt, Current: 10 * physic.Ampere, Power: 119800 * physic.MilliWatt}
	if got, want := pm.String(), "shunt 20mV, bus 11.980V, current 10A, power 119.800W"; got != want {
		t.Errorf("PowerMonitor.String() = %q, want %q", got, want)
	}
}
