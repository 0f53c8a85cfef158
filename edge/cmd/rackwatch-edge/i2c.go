package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/rackwatch/rackwatch/drivers/chips"
	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/sensor"
	"periph.io/x/conn/v3/i2c"
)

const i2cUsage = `usage:
  rackwatch-edge i2c scan [--bus NAME] [--emulate]
  rackwatch-edge i2c read --chip CHIP --addr ADDR [--bus NAME] [--emulate] [--extended]
  rackwatch-edge i2c chips`

// i2cCmd runs the field commands: what answers on a bus, and what one chip
// reads, on real hardware or, with --emulate, on the emulated bus.
func i2cCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, i2cUsage)
		return 2
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("i2c "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	busName := fs.String("bus", "", "periph bus `name` (\"1\", \"/dev/i2c-1\"); empty for the first bus")
	emulate := fs.Bool("emulate", false, "use the emulated bus instead of hardware")
	switch sub {
	case "chips":
		for _, c := range chips.All {
			fmt.Fprintf(stdout, "%-10s %-44s addresses %s\n", c.Name, c.Description, fmtAddrs(c.Addrs))
		}
		return 0
	case "scan":
		if err := fs.Parse(args); err != nil {
			return 2
		}
		bus, name, closeBus, err := openFieldBus(*busName, *emulate, emulateAll)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		defer closeBus()
		found := chips.Scan(bus)
		fmt.Fprintf(stdout, "%s: %d device(s)\n", name, len(found))
		for _, f := range found {
			guess := "unknown"
			switch {
			case len(f.Identified) > 0:
				guess = strings.Join(f.Identified, ", ") + " (ID registers match)"
			case len(f.Candidates) > 0:
				guess = "maybe " + strings.Join(f.Candidates, " or ") + " (by address; no ID registers)"
			}
			fmt.Fprintf(stdout, "  %#02x  %s\n", f.Addr, guess)
		}
		return 0
	case "read":
		chipName := fs.String("chip", "", "chip `name` (see: rackwatch-edge i2c chips)")
		addrText := fs.String("addr", "", "7-bit `address`, e.g. 0x48")
		var p chips.Params
		fs.BoolVar(&p.Extended, "extended", false, "TMP102 extended (13-bit) mode")
		if err := fs.Parse(args); err != nil {
			return 2
		}
		chip, err := chips.Lookup(*chipName)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		addr, err := parseAddr(*addrText, chip)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		bus, name, closeBus, err := openFieldBus(*busName, *emulate, func(b *i2cemu.Bus) error {
			return b.Attach(addr, chip.Emulate())
		})
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		defer closeBus()
		dev, err := chip.Open(bus, addr, p)
		if err != nil {
			fmt.Fprintf(stderr, "%s at %#02x on %s: %v\n", chip.Name, addr, name, err)
			return 1
		}
		defer dev.Halt()
		rs, err := dev.Read(make([]sensor.Reading, 0, 8))
		if err != nil {
			fmt.Fprintf(stderr, "%s at %#02x on %s: %v\n", chip.Name, addr, name, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s at %#02x on %s\n", chip.Name, addr, name)
		for _, r := range rs {
			fmt.Fprintf(stdout, "  %s\n", r)
		}
		return 0
	default:
		fmt.Fprintf(stderr, "rackwatch-edge i2c: unknown command %q\n%s\n", sub, i2cUsage)
		return 2
	}
}

func parseAddr(s string, chip chips.Chip) (uint16, error) {
	if s == "" {
		return 0, fmt.Errorf("--addr is required (%s: %s)", chip.Name, fmtAddrs(chip.Addrs))
	}
	v, err := strconv.ParseUint(s, 0, 16)
	if err != nil {
		return 0, fmt.Errorf("--addr %q: not a number such as 0x48", s)
	}
	if err := chip.CheckAddr(uint16(v)); err != nil {
		return 0, err
	}
	return uint16(v), nil
}

// emulateAll attaches one model of every chip, each at the first of its
// addresses that is still free.
func emulateAll(b *i2cemu.Bus) error {
	used := map[uint16]bool{}
	for _, c := range chips.All {
		for _, a := range c.Addrs {
			if !used[a] {
				used[a] = true
				if err := b.Attach(a, c.Emulate()); err != nil {
					return err
				}
				break
			}
		}
	}
	return nil
}

func openFieldBus(name string, emulate bool, populate func(*i2cemu.Bus) error) (i2c.Bus, string, func(), error) {
	if emulate {
		b := &i2cemu.Bus{}
		if err := populate(b); err != nil {
			return nil, "", nil, err
		}
		return b, "emulated bus", func() {}, nil
	}
	b, err := openBus(name)
	if err != nil {
		return nil, "", nil, fmt.Errorf("open i2c bus %q: %w", name, err)
	}
	return b, b.String(), func() { b.Close() }, nil
}

func fmtAddrs(a []uint16) string {
	s := make([]string, len(a))
	for i, x := range a {
		s[i] = fmt.Sprintf("%#02x", x)
	}
	return strings.Join(s, " ")
}
