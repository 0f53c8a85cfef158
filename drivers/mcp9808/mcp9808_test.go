package mcp9808

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/drivers/sensor"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"
)

// celsius returns t µ°C above 0 °C; every MCP9808 code is exact in µ°C.
func celsius(micro int64) physic.Temperature {
	return physic.ZeroCelsius + physic.Temperature(micro)*physic.MicroKelvin
}

// sleeps replaces doSleep for the test and records the requested waits.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func stubSleep(t *testing.T) *sleeps {
	t.Helper()
	s := &sleeps{}
	old := doSleep
	doSleep = func(d time.Duration) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.d = append(s.d, d)
	}
	t.Cleanup(func() { doSleep = old })
	return s
}

func (s *sleeps) take() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.d
	s.d = nil
	return d
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func closeBus(t *testing.T, bus *i2ctest.Playback) {
	t.Helper()
	if err := bus.Close(); err != nil {
		t.Errorf("bus.Close: %v", err)
	}
}

// idOps are Probe's transactions, and New's first, at addr on an MCP9808.
func idOps(addr uint16) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: addr, W: []byte{0x06}, R: []byte{0x00, 0x54}},
		{Addr: addr, W: []byte{0x07}, R: []byte{0x04, 0x00}},
	}
}

// newOps are the transactions New makes at 0x18 on a running MCP9808 with
// the power-up configuration: check the IDs, write the resolution register
// value res, read the configuration.
func newOps(res byte) []i2ctest.IO {
	return append(idOps(0x18),
		i2ctest.IO{Addr: 0x18, W: []byte{0x08, res}},
		i2ctest.IO{Addr: 0x18, W: []byte{0x01}, R: []byte{0x00, 0x00}},
	)
}

// faultBus fails the transaction numbered failAt (0-based) with err and
// plays back the others.
type faultBus struct {
	i2ctest.Playback
	failAt int
	err    error
	n      int
}

func (b *faultBus) Tx(addr uint16, w, r []byte) error {
	b.n++
	if b.n-1 == b.failAt {
		return b.err
	}
	return b.Playback.Tx(addr, w, r)
}

var errNACK = errors.New("remote I/O error")

func TestNew(t *testing.T) {
	cases := []struct {
		name  string
		opts  *Opts
		res   byte   // resolution register written
		cfg   []byte // configuration read
		write []byte // configuration written, nil for none
		sleep time.Duration
	}{
		{"nil opts", nil, 3, []byte{0x00, 0x00}, nil, 250 * time.Millisecond},
		{"default", &DefaultOpts, 3, []byte{0x00, 0x00}, nil, 250 * time.Millisecond},
		{"zero resolution", &Opts{Addr: 0x18}, 3, []byte{0x00, 0x00}, nil, 250 * time.Millisecond},
		{"0.5", &Opts{Addr: 0x18, Resolution: Res0_5}, 0, []byte{0x00, 0x00}, nil, 30 * time.Millisecond},
		{"0.25", &Opts{Addr: 0x18, Resolution: Res0_25}, 1, []byte{0x00, 0x00}, nil, 65 * time.Millisecond},
		{"0.125", &Opts{Addr: 0x18, Resolution: Res0_125}, 2, []byte{0x00, 0x00}, nil, 130 * time.Millisecond},
		{"0.0625", &Opts{Addr: 0x18, Resolution: Res0_0625}, 3, []byte{0x00, 0x00}, nil, 250 * time.Millisecond},
		{"wakes up", nil, 3, []byte{0x01, 0x00}, []byte{0x01, 0x00, 0x00}, 250 * time.Millisecond},
		// In shutdown with a locked alert configuration: SHDN is cleared,
		// Int. Clear and the read-only Alert Stat. are written as 0, the
		// rest stays.
		{"keeps alert settings", nil, 3, []byte{0x07, 0xBF}, []byte{0x01, 0x06, 0x8F}, 250 * time.Millisecond},
		// Running: nothing to write.
		{"running with alerts", &Opts{Addr: 0x18, Resolution: Res0_25}, 1, []byte{0x02, 0x0B}, nil, 65 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			ops := append(idOps(0x18),
				i2ctest.IO{Addr: 0x18, W: []byte{0x08, tc.res}},
				i2ctest.IO{Addr: 0x18, W: []byte{0x01}, R: tc.cfg})
			if tc.write != nil {
				ops = append(ops, i2ctest.IO{Addr: 0x18, W: tc.write})
			}
			bus := &i2ctest.Playback{DontPanic: true, Ops: ops}
			defer closeBus(t, bus)
			if _, err := New(bus, tc.opts); err != nil {
				t.Fatalf("New: %v", err)
			}
			// The first read must come after a conversion at the new
			// resolution (DS25095A §5.2.4).
			if got, want := s.take(), []time.Duration{tc.sleep}; !equalDurations(got, want) {
				t.Errorf("New slept %v, want %v", got, want)
			}
		})
	}
}

func TestNewAddress(t *testing.T) {
	stubSleep(t)
	for addr := uint16(0x18); addr <= 0x1F; addr++ {
		bus := &i2ctest.Playback{DontPanic: true, Ops: append(idOps(addr),
			i2ctest.IO{Addr: addr, W: []byte{0x08, 0x03}},
			i2ctest.IO{Addr: addr, W: []byte{0x01}, R: []byte{0x00, 0x00}})}
		if _, err := New(bus, &Opts{Addr: addr}); err != nil {
			t.Errorf("New at %#x: %v", addr, err)
		}
		closeBus(t, bus)
	}
	for _, addr := range []uint16{0, 0x10, 0x17, 0x20, 0x48} {
		bus := &i2ctest.Playback{DontPanic: true}
		_, err := New(bus, &Opts{Addr: addr})
		if err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("New at %#x: err %v, want out of range", addr, err)
		}
		closeBus(t, bus) // no transaction at all
	}
}

func TestNewInvalid(t *testing.T) {
	stubSleep(t)
	bus := &i2ctest.Playback{DontPanic: true}
	defer closeBus(t, bus)
	if _, err := New(nil, nil); err == nil {
		t.Error("New(nil bus): no error")
	}
	if _, err := New(bus, &Opts{Addr: 0x18, Resolution: 5}); err == nil || !strings.Contains(err.Error(), "resolution") {
		t.Errorf("New with resolution 5: err %v, want unknown resolution", err)
	}
}

// wrongIDs are devices that answer at an MCP9808 address with other IDs.
var wrongIDs = []struct {
	name     string
	mfr, dev []byte
}{
	{"MCP9804", []byte{0x00, 0x54}, []byte{0x02, 0x00}},
	{"MCP98243", []byte{0x00, 0x54}, []byte{0x21, 0x01}},
	{"other manufacturer", []byte{0x10, 0x4A}, []byte{0x04, 0x00}},
	{"all zero", []byte{0x00, 0x00}, []byte{0x00, 0x00}},
	{"all ones", []byte{0xFF, 0xFF}, []byte{0xFF, 0xFF}},
	{"bytes swapped", []byte{0x54, 0x00}, []byte{0x00, 0x04}},
}

func TestNewWrongChip(t *testing.T) {
	for _, tc := range wrongIDs {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			// Only the ID reads: nothing may be written to a foreign chip.
			bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
				{Addr: 0x18, W: []byte{0x06}, R: tc.mfr},
				{Addr: 0x18, W: []byte{0x07}, R: tc.dev},
			}}
			defer closeBus(t, bus)
			_, err := New(bus, nil)
			if !errors.Is(err, sensor.ErrChipID) {
				t.Fatalf("New: err %v, want sensor.ErrChipID", err)
			}
			if got := s.take(); len(got) != 0 {
				t.Errorf("New slept %v after rejecting the device", got)
			}
		})
	}
	stubSleep(t)
	bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
		{Addr: 0x1A, W: []byte{0x06}, R: []byte{0x00, 0x54}},
		{Addr: 0x1A, W: []byte{0x07}, R: []byte{0x02, 0x01}},
	}}
	defer closeBus(t, bus)
	_, err := New(bus, &Opts{Addr: 0x1A})
	want := "mcp9808: device at 0x1a is not an MCP9808: manufacturer ID 0x0054, device ID 0x02 (want 0x0054, 0x04): sensor: unexpected chip ID"
	if err == nil || err.Error() != want {
		t.Errorf("New: err %v, want %q", err, want)
	}
}

func TestProbe(t *testing.T) {
	for _, rev := range []byte{0x00, 0x01, 0xFF} {
		bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
			{Addr: 0x1F, W: []byte{0x06}, R: []byte{0x00, 0x54}},
			{Addr: 0x1F, W: []byte{0x07}, R: []byte{0x04, rev}},
		}}
		if err := Probe(bus, 0x1F); err != nil {
			t.Errorf("Probe of an MCP9808 revision %#x: %v", rev, err)
		}
		closeBus(t, bus)
	}
	for _, tc := range wrongIDs {
		bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
			{Addr: 0x18, W: []byte{0x06}, R: tc.mfr},
			{Addr: 0x18, W: []byte{0x07}, R: tc.dev},
		}}
		if err := Probe(bus, 0x18); !errors.Is(err, sensor.ErrChipID) {
			t.Errorf("Probe of %s: err %v, want sensor.ErrChipID", tc.name, err)
		}
		closeBus(t, bus)
	}
	// Outside 0x18–0x1F it cannot be an MCP9808: no transaction.
	for _, addr := range []uint16{0x17, 0x20, 0x48} {
		bus := &i2ctest.Playback{DontPanic: true}
		if err := Probe(bus, addr); !errors.Is(err, sensor.ErrChipID) {
			t.Errorf("Probe at %#x: err %v, want sensor.ErrChipID", addr, err)
		}
		closeBus(t, bus)
	}
	// A bus error is a bus error, not a verdict on the chip.
	for failAt, want := range []string{
		"mcp9808: read manufacturer ID at 0x18: remote I/O error",
		"mcp9808: read device ID at 0x18: remote I/O error",
	} {
		bus := &faultBus{failAt: failAt, err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: idOps(0x18)[:failAt]}}
		err := Probe(bus, 0x18)
		if !errors.Is(err, errNACK) || errors.Is(err, sensor.ErrChipID) || err.Error() != want {
			t.Errorf("Probe with transaction %d failing: err %v, want %q", failAt, err, want)
		}
		closeBus(t, &bus.Playback)
	}
}

func TestNewBusError(t *testing.T) {
	shutdown := append(newOps(3)[:3], i2ctest.IO{Addr: 0x18, W: []byte{0x01}, R: []byte{0x01, 0x00}})
	for _, tc := range []struct {
		failAt int
		ops    []i2ctest.IO
		want   string
	}{
		{0, nil, "mcp9808: read manufacturer ID at 0x18: remote I/O error"},
		{1, newOps(3)[:1], "mcp9808: read device ID at 0x18: remote I/O error"},
		{2, newOps(3)[:2], "mcp9808: write resolution at 0x18: remote I/O error"},
		{3, newOps(3)[:3], "mcp9808: read configuration at 0x18: remote I/O error"},
		{4, shutdown, "mcp9808: write configuration at 0x18: remote I/O error"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			s := stubSleep(t)
			bus := &faultBus{failAt: tc.failAt, err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: tc.ops}}
			defer closeBus(t, &bus.Playback)
			_, err := New(bus, nil)
			if !errors.Is(err, errNACK) {
				t.Fatalf("New: err %v, want it to wrap the bus error", err)
			}
			if err.Error() != tc.want {
				t.Errorf("New: err %q, want %q", err, tc.want)
			}
			if got := s.take(); len(got) != 0 {
				t.Errorf("New slept %v after a bus error", got)
			}
		})
	}
}

func TestSense(t *testing.T) {
	cases := []struct {
		name string
		raw  []byte
		want physic.Temperature
	}{
		// REFERENCE worked examples.
		{"+25", []byte{0x01, 0x90}, celsius(25_000_000)},
		{"-7", []byte{0x1F, 0x90}, celsius(-7_000_000)},
		// The flag bits 15–13 are not temperature.
		{"+25 with T_CRIT and T_UPPER flags", []byte{0xC1, 0x90}, celsius(25_000_000)},
		{"+25 with all flags", []byte{0xE1, 0x90}, celsius(25_000_000)},
		{"-7 with the T_LOWER flag", []byte{0x3F, 0x90}, celsius(-7_000_000)},
		// Steps and the operating range, −40 °C to +125 °C.
		{"+125", []byte{0x07, 0xD0}, celsius(125_000_000)},
		{"+100", []byte{0x06, 0x40}, celsius(100_000_000)},
		{"+25.5", []byte{0x01, 0x98}, celsius(25_500_000)},
		{"+0.0625", []byte{0x00, 0x01}, celsius(62_500)},
		{"0", []byte{0x00, 0x00}, physic.ZeroCelsius},
		{"-0.0625", []byte{0x1F, 0xFF}, celsius(-62_500)},
		{"-0.5", []byte{0x1F, 0xF8}, celsius(-500_000)},
		{"-40", []byte{0x1D, 0x80}, celsius(-40_000_000)},
		// The ends of the 13-bit format.
		{"max code", []byte{0x0F, 0xFF}, celsius(255_937_500)},
		{"min code", []byte{0x10, 0x00}, celsius(-256_000_000)},
		{"min code with flags", []byte{0xF0, 0x00}, celsius(-256_000_000)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			bus := &i2ctest.Playback{DontPanic: true, Ops: append(newOps(3),
				i2ctest.IO{Addr: 0x18, W: []byte{0x05}, R: tc.raw})}
			defer closeBus(t, bus)
			d, err := New(bus, nil)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			s.take()
			// Sense sets the temperature only.
			e := physic.Env{Pressure: 7, Humidity: 9}
			if err := d.Sense(&e); err != nil {
				t.Fatalf("Sense: %v", err)
			}
			if want := (physic.Env{Temperature: tc.want, Pressure: 7, Humidity: 9}); e != want {
				t.Errorf("Sense = %+v (%s), want %s", e, e.Temperature, tc.want)
			}
			if got := s.take(); len(got) != 0 {
				t.Errorf("Sense slept %v", got)
			}
		})
	}
}

func TestRead(t *testing.T) {
	stubSleep(t)
	bus := &faultBus{failAt: 5, err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: append(newOps(3),
		i2ctest.IO{Addr: 0x18, W: []byte{0x05}, R: []byte{0x1F, 0x90}})}}
	defer closeBus(t, &bus.Playback)
	d, err := New(bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	prior := sensor.Reading{Quantity: sensor.Humidity, Value: 1}
	got, err := d.Read([]sensor.Reading{prior})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if want := []sensor.Reading{prior, sensor.Temp(celsius(-7_000_000))}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Read = %v, want %v", got, want)
	}
	// All or nothing: a failed read appends nothing.
	got, err = d.Read(got[:1])
	if !errors.Is(err, errNACK) || len(got) != 1 {
		t.Errorf("Read on a bus error = %v, %v; want the prior reading only and the bus error", got, err)
	}
}

func TestSenseBusError(t *testing.T) {
	stubSleep(t)
	bus := &faultBus{failAt: 4, err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: newOps(3)}}
	defer closeBus(t, &bus.Playback)
	d, err := New(bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e := physic.Env{Temperature: 42}
	err = d.Sense(&e)
	if !errors.Is(err, errNACK) {
		t.Fatalf("Sense: err %v, want it to wrap the bus error", err)
	}
	if want := "mcp9808: read ambient temperature at 0x18: remote I/O error"; err.Error() != want {
		t.Errorf("Sense: err %q, want %q", err, want)
	}
	if e.Temperature != 42 {
		t.Errorf("Sense changed the temperature to %s on error", e.Temperature)
	}
}

func TestHalt(t *testing.T) {
	s := stubSleep(t)
	bus := &i2ctest.Playback{DontPanic: true, Ops: append(idOps(0x18),
		i2ctest.IO{Addr: 0x18, W: []byte{0x08, 0x01}},
		i2ctest.IO{Addr: 0x18, W: []byte{0x01}, R: []byte{0x02, 0x0B}},
		// Halt sets SHDN, keeps the alert settings and checks it took.
		i2ctest.IO{Addr: 0x18, W: []byte{0x01, 0x03, 0x0B}},
		i2ctest.IO{Addr: 0x18, W: []byte{0x01}, R: []byte{0x03, 0x0B}},
		// Sense after Halt clears SHDN and waits for a conversion.
		i2ctest.IO{Addr: 0x18, W: []byte{0x01, 0x02, 0x0B}},
		i2ctest.IO{Addr: 0x18, W: []byte{0x05}, R: []byte{0x01, 0x94}},
		i2ctest.IO{Addr: 0x18, W: []byte{0x01, 0x03, 0x0B}},
		i2ctest.IO{Addr: 0x18, W: []byte{0x01}, R: []byte{0x03, 0x0B}},
	)}
	defer closeBus(t, bus)
	d, err := New(bus, &Opts{Addr: 0x18, Resolution: Res0_25})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s.take()
	if err := d.Halt(); err != nil {
		t.Fatalf("Halt: %v", err)
	}
	// A second Halt has nothing to do: Playback fails on an extra write.
	if err := d.Halt(); err != nil {
		t.Fatalf("second Halt: %v", err)
	}
	got, err := d.SenseTemperature()
	if err != nil {
		t.Fatalf("SenseTemperature after Halt: %v", err)
	}
	if want := celsius(25_250_000); got != want {
		t.Errorf("SenseTemperature = %s, want %s", got, want)
	}
	if got, want := s.take(), []time.Duration{65 * time.Millisecond}; !equalDurations(got, want) {
		t.Errorf("wake-up slept %v, want %v", got, want)
	}
	if err := d.Halt(); err != nil {
		t.Fatalf("Halt: %v", err)
	}
}

func TestHaltLocked(t *testing.T) {
	s := stubSleep(t)
	bus := &i2ctest.Playback{DontPanic: true, Ops: append(idOps(0x18),
		i2ctest.IO{Addr: 0x18, W: []byte{0x08, 0x03}},
		i2ctest.IO{Addr: 0x18, W: []byte{0x01}, R: []byte{0x00, 0x80}},
		// The chip ignores SHDN while Crit. Lock is set (§5.2.1).
		i2ctest.IO{Addr: 0x18, W: []byte{0x01, 0x01, 0x80}},
		i2ctest.IO{Addr: 0x18, W: []byte{0x01}, R: []byte{0x00, 0x80}},
		// Still running: the next read neither wakes it nor waits.
		i2ctest.IO{Addr: 0x18, W: []byte{0x05}, R: []byte{0x01, 0x90}},
	)}
	defer closeBus(t, bus)
	d, err := New(bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s.take()
	err = d.Halt()
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("Halt: err %v, want ErrLocked", err)
	}
	if want := "mcp9808: configuration locked at 0x18: shutdown refused, configuration 0x0080"; err.Error() != want {
		t.Errorf("Halt: err %q, want %q", err, want)
	}
	if got, err := d.SenseTemperature(); err != nil || got != celsius(25_000_000) {
		t.Errorf("SenseTemperature = %s, %v; want 25°C", got, err)
	}
	if got := s.take(); len(got) != 0 {
		t.Errorf("slept %v reading a sensor that never stopped", got)
	}
}

func TestHaltBusError(t *testing.T) {
	write := i2ctest.IO{Addr: 0x18, W: []byte{0x01, 0x01, 0x00}}
	readBack := i2ctest.IO{Addr: 0x18, W: []byte{0x01}, R: []byte{0x01, 0x00}}
	for _, tc := range []struct {
		failAt int
		played []i2ctest.IO // what the failing Halt plays before the fault
		want   string
	}{
		{4, nil, "mcp9808: write configuration at 0x18: remote I/O error"},
		{5, []i2ctest.IO{write}, "mcp9808: read configuration at 0x18: remote I/O error"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			stubSleep(t)
			ops := append(newOps(3), tc.played...)
			// The retried Halt plays both.
			ops = append(ops, write, readBack)
			bus := &faultBus{failAt: tc.failAt, err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: ops}}
			defer closeBus(t, &bus.Playback)
			d, err := New(bus, nil)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			err = d.Halt()
			if !errors.Is(err, errNACK) || err.Error() != tc.want {
				t.Fatalf("Halt: err %v, want %q", err, tc.want)
			}
			// Not halted: the next Halt tries again.
			if err := d.Halt(); err != nil {
				t.Fatalf("Halt retry: %v", err)
			}
		})
	}
}

func TestStringAndPrecision(t *testing.T) {
	for _, tc := range []struct {
		res  Resolution
		bits byte
		step physic.Temperature
	}{
		{Res0_5, 0, 500 * physic.MilliKelvin},
		{Res0_25, 1, 250 * physic.MilliKelvin},
		{Res0_125, 2, 125 * physic.MilliKelvin},
		{Res0_0625, 3, 62_500 * physic.MicroKelvin},
		{0, 3, 62_500 * physic.MicroKelvin},
	} {
		stubSleep(t)
		bus := &i2ctest.Playback{DontPanic: true, Ops: append(idOps(0x1C),
			i2ctest.IO{Addr: 0x1C, W: []byte{0x08, tc.bits}},
			i2ctest.IO{Addr: 0x1C, W: []byte{0x01}, R: []byte{0x00, 0x00}})}
		d, err := New(bus, &Opts{Addr: 0x1C, Resolution: tc.res})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if got, want := d.String(), "MCP9808{playback(28)}"; got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
		var e physic.Env
		d.Precision(&e)
		if e.Temperature != tc.step {
			t.Errorf("resolution %s: Precision = %s, want %s", tc.res, e.Temperature, tc.step)
		}
		closeBus(t, bus)
	}
}

func TestResolution(t *testing.T) {
	for _, tc := range []struct {
		s    string
		r    Resolution
		conv time.Duration
	}{
		{"0.5", Res0_5, 30 * time.Millisecond},
		{"0.25", Res0_25, 65 * time.Millisecond},
		{"0.125", Res0_125, 130 * time.Millisecond},
		{"0.0625", Res0_0625, 250 * time.Millisecond},
	} {
		r, err := ParseResolution(tc.s)
		if err != nil || r != tc.r {
			t.Errorf("ParseResolution(%q) = %v, %v; want %v", tc.s, r, err, tc.r)
		}
		if r.String() != tc.s || r.ConversionTime() != tc.conv {
			t.Errorf("%v: String %q, ConversionTime %s; want %q, %s", tc.r, r.String(), r.ConversionTime(), tc.s, tc.conv)
		}
	}
	for _, bad := range []string{"", "0.1", ".5", "0.50", "1/16"} {
		if _, err := ParseResolution(bad); err == nil {
			t.Errorf("ParseResolution(%q): no error", bad)
		}
	}
	if r := Resolution(0); r.String() != "0.0625" || r.ConversionTime() != 250*time.Millisecond {
		t.Errorf("zero Resolution: %q %s, want the power-up 0.0625 and 250ms", r.String(), r.ConversionTime())
	}
	if r := Resolution(9); r.String() != "resolution(9)" || r.ConversionTime() != 0 || r.Step() != 0 {
		t.Errorf("Resolution(9): %q %s %s", r.String(), r.ConversionTime(), r.Step())
	}
}

func TestSenseContinuousInterval(t *testing.T) {
	for _, tc := range []struct {
		res      Resolution
		bits     byte
		interval time.Duration
	}{
		{Res0_0625, 3, 0},
		{Res0_0625, 3, -time.Second},
		{Res0_0625, 3, 249 * time.Millisecond},
		{Res0_5, 0, 29 * time.Millisecond},
	} {
		stubSleep(t)
		bus := &i2ctest.Playback{DontPanic: true, Ops: append(idOps(0x18),
			i2ctest.IO{Addr: 0x18, W: []byte{0x08, tc.bits}},
			i2ctest.IO{Addr: 0x18, W: []byte{0x01}, R: []byte{0x00, 0x00}})}
		d, err := New(bus, &Opts{Addr: 0x18, Resolution: tc.res})
		if err != nil {
			t.Fatal(err)
		}
		if ch, err := d.SenseContinuous(tc.interval); err == nil || ch != nil {
			t.Errorf("%s: SenseContinuous(%s) = %v, %v; want an error", tc.res, tc.interval, ch, err)
		}
		closeBus(t, bus)
	}
}
