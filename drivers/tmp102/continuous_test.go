package tmp102

import (
	"errors"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"periph.io/x/conn/v3/physic"
)

// newEmulated returns a Dev on an emulated bus with a TMP102 model at 0x48
// whose conversions complete at once.
func newEmulated(t *testing.T, opts *Opts) (*Dev, *i2cemu.Bus, *i2cemu.TMP102) {
	t.Helper()
	stubSleep(t)
	bus := &i2cemu.Bus{}
	m := i2cemu.NewTMP102()
	m.SetConversionTime(0)
	if err := bus.Attach(0x48, m); err != nil {
		t.Fatal(err)
	}
	d, err := New(bus, opts)
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

func configOf(t *testing.T, bus *i2cemu.Bus) uint16 {
	t.Helper()
	var r [2]byte
	if err := bus.Tx(0x48, []byte{0x01}, r[:]); err != nil {
		t.Fatal(err)
	}
	return uint16(r[0])<<8 | uint16(r[1])
}

func TestSenseContinuous(t *testing.T) {
	d, bus, m := newEmulated(t, &Opts{Addr: 0x48, Extended: true})
	m.SetTemperature(celsius(30_000_000))
	ch, err := d.SenseContinuous(time.Millisecond)
	if err != nil {
		t.Fatalf("SenseContinuous: %v", err)
	}
	for range 3 {
		if e, ok := recv(t, ch); !ok || e.Temperature != celsius(30_000_000) {
			t.Fatalf("got %v (open %v), want 30°C", e.Temperature, ok)
		}
	}
	m.SetTemperature(celsius(140_000_000))
	for {
		e, ok := recv(t, ch)
		if !ok {
			t.Fatal("channel closed")
		}
		if e.Temperature == celsius(140_000_000) {
			break
		}
		if e.Temperature != celsius(30_000_000) {
			t.Fatalf("got %s, want 30°C or 140°C", e.Temperature)
		}
	}
	if err := d.Halt(); err != nil {
		t.Fatalf("Halt: %v", err)
	}
	drained(t, ch)
	if cfg := configOf(t, bus); cfg&cfgSD == 0 {
		t.Errorf("config %#04x after Halt: SD clear", cfg)
	}
}

func TestSenseContinuousRestart(t *testing.T) {
	d, _, _ := newEmulated(t, nil)
	first, err := d.SenseContinuous(time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	second, err := d.SenseContinuous(time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	drained(t, first)
	if e, ok := recv(t, second); !ok || e.Temperature != celsius(25_000_000) {
		t.Fatalf("got %s (open %v), want 25°C", e.Temperature, ok)
	}
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	drained(t, second)
}

func TestSenseContinuousStopsOnError(t *testing.T) {
	d, bus, _ := newEmulated(t, nil)
	ch, err := d.SenseContinuous(time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := recv(t, ch); !ok {
		t.Fatal("channel closed before the fault")
	}
	bus.SetFault(0x48, i2cemu.ErrNACK)
	drained(t, ch)
	if _, err := d.SenseTemperature(); !errors.Is(err, i2cemu.ErrNACK) {
		t.Errorf("SenseTemperature: err %v, want ErrNACK", err)
	}
	bus.SetFault(0x48, nil)
	if err := d.Halt(); err != nil {
		t.Fatalf("Halt: %v", err)
	}
}

func TestSenseContinuousInterval(t *testing.T) {
	d, _, _ := newEmulated(t, nil)
	for _, iv := range []time.Duration{0, -time.Second} {
		if ch, err := d.SenseContinuous(iv); err == nil || ch != nil {
			t.Errorf("SenseContinuous(%s) = %v, %v; want an error", iv, ch, err)
		}
	}
}
