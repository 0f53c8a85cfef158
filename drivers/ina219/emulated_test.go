package ina219

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

// emulated returns a Dev on an emulated bus with an INA219 model at 0x40
// whose conversions complete at once.
func emulated(t *testing.T, opts *Opts) (*Dev, *i2cemu.Bus, *i2cemu.INA219) {
	t.Helper()
	stubSleep(t)
	bus := &i2cemu.Bus{}
	m := i2cemu.NewINA219()
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
		// Largest error allowed on the current: half a shunt step (5 µV
		// over the shunt) plus one current LSB of truncation plus the
		// calibration's truncation, proportional to the current.
		tolerance physic.ElectricCurrent
		ppm       int64
	}{
		// Current_LSB 50 µA = 10 µV / 100 mΩ / 2: every step is exact.
		{"exact 50 µA", exact50uA, 50 * physic.MicroAmpere, 0},
		// Cal 4194 for 4194.304: 72 ppm low.
		{"default", DefaultOpts, 50*physic.MicroAmpere + 97657*physic.NanoAmpere, 80},
		{"datasheet 2 mΩ", datasheet, 2500*physic.MicroAmpere + physic.MilliAmpere, 0},
		{"16 averages, 16 V", Opts{Addr: 0x40, ShuntResistance: 100 * physic.MilliOhm, MaxCurrent: 400 * physic.MilliAmpere, Averages: 16, Bus16V: true}, 50*physic.MicroAmpere + 12208*physic.NanoAmpere, 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, _, m := emulated(t, &tc.opts)
			m.SetShunt(tc.opts.ShuntResistance)
			maxI := int64(tc.opts.MaxCurrent)
			buf := make([]sensor.Reading, 0, 4)
			for _, v := range []physic.ElectricPotential{0, 3300 * physic.MilliVolt, 11980 * physic.MilliVolt, 15 * physic.Volt} {
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
					if diff := abs(out[1].Value - int64(v)); diff > int64(2*physic.MilliVolt) {
						t.Errorf("set bus %s: read %s", v, physic.ElectricPotential(out[1].Value))
					}
					if want := int64(i) * int64(tc.opts.ShuntResistance) / int64(physic.Ohm); abs(out[0].Value-want) > int64(5*physic.MicroVolt) {
						t.Errorf("set %s: shunt %s, want %s", i, physic.ElectricPotential(out[0].Value), physic.ElectricPotential(want))
					}
					// The power register is trunc(current × bus / 5000) power
					// LSBs: within one LSB below V × I, with the sign of I.
					// µA × µV / 1000 is nW, and does not overflow; slack
					// covers what the µ-units drop.
					vi := (gotI / 1000) * (out[1].Value / 1000) / 1000
					lsb, slack := 20*maxI/32768, int64(20*physic.MicroWatt)
					if p := out[3].Value; abs(p) > abs(vi)+slack || abs(vi)-abs(p) > lsb+slack || (p != 0 && (p < 0) != (gotI < 0)) {
						t.Errorf("set %s at %s: power %s, want just under %s", i, v, physic.Power(p), physic.Power(vi))
					}
				}
			}
		})
	}
}

func TestEmulatedExact(t *testing.T) {
	d, _, m := emulated(t, &exact50uA)
	m.SetCurrent(1500 * physic.MilliAmpere)
	m.SetBusVoltage(12 * physic.Volt)
	want := PowerMonitor{Shunt: 150 * physic.MilliVolt, Bus: 12 * physic.Volt, Current: 1500 * physic.MilliAmpere, Power: 18 * physic.Watt}
	if got, err := d.Sense(); err != nil || got != want {
		t.Errorf("Sense = %v, %v; want %v", got, err, want)
	}
	m.SetCurrent(-250 * physic.MilliAmpere)
	want = PowerMonitor{Shunt: -25 * physic.MilliVolt, Bus: 12 * physic.Volt, Current: -250 * physic.MilliAmpere, Power: -3 * physic.Watt}
	if got, err := d.Sense(); err != nil || got != want {
		t.Errorf("Sense = %v, %v; want %v", got, err, want)
	}
}

func TestEmulatedFaults(t *testing.T) {
	t.Run("NACK", func(t *testing.T) {
		d, bus, m := emulated(t, nil)
		m.SetCurrent(physic.Ampere)
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
	t.Run("no device", func(t *testing.T) {
		stubSleep(t)
		var bus i2cemu.Bus
		if _, err := New(&bus, nil); !errors.Is(err, i2cemu.ErrNACK) {
			t.Errorf("New on an empty bus: err %v, want ErrNACK", err)
		}
	})
	t.Run("overflow", func(t *testing.T) {
		// 1 A × 100 mΩ selects the ±160 mV range; 1.5 A drops 150 mV, in
		// range, but 15000 × Cal 13421 / 4096 overflows the current.
		d, _, m := emulated(t, &Opts{Addr: 0x40, ShuntResistance: 100 * physic.MilliOhm, MaxCurrent: physic.Ampere})
		m.SetCurrent(1500 * physic.MilliAmpere)
		if _, err := d.Read(nil); !errors.Is(err, sensor.ErrImplausible) {
			t.Errorf("Read beyond MaxCurrent: err %v, want ErrImplausible", err)
		}
		m.SetCurrent(-1500 * physic.MilliAmpere)
		if _, err := d.Read(nil); !errors.Is(err, sensor.ErrImplausible) {
			t.Errorf("Read beyond -MaxCurrent: err %v, want ErrImplausible", err)
		}
		m.SetCurrent(900 * physic.MilliAmpere)
		if _, err := d.Read(nil); err != nil {
			t.Errorf("Read back in range: %v", err)
		}
	})
	t.Run("clipped shunt", func(t *testing.T) {
		// 1.6 A × 100 mΩ is exactly the ±160 mV range: at 2 A the shunt
		// ADC clips at 160 mV and the current register still fits.
		d, _, m := emulated(t, &Opts{Addr: 0x40, ShuntResistance: 100 * physic.MilliOhm, MaxCurrent: 1600 * physic.MilliAmpere})
		m.SetCurrent(2 * physic.Ampere)
		if _, err := d.Read(nil); !errors.Is(err, sensor.ErrImplausible) {
			t.Errorf("Read with a clipped shunt: err %v, want ErrImplausible", err)
		}
	})
	t.Run("stuck from the start", func(t *testing.T) {
		stubSleep(t)
		bus := &i2cemu.Bus{}
		m := i2cemu.NewINA219()
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
		d, _, m := emulated(t, &exact50uA)
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
		d, bus, m := emulated(t, &exact50uA)
		m.SetCurrent(100 * physic.MilliAmpere)
		// RST, as a brown-out would: calibration back to 0.
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
	d, bus, m := emulated(t, &exact50uA)
	m.SetCurrent(100 * physic.MilliAmpere)
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	r := make([]byte, 2)
	if err := bus.Tx(0x40, []byte{0x00}, r); err != nil || r[1]&7 != 0 {
		t.Errorf("config after Halt = % x, %v; want MODE 000", r, err)
	}
	// Powered down: no conversion, the registers keep the old result.
	m.SetCurrent(300 * physic.MilliAmpere)
	if err := bus.Tx(0x40, []byte{0x04}, r); err != nil || r[0] != 0x07 || r[1] != 0xD0 {
		t.Errorf("current register in power-down = % x, %v; want the last 100 mA, 07 d0", r, err)
	}
	out, err := d.Read(nil)
	if err != nil || out[2].Value != int64(300*physic.MilliAmpere) {
		t.Errorf("Read after Halt = %v, %v; want 300 mA", out, err)
	}
}

// The model's own clock and the driver's real sleeps: the driver must wait
// long enough before trusting the first conversion.
func TestEmulatedTiming(t *testing.T) {
	for _, avg := range []int{1, 8} {
		bus := &i2cemu.Bus{}
		m := i2cemu.NewINA219()
		m.SetCurrent(100 * physic.MilliAmpere)
		m.SetBusVoltage(12 * physic.Volt)
		if err := bus.Attach(0x40, m); err != nil {
			t.Fatal(err)
		}
		opts := exact50uA
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
	m := i2cemu.NewINA219()
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
	d, _, m := emulated(t, &exact50uA)
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
