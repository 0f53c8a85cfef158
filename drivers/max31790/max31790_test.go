package max31790

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/drivers/sensor"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c/i2ctest"
)

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

const addr = 0x20

// rd is a register read at addr; wr a register write (pointer, data).
func rd(reg byte, r ...byte) i2ctest.IO {
	return i2ctest.IO{Addr: addr, W: []byte{reg}, R: r}
}

func wr(w ...byte) i2ctest.IO {
	return i2ctest.IO{Addr: addr, W: w}
}

// newOps are the transactions New makes for fans (1-based channels) whose
// fan configuration registers read cfg and whose SR is left alone: the
// tach count check on each, then each configuration, enabling TACH input
// when neither it nor RPM mode is set.
func newOps(fans []int, cfg byte) []i2ctest.IO {
	var ops []i2ctest.IO
	for _, ch := range fans {
		ops = append(ops, rd(0x18+2*byte(ch-1), 0xFF, 0xE0))
	}
	for _, ch := range fans {
		ops = append(ops, rd(0x02+byte(ch-1), cfg))
		if cfg&0x88 == 0 {
			ops = append(ops, wr(0x02+byte(ch-1), cfg|0x08))
		}
	}
	return ops
}

var allFans = []int{1, 2, 3, 4, 5, 6}

func closeBus(t *testing.T, bus *i2ctest.Playback) {
	t.Helper()
	if err := bus.Close(); err != nil {
		t.Errorf("bus.Close: %v", err)
	}
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

func TestNewConfigures(t *testing.T) {
	cases := []struct {
		name  string
		opts  *Opts
		ops   []i2ctest.IO
		sleep []time.Duration
	}{
		{"nil opts on a fresh chip", nil, newOps(allFans, 0x00), []time.Duration{TachSettleTime}},
		{"default opts on a fresh chip", &DefaultOpts, newOps(allFans, 0x00), []time.Duration{TachSettleTime}},
		{"TACH inputs already enabled", nil, newOps(allFans, 0x08), nil},
		{"RPM mode enables TACH by itself", nil, newOps(allFans, 0x80), nil},
		// Other configuration bits (spin-up, locked rotor) are kept.
		{"keeps other bits", &Opts{Addr: addr, Fans: []Fan{{Channel: 4}}}, newOps([]int{4}, 0x66), []time.Duration{TachSettleTime}},
		{"two fans", &Opts{Addr: addr, Fans: []Fan{{Channel: 5}, {Channel: 2}}}, newOps([]int{5, 2}, 0x08), nil},
		{"speed range 8 is written", &Opts{Addr: addr, Fans: []Fan{{Channel: 1, SpeedRange: 8}}}, append(newOps([]int{1}, 0x08),
			rd(0x08, 0x4C), wr(0x08, 0x6C)), nil},
		{"speed range 32 keeps rate of change", &Opts{Addr: addr, Fans: []Fan{{Channel: 6, SpeedRange: 32}}}, append(newOps([]int{6}, 0x08),
			rd(0x0D, 0x5F), wr(0x0D, 0xBF)), nil},
		{"speed range 1", &Opts{Addr: addr, Fans: []Fan{{Channel: 2, SpeedRange: 1}}}, append(newOps([]int{2}, 0x08),
			rd(0x09, 0x4C), wr(0x09, 0x0C)), nil},
		{"speed range already set", &Opts{Addr: addr, Fans: []Fan{{Channel: 1, SpeedRange: 4}}}, append(newOps([]int{1}, 0x08),
			rd(0x08, 0x4C)), nil},
		{"speed range 32 matches code 111", &Opts{Addr: addr, Fans: []Fan{{Channel: 1, SpeedRange: 32}}}, append(newOps([]int{1}, 0x08),
			rd(0x08, 0xA0)), nil},
		{"same speed range in RPM mode", &Opts{Addr: addr, Fans: []Fan{{Channel: 3, SpeedRange: 4}}}, append(newOps([]int{3}, 0x88),
			rd(0x0A, 0x4C)), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := stubSleep(t)
			bus := &i2ctest.Playback{DontPanic: true, Ops: tc.ops}
			defer closeBus(t, bus)
			if _, err := New(bus, tc.opts); err != nil {
				t.Fatalf("New: %v", err)
			}
			if got := s.take(); !equalDurations(got, tc.sleep) {
				t.Errorf("New slept %v, want %v", got, tc.sleep)
			}
		})
	}
}

func TestNewSpeedRangeInRPMMode(t *testing.T) {
	stubSleep(t)
	// Changing SR would change the speed the loop holds: refused, and
	// nothing written.
	bus := &i2ctest.Playback{DontPanic: true, Ops: append(newOps([]int{3}, 0x88), rd(0x0A, 0x4C))}
	defer closeBus(t, bus)
	_, err := New(bus, &Opts{Addr: addr, Fans: []Fan{{Channel: 3, SpeedRange: 16}}})
	if !errors.Is(err, ErrRPMMode) {
		t.Fatalf("New: err %v, want ErrRPMMode", err)
	}
	if !strings.Contains(err.Error(), "fan 3 at 0x20") {
		t.Errorf("err %q does not name the fan and address", err)
	}
}

func TestNewAddress(t *testing.T) {
	stubSleep(t)
	for a := uint16(MinAddr); a <= MaxAddr; a++ {
		bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
			{Addr: a, W: []byte{0x1A}, R: []byte{0xFF, 0xE0}},
			{Addr: a, W: []byte{0x03}, R: []byte{0x08}},
		}}
		if _, err := New(bus, &Opts{Addr: a, Fans: []Fan{{Channel: 2}}}); err != nil {
			t.Errorf("New at %#x: %v", a, err)
		}
		closeBus(t, bus)
	}
	for _, a := range []uint16{0, 0x1F, 0x30, 0x40, 0x5E} {
		bus := &i2ctest.Playback{DontPanic: true}
		_, err := New(bus, &Opts{Addr: a})
		if err == nil || !strings.Contains(err.Error(), "out of range 0x20-0x2f") {
			t.Errorf("New at %#x: err %v, want out of range", a, err)
		}
		closeBus(t, bus) // no transaction at all
	}
}

func TestNewInvalidOpts(t *testing.T) {
	stubSleep(t)
	if _, err := New(nil, nil); err == nil {
		t.Error("New(nil bus): no error")
	}
	seven := make([]Fan, 7)
	for i := range seven {
		seven[i].Channel = i%6 + 1
	}
	for _, tc := range []struct {
		name string
		fans []Fan
		want string
	}{
		{"channel 0", []Fan{{Channel: 0}}, "fan channel 0 out of range 1-6"},
		{"channel 7", []Fan{{Channel: 7}}, "fan channel 7 out of range 1-6"},
		{"negative channel", []Fan{{Channel: -1}}, "fan channel -1 out of range"},
		{"duplicate", []Fan{{Channel: 2}, {Channel: 2}}, "fan channel 2 listed twice"},
		{"seven fans", seven, "7 fans listed"},
		{"speed range 3", []Fan{{Channel: 1, SpeedRange: 3}}, "speed range 3 is not"},
		{"speed range 64", []Fan{{Channel: 1, SpeedRange: 64}}, "speed range 64 is not"},
		{"negative speed range", []Fan{{Channel: 1, SpeedRange: -4}}, "speed range -4 is not"},
		{"negative pulses", []Fan{{Channel: 1, PulsesPerRev: -2}}, "-2 pulses per revolution out of range 1-8"},
		{"9 pulses", []Fan{{Channel: 1, PulsesPerRev: 9}}, "9 pulses per revolution"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bus := &i2ctest.Playback{DontPanic: true}
			defer closeBus(t, bus)
			_, err := New(bus, &Opts{Addr: addr, Fans: tc.fans})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: err %v, want %q", err, tc.want)
			}
		})
	}
}

func TestNewNotMAX31790(t *testing.T) {
	for _, raw := range [][]byte{{0xFF, 0xFF}, {0x00, 0x01}, {0x3E, 0x10}, {0x12, 0x34}} {
		s := stubSleep(t)
		// Only reads: nothing may be written to a foreign chip, such as
		// a GPIO expander whose outputs sit at the same registers.
		bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
			rd(0x18, 0xFF, 0xE0),
			rd(0x1A, raw...),
		}}
		_, err := New(bus, &Opts{Addr: addr, Fans: []Fan{{Channel: 1}, {Channel: 2}, {Channel: 3}}})
		if !errors.Is(err, sensor.ErrChipID) {
			t.Errorf("tach % x: err %v, want ErrChipID", raw, err)
		} else if !strings.Contains(err.Error(), "not a MAX31790 at 0x20: tach count 2") {
			t.Errorf("err %q", err)
		}
		if len(s.take()) != 0 {
			t.Error("New slept after rejecting the device")
		}
		closeBus(t, bus)
	}
}

func TestNewBusError(t *testing.T) {
	opts := &Opts{Addr: addr, Fans: []Fan{{Channel: 1, SpeedRange: 8}}}
	all := append(newOps([]int{1}, 0x00), rd(0x08, 0x4C), wr(0x08, 0x6C))
	for _, tc := range []struct {
		failAt int
		want   string
	}{
		{0, "max31790: read tach count at 0x20: remote I/O error"},
		{1, "max31790: read fan config at 0x20: remote I/O error"},
		{2, "max31790: write fan config at 0x20: remote I/O error"},
		{3, "max31790: read fan dynamics at 0x20: remote I/O error"},
		{4, "max31790: write fan dynamics at 0x20: remote I/O error"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			s := stubSleep(t)
			bus := &faultBus{failAt: tc.failAt, err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: all[:tc.failAt]}}
			defer closeBus(t, &bus.Playback)
			_, err := New(bus, opts)
			if !errors.Is(err, errNACK) {
				t.Fatalf("New: err %v, want it to wrap the bus error", err)
			}
			if err.Error() != tc.want {
				t.Errorf("New: err %q, want %q", err, tc.want)
			}
			if len(s.take()) != 0 {
				t.Error("New slept after failing")
			}
		})
	}
}

// newDev returns a Dev for one fan on channel ch whose TACH input is
// already enabled, so New makes no write.
func newDev(t *testing.T, ops []i2ctest.IO, f Fan) (*Dev, *i2ctest.Playback) {
	t.Helper()
	stubSleep(t)
	bus := &i2ctest.Playback{DontPanic: true, Ops: append(newOps([]int{f.Channel}, 0x08), ops...)}
	d, err := New(bus, &Opts{Addr: addr, Fans: []Fan{f}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d, bus
}

func TestReadConversions(t *testing.T) {
	// RPM = 60·SR·8192 / (NP·count), count in bits 15:5 of the tach
	// register (datasheet; Linux RPM_FROM_REG). Duty: 9 bits in 15:7,
	// 511 = 100 %.
	cases := []struct {
		name string
		np   int
		dyn  byte
		tach []byte
		duty []byte
		rpm  int64 // milli-RPM
		ppm  int64
	}{
		{"worked example 3E00 at SR 4", 0, 0x4C, []byte{0x3E, 0x00}, []byte{0x80, 0x00}, 1_981_935, 500_978},
		{"worked example with NP 2 explicit", 2, 0x4C, []byte{0x3E, 0x00}, []byte{0x80, 0x00}, 1_981_935, 500_978},
		{"NP 4 halves", 4, 0x4C, []byte{0x3E, 0x00}, []byte{0x80, 0x00}, 990_967, 500_978},
		{"1000 rpm at SR 4", 0, 0x4C, []byte{0x7A, 0xE0}, []byte{0xFF, 0x80}, 1_000_040, 1_000_000},
		{"1000 rpm NP 1", 1, 0x4C, []byte{0xF5, 0xC0}, []byte{0x00, 0x80}, 1_000_040, 1957},
		{"slowest at SR 4", 0, 0x4C, []byte{0xFF, 0xC0}, []byte{0x7F, 0x80}, 480_469, 499_022},
		{"stopped", 0, 0x4C, []byte{0xFF, 0xE0}, []byte{0x00, 0x00}, 0, 0},
		{"stopped, low bits set", 0, 0x4C, []byte{0xFF, 0xFF}, []byte{0x00, 0x7F}, 0, 0},
		{"fastest at SR 1", 0, 0x0C, []byte{0x00, 0x20}, []byte{0xFF, 0xFF}, 245_760_000, 1_000_000},
		{"fastest at SR 32, NP 1", 1, 0xEC, []byte{0x00, 0x20}, []byte{0xFF, 0x80}, 15_728_640_000, 1_000_000},
		{"SR 2", 0, 0x2C, []byte{0x3E, 0x00}, []byte{0x00, 0x00}, 990_967, 0},
		{"SR 8", 0, 0x6C, []byte{0x3E, 0x00}, []byte{0x00, 0x00}, 3_963_870, 0},
		{"SR 16", 0, 0x8C, []byte{0x3E, 0x00}, []byte{0x00, 0x00}, 7_927_741, 0},
		{"SR code 101 is 32", 0, 0xA0, []byte{0x1E, 0xA0}, []byte{0x00, 0x00}, 32_099_265, 0},
		{"SR code 110 is 32", 0, 0xC0, []byte{0x1E, 0xA0}, []byte{0x00, 0x00}, 32_099_265, 0},
		{"SR code 111 is 32", 0, 0xE3, []byte{0x1E, 0xA0}, []byte{0x00, 0x00}, 32_099_265, 0},
		{"tach bits 4:0 ignored", 0, 0x4C, []byte{0x3E, 0x1F}, []byte{0x80, 0x7F}, 1_981_935, 500_978},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, bus := newDev(t, []i2ctest.IO{
				rd(0x11, 0x00),
				rd(0x0A, tc.dyn),
				rd(0x1C, tc.tach...),
				rd(0x34, tc.duty...),
			}, Fan{Channel: 3, PulsesPerRev: tc.np})
			defer closeBus(t, bus)
			prev := sensor.Reading{Quantity: sensor.Temperature, Value: 7}
			got, err := d.Read([]sensor.Reading{prev})
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			want := []sensor.Reading{
				prev,
				{Quantity: sensor.FanSpeed, Channel: "fan3", Value: tc.rpm},
				{Quantity: sensor.FanDuty, Channel: "fan3", Value: tc.ppm},
				{Quantity: sensor.FanFault, Channel: "fan3", Value: 0},
			}
			if !equalReadings(got, want) {
				t.Errorf("Read = %v, want %v", got, want)
			}
		})
	}
}

func equalReadings(a, b []sensor.Reading) bool {
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

func TestReadZeroCount(t *testing.T) {
	// A zero count would be an infinitely fast fan: not from the chip.
	d, bus := newDev(t, []i2ctest.IO{
		rd(0x11, 0x00), rd(0x08, 0x4C), rd(0x18, 0x00, 0x1F), rd(0x30, 0x80, 0x00),
	}, Fan{Channel: 1})
	defer closeBus(t, bus)
	got, err := d.Read(nil)
	if !errors.Is(err, sensor.ErrImplausible) {
		t.Fatalf("Read: err %v, want ErrImplausible", err)
	}
	if want := "max31790: fan 1 at 0x20: sensor: implausible value: tach count register 0x001f"; err.Error() != want {
		t.Errorf("err %q, want %q", err, want)
	}
	if len(got) != 0 {
		t.Errorf("Read appended %v on error", got)
	}
}

// readOps are the reads of one Read for fans at 1000 rpm (SR 4) and 50 %
// duty, with fault status status, before any fault is cleared.
func readOps(fans []int, status byte) []i2ctest.IO {
	ops := []i2ctest.IO{rd(0x11, status)}
	for _, ch := range fans {
		i := byte(ch - 1)
		ops = append(ops, rd(0x08+i, 0x4C), rd(0x18+2*i, 0x7A, 0xE0), rd(0x30+2*i, 0x80, 0x00))
	}
	return ops
}

func fanReadings(ch string, fault int64) []sensor.Reading {
	return []sensor.Reading{
		{Quantity: sensor.FanSpeed, Channel: ch, Value: 1_000_040},
		{Quantity: sensor.FanDuty, Channel: ch, Value: 500_978},
		{Quantity: sensor.FanFault, Channel: ch, Value: fault},
	}
}

func TestReadAllFansAndFaults(t *testing.T) {
	stubSleep(t)
	ops := newOps(allFans, 0x08)
	// Fans 1 and 4 latched a fault; bits 7:6 are not fans.
	ops = append(ops, readOps(allFans, 0xC9)...)
	// Each reported fault is cleared by rewriting the high byte of the
	// channel's target count.
	ops = append(ops,
		rd(0x50, 0x3E, 0x00), wr(0x50, 0x3E),
		rd(0x56, 0xFF, 0xE0), wr(0x56, 0xFF))
	// Next read: the fault of fan 4 persists, the chip latched it again.
	ops = append(ops, readOps(allFans, 0x08)...)
	ops = append(ops, rd(0x56, 0x12, 0x40), wr(0x56, 0x12))
	// Then no fault: nothing to clear.
	ops = append(ops, readOps(allFans, 0x00)...)
	bus := &i2ctest.Playback{DontPanic: true, Ops: ops}
	defer closeBus(t, bus)
	d, err := New(bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	buf := make([]sensor.Reading, 0, 18)
	for i, faults := range [][]int64{{1, 0, 0, 1, 0, 0}, {0, 0, 0, 1, 0, 0}, {0, 0, 0, 0, 0, 0}} {
		got, err := d.Read(buf[:0])
		if err != nil {
			t.Fatalf("Read %d: %v", i, err)
		}
		var want []sensor.Reading
		for ch, f := range faults {
			want = append(want, fanReadings(fanNames[ch], f)...)
		}
		if !equalReadings(got, want) {
			t.Errorf("Read %d = %v, want %v", i, got, want)
		}
	}
}

func TestReadOnlyConfiguredFans(t *testing.T) {
	stubSleep(t)
	// Fans 6 and 2, reported in that order; faults of other channels are
	// neither reported nor cleared.
	ops := append(newOps([]int{6, 2}, 0x08), readOps([]int{6, 2}, 0x3D)...)
	ops = append(ops, rd(0x5A, 0x01, 0x00), wr(0x5A, 0x01))
	bus := &i2ctest.Playback{DontPanic: true, Ops: ops}
	defer closeBus(t, bus)
	d, err := New(bus, &Opts{Addr: addr, Fans: []Fan{{Channel: 6}, {Channel: 2}}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	got, err := d.Read(nil)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	want := append(fanReadings("fan6", 1), fanReadings("fan2", 0)...)
	if !equalReadings(got, want) {
		t.Errorf("Read = %v, want %v", got, want)
	}
}

func TestReadBusError(t *testing.T) {
	reads := append(readOps([]int{1, 2}, 0x02), rd(0x52, 0x3E, 0x00), wr(0x52, 0x3E))
	for failAt, want := range []string{
		"max31790: read fault status at 0x20: remote I/O error",
		"max31790: read fan dynamics at 0x20: remote I/O error",
		"max31790: read tach count at 0x20: remote I/O error",
		"max31790: read duty cycle at 0x20: remote I/O error",
		"", "", "",
		"max31790: read target count at 0x20: remote I/O error",
		"max31790: write target count at 0x20: remote I/O error",
	} {
		if want == "" {
			continue
		}
		t.Run(want, func(t *testing.T) {
			stubSleep(t)
			pre := newOps([]int{1, 2}, 0x08)
			bus := &faultBus{failAt: len(pre) + failAt, err: errNACK, Playback: i2ctest.Playback{DontPanic: true,
				Ops: append(pre, reads[:failAt]...)}}
			defer closeBus(t, &bus.Playback)
			d, err := New(bus, &Opts{Addr: addr, Fans: []Fan{{Channel: 1}, {Channel: 2}}})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			dst := []sensor.Reading{{Quantity: sensor.Voltage}}
			got, err := d.Read(dst)
			if !errors.Is(err, errNACK) {
				t.Fatalf("Read: err %v, want the bus error", err)
			}
			if err.Error() != want {
				t.Errorf("err %q, want %q", err, want)
			}
			if len(got) != 1 {
				t.Errorf("Read appended %d readings on error", len(got)-1)
			}
		})
	}
}

func TestSetDuty(t *testing.T) {
	for _, tc := range []struct {
		name string
		ch   int
		duty gpio.Duty
		w    []byte
	}{
		{"zero stops the fan", 1, 0, []byte{0x40, 0x00, 0x00}},
		{"full", 2, gpio.DutyMax, []byte{0x42, 0xFF, 0x80}},
		{"half rounds up to 256", 3, gpio.DutyHalf, []byte{0x44, 0x80, 0x00}},
		{"quarter", 4, gpio.DutyMax / 4, []byte{0x46, 0x40, 0x00}},
		{"one step", 5, 32832, []byte{0x48, 0x00, 0x80}},
		{"just under half a step", 6, 16415, []byte{0x4A, 0x00, 0x00}},
		{"half a step rounds up", 6, 16417, []byte{0x4A, 0x00, 0x80}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i := byte(tc.ch - 1)
			d, bus := newDev(t, []i2ctest.IO{rd(0x02+i, 0x08), wr(tc.w...)}, Fan{Channel: 1})
			defer closeBus(t, bus)
			if err := d.SetDuty(tc.ch, tc.duty); err != nil {
				t.Fatalf("SetDuty: %v", err)
			}
		})
	}
}

func TestSetDutyRefused(t *testing.T) {
	d, bus := newDev(t, []i2ctest.IO{rd(0x04, 0x88)}, Fan{Channel: 1})
	defer closeBus(t, bus)
	for _, tc := range []struct {
		ch   int
		duty gpio.Duty
		want string
	}{
		{0, 0, "channel 0 out of range 1-6"},
		{7, 0, "channel 7 out of range 1-6"},
		{1, -1, "duty -1 out of range"},
		{1, gpio.DutyMax + 1, "duty 16777217 out of range"},
	} {
		if err := d.SetDuty(tc.ch, tc.duty); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("SetDuty(%d, %d): err %v, want %q", tc.ch, tc.duty, err, tc.want)
		}
	}
	// Channel 3 is in RPM mode: read its configuration, write nothing.
	if err := d.SetDuty(3, gpio.DutyHalf); !errors.Is(err, ErrRPMMode) {
		t.Errorf("SetDuty in RPM mode: err %v, want ErrRPMMode", err)
	}
}

func TestSetDutyBusError(t *testing.T) {
	for failAt, want := range []string{
		"max31790: read fan config at 0x20: remote I/O error",
		"max31790: write target duty at 0x20: remote I/O error",
	} {
		stubSleep(t)
		pre := newOps([]int{1}, 0x08)
		bus := &faultBus{failAt: len(pre) + failAt, err: errNACK, Playback: i2ctest.Playback{DontPanic: true,
			Ops: append(pre, []i2ctest.IO{rd(0x02, 0x00)}[:failAt]...)}}
		d, err := New(bus, &Opts{Addr: addr, Fans: []Fan{{Channel: 1}}})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if err := d.SetDuty(1, gpio.DutyHalf); !errors.Is(err, errNACK) || err.Error() != want {
			t.Errorf("SetDuty: err %v, want %q", err, want)
		}
		closeBus(t, &bus.Playback)
	}
}

func TestDuty(t *testing.T) {
	for _, tc := range []struct {
		raw  []byte
		want gpio.Duty
	}{
		{[]byte{0x00, 0x00}, 0},
		{[]byte{0x00, 0x7F}, 0}, // bits 6:0 are not duty
		{[]byte{0x00, 0x80}, 32832},
		{[]byte{0x7F, 0x80}, 8372192},
		{[]byte{0x80, 0x00}, 8405024},
		{[]byte{0xFF, 0x80}, gpio.DutyMax},
		{[]byte{0xFF, 0xFF}, gpio.DutyMax},
	} {
		d, bus := newDev(t, []i2ctest.IO{rd(0x36, tc.raw...), rd(0x4A, tc.raw...)}, Fan{Channel: 1})
		if got, err := d.Duty(4); err != nil || got != tc.want {
			t.Errorf("Duty(% x) = %d, %v; want %d", tc.raw, got, err, tc.want)
		}
		if got, err := d.TargetDuty(6); err != nil || got != tc.want {
			t.Errorf("TargetDuty(% x) = %d, %v; want %d", tc.raw, got, err, tc.want)
		}
		closeBus(t, bus)
	}
	d, bus := newDev(t, nil, Fan{Channel: 1})
	defer closeBus(t, bus)
	if _, err := d.Duty(0); err == nil {
		t.Error("Duty(0): no error")
	}
	if _, err := d.TargetDuty(7); err == nil {
		t.Error("TargetDuty(7): no error")
	}
}

func TestDutyRoundTrip(t *testing.T) {
	// Every register value survives register → gpio.Duty → register.
	for steps := uint16(0); steps <= dutySteps; steps++ {
		raw := steps << 7
		if got := regFromDuty(dutyFromReg(raw)); got != raw {
			t.Fatalf("%#04x → %d → %#04x", raw, dutyFromReg(raw), got)
		}
	}
}

func TestFaults(t *testing.T) {
	d, bus := newDev(t, []i2ctest.IO{
		rd(0x11, 0xE5),
		// ClearFaults(0x21): fans 1 and 6.
		rd(0x50, 0x12, 0x20), wr(0x50, 0x12),
		rd(0x5A, 0xFF, 0xE0), wr(0x5A, 0xFF),
		rd(0x11, 0x04),
	}, Fan{Channel: 1})
	defer closeBus(t, bus)
	if got, err := d.Faults(); err != nil || got != 0x25 {
		t.Errorf("Faults = %#x, %v; want 0x25", got, err)
	}
	if err := d.ClearFaults(0x21); err != nil {
		t.Fatalf("ClearFaults: %v", err)
	}
	if got, err := d.Faults(); err != nil || got != 0x04 {
		t.Errorf("Faults = %#x, %v; want 0x04", got, err)
	}
	if err := d.ClearFaults(0x40); err == nil {
		t.Error("ClearFaults(0x40): no error")
	}
	if err := d.ClearFaults(0); err != nil {
		t.Errorf("ClearFaults(0): %v", err)
	}
}

func TestFaultsBusError(t *testing.T) {
	stubSleep(t)
	pre := newOps([]int{1}, 0x08)
	bus := &faultBus{failAt: len(pre), err: errNACK, Playback: i2ctest.Playback{DontPanic: true, Ops: pre}}
	defer closeBus(t, &bus.Playback)
	d, err := New(bus, &Opts{Addr: addr, Fans: []Fan{{Channel: 1}}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := d.Faults(); !errors.Is(err, errNACK) {
		t.Errorf("Faults: err %v, want the bus error", err)
	}
}

func TestHaltLeavesFansAlone(t *testing.T) {
	// Playback fails Close on any extra transaction: Halt makes none.
	d, bus := newDev(t, nil, Fan{Channel: 1})
	defer closeBus(t, bus)
	for range 2 {
		if err := d.Halt(); err != nil {
			t.Errorf("Halt: %v", err)
		}
	}
}

func TestString(t *testing.T) {
	stubSleep(t)
	bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
		{Addr: 0x2C, W: []byte{0x18}, R: []byte{0xFF, 0xE0}},
		{Addr: 0x2C, W: []byte{0x02}, R: []byte{0x08}},
	}}
	defer closeBus(t, bus)
	d, err := New(bus, &Opts{Addr: 0x2C, Fans: []Fan{{Channel: 1}}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if got, want := d.String(), "MAX31790{playback(44)}"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
