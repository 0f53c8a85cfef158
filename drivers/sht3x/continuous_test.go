package sht3x

import (
	"errors"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/sensor"
	"periph.io/x/conn/v3/physic"
)

// newEmulated returns a Dev on an emulated bus with an SHT3x model at 0x44
// whose measurements complete at once.
func newEmulated(t *testing.T) (*Dev, *i2cemu.Bus, *i2cemu.SHT3x) {
	t.Helper()
	stubSleep(t)
	bus := &i2cemu.Bus{}
	m := i2cemu.NewSHT3x()
	m.SetConversionTime(0)
	if err := bus.Attach(0x44, m); err != nil {
		t.Fatal(err)
	}
	d, err := New(bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d, bus, m
}

// recv returns the next value from ch, failing the test after a second.
func recv(t *testing.T, ch <-chan physic.Env) (physic.Env, bool) {
	t.Helper()
	select {
	case e, ok := <-ch:
		return e, ok
	case <-time.After(time.Second):
		t.Fatal("no value from SenseContinuous within 1 s")
		return physic.Env{}, false
	}
}

// drained waits for ch to be closed, which the sensing goroutine does as
// its last act.
func drained(t *testing.T, ch <-chan physic.Env) {
	t.Helper()
	deadline := time.After(time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("SenseContinuous channel not closed within 1 s")
		}
	}
}

func TestSenseContinuous(t *testing.T) {
	d, _, m := newEmulated(t)
	m.SetTemperature(celsius(-10_000_000_000))
	m.SetHumidity(20 * physic.PercentRH)
	ch, err := d.SenseContinuous(time.Millisecond)
	if err != nil {
		t.Fatalf("SenseContinuous: %v", err)
	}
	for range 3 {
		if e, ok := recv(t, ch); !ok || e.Temperature != celsius(-10_000_000_000) || e.Humidity != 20*physic.PercentRH {
			t.Fatalf("got %s %s (open %v), want -10°C 20%%rH", e.Temperature, e.Humidity, ok)
		}
	}
	m.SetTemperature(celsius(95_000_000_000))
	for {
		e, ok := recv(t, ch)
		if !ok {
			t.Fatal("channel closed")
		}
		if e.Temperature == celsius(95_000_000_000) {
			break
		}
	}
	// A second SenseContinuous replaces the first.
	ch2, err := d.SenseContinuous(time.Millisecond)
	if err != nil {
		t.Fatalf("second SenseContinuous: %v", err)
	}
	drained(t, ch)
	if _, ok := recv(t, ch2); !ok {
		t.Fatal("second channel closed")
	}
	if err := d.Halt(); err != nil {
		t.Fatalf("Halt: %v", err)
	}
	drained(t, ch2)
}

func TestSenseContinuousStopsOnError(t *testing.T) {
	d, bus, _ := newEmulated(t)
	bus.SetFault(0x44, i2cemu.ErrNACK)
	ch, err := d.SenseContinuous(time.Millisecond)
	if err != nil {
		t.Fatalf("SenseContinuous: %v", err)
	}
	drained(t, ch)
	var e physic.Env
	if err := d.Sense(&e); !errors.Is(err, i2cemu.ErrNACK) {
		t.Errorf("Sense: err %v, want the NACK that stopped the loop", err)
	}
	if err := d.Halt(); err != nil {
		t.Errorf("Halt: %v", err)
	}
}

func TestSenseContinuousInvalid(t *testing.T) {
	d, _, _ := newEmulated(t)
	for _, iv := range []time.Duration{0, -time.Second} {
		if _, err := d.SenseContinuous(iv); err == nil {
			t.Errorf("SenseContinuous(%v): no error", iv)
		}
	}
}

func TestReadAllocs(t *testing.T) {
	d, _, _ := newEmulated(t)
	buf := make([]sensor.Reading, 0, 2)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = d.Read(buf[:0]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Read allocates %v times, want 0", allocs)
	}
}
