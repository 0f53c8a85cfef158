package chips

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/sensor"
)

// TestEveryChipOnItsEmulation opens every catalogued chip on its emulation
// and reads the quantities the catalogue promises.
func TestEveryChipOnItsEmulation(t *testing.T) {
	for _, c := range All {
		t.Run(c.Name, func(t *testing.T) {
			bus := &i2cemu.Bus{}
			if err := bus.Attach(c.Addrs[0], c.Emulate()); err != nil {
				t.Fatal(err)
			}
			dev, err := c.Open(bus, c.Addrs[0], Params{})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer dev.Halt()
			rs, err := dev.Read(nil)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			for _, q := range c.Measures {
				if !slices.ContainsFunc(rs, func(r sensor.Reading) bool { return r.Quantity == q }) {
					t.Errorf("no %s reading in %v", q, rs)
				}
			}
			if c.Probe != nil {
				if err := c.Probe(bus, c.Addrs[0]); err != nil {
					t.Errorf("Probe of its own emulation: %v", err)
				}
			}
			if err := c.CheckAddr(0x7f); err == nil {
				t.Error("address 0x7f accepted")
			}
		})
	}
}

func TestScanFindsEveryChip(t *testing.T) {
	bus := &i2cemu.Bus{}
	used := map[uint16]string{}
	for _, c := range All {
		for _, a := range c.Addrs {
			if _, taken := used[a]; !taken {
				used[a] = c.Name
				bus.Attach(a, c.Emulate())
				break
			}
		}
	}
	found := Scan(bus)
	if len(found) != len(used) {
		t.Fatalf("scan found %d devices, %d attached: %+v", len(found), len(used), found)
	}
	for _, f := range found {
		name := used[f.Addr]
		if !slices.Contains(f.Identified, name) && !slices.Contains(f.Candidates, name) {
			t.Errorf("%#x holds %s, scan says identified %v, candidates %v", f.Addr, name, f.Identified, f.Candidates)
		}
	}
}

func TestLookupAndOptions(t *testing.T) {
	if _, err := Lookup("lm99"); !errors.Is(err, ErrUnknownChip) || !strings.Contains(err.Error(), "tmp102") {
		t.Errorf("Lookup(lm99) = %v", err)
	}
	c, _ := Lookup("sht3x")
	bus := &i2cemu.Bus{}
	bus.Attach(0x44, c.Emulate())
	if _, err := c.Open(bus, 0x44, Params{Precision: "extreme"}); err == nil {
		t.Error("precision \"extreme\" accepted")
	}
	if _, err := c.Open(bus, 0x44, Params{Precision: "low"}); err != nil {
		t.Errorf("precision low: %v", err)
	}
}

func TestPowerMonitorsTakeTheirShunt(t *testing.T) {
	for _, name := range []string{"ina219", "ina226"} {
		c, _ := Lookup(name)
		bus := &i2cemu.Bus{}
		emu := c.Emulate()
		bus.Attach(0x40, emu)
		dev, err := c.Open(bus, 0x40, Params{ShuntOhms: 0.01, MaxAmps: 8})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := dev.Read(nil); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
