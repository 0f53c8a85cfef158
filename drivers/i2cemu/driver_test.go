package i2cemu_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/tmp102"
	"periph.io/x/conn/v3/physic"
)

// These tests run the tmp102 driver, unchanged, against the model with its
// real conversion timing: a driver that read before the first conversion
// completes would see 0 °C.

func celsius(micro int64) physic.Temperature {
	return physic.ZeroCelsius + physic.Temperature(micro)*physic.MicroKelvin
}

func TestTMP102Driver(t *testing.T) {
	for _, extended := range []bool{false, true} {
		t.Run(map[bool]string{false: "normal", true: "extended"}[extended], func(t *testing.T) {
			var bus i2cemu.Bus
			m := i2cemu.NewTMP102()
			m.SetTemperature(celsius(-12_500_000))
			if err := bus.Attach(0x4B, m); err != nil {
				t.Fatal(err)
			}
			d, err := tmp102.New(&bus, &tmp102.Opts{Addr: 0x4B, Extended: extended})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			// Set before New: the first reading must be it, not the
			// power-up 0 °C.
			if got, err := d.SenseTemperature(); err != nil || got != celsius(-12_500_000) {
				t.Fatalf("first reading = %s, %v; want -12.5°C", got, err)
			}
			high := celsius(127_937_500)
			if extended {
				high = celsius(150_000_000)
			}
			for _, tc := range []struct {
				set, want physic.Temperature
			}{
				{celsius(25_000_000), celsius(25_000_000)},
				{celsius(-25_000_000), celsius(-25_000_000)},
				{physic.ZeroCelsius, physic.ZeroCelsius},
				{celsius(62_500), celsius(62_500)},
				{celsius(-62_500), celsius(-62_500)},
				{celsius(85_312_500), celsius(85_312_500)},
				{celsius(127_937_500), celsius(127_937_500)},
				{celsius(150_000_000), high},
				{celsius(400_000_000), high},
				{celsius(-55_000_000), celsius(-55_000_000)},
				{celsius(-90_000_000), celsius(-55_000_000)},
			} {
				m.SetTemperature(tc.set)
				var e physic.Env
				if err := d.Sense(&e); err != nil {
					t.Fatalf("Sense at %s: %v", tc.set, err)
				}
				if e.Temperature != tc.want {
					t.Errorf("set %s: read %s, want %s", tc.set, e.Temperature, tc.want)
				}
			}
			if err := d.Halt(); err != nil {
				t.Fatalf("Halt: %v", err)
			}
			// Halted: conversions stop, so a new temperature does not show
			// until Sense wakes the sensor up.
			r := make([]byte, 2)
			if err := bus.Tx(0x4B, []byte{0x01}, r); err != nil || r[0]&0x01 == 0 {
				t.Errorf("config after Halt = % x, %v; want SD set", r, err)
			}
			m.SetTemperature(celsius(33_000_000))
			if got, err := d.SenseTemperature(); err != nil || got != celsius(33_000_000) {
				t.Errorf("reading after Halt = %s, %v; want 33°C", got, err)
			}
		})
	}
}

func TestTMP102DriverFaults(t *testing.T) {
	var bus i2cemu.Bus
	if _, err := tmp102.New(&bus, nil); !errors.Is(err, i2cemu.ErrNACK) {
		t.Fatalf("New on an empty bus: err %v, want ErrNACK", err)
	}
	m := i2cemu.NewTMP102()
	if err := bus.Attach(0x48, m); err != nil {
		t.Fatal(err)
	}
	errBus := errors.New("bus stuck low")
	bus.FailNext(0x48, 1, errBus)
	if _, err := tmp102.New(&bus, nil); !errors.Is(err, errBus) {
		t.Fatalf("New with a bus fault: err %v, want the injected error", err)
	}
	d, err := tmp102.New(&bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	bus.SetFault(0x48, i2cemu.ErrNACK)
	for range 3 {
		if _, err := d.SenseTemperature(); !errors.Is(err, i2cemu.ErrNACK) {
			t.Fatalf("Sense with the device gone: err %v, want ErrNACK", err)
		}
	}
	if err := d.Halt(); !errors.Is(err, i2cemu.ErrNACK) {
		t.Errorf("Halt with the device gone: err %v, want ErrNACK", err)
	}
	bus.SetFault(0x48, nil)
	if got, err := d.SenseTemperature(); err != nil || got != celsius(25_000_000) {
		t.Errorf("after recovery: %s, %v; want 25°C", got, err)
	}
}

// A chip that is not a TMP102 (here one whose config register reads
// 0x0000) is refused before anything is written to it.
type lm75ish struct{ writes int }

func (l *lm75ish) Tx(w, r []byte) error {
	if len(w) > 1 {
		l.writes++
	}
	clear(r)
	return nil
}

func TestTMP102DriverWrongChip(t *testing.T) {
	var bus i2cemu.Bus
	chip := &lm75ish{}
	if err := bus.Attach(0x48, chip); err != nil {
		t.Fatal(err)
	}
	if _, err := tmp102.New(&bus, nil); !errors.Is(err, tmp102.ErrNotTMP102) {
		t.Fatalf("New: err %v, want ErrNotTMP102", err)
	}
	if chip.writes != 0 {
		t.Errorf("New wrote %d times to a foreign chip", chip.writes)
	}
}

func TestTMP102DriverConcurrent(t *testing.T) {
	var bus i2cemu.Bus
	models := make([]*i2cemu.TMP102, 4)
	devs := make([]*tmp102.Dev, 4)
	for i := range models {
		addr := uint16(0x48 + i)
		models[i] = i2cemu.NewTMP102()
		models[i].SetTemperature(celsius(int64(i) * 10_000_000))
		if err := bus.Attach(addr, models[i]); err != nil {
			t.Fatal(err)
		}
		d, err := tmp102.New(&bus, &tmp102.Opts{Addr: addr, Extended: i%2 == 1})
		if err != nil {
			t.Fatalf("New at %#x: %v", addr, err)
		}
		devs[i] = d
	}
	var wg sync.WaitGroup
	// Each model flips between its two temperatures while two readers per
	// device read it: every reading must be one of them.
	for i, m := range models {
		lo, hi := celsius(int64(i)*10_000_000), celsius(int64(i)*10_000_000+5_062_500)
		wg.Go(func() {
			for j := range 300 {
				if j%2 == 0 {
					m.SetTemperature(hi)
				} else {
					m.SetTemperature(lo)
				}
			}
		})
		for range 2 {
			wg.Go(func() {
				for range 100 {
					got, err := devs[i].SenseTemperature()
					if err != nil {
						t.Error(err)
						return
					}
					if got != lo && got != hi {
						t.Errorf("device %d read %s, want %s or %s", i, got, lo, hi)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	for _, d := range devs {
		if err := d.Halt(); err != nil {
			t.Error(err)
		}
	}
}
