package i2cemu_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/drivers/bme280"
	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/sensor"
	"periph.io/x/conn/v3/physic"
)

// These tests run the bme280 driver, unchanged, against the model with its
// datasheet timing: a driver that read before a measurement completed would
// see the reset values or the previous result.

func bmeSetup(t *testing.T, chip *i2cemu.BME280, opts *bme280.Opts) (*i2cemu.Bus, *bme280.Dev) {
	t.Helper()
	bus := &i2cemu.Bus{}
	addr := uint16(0x76)
	if opts != nil {
		addr = opts.Addr
	}
	if err := bus.Attach(addr, chip); err != nil {
		t.Fatal(err)
	}
	d, err := bme280.New(bus, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return bus, d
}

func bmeAbs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func TestBME280DriverRoundTrip(t *testing.T) {
	t.Parallel()
	// At ×16 the model's ADC values are 20 bit; at ×1, 16 bit, which
	// leaves pressure coarser: about 2.6 Pa per step (§3.4.2).
	for _, tc := range []struct {
		name    string
		os      bme280.Oversampling
		maxDevP physic.Pressure
	}{
		{"x1", bme280.X1, 1500 * physic.MilliPascal},
		{"x16", bme280.X16, 100 * physic.MilliPascal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			chip := i2cemu.NewBME280()
			_, d := bmeSetup(t, chip, &bme280.Opts{Addr: 0x77, Temperature: tc.os, Pressure: tc.os, Humidity: tc.os})
			points := []struct {
				t physic.Temperature
				p physic.Pressure
				h physic.RelativeHumidity
			}{
				{physic.ZeroCelsius - 40*physic.Kelvin, 30 * physic.KiloPascal, 0},
				{physic.ZeroCelsius - 12340*physic.MilliKelvin, 70 * physic.KiloPascal, 5 * physic.PercentRH},
				{physic.ZeroCelsius - 10*physic.MilliKelvin, 95 * physic.KiloPascal, 10 * physic.PercentRH},
				{physic.ZeroCelsius, 101325 * physic.Pascal, 3333300 * physic.TenthMicroRH},
				{physic.ZeroCelsius + 10*physic.MilliKelvin, 101325 * physic.Pascal, 50 * physic.PercentRH},
				{physic.ZeroCelsius + 22930*physic.MilliKelvin, 100043 * physic.Pascal, 6317000 * physic.TenthMicroRH},
				{physic.ZeroCelsius + 45*physic.Kelvin, 110 * physic.KiloPascal, 80 * physic.PercentRH},
				{physic.ZeroCelsius + 85*physic.Kelvin, 90 * physic.KiloPascal, 100 * physic.PercentRH},
			}
			for _, pt := range points {
				chip.SetTemperature(pt.t)
				chip.SetPressure(pt.p)
				chip.SetHumidity(pt.h)
				var e physic.Env
				if err := d.Sense(&e); err != nil {
					t.Fatalf("Sense at %s: %v", pt.t, err)
				}
				// Set values on the 0.01 °C grid read back exactly: the
				// model picks the ADC value whose t_fine is nearest.
				if e.Temperature != pt.t {
					t.Errorf("set %s: read %s", pt.t, e.Temperature)
				}
				if d := bmeAbs(int64(e.Pressure - pt.p)); d > int64(tc.maxDevP) {
					t.Errorf("set %s: read %s (%d nPa off)", pt.p, e.Pressure, d)
				}
				// 16-bit humidity: about 0.006 %RH per ADC step.
				if d := bmeAbs(int64(e.Humidity - pt.h)); d > 500 {
					t.Errorf("set %s: read %s (%d × 0.00001 %%RH off)", pt.h, e.Humidity, d)
				}
			}
		})
	}
}

func TestBME280DriverTiming(t *testing.T) {
	t.Parallel()
	// The model takes the typical time, the driver waits the maximum: every
	// read sees the new measurement, not the previous one.
	chip := i2cemu.NewBME280()
	_, d := bmeSetup(t, chip, &bme280.Opts{Addr: 0x76, Temperature: bme280.X2, Pressure: bme280.X16, Humidity: bme280.X1})
	for i, c := range []int64{1000, 2000, 3000} {
		want := physic.ZeroCelsius + physic.Temperature(c)*10*physic.MilliKelvin
		chip.SetTemperature(want)
		start := time.Now()
		got, err := d.Read(nil)
		if err != nil {
			t.Fatalf("Read %d: %v", i, err)
		}
		if got[0].Value != int64(want) {
			t.Errorf("Read %d: %s, want %s", i, got[0], sensor.Temp(want))
		}
		// §9.1: 1.25 + 4.6 + 37.375 + 2.875 = 46.1 ms.
		if el := time.Since(start); el < 46100*time.Microsecond {
			t.Errorf("Read %d took %s, less than the measurement time", i, el)
		}
	}
	// A chip slower than the datasheet allows is reported, not read.
	chip.SetConversionTime(200 * time.Millisecond)
	if _, err := d.Read(nil); !errors.Is(err, sensor.ErrNotReady) {
		t.Errorf("Read of a slow chip: %v, want ErrNotReady", err)
	}
}

func TestBME280DriverFaults(t *testing.T) {
	t.Parallel()
	var bus i2cemu.Bus
	if _, err := bme280.New(&bus, nil); !errors.Is(err, i2cemu.ErrNACK) {
		t.Fatalf("New on an empty bus: err %v, want ErrNACK", err)
	}
	if err := bme280.Probe(&bus, 0x76); !errors.Is(err, i2cemu.ErrNACK) || errors.Is(err, sensor.ErrChipID) {
		t.Errorf("Probe on an empty bus: %v, want NACK and not a chip ID error", err)
	}
	chip := i2cemu.NewBME280()
	if err := bus.Attach(0x76, chip); err != nil {
		t.Fatal(err)
	}
	if err := bme280.Probe(&bus, 0x76); err != nil {
		t.Errorf("Probe: %v", err)
	}
	errBus := errors.New("bus stuck low")
	bus.FailNext(0x76, 1, errBus)
	if _, err := bme280.New(&bus, nil); !errors.Is(err, errBus) {
		t.Fatalf("New with a bus fault: err %v, want the injected error", err)
	}
	d, err := bme280.New(&bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	bus.SetFault(0x76, i2cemu.ErrNACK)
	for range 3 {
		if got, err := d.Read(nil); !errors.Is(err, i2cemu.ErrNACK) || len(got) != 0 {
			t.Fatalf("Read with the device gone: %v, %v; want nothing and ErrNACK", got, err)
		}
	}
	bus.SetFault(0x76, nil)
	if got, err := d.Read(nil); err != nil || len(got) != 3 {
		t.Fatalf("after recovery: %v, %v", got, err)
	}
	// One failed transaction fails the read, and only that read.
	bus.FailNext(0x76, 1, nil)
	if _, err := d.Read(nil); !errors.Is(err, i2cemu.ErrNACK) {
		t.Errorf("Read with the start failing: %v", err)
	}
	if _, err := d.Read(nil); err != nil {
		t.Errorf("Read after the fault: %v", err)
	}
}

// bmeResetAfterStart is a device in front of the model that power-cycles it
// right after the driver starts a measurement, as a supply glitch would.
type bmeResetAfterStart struct {
	*i2cemu.BME280
	armed bool
}

func (b *bmeResetAfterStart) Tx(w, r []byte) error {
	err := b.BME280.Tx(w, r)
	if b.armed && len(w) > 2 {
		b.armed = false
		b.PowerOnReset()
	}
	return err
}

func TestBME280DriverChipReset(t *testing.T) {
	t.Parallel()
	chip := &bmeResetAfterStart{BME280: i2cemu.NewBME280()}
	chip.SetConversionTime(0)
	var bus i2cemu.Bus
	if err := bus.Attach(0x76, chip); err != nil {
		t.Fatal(err)
	}
	d, err := bme280.New(&bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	chip.armed = true
	// The reset leaves 0x80000 in the data registers; the driver must not
	// report them as a temperature.
	if got, err := d.Read(nil); !errors.Is(err, sensor.ErrImplausible) || len(got) != 0 {
		t.Fatalf("Read across a chip reset: %v, %v; want nothing and ErrImplausible", got, err)
	}
	// The next read configures the chip again.
	chip.SetTemperature(physic.ZeroCelsius + 31*physic.Kelvin)
	if got, err := d.Read(nil); err != nil || got[0].Value != int64(physic.ZeroCelsius+31*physic.Kelvin) {
		t.Errorf("Read after the reset: %v, %v; want 31°C", got, err)
	}
}

func TestBME280DriverStuckAndGuard(t *testing.T) {
	t.Parallel()
	chip := i2cemu.NewBME280()
	chip.SetConversionTime(0)
	_, d := bmeSetup(t, chip, nil)
	g := sensor.NewGuard(d, &sensor.Policy{StuckAfter: 3, FaultAfter: 10}, nil)
	buf := make([]sensor.Reading, 0, 3)
	var err error
	if buf, err = g.Read(buf[:0]); err != nil {
		t.Fatalf("first read: %v", err)
	}
	chip.SetStuck(true)
	for i := range 3 {
		chip.SetTemperature(physic.ZeroCelsius + physic.Temperature(30+i)*physic.Kelvin)
		buf, err = g.Read(buf[:0])
	}
	if !errors.Is(err, sensor.ErrImplausible) {
		t.Errorf("third identical measurement: %v, want the guard to discard it as stuck", err)
	}
	chip.SetStuck(false)
	if buf, err = g.Read(buf[:0]); err != nil || buf[0].Value != int64(physic.ZeroCelsius+32*physic.Kelvin) {
		t.Errorf("after SetStuck(false): %v, %v", buf, err)
	}
	// Beyond what the part can measure: the ADC saturates and the guard
	// rejects the value.
	chip.SetTemperature(physic.ZeroCelsius + 300*physic.Kelvin)
	if _, err := g.Read(buf[:0]); !errors.Is(err, sensor.ErrImplausible) {
		t.Errorf("300 °C: %v, want ErrImplausible from the guard", err)
	}
}

func TestBME280DriverOtherChips(t *testing.T) {
	t.Parallel()
	bmp := i2cemu.NewBMP280()
	bmp.SetConversionTime(0)
	bmp.SetPressure(98765 * physic.Pascal)
	_, d := bmeSetup(t, bmp, &bme280.DefaultOpts)
	if d.Model() != bme280.BMP280 || d.String() != "BMP280{i2cemu(118)}" {
		t.Errorf("Model %s, String %s", d.Model(), d)
	}
	got, err := d.Read(nil)
	if err != nil || len(got) != 2 || got[0].Quantity != sensor.Temperature || got[1].Quantity != sensor.Pressure {
		t.Fatalf("BMP280 Read = %v, %v; want temperature and pressure", got, err)
	}
	if dev := bmeAbs(got[1].Value - int64(98765*physic.Pascal)); dev > int64(2*physic.Pascal) {
		t.Errorf("BMP280 pressure %v", got[1])
	}

	for _, id := range []byte{0x61, 0x55, 0x00} {
		chip := i2cemu.NewBME280()
		chip.SetChipID(id)
		var bus i2cemu.Bus
		if err := bus.Attach(0x77, chip); err != nil {
			t.Fatal(err)
		}
		if _, err := bme280.New(&bus, &bme280.Opts{Addr: 0x77, Temperature: bme280.X1}); !errors.Is(err, sensor.ErrChipID) {
			t.Errorf("chip ID %#x: New: %v, want ErrChipID", id, err)
		}
		if err := bme280.Probe(&bus, 0x77); !errors.Is(err, sensor.ErrChipID) {
			t.Errorf("chip ID %#x: Probe: %v, want ErrChipID", id, err)
		}
		// Nothing was written: the model still has its power-up settings.
		r := make([]byte, 3)
		if err := bus.Tx(0x77, []byte{0xF2}, r); err != nil || r[0] != 0 || r[2] != 0 {
			t.Errorf("chip ID %#x: registers % x after New, %v", id, r, err)
		}
	}
}

func TestBME280DriverConcurrent(t *testing.T) {
	t.Parallel()
	var bus i2cemu.Bus
	chips := []*i2cemu.BME280{i2cemu.NewBME280(), i2cemu.NewBME280()}
	devs := make([]*bme280.Dev, 2)
	for i, c := range chips {
		addr := uint16(0x76 + i)
		c.SetConversionTime(0)
		c.SetTemperature(physic.ZeroCelsius + physic.Temperature(10*i)*physic.Kelvin)
		if err := bus.Attach(addr, c); err != nil {
			t.Fatal(err)
		}
		d, err := bme280.New(&bus, &bme280.Opts{Addr: addr, Temperature: bme280.X1, Pressure: bme280.X1, Humidity: bme280.X1})
		if err != nil {
			t.Fatal(err)
		}
		devs[i] = d
	}
	var wg sync.WaitGroup
	for i, c := range chips {
		lo := physic.ZeroCelsius + physic.Temperature(10*i)*physic.Kelvin
		hi := lo + 5*physic.Kelvin
		wg.Go(func() {
			for j := range 100 {
				if j%2 == 0 {
					c.SetTemperature(hi)
				} else {
					c.SetTemperature(lo)
				}
			}
		})
		for range 2 {
			wg.Go(func() {
				buf := make([]sensor.Reading, 0, 3)
				for range 10 {
					var err error
					if buf, err = devs[i].Read(buf[:0]); err != nil {
						t.Error(err)
						return
					}
					if v := physic.Temperature(buf[0].Value); v != lo && v != hi {
						t.Errorf("device %d read %s, want %s or %s", i, v, lo, hi)
						return
					}
				}
			})
		}
	}
	wg.Wait()
}
