package lm75

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
// drivers/i2cemu, whose encoding is checked against the datasheet tables
// in its own tests, so the two cannot agree on a wrong value.

func bitsOf(v Variant) int { return int(v.bits()) }

// newEmulated returns a Dev on an emulated bus with a model at 0x48 whose
// conversions complete at once, and with the driver's waits skipped.
func newEmulated(t *testing.T, v Variant) (*Dev, *i2cemu.Bus, *i2cemu.LM75) {
	t.Helper()
	stubSleep(t)
	bus := &i2cemu.Bus{}
	m := i2cemu.NewLM75(bitsOf(v))
	m.SetConversionTime(0)
	if err := bus.Attach(0x48, m); err != nil {
		t.Fatal(err)
	}
	d, err := New(bus, &Opts{Addr: 0x48, Variant: v})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d, bus, m
}

func TestEmulatedFirstConversion(t *testing.T) {
	// With the model's real conversion time, the first reading must be
	// the temperature set before New, not the register's power-up 0 °C.
	for _, v := range []Variant{LM75, LM75B} {
		t.Run(v.String(), func(t *testing.T) {
			var bus i2cemu.Bus
			m := i2cemu.NewLM75(bitsOf(v))
			m.SetTemperature(celsius(-12_500))
			if err := bus.Attach(0x4B, m); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			d, err := New(&bus, &Opts{Addr: 0x4B, Variant: v})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if took := time.Since(start); took < v.ConversionTime() {
				t.Errorf("New returned after %s, before a conversion time (%s)", took, v.ConversionTime())
			}
			if got, err := d.SenseTemperature(); err != nil || got != celsius(-12_500) {
				t.Errorf("first reading = %s, %v; want -12.5°C", got, err)
			}
		})
	}
	t.Run("without the wait", func(t *testing.T) {
		// The control: skipping the wait reads the power-up 0 °C, so the
		// test above can fail.
		stubSleep(t)
		var bus i2cemu.Bus
		m := i2cemu.NewLM75(9)
		m.SetTemperature(celsius(-12_500))
		if err := bus.Attach(0x48, m); err != nil {
			t.Fatal(err)
		}
		d, err := New(&bus, nil)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if got, err := d.SenseTemperature(); err != nil || got != physic.ZeroCelsius {
			t.Errorf("reading without the wait = %s, %v; want the power-up 0°C", got, err)
		}
	})
}

func TestEmulatedRange(t *testing.T) {
	cases := []struct {
		set           physic.Temperature
		want9, want11 physic.Temperature
	}{
		{celsius(25_500), celsius(25_500), celsius(25_500)},
		{celsius(25_000), celsius(25_000), celsius(25_000)},
		{celsius(25_700), celsius(25_500), celsius(25_625)}, // rounds down to a step
		{celsius(125), physic.ZeroCelsius, celsius(125)},
		{physic.ZeroCelsius, physic.ZeroCelsius, physic.ZeroCelsius},
		{celsius(-125), celsius(-500), celsius(-125)},
		{celsius(-100), celsius(-500), celsius(-125)}, // two's complement floors
		{celsius(-25_000), celsius(-25_000), celsius(-25_000)},
		{celsius(-54_875), celsius(-55_000), celsius(-54_875)},
		{celsius(-55_000), celsius(-55_000), celsius(-55_000)},
		{celsius(124_875), celsius(124_500), celsius(124_875)},
		{celsius(125_000), celsius(125_000), celsius(125_000)},
		// Outside the operating range the sensor saturates at its ends.
		{celsius(300_000), celsius(125_000), celsius(125_000)},
		{celsius(-90_000), celsius(-55_000), celsius(-55_000)},
	}
	for _, v := range []Variant{LM75, LM75B} {
		t.Run(v.String(), func(t *testing.T) {
			d, _, m := newEmulated(t, v)
			for _, tc := range cases {
				want := tc.want9
				if v == LM75B {
					want = tc.want11
				}
				m.SetTemperature(tc.set)
				rs, err := d.Read(nil)
				if err != nil {
					t.Fatalf("Read at %s: %v", tc.set, err)
				}
				if len(rs) != 1 || rs[0] != sensor.Temp(want) {
					t.Errorf("set %s: read %v, want %s", tc.set, rs, want)
				}
			}
		})
	}
}

func TestEmulatedHalt(t *testing.T) {
	d, bus, m := newEmulated(t, LM75B)
	conf := func() byte {
		t.Helper()
		var r [1]byte
		if err := bus.Tx(0x48, []byte{0x01}, r[:]); err != nil {
			t.Fatal(err)
		}
		return r[0]
	}
	temp := func() uint16 {
		t.Helper()
		var r [2]byte
		if err := bus.Tx(0x48, []byte{0x00}, r[:]); err != nil {
			t.Fatal(err)
		}
		return uint16(r[0])<<8 | uint16(r[1])
	}
	if err := d.Halt(); err != nil {
		t.Fatalf("Halt: %v", err)
	}
	if c := conf(); c&confShutdown == 0 {
		t.Fatalf("configuration %#02x after Halt: shutdown clear", c)
	}
	// In shutdown the sensor stops converting.
	m.SetTemperature(celsius(40_000))
	if got := temp(); got != 0x1900 {
		t.Errorf("temperature register in shutdown = %#04x, want the last result 0x1900", got)
	}
	if got, err := d.SenseTemperature(); err != nil || got != celsius(40_000) {
		t.Errorf("reading after Halt = %s, %v; want 40°C", got, err)
	}
	if c := conf(); c&confShutdown != 0 {
		t.Errorf("configuration %#02x after the wake-up: shutdown set", c)
	}
}

func TestEmulatedFaults(t *testing.T) {
	stubSleep(t)
	var bus i2cemu.Bus
	if _, err := New(&bus, nil); !errors.Is(err, i2cemu.ErrNACK) {
		t.Fatalf("New on an empty bus: err %v, want ErrNACK", err)
	}
	m := i2cemu.NewLM75(11)
	m.SetConversionTime(0)
	if err := bus.Attach(0x48, m); err != nil {
		t.Fatal(err)
	}
	errStuckLow := errors.New("SDA stuck low")
	bus.FailNext(0x48, 1, errStuckLow)
	if _, err := New(&bus, nil); !errors.Is(err, errStuckLow) {
		t.Fatalf("New with a bus fault: err %v, want the injected error", err)
	}
	d, err := New(&bus, &Opts{Addr: 0x48, Variant: LM75B})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	bus.SetFault(0x48, i2cemu.ErrNACK)
	for range 3 {
		if rs, err := d.Read(nil); !errors.Is(err, i2cemu.ErrNACK) || len(rs) != 0 {
			t.Fatalf("Read with the device gone = %v, %v; want nothing and ErrNACK", rs, err)
		}
	}
	if err := d.Halt(); !errors.Is(err, i2cemu.ErrNACK) {
		t.Errorf("Halt with the device gone: err %v, want ErrNACK", err)
	}
	bus.SetFault(0x48, nil)
	if got, err := d.SenseTemperature(); err != nil || got != celsius(25_000) {
		t.Errorf("after recovery: %s, %v; want 25°C", got, err)
	}
}

func TestEmulatedStuck(t *testing.T) {
	d, _, m := newEmulated(t, LM75)
	m.SetStuck(true)
	m.SetTemperature(celsius(60_000))
	g := sensor.NewGuard(d, &sensor.Policy{StuckAfter: 3}, nil)
	var errs []error
	for range 3 {
		rs, err := g.Read(nil)
		errs = append(errs, err)
		if err == nil && (len(rs) != 1 || rs[0] != sensor.Temp(celsius(25_000))) {
			t.Errorf("stuck sensor read %v, want the frozen 25°C", rs)
		}
	}
	if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], sensor.ErrImplausible) {
		t.Errorf("guarded reads of a stuck sensor: %v; want ok, ok, implausible", errs)
	}
	m.SetStuck(false)
	if rs, err := g.Read(nil); err != nil || rs[0] != sensor.Temp(celsius(60_000)) {
		t.Errorf("after the converter recovers: %v, %v; want 60°C", rs, err)
	}
}

func TestEmulatedWrongChip(t *testing.T) {
	stubSleep(t)
	var bus i2cemu.Bus
	tmp := i2cemu.NewTMP102()
	if err := bus.Attach(0x48, tmp); err != nil {
		t.Fatal(err)
	}
	if _, err := New(&bus, nil); !errors.Is(err, sensor.ErrChipID) {
		t.Fatalf("New on a TMP102: err %v, want sensor.ErrChipID", err)
	}
	var r [2]byte
	if err := bus.Tx(0x48, []byte{0x01}, r[:]); err != nil || r != [2]byte{0x60, 0xA0} {
		t.Errorf("TMP102 configuration after New = % x, %v; want the untouched 60 a0", r, err)
	}
}

func TestEmulatedSenseContinuous(t *testing.T) {
	d, _, m := newEmulated(t, LM75B)
	m.SetTemperature(celsius(30_000))
	ch, err := d.SenseContinuous(ConversionTimeLM75B)
	if err != nil {
		t.Fatalf("SenseContinuous: %v", err)
	}
	recv := func() (physic.Env, bool) {
		t.Helper()
		select {
		case e, ok := <-ch:
			return e, ok
		case <-time.After(2 * time.Second):
			t.Fatal("no value from SenseContinuous within 2 s")
			return physic.Env{}, false
		}
	}
	if e, ok := recv(); !ok || e.Temperature != celsius(30_000) {
		t.Fatalf("got %s (open %v), want 30°C", e.Temperature, ok)
	}
	m.SetTemperature(celsius(31_125))
	for {
		e, ok := recv()
		if !ok {
			t.Fatal("channel closed")
		}
		if e.Temperature == celsius(31_125) {
			break
		}
		if e.Temperature != celsius(30_000) {
			t.Fatalf("got %s, want 30°C or 31.125°C", e.Temperature)
		}
	}
	if err := d.Halt(); err != nil {
		t.Fatalf("Halt: %v", err)
	}
	for {
		if _, ok := recv(); !ok {
			break // closed by Halt
		}
	}
}

func TestEmulatedConcurrent(t *testing.T) {
	stubSleep(t)
	var bus i2cemu.Bus
	var wg sync.WaitGroup
	for i := range 4 {
		addr := uint16(0x48 + i)
		v := []Variant{LM75, LM75B}[i%2]
		m := i2cemu.NewLM75(bitsOf(v))
		m.SetConversionTime(0)
		lo, hi := celsius(int64(i)*10_000), celsius(int64(i)*10_000+5_500)
		m.SetTemperature(lo)
		if err := bus.Attach(addr, m); err != nil {
			t.Fatal(err)
		}
		d, err := New(&bus, &Opts{Addr: addr, Variant: v})
		if err != nil {
			t.Fatalf("New at %#x: %v", addr, err)
		}
		// The model flips between two temperatures while two readers read
		// it: every reading must be one of them.
		wg.Go(func() {
			for j := range 200 {
				m.SetTemperature([]physic.Temperature{lo, hi}[j%2])
			}
		})
		for range 2 {
			wg.Go(func() {
				buf := make([]sensor.Reading, 0, 1)
				for range 100 {
					rs, err := d.Read(buf[:0])
					if err != nil {
						t.Error(err)
						return
					}
					if got := physic.Temperature(rs[0].Value); got != lo && got != hi {
						t.Errorf("%s read %s, want %s or %s", d, got, lo, hi)
						return
					}
				}
			})
		}
	}
	wg.Wait()
}
