package ina226

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/sensor"
	"periph.io/x/conn/v3/physic"
)

// These tests run the driver against the register-level model in
// drivers/i2cemu, which was checked against the datasheet on its own.

// emulated returns a Dev on an emulated bus with an INA226 model at 0x40
// whose conversions complete at once.
func emulated(t *testing.T, opts *Opts) (*Dev, *i2cemu.Bus, *i2cemu.INA226) {
	t.Helper()
	stubSleep(t)
	bus := &i2cemu.Bus{}
	m := i2cemu.NewINA226()
	m.SetConversionTime(0)
	if err := bus.Attach(0x40, m); err != nil {
		t.Fatal(err)
	}
	d, err := New(bus, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d, bus, m
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func TestEmulatedRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		opts Opts
		// Largest error allowed on the current: half a shunt step plus one
		// current LSB of truncation plus the calibration's truncation,
		// proportional to the current.
		tolerance physic.ElectricCurrent
		ppm       int64
	}{
		// Current_LSB 25 µA = 2.5 µV / 100 mΩ: every step is exact.
		{"default", DefaultOpts, 12500 * physic.NanoAmpere, 0},
		// CAL 3355 for 3355.44: 131 ppm low; Current_LSB 30.5 µA, shunt
		// step 50 µA.
		{"50 mΩ, 1 A", Opts{Addr: 0x40, ShuntResistance: 50 * physic.MilliOhm, MaxCurrent: physic.Ampere}, 25*physic.MicroAmpere + 30518*physic.NanoAmpere, 140},
		{"datasheet 2 mΩ", datasheet, 625*physic.MicroAmpere + physic.MilliAmpere, 0},
		// CAL 2097 for 2097.15: 72 ppm low; Current_LSB 244 µA, shunt
		// step 250 µA.
		{"averaging", Opts{Addr: 0x40, ShuntResistance: 10 * physic.MilliOhm, MaxCurrent: 8 * physic.Ampere, Averages: 64, BusConversionTime: 140 * time.Microsecond, ShuntConversionTime: 8244 * time.Microsecond}, 125*physic.MicroAmpere + 245*physic.MicroAmpere, 80},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, _, m := emulated(t, &tc.opts)
			m.SetShunt(tc.opts.ShuntResistance)
			maxI := int64(tc.opts.MaxCurrent)
			buf := make([]sensor.Reading, 0, 4)
			for _, v := range []physic.ElectricPotential{0, 3300 * physic.MilliVolt, 12 * physic.Volt, 36 * physic.Volt} {
				for step := int64(-20); step <= 20; step++ {
					// 0.97 × MaxCurrent at the ends, through 0.
					i := physic.ElectricCurrent(maxI * 97 / 100 * step / 20)
					m.SetCurrent(i)
					m.SetBusVoltage(v)
					out, err := d.Read(buf[:0])
					if err != nil {
						t.Fatalf("%s, %s: Read: %v", i, v, err)
					}
					gotI := out[2].Value
					if diff := abs(gotI - int64(i)); diff > int64(tc.tolerance)+abs(int64(i))*tc.ppm/1_000_000 {
						t.Errorf("set %s: read %s, off by %dnA", i, physic.ElectricCurrent(gotI), diff)
					}
					if diff := abs(out[1].Value - int64(v)); diff > int64(625*physic.MicroVolt) {
						t.Errorf("set bus %s: read %s", v, physic.ElectricPotential(out[1].Value))
					}
					if want := int64(i) * int64(tc.opts.ShuntResistance) / int64(physic.Ohm); abs(out[0].Value-want) > int64(1250*physic.NanoVolt) {
						t.Errorf("set %s: shunt %s, want %s", i, physic.ElectricPotential(out[0].Value), physic.ElectricPotential(want))
					}
					// The power register is trunc(current × bus / 20000)
					// power LSBs: within one LSB below V × I, with the sign
					// of I. µA × µV / 1000 is nW, and does not overflow;
					// slack covers what the µ-units drop.
					vi := (gotI / 1000) * (out[1].Value / 1000) / 1000
					lsb, slack := 25*maxI/32768, int64(50*physic.MicroWatt)
					if p := out[3].Value; abs(p) > abs(vi)+slack || abs(vi)-abs(p) > lsb+slack || (p != 0 && (p < 0) != (gotI < 0)) {
						t.Errorf("set %s at %s: power %s, want just under %s", i, v, physic.Power(p), physic.Power(vi))
					}
				}
			}
		})
	}
}

func TestEmulatedExact(t *testing.T) {
	d, _, m := emulated(t, nil)
	m.SetCurrent(500 * physic.MilliAmpere)
	m.SetBusVoltage(12 * physic.Volt)
	want := PowerMonitor{Shunt: 50 * physic.MilliVolt, Bus: 12 * physic.Volt, Current: 500 * physic.MilliAmpere, Power: 6 * physic.Watt}
	if got, err := d.Sense(); err != nil || got != want {
		t.Errorf("Sense = %v, %v; want %v", got, err, want)
	}
	m.SetCurrent(-250 * physic.MilliAmpere)
	want = PowerMonitor{Shunt: -25 * physic.MilliVolt, Bus: 12 * physic.Volt, Current: -250 * physic.MilliAmpere, Power: -3 * physic.Watt}
	if got, err := d.Sense(); err != nil || got != want {
		t.Errorf("Sense = %v, %v; want %v", got, err, want)
	}
}

func TestEmulatedProbe(t *testing.T) {
	var bus i2cemu.Bus
	good := i2cemu.NewINA226()
	other := i2cemu.NewINA226()
	other.SetIDs(0x5449, 0x2270) // an INA260
	if err := bus.Attach(0x40, good); err != nil {
		t.Fatal(err)
	}
	if err := bus.Attach(0x41, other); err != nil {
		t.Fatal(err)
	}
	if err := Probe(&bus, 0x40); err != nil {
		t.Errorf("Probe(0x40): %v", err)
	}
	if err := Probe(&bus, 0x41); !errors.Is(err, sensor.ErrChipID) {
		t.Errorf("Probe(0x41): err %v, want ErrChipID", err)
	}
	if err := Probe(&bus, 0x42); !errors.Is(err, i2cemu.ErrNACK) {
		t.Errorf("Probe(0x42): err %v, want ErrNACK", err)
	}
}

func TestEmulatedFaults(t *testing.T) {
	t.Run("NACK", func(t *testing.T) {
		d, bus, m := emulated(t, nil)
		m.SetCurrent(100 * physic.MilliAmpere)
		bus.SetFault(0x40, i2cemu.ErrNACK)
		for range 3 {
			if _, err := d.Read(nil); !errors.Is(err, i2cemu.ErrNACK) {
				t.Fatalf("Read with the device gone: err %v, want ErrNACK", err)
			}
		}
		if err := d.Halt(); !errors.Is(err, i2cemu.ErrNACK) {
			t.Errorf("Halt with the device gone: err %v, want ErrNACK", err)
		}
		bus.SetFault(0x40, nil)
		if out, err := d.Read(nil); err != nil || len(out) != 4 {
			t.Errorf("Read after recovery = %v, %v", out, err)
		}
	})
	t.Run("wrong chip", func(t *testing.T) {
		stubSleep(t)
		var bus i2cemu.Bus
		m := i2cemu.NewINA226()
		m.SetIDs(0x5449, 0x2270)
		if err := bus.Attach(0x40, m); err != nil {
			t.Fatal(err)
		}
		if _, err := New(&bus, nil); !errors.Is(err, sensor.ErrChipID) {
			t.Fatalf("New: err %v, want ErrChipID", err)
		}
		// Nothing was written: the calibration is still the power-on 0.
		r := make([]byte, 2)
		if err := bus.Tx(0x40, []byte{0x05}, r); err != nil || r[0] != 0 || r[1] != 0 {
			t.Errorf("calibration after a refused New = % x, %v; want 00 00", r, err)
		}
	})
	t.Run("overflow", func(t *testing.T) {
		// 409.6 mA × 100 mΩ = 40.96 mV: CAL 4096, so 500 mA (20000 × 2)
		// overflows the current register while the shunt is in range.
		d, _, m := emulated(t, &Opts{Addr: 0x40, ShuntResistance: 100 * physic.MilliOhm, MaxCurrent: 409600 * physic.MicroAmpere})
		for _, i := range []physic.ElectricCurrent{500 * physic.MilliAmpere, -500 * physic.MilliAmpere} {
			m.SetCurrent(i)
			if _, err := d.Read(nil); !errors.Is(err, sensor.ErrImplausible) {
				t.Errorf("Read at %s: err %v, want ErrImplausible", i, err)
			}
		}
		m.SetCurrent(400 * physic.MilliAmpere)
		if _, err := d.Read(nil); err != nil {
			t.Errorf("Read back in range: %v", err)
		}
	})
	t.Run("clipped shunt", func(t *testing.T) {
		// The default MaxCurrent is the whole ±81.92 mV range: beyond it
		// the shunt ADC clips and the current register still fits.
		d, _, m := emulated(t, nil)
		for _, i := range []physic.ElectricCurrent{physic.Ampere, -physic.Ampere} {
			m.SetCurrent(i)
			if _, err := d.Read(nil); !errors.Is(err, sensor.ErrImplausible) {
				t.Errorf("Read at %s: err %v, want ErrImplausible", i, err)
			}
		}
	})
	t.Run("bus beyond range", func(t *testing.T) {
		d, _, m := emulated(t, nil)
		m.SetBusVoltage(48 * physic.Volt)
		if _, err := d.Read(nil); !errors.Is(err, sensor.ErrImplausible) {
			t.Errorf("Read at 48 V: err %v, want ErrImplausible", err)
		}
	})
	t.Run("stuck from the start", func(t *testing.T) {
		stubSleep(t)
		bus := &i2cemu.Bus{}
		m := i2cemu.NewINA226()
		m.SetConversionTime(0)
		m.SetStuck(true)
		if err := bus.Attach(0x40, m); err != nil {
			t.Fatal(err)
		}
		d, err := New(bus, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Read(nil); !errors.Is(err, sensor.ErrNotReady) {
			t.Errorf("Read with no conversion: err %v, want ErrNotReady", err)
		}
		m.SetStuck(false)
		if _, err := d.Read(nil); err != nil {
			t.Errorf("Read once converting: %v", err)
		}
	})
	t.Run("stuck later", func(t *testing.T) {
		d, _, m := emulated(t, nil)
		m.SetCurrent(100 * physic.MilliAmpere)
		if _, err := d.Read(nil); err != nil {
			t.Fatal(err)
		}
		m.SetStuck(true)
		m.SetCurrent(200 * physic.MilliAmpere)
		// Frozen registers read as the same measurement: the guard's
		// StuckAfter policy is what catches them.
		for range 3 {
			out, err := d.Read(nil)
			if err != nil || out[2].Value != int64(100*physic.MilliAmpere) {
				t.Fatalf("stuck read = %v, %v; want the frozen 100 mA", out, err)
			}
		}
	})
	t.Run("chip reset", func(t *testing.T) {
		d, bus, m := emulated(t, nil)
		m.SetCurrent(100 * physic.MilliAmpere)
		if err := bus.Tx(0x40, []byte{0x00, 0x80, 0x00}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Read(nil); !errors.Is(err, sensor.ErrNotReady) {
			t.Fatalf("Read after a reset: err %v, want ErrNotReady", err)
		}
		out, err := d.Read(nil)
		if err != nil || out[2].Value != int64(100*physic.MilliAmpere) {
			t.Errorf("Read after reconfiguring = %v, %v; want 100 mA", out, err)
		}
	})
}

func TestEmulatedHalt(t *testing.T) {
	d, bus, m := emulated(t, nil)
	m.SetCurrent(100 * physic.MilliAmpere)
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	r := make([]byte, 2)
	if err := bus.Tx(0x40, []byte{0x00}, r); err != nil || r[1]&7 != 0 {
		t.Errorf("config after Halt = % x, %v; want MODE 000", r, err)
	}
	// Powered down: no conversion, the registers keep the last result.
	m.SetCurrent(300 * physic.MilliAmpere)
	if err := bus.Tx(0x40, []byte{0x04}, r); err != nil || r[0] != 0x0F || r[1] != 0xA0 {
		t.Errorf("current register in power-down = % x, %v; want the last 100 mA, 0f a0", r, err)
	}
	out, err := d.Read(nil)
	if err != nil || out[2].Value != int64(300*physic.MilliAmpere) {
		t.Errorf("Read after Halt = %v, %v; want 300 mA", out, err)
	}
}

// The model's own clock and the driver's real sleeps: the driver must wait
// long enough before trusting the first conversion.
func TestEmulatedTiming(t *testing.T) {
	for _, avg := range []int{1, 4} {
		bus := &i2cemu.Bus{}
		m := i2cemu.NewINA226()
		m.SetCurrent(100 * physic.MilliAmpere)
		m.SetBusVoltage(12 * physic.Volt)
		if err := bus.Attach(0x40, m); err != nil {
			t.Fatal(err)
		}
		opts := DefaultOpts
		opts.Averages = avg
		d, err := New(bus, &opts)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		pm, err := d.Sense()
		if want := (PowerMonitor{Shunt: 10 * physic.MilliVolt, Bus: 12 * physic.Volt, Current: 100 * physic.MilliAmpere, Power: 1200 * physic.MilliWatt}); err != nil || pm != want {
			t.Errorf("%d averages: first Sense = %v, %v; want %v", avg, pm, err, want)
		}
	}
	// A chip slower than the datasheet: after two conversion times, not
	// ready; later it is.
	bus := &i2cemu.Bus{}
	m := i2cemu.NewINA226()
	m.SetConversionTime(20 * time.Millisecond)
	if err := bus.Attach(0x40, m); err != nil {
		t.Fatal(err)
	}
	d, err := New(bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := d.Sense(); !errors.Is(err, sensor.ErrNotReady) {
		t.Errorf("Sense before the conversion: err %v, want ErrNotReady", err)
	}
	time.Sleep(20 * time.Millisecond)
	if _, err := d.Sense(); err != nil {
		t.Errorf("Sense after the conversion: %v", err)
	}
}

func TestEmulatedConcurrent(t *testing.T) {
	d, _, m := emulated(t, nil)
	lo, hi := 100*physic.MilliAmpere, -700*physic.MilliAmpere
	m.SetCurrent(lo)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 300 {
			if i%2 == 0 {
				m.SetCurrent(hi)
			} else {
				m.SetCurrent(lo)
			}
		}
	})
	for range 3 {
		wg.Go(func() {
			buf := make([]sensor.Reading, 0, 4)
			for range 100 {
				out, err := d.Read(buf[:0])
				if err != nil {
					t.Error(err)
					return
				}
				if c := physic.ElectricCurrent(out[2].Value); c != lo && c != hi {
					t.Errorf("read %s, want %s or %s", c, lo, hi)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := d.Halt(); err != nil {
		t.Error(err)
	}
}
