// Package i2cemu emulates an I²C bus and register-level models of the chips
// rackwatch reads, so that the drivers under drivers/ and the edge agent run
// unchanged on machines without I²C hardware: demos, CI and integration
// tests. A Bus implements periph's i2c.Bus and routes each transaction to
// the Device attached at its address; faults can be injected per address to
// exercise error paths.
package i2cemu

import (
	"errors"
	"fmt"
	"sync"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// ErrNACK is the error of a transaction that no device acknowledged, like
// the EREMOTEIO or ENXIO a Linux I²C adapter reports for an empty address.
// Errors returned by Bus wrap it; test with errors.Is.
var ErrNACK = errors.New("i2cemu: NACK")

// Device is a chip model attached to a Bus. Tx receives the bytes written
// (w) and fills r, as one combined write/read transaction with a repeated
// start; either may be empty. The Bus serialises calls to Tx.
type Device interface {
	Tx(w, r []byte) error
}

// Bus is an emulated I²C bus. The zero value is an empty bus ready to use.
// It is safe for concurrent use; transactions are serialised, as on a real
// bus.
type Bus struct {
	mu     sync.Mutex
	devs   map[uint16]Device
	faults map[uint16]fault
}

// fault is an injected failure: the next n transactions to an address
// fail with err, or all of them while n is negative.
type fault struct {
	n   int
	err error
}

// String implements i2c.Bus.
func (b *Bus) String() string {
	return "i2cemu"
}

// SetSpeed implements i2c.Bus. The emulation has no clock, so any positive
// frequency is accepted.
func (b *Bus) SetSpeed(f physic.Frequency) error {
	if f <= 0 {
		return fmt.Errorf("i2cemu: invalid bus speed %s", f)
	}
	return nil
}

// Attach connects dev at the 7-bit address addr. The addresses reserved by
// the I²C specification (0x00–0x07 and 0x78–0x7F) are refused, and so is
// an address already in use.
func (b *Bus) Attach(addr uint16, dev Device) error {
	if dev == nil {
		return fmt.Errorf("i2cemu: attach at %#x: nil device", addr)
	}
	if addr < 0x08 || addr > 0x77 {
		return fmt.Errorf("i2cemu: attach at %#x: not a 7-bit device address (0x08-0x77)", addr)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.devs[addr]; ok {
		return fmt.Errorf("i2cemu: attach at %#x: address in use", addr)
	}
	if b.devs == nil {
		b.devs = make(map[uint16]Device)
	}
	b.devs[addr] = dev
	return nil
}

// FailNext makes the next n transactions to addr fail with err without
// reaching the device; err == nil injects ErrNACK. n <= 0 removes the fault.
func (b *Bus) FailNext(addr uint16, n int, err error) {
	if n <= 0 {
		b.setFault(addr, fault{})
		return
	}
	b.setFault(addr, fault{n: n, err: err})
}

// SetFault makes every transaction to addr fail with err until SetFault is
// called again with a nil err; the device behaves as if it was unplugged or
// its bus segment broke. Pass ErrNACK to simulate a missing device.
func (b *Bus) SetFault(addr uint16, err error) {
	if err == nil {
		b.setFault(addr, fault{})
		return
	}
	b.setFault(addr, fault{n: -1, err: err})
}

func (b *Bus) setFault(addr uint16, f fault) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if f.n == 0 {
		delete(b.faults, addr)
		return
	}
	if f.err == nil {
		f.err = ErrNACK
	}
	if b.faults == nil {
		b.faults = make(map[uint16]fault)
	}
	b.faults[addr] = f
}

// Tx implements i2c.Bus: it runs one transaction on the device at addr.
func (b *Bus) Tx(addr uint16, w, r []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if f, ok := b.faults[addr]; ok {
		switch {
		case f.n > 1:
			f.n--
			b.faults[addr] = f
		case f.n == 1:
			delete(b.faults, addr)
		}
		return fmt.Errorf("i2cemu: injected fault at %#x: %w", addr, f.err)
	}
	dev, ok := b.devs[addr]
	if !ok {
		return fmt.Errorf("%w: no device at %#x", ErrNACK, addr)
	}
	if err := dev.Tx(w, r); err != nil {
		return fmt.Errorf("i2cemu: device at %#x: %w", addr, err)
	}
	return nil
}

var _ i2c.Bus = &Bus{}
