package i2cemu

import (
	"errors"
	"sync"
	"testing"

	"periph.io/x/conn/v3/physic"
)

// echo is a device that records the last write and answers reads with
// reply.
type echo struct {
	mu    sync.Mutex
	last  []byte
	reply []byte
	n     int
}

func (e *echo) Tx(w, r []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	e.last = append([]byte(nil), w...)
	copy(r, e.reply)
	return nil
}

func (e *echo) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n
}

func TestBusRoutes(t *testing.T) {
	var bus Bus
	a, b := &echo{reply: []byte{0xA1}}, &echo{reply: []byte{0xB1}}
	if err := bus.Attach(0x48, a); err != nil {
		t.Fatal(err)
	}
	if err := bus.Attach(0x49, b); err != nil {
		t.Fatal(err)
	}
	r := make([]byte, 1)
	if err := bus.Tx(0x49, []byte{1, 2}, r); err != nil {
		t.Fatal(err)
	}
	if r[0] != 0xB1 || string(b.last) != "\x01\x02" || a.count() != 0 {
		t.Errorf("Tx(0x49) read %#x, device saw %x, other device saw %d transactions", r[0], b.last, a.count())
	}
	// A quick write (no data) is acknowledged by a present device.
	if err := bus.Tx(0x48, nil, nil); err != nil {
		t.Errorf("probe 0x48: %v", err)
	}
	if bus.String() != "i2cemu" {
		t.Errorf("String() = %q", bus.String())
	}
	if err := bus.SetSpeed(400 * physic.KiloHertz); err != nil {
		t.Errorf("SetSpeed: %v", err)
	}
	if err := bus.SetSpeed(0); err == nil {
		t.Error("SetSpeed(0): no error")
	}
}

func TestBusNACK(t *testing.T) {
	var bus Bus
	err := bus.Tx(0x48, []byte{0}, make([]byte, 2))
	if !errors.Is(err, ErrNACK) {
		t.Fatalf("Tx to empty address: err %v, want ErrNACK", err)
	}
	if want := "i2cemu: NACK: no device at 0x48"; err.Error() != want {
		t.Errorf("err %q, want %q", err, want)
	}
}

func TestBusAttachErrors(t *testing.T) {
	var bus Bus
	if err := bus.Attach(0x48, &echo{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		addr uint16
		dev  Device
	}{
		{"in use", 0x48, &echo{}},
		{"nil device", 0x49, nil},
		{"general call", 0x00, &echo{}},
		{"reserved low", 0x07, &echo{}},
		{"reserved high", 0x78, &echo{}},
		{"10-bit", 0x148, &echo{}},
	} {
		if err := bus.Attach(tc.addr, tc.dev); err == nil {
			t.Errorf("%s: Attach(%#x) succeeded", tc.name, tc.addr)
		}
	}
	for _, addr := range []uint16{0x08, 0x77} {
		if err := bus.Attach(addr, &echo{}); err != nil {
			t.Errorf("Attach(%#x): %v", addr, err)
		}
	}
}

func TestBusFailNext(t *testing.T) {
	var bus Bus
	dev := &echo{}
	if err := bus.Attach(0x48, dev); err != nil {
		t.Fatal(err)
	}
	errBus := errors.New("arbitration lost")
	bus.FailNext(0x48, 2, errBus)
	bus.FailNext(0x49, 1, nil)
	for i := range 2 {
		err := bus.Tx(0x48, []byte{0}, nil)
		if !errors.Is(err, errBus) {
			t.Fatalf("Tx %d: err %v, want the injected error", i, err)
		}
	}
	if dev.count() != 0 {
		t.Errorf("failed transactions reached the device %d times", dev.count())
	}
	if err := bus.Tx(0x48, []byte{0}, nil); err != nil {
		t.Errorf("Tx after the faults: %v", err)
	}
	if err := bus.Tx(0x49, nil, nil); !errors.Is(err, ErrNACK) {
		t.Errorf("FailNext with nil error: %v, want ErrNACK", err)
	}
	bus.FailNext(0x48, 5, nil)
	bus.FailNext(0x48, 0, nil) // cancels
	if err := bus.Tx(0x48, nil, nil); err != nil {
		t.Errorf("Tx after cancelling: %v", err)
	}
}

func TestBusSetFault(t *testing.T) {
	var bus Bus
	if err := bus.Attach(0x48, &echo{}); err != nil {
		t.Fatal(err)
	}
	bus.SetFault(0x48, ErrNACK)
	for range 10 {
		if err := bus.Tx(0x48, nil, nil); !errors.Is(err, ErrNACK) {
			t.Fatalf("Tx with a fault set: err %v, want ErrNACK", err)
		}
	}
	bus.SetFault(0x48, nil)
	if err := bus.Tx(0x48, nil, nil); err != nil {
		t.Errorf("Tx after clearing: %v", err)
	}
}

func TestBusDeviceError(t *testing.T) {
	var bus Bus
	m := NewTMP102()
	if err := bus.Attach(0x48, m); err != nil {
		t.Fatal(err)
	}
	err := bus.Tx(0x48, []byte{0x04}, nil)
	if !errors.Is(err, ErrNACK) {
		t.Fatalf("invalid pointer: err %v, want ErrNACK", err)
	}
	if want := "i2cemu: device at 0x48: tmp102 model: pointer 0x4 selects no register: i2cemu: NACK"; err.Error() != want {
		t.Errorf("err %q, want %q", err, want)
	}
}

func TestBusConcurrent(t *testing.T) {
	var bus Bus
	devs := []*echo{{}, {}, {}, {}}
	for i, d := range devs {
		if err := bus.Attach(0x48+uint16(i), d); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := range devs {
		wg.Go(func() {
			for range 200 {
				if err := bus.Tx(0x48+uint16(i), []byte{byte(i)}, make([]byte, 1)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 200 {
			bus.FailNext(0x4C, 1, nil)
			_ = bus.Tx(0x4C, nil, nil)
		}
	})
	wg.Wait()
	for i, d := range devs {
		if d.count() != 200 {
			t.Errorf("device %d saw %d transactions, want 200", i, d.count())
		}
	}
}
