package mcp9808

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
// drivers/i2cemu, whose encoding is checked against the datasheet in its
// own tests, so the two cannot agree on a wrong value.

// newEmulated returns a Dev on an emulated bus with a model at 0x18 whose
// conversions complete at once, and with the driver's waits skipped.
func newEmulated(t *testing.T, res Resolution) (*Dev, *i2cemu.Bus, *i2cemu.MCP9808) {
	t.Helper()
	stubSleep(t)
	bus := &i2cemu.Bus{}
	m := i2cemu.NewMCP9808()
	m.SetConversionTime(0)
	if err := bus.Attach(0x18, m); err != nil {
		t.Fatal(err)
	}
	d, err := New(bus, &Opts{Addr: 0x18, Resolution: res})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d, bus, m
}

func reg16(t *testing.T, bus *i2cemu.Bus, addr uint16, ptr byte) uint16 {
	t.Helper()
	var r [2]byte
	if err := bus.Tx(addr, []byte{ptr}, r[:]); err != nil {
		t.Fatal(err)
	}
	return uint16(r[0])<<8 | uint16(r[1])
}

func TestEmulatedFirstConversion(t *testing.T) {
	// With the model's datasheet timing, the first reading must be the
	// temperature set before New, at the requested resolution: not the
	// power-up 0 °C, nor a result at the previous resolution.
	for _, res := range []Resolution{Res0_5, Res0_0625} {
		t.Run(res.String(), func(t *testing.T) {
			var bus i2cemu.Bus
			m := i2cemu.NewMCP9808()
			m.SetTemperature(celsius(-12_437_500))
			if err := bus.Attach(0x1B, m); err != nil {
				t.Fatal(err)
			}
			d, err := New(&bus, &Opts{Addr: 0x1B, Resolution: res})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			want := celsius(-12_437_500)
			if res == Res0_5 {
				want = celsius(-12_500_000)
			}
			if got, err := d.SenseTemperature(); err != nil || got != want {
				t.Errorf("first reading = %s, %v; want %s", got, err, want)
			}
		})
	}
	t.Run("without the wait", func(t *testing.T) {
		// The control: skipping the wait reads the power-up 0 °C, so the
		// test above can fail.
		stubSleep(t)
		var bus i2cemu.Bus
		m := i2cemu.NewMCP9808()
		m.SetTemperature(celsius(-12_437_500))
		if err := bus.Attach(0x18, m); err != nil {
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
		set  physic.Temperature
		want [4]physic.Temperature // at Res0_5 ... Res0_0625
	}{
		{celsius(25_000_000), [4]physic.Temperature{celsius(25_000_000), celsius(25_000_000), celsius(25_000_000), celsius(25_000_000)}},
		{celsius(-7_000_000), [4]physic.Temperature{celsius(-7_000_000), celsius(-7_000_000), celsius(-7_000_000), celsius(-7_000_000)}},
		{celsius(25_187_500), [4]physic.Temperature{celsius(25_000_000), celsius(25_000_000), celsius(25_125_000), celsius(25_187_500)}},
		{physic.ZeroCelsius, [4]physic.Temperature{physic.ZeroCelsius, physic.ZeroCelsius, physic.ZeroCelsius, physic.ZeroCelsius}},
		{celsius(-100_000), [4]physic.Temperature{celsius(-500_000), celsius(-250_000), celsius(-125_000), celsius(-125_000)}},
		{celsius(124_937_500), [4]physic.Temperature{celsius(124_500_000), celsius(124_750_000), celsius(124_875_000), celsius(124_937_500)}},
		{celsius(125_000_000), [4]physic.Temperature{celsius(125_000_000), celsius(125_000_000), celsius(125_000_000), celsius(125_000_000)}},
		{celsius(-40_000_000), [4]physic.Temperature{celsius(-40_000_000), celsius(-40_000_000), celsius(-40_000_000), celsius(-40_000_000)}},
		// Outside the operating range the model saturates at its ends.
		{celsius(300_000_000), [4]physic.Temperature{celsius(125_000_000), celsius(125_000_000), celsius(125_000_000), celsius(125_000_000)}},
		{celsius(-90_000_000), [4]physic.Temperature{celsius(-40_000_000), celsius(-40_000_000), celsius(-40_000_000), celsius(-40_000_000)}},
	}
	for i, res := range []Resolution{Res0_5, Res0_25, Res0_125, Res0_0625} {
		t.Run(res.String(), func(t *testing.T) {
			// The power-up limits (0 °C) set flag bits in T_A at most of
			// these temperatures: the readings must not see them.
			d, _, m := newEmulated(t, res)
			for _, tc := range cases {
				m.SetTemperature(tc.set)
				rs, err := d.Read(nil)
				if err != nil {
					t.Fatalf("Read at %s: %v", tc.set, err)
				}
				if len(rs) != 1 || rs[0] != sensor.Temp(tc.want[i]) {
					t.Errorf("set %s: read %v, want %s", tc.set, rs, tc.want[i])
				}
			}
		})
	}
}

func TestEmulatedHalt(t *testing.T) {
	d, bus, m := newEmulated(t, Res0_25)
	if err := d.Halt(); err != nil {
		t.Fatalf("Halt: %v", err)
	}
	if cfg := reg16(t, bus, 0x18, 0x01); cfg&cfgSHDN == 0 {
		t.Fatalf("configuration %#04x after Halt: SHDN clear", cfg)
	}
	// In shutdown the sensor stops converting.
	m.SetTemperature(celsius(40_000_000))
	if got := reg16(t, bus, 0x18, 0x05) & 0x1FFF; got != 0x0190 {
		t.Errorf("T_A in shutdown = %#04x, want the last result 0x0190", got)
	}
	if got, err := d.SenseTemperature(); err != nil || got != celsius(40_000_000) {
		t.Errorf("reading after Halt = %s, %v; want 40°C", got, err)
	}
	if cfg := reg16(t, bus, 0x18, 0x01); cfg&cfgSHDN != 0 {
		t.Errorf("configuration %#04x after the wake-up: SHDN set", cfg)
	}
}

func TestEmulatedLocked(t *testing.T) {
	d, bus, _ := newEmulated(t, Res0_0625)
	// Firmware elsewhere locked the alert limits.
	if err := bus.Tx(0x18, []byte{0x01, 0x00, 0x40}, nil); err != nil {
		t.Fatal(err)
	}
	if err := d.Halt(); !errors.Is(err, ErrLocked) {
		t.Fatalf("Halt: err %v, want ErrLocked", err)
	}
	if cfg := reg16(t, bus, 0x18, 0x01); cfg != 0x0040 {
		t.Errorf("configuration after the refused Halt = %#04x, want 0x0040", cfg)
	}
	if got, err := d.SenseTemperature(); err != nil || got != celsius(25_000_000) {
		t.Errorf("reading after the refused Halt = %s, %v; want 25°C", got, err)
	}
}

func TestEmulatedFaults(t *testing.T) {
	stubSleep(t)
	var bus i2cemu.Bus
	if _, err := New(&bus, nil); !errors.Is(err, i2cemu.ErrNACK) {
		t.Fatalf("New on an empty bus: err %v, want ErrNACK", err)
	}
	if err := Probe(&bus, 0x18); !errors.Is(err, i2cemu.ErrNACK) || errors.Is(err, sensor.ErrChipID) {
		t.Fatalf("Probe on an empty bus: err %v, want ErrNACK only", err)
	}
	m := i2cemu.NewMCP9808()
	m.SetConversionTime(0)
	if err := bus.Attach(0x18, m); err != nil {
		t.Fatal(err)
	}
	errStuckLow := errors.New("SDA stuck low")
	bus.FailNext(0x18, 1, errStuckLow)
	if _, err := New(&bus, nil); !errors.Is(err, errStuckLow) {
		t.Fatalf("New with a bus fault: err %v, want the injected error", err)
	}
	d, err := New(&bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	bus.SetFault(0x18, i2cemu.ErrNACK)
	for range 3 {
		if rs, err := d.Read(nil); !errors.Is(err, i2cemu.ErrNACK) || len(rs) != 0 {
			t.Fatalf("Read with the device gone = %v, %v; want nothing and ErrNACK", rs, err)
		}
	}
	if err := d.Halt(); !errors.Is(err, i2cemu.ErrNACK) {
		t.Errorf("Halt with the device gone: err %v, want ErrNACK", err)
	}
	bus.SetFault(0x18, nil)
	if got, err := d.SenseTemperature(); err != nil || got != celsius(25_000_000) {
		t.Errorf("after recovery: %s, %v; want 25°C", got, err)
	}
}

func TestEmulatedWrongChip(t *testing.T) {
	stubSleep(t)
	var bus i2cemu.Bus
	m := i2cemu.NewMCP9808()
	m.SetConversionTime(0)
	m.SetIDs(0x0054, 0x0201) // an MCP9804
	if err := bus.Attach(0x1D, m); err != nil {
		t.Fatal(err)
	}
	// Shut down, so that a write from New would show.
	if err := bus.Tx(0x1D, []byte{0x01, 0x01, 0x00}, nil); err != nil {
		t.Fatal(err)
	}
	if err := Probe(&bus, 0x1D); !errors.Is(err, sensor.ErrChipID) {
		t.Errorf("Probe: err %v, want sensor.ErrChipID", err)
	}
	if _, err := New(&bus, &Opts{Addr: 0x1D, Resolution: Res0_5}); !errors.Is(err, sensor.ErrChipID) {
		t.Fatalf("New: err %v, want sensor.ErrChipID", err)
	}
	var res [1]byte
	if err := bus.Tx(0x1D, []byte{0x08}, res[:]); err != nil || res[0] != 0x03 {
		t.Errorf("resolution after New = %#x, %v; want the untouched 0x03", res[0], err)
	}
	if cfg := reg16(t, &bus, 0x1D, 0x01); cfg != 0x0100 {
		t.Errorf("configuration after New = %#04x, want the untouched 0x0100", cfg)
	}
	// The right IDs, with a later revision.
	m.SetIDs(0x0054, 0x0401)
	if err := Probe(&bus, 0x1D); err != nil {
		t.Errorf("Probe of an MCP9808 revision 1: %v", err)
	}
	// An LM75 strapped into the MCP9808 range refuses the ID pointers.
	lm := i2cemu.NewLM75(9)
	if err := bus.Attach(0x19, lm); err != nil {
		t.Fatal(err)
	}
	if err := Probe(&bus, 0x19); err == nil {
		t.Error("Probe of an LM75: no error")
	}
}

func TestEmulatedStuck(t *testing.T) {
	d, _, m := newEmulated(t, Res0_0625)
	m.SetStuck(true)
	m.SetTemperature(celsius(60_000_000))
	g := sensor.NewGuard(d, &sensor.Policy{StuckAfter: 3}, nil)
	var errs []error
	for range 3 {
		rs, err := g.Read(nil)
		errs = append(errs, err)
		if err == nil && (len(rs) != 1 || rs[0] != sensor.Temp(celsius(25_000_000))) {
			t.Errorf("stuck sensor read %v, want the frozen 25°C", rs)
		}
	}
	if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], sensor.ErrImplausible) {
		t.Errorf("guarded reads of a stuck sensor: %v; want ok, ok, implausible", errs)
	}
	m.SetStuck(false)
	if rs, err := g.Read(nil); err != nil || rs[0] != sensor.Temp(celsius(60_000_000)) {
		t.Errorf("after the converter recovers: %v, %v; want 60°C", rs, err)
	}
}

func TestEmulatedSenseContinuous(t *testing.T) {
	d, _, m := newEmulated(t, Res0_5)
	m.SetTemperature(celsius(30_000_000))
	ch, err := d.SenseContinuous(Res0_5.ConversionTime())
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
	if e, ok := recv(); !ok || e.Temperature != celsius(30_000_000) {
		t.Fatalf("got %s (open %v), want 30°C", e.Temperature, ok)
	}
	m.SetTemperature(celsius(31_500_000))
	for {
		e, ok := recv()
		if !ok {
			t.Fatal("channel closed")
		}
		if e.Temperature == celsius(31_500_000) {
			break
		}
		if e.Temperature != celsius(30_000_000) {
			t.Fatalf("got %s, want 30°C or 31.5°C", e.Temperature)
		}
	}
	// A second SenseContinuous replaces the first, whose channel closes.
	ch2, err := d.SenseContinuous(Res0_5.ConversionTime())
	if err != nil {
		t.Fatalf("SenseContinuous again: %v", err)
	}
	for {
		if _, ok := recv(); !ok {
			break
		}
	}
	ch = ch2
	if e, ok := recv(); !ok || e.Temperature != celsius(31_500_000) {
		t.Fatalf("second channel: got %s (open %v), want 31.5°C", e.Temperature, ok)
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
		addr := uint16(0x18 + i)
		m := i2cemu.NewMCP9808()
		m.SetConversionTime(0)
		lo, hi := celsius(int64(i)*10_000_000), celsius(int64(i)*10_000_000+5_062_500)
		m.SetTemperature(lo)
		if err := bus.Attach(addr, m); err != nil {
			t.Fatal(err)
		}
		d, err := New(&bus, &Opts{Addr: addr})
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
