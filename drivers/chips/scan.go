package chips

import (
	"slices"

	"periph.io/x/conn/v3/i2c"
)

// Found is a device that answered a scan.
type Found struct {
	Addr uint16
	// Identified lists the chips whose Probe matched the device's ID
	// registers.
	Identified []string
	// Candidates lists the chips without ID registers that can sit at this
	// address: a guess by address only.
	Candidates []string
}

// ScanRange is the range of 7-bit addresses a scan covers; the others are
// reserved by the I2C specification (§3.1.12).
const (
	ScanFirst uint16 = 0x08
	ScanLast  uint16 = 0x77
)

// Scan finds the devices on bus and guesses what they are. A device is
// present when it answers a one-byte read, as with i2cdetect -r, or when a
// chip's Probe recognises it: some chips (the Sensirion SHTs) refuse a read
// with no measurement pending, and periph cannot send the zero-length quick
// write i2cdetect would use. Probes run only at the addresses their chip
// can have; they write register pointers or commands, which is harmless for
// sensors but, as with i2cdetect, not for every device on every bus.
func Scan(bus i2c.Bus) []Found {
	var found []Found
	var b [1]byte
	for addr := ScanFirst; addr <= ScanLast; addr++ {
		present := bus.Tx(addr, nil, b[:]) == nil
		f := Found{Addr: addr}
		for _, c := range All {
			if !slices.Contains(c.Addrs, addr) {
				continue
			}
			switch {
			case c.Probe == nil:
				f.Candidates = append(f.Candidates, c.Name)
			case c.Probe(bus, addr) == nil:
				f.Identified = append(f.Identified, c.Name)
				present = true
			}
		}
		if present {
			found = append(found, f)
		}
	}
	return found
}
