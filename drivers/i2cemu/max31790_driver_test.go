package i2cemu_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/max31790"
	"github.com/rackwatch/rackwatch/drivers/sensor"
	"periph.io/x/conn/v3/gpio"
)

// These tests run the max31790 driver, unchanged, against the model.

// max31790Attach attaches a model at addr. With tachOn, the TACH inputs are
// enabled through the bus first, as board firmware would, and counts are
// immediate, so New neither writes nor waits.
func max31790Attach(t *testing.T, bus *i2cemu.Bus, addr uint16, tachOn bool) *i2cemu.MAX31790 {
	t.Helper()
	m := i2cemu.NewMAX31790()
	if err := bus.Attach(addr, m); err != nil {
		t.Fatal(err)
	}
	if tachOn {
		m.SetConversionTime(0)
		if err := bus.Tx(addr, []byte{0x02, 0x08, 0x08, 0x08, 0x08, 0x08, 0x08}, nil); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// max31790Fan returns the readings of channel name ("fan3") in rs.
func max31790Fan(t *testing.T, rs []sensor.Reading, name string) (speed, duty, fault int64) {
	t.Helper()
	n := 0
	for _, r := range rs {
		if r.Channel != name {
			continue
		}
		n++
		switch r.Quantity {
		case sensor.FanSpeed:
			speed = r.Value
		case sensor.FanDuty:
			duty = r.Value
		case sensor.FanFault:
			fault = r.Value
		}
	}
	if n != 3 {
		t.Fatalf("%d readings for %s in %v, want 3", n, name, rs)
	}
	return speed, duty, fault
}

func TestMAX31790DriverFreshChip(t *testing.T) {
	// A chip straight from power-up counts nothing until New enables the
	// TACH inputs, and the first counts take MAX31790MeasureTime: New must
	// wait long enough for the first Read to see the fans turn.
	var bus i2cemu.Bus
	m := max31790Attach(t, &bus, 0x20, false)
	m.SetFanRPM(1, 1981)
	m.SetFanRPM(6, 1000)
	d, err := max31790.New(&bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	rs, err := d.Read(nil)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if len(rs) != 18 {
		t.Fatalf("Read returned %d readings, want 18", len(rs))
	}
	for _, tc := range []struct {
		fan  string
		want int64
	}{{"fan1", 1_981_935}, {"fan6", 1_000_040}, {"fan3", 0}} {
		if got, _, _ := max31790Fan(t, rs, tc.fan); got != tc.want {
			t.Errorf("%s speed = %d milli-RPM, want %d", tc.fan, got, tc.want)
		}
	}
	r := make([]byte, 6)
	if err := bus.Tx(0x20, []byte{0x02}, r); err != nil || string(r) != "\x08\x08\x08\x08\x08\x08" {
		t.Errorf("fan configuration after New = % x, %v; want TACH inputs enabled", r, err)
	}
}

func TestMAX31790DriverSpeeds(t *testing.T) {
	for _, tc := range []struct {
		name string
		fan  max31790.Fan
		np   int
		from int
		to   int
	}{
		{"SR 4", max31790.Fan{Channel: 2}, 2, 490, 20000},
		{"SR 1 for slow fans", max31790.Fan{Channel: 3, SpeedRange: 1}, 2, 125, 5000},
		{"SR 32 for fast fans", max31790.Fan{Channel: 4, SpeedRange: 32}, 2, 3900, 60000},
		{"NP 1", max31790.Fan{Channel: 5, PulsesPerRev: 1}, 1, 970, 20000},
		{"NP 4", max31790.Fan{Channel: 6, PulsesPerRev: 4}, 4, 245, 10000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var bus i2cemu.Bus
			m := max31790Attach(t, &bus, 0x2F, true)
			m.SetPulsesPerRev(tc.fan.Channel, tc.np)
			d, err := max31790.New(&bus, &max31790.Opts{Addr: 0x2F, Fans: []max31790.Fan{tc.fan}})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			sr := 4 // power-up value
			if tc.fan.SpeedRange != 0 {
				sr = tc.fan.SpeedRange
			}
			buf := make([]sensor.Reading, 0, 3)
			for rpm := tc.from; rpm <= tc.to; rpm += (tc.to - tc.from) / 97 {
				m.SetFanRPM(tc.fan.Channel, rpm)
				buf, err = d.Read(buf[:0])
				if err != nil {
					t.Fatalf("Read at %d rpm: %v", rpm, err)
				}
				got := buf[0].Value
				// The chip truncates the count, so the reading is at
				// or above the true speed, by less than one count.
				count := int64(60*sr*8192) / int64(tc.np*rpm)
				slack := int64(rpm) * 1000 / count
				if got < int64(rpm)*1000 || got > int64(rpm)*1000+slack {
					t.Errorf("%d rpm read as %d milli-RPM (count %d)", rpm, got, count)
				}
			}
			// Below the range the count saturates: a stopped fan.
			m.SetFanRPM(tc.fan.Channel, tc.from/3)
			if buf, err = d.Read(buf[:0]); err != nil || buf[0].Value != 0 {
				t.Errorf("%d rpm read as %v, %v; want 0 (too slow to measure)", tc.from/3, buf, err)
			}
		})
	}
}

func TestMAX31790DriverSpeedRangeWritten(t *testing.T) {
	var bus i2cemu.Bus
	max31790Attach(t, &bus, 0x20, true)
	if _, err := max31790.New(&bus, &max31790.Opts{Addr: 0x20, Fans: []max31790.Fan{{Channel: 1, SpeedRange: 32}, {Channel: 2, SpeedRange: 1}}}); err != nil {
		t.Fatalf("New: %v", err)
	}
	r := make([]byte, 3)
	if err := bus.Tx(0x20, []byte{0x08}, r); err != nil || string(r) != "\xAC\x0C\x4C" {
		t.Errorf("fan dynamics = % x, %v; want ac 0c 4c", r, err)
	}
	// In RPM mode the driver refuses to change SR.
	if err := bus.Tx(0x20, []byte{0x04, 0x80}, nil); err != nil {
		t.Fatal(err)
	}
	_, err := max31790.New(&bus, &max31790.Opts{Addr: 0x20, Fans: []max31790.Fan{{Channel: 3, SpeedRange: 8}}})
	if !errors.Is(err, max31790.ErrRPMMode) {
		t.Errorf("New changing SR in RPM mode: err %v, want ErrRPMMode", err)
	}
}

func TestMAX31790DriverDuty(t *testing.T) {
	var bus i2cemu.Bus
	max31790Attach(t, &bus, 0x20, true)
	d, err := max31790.New(&bus, &max31790.Opts{Addr: 0x20, Fans: []max31790.Fan{{Channel: 4}}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for _, tc := range []struct {
		set  gpio.Duty
		want gpio.Duty
		ppm  int64
	}{
		{0, 0, 0},
		{gpio.DutyHalf, 8405024, 500_978},
		{gpio.DutyMax, gpio.DutyMax, 1_000_000},
		{gpio.DutyMax / 100, 164161, 9785}, // 1 % is 5 of 511 steps
	} {
		if err := d.SetDuty(4, tc.set); err != nil {
			t.Fatalf("SetDuty(%s): %v", tc.set, err)
		}
		if got, err := d.TargetDuty(4); err != nil || got != tc.want {
			t.Errorf("TargetDuty after SetDuty(%d) = %d, %v; want %d", tc.set, got, err, tc.want)
		}
		if got, err := d.Duty(4); err != nil || got != tc.want {
			t.Errorf("Duty after SetDuty(%d) = %d, %v; want %d", tc.set, got, err, tc.want)
		}
		rs, err := d.Read(nil)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if _, ppm, _ := max31790Fan(t, rs, "fan4"); ppm != tc.ppm {
			t.Errorf("duty reading after SetDuty(%d) = %d ppm, want %d", tc.set, ppm, tc.ppm)
		}
	}
	// Channel 5 is switched to RPM mode: the speed loop owns its duty.
	if err := bus.Tx(0x20, []byte{0x06, 0x80}, nil); err != nil {
		t.Fatal(err)
	}
	if err := d.SetDuty(5, gpio.DutyHalf); !errors.Is(err, max31790.ErrRPMMode) {
		t.Errorf("SetDuty in RPM mode: err %v, want ErrRPMMode", err)
	}
}

func TestMAX31790DriverFaults(t *testing.T) {
	var bus i2cemu.Bus
	m := max31790Attach(t, &bus, 0x21, true)
	d, err := max31790.New(&bus, &max31790.Opts{Addr: 0x21})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	faultOf := func(fan string) int64 {
		t.Helper()
		rs, err := d.Read(nil)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		_, _, f := max31790Fan(t, rs, fan)
		return f
	}
	m.SetFanFault(2, true)
	// A persisting fault is reported by every read.
	for i := range 3 {
		if f := faultOf("fan2"); f != 1 {
			t.Errorf("read %d: fan2 fault = %d, want 1", i, f)
		}
	}
	// It ended: the latched bit is reported once more, then cleared.
	m.SetFanFault(2, false)
	if f := faultOf("fan2"); f != 1 {
		t.Errorf("read after the fault ended: fan2 fault = %d, want 1 (latched)", f)
	}
	if f := faultOf("fan2"); f != 0 {
		t.Errorf("next read: fan2 fault = %d, want 0", f)
	}
	// A fault that came and went between two reads is not lost.
	m.SetFanFault(5, true)
	m.SetFanFault(5, false)
	if got, err := d.Faults(); err != nil || got != 0x10 {
		t.Errorf("Faults = %#x, %v; want 0x10", got, err)
	}
	if f := faultOf("fan5"); f != 1 {
		t.Errorf("fan5 fault = %d, want 1", f)
	}
	if got, err := d.Faults(); err != nil || got != 0 {
		t.Errorf("Faults after Read = %#x, %v; want 0", got, err)
	}
	m.SetFanFault(6, true)
	m.SetFanFault(6, false)
	if err := d.ClearFaults(0x20); err != nil {
		t.Fatalf("ClearFaults: %v", err)
	}
	if got, err := d.Faults(); err != nil || got != 0 {
		t.Errorf("Faults after ClearFaults = %#x, %v; want 0", got, err)
	}
}

func TestMAX31790DriverBusFaults(t *testing.T) {
	var bus i2cemu.Bus
	if _, err := max31790.New(&bus, nil); !errors.Is(err, i2cemu.ErrNACK) {
		t.Fatalf("New on an empty bus: err %v, want ErrNACK", err)
	}
	m := max31790Attach(t, &bus, 0x20, true)
	m.SetFanRPM(1, 1981)
	errBus := errors.New("bus stuck low")
	bus.FailNext(0x20, 1, errBus)
	if _, err := max31790.New(&bus, nil); !errors.Is(err, errBus) {
		t.Fatalf("New with a bus fault: err %v, want the injected error", err)
	}
	d, err := max31790.New(&bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	bus.SetFault(0x20, i2cemu.ErrNACK)
	for range 3 {
		if rs, err := d.Read(nil); !errors.Is(err, i2cemu.ErrNACK) || len(rs) != 0 {
			t.Fatalf("Read with the device gone: %v, err %v; want nothing and ErrNACK", rs, err)
		}
	}
	if err := d.SetDuty(1, 0); !errors.Is(err, i2cemu.ErrNACK) {
		t.Errorf("SetDuty with the device gone: err %v, want ErrNACK", err)
	}
	// Halt touches nothing, so it cannot fail.
	if err := d.Halt(); err != nil {
		t.Errorf("Halt: %v", err)
	}
	bus.SetFault(0x20, nil)
	rs, err := d.Read(nil)
	if err != nil {
		t.Fatalf("Read after recovery: %v", err)
	}
	if got, _, _ := max31790Fan(t, rs, "fan1"); got != 1_981_935 {
		t.Errorf("fan1 after recovery = %d milli-RPM, want 1981935", got)
	}
}

func TestMAX31790DriverStuck(t *testing.T) {
	// A frozen chip reads the same values forever; the guard's stuck
	// policy turns that into implausible readings.
	var bus i2cemu.Bus
	m := max31790Attach(t, &bus, 0x20, true)
	m.SetFanRPM(3, 2500)
	d, err := max31790.New(&bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	g := sensor.NewGuard(d, &sensor.Policy{StuckAfter: 3}, nil)
	if _, err := g.Read(nil); err != nil {
		t.Fatalf("Read: %v", err)
	}
	m.SetStuck(true)
	var errs []error
	for rpm := range 3 {
		m.SetFanRPM(3, 3000+rpm*100)
		_, err := g.Read(nil)
		errs = append(errs, err)
	}
	if errs[0] != nil || !errors.Is(errs[1], sensor.ErrImplausible) || !errors.Is(errs[2], sensor.ErrImplausible) {
		t.Errorf("errors while stuck = %v; want nil, implausible, implausible", errs)
	}
	m.SetStuck(false)
	rs, err := g.Read(nil)
	if err != nil {
		t.Fatalf("Read after unsticking: %v", err)
	}
	if got, _, _ := max31790Fan(t, rs, "fan3"); got < 3_200_000 || got > 3_210_000 {
		t.Errorf("fan3 after unsticking = %d milli-RPM, want about 3200000", got)
	}
}

// max31790Expander is a GPIO expander at a MAX31790 address: every register
// reads 0xFF. It counts register writes.
type max31790Expander struct{ writes int }

func (e *max31790Expander) Tx(w, r []byte) error {
	if len(w) > 1 {
		e.writes++
	}
	for i := range r {
		r[i] = 0xFF
	}
	return nil
}

func TestMAX31790DriverWrongChip(t *testing.T) {
	var bus i2cemu.Bus
	chip := &max31790Expander{}
	if err := bus.Attach(0x20, chip); err != nil {
		t.Fatal(err)
	}
	if _, err := max31790.New(&bus, nil); !errors.Is(err, sensor.ErrChipID) {
		t.Fatalf("New: err %v, want ErrChipID", err)
	}
	if chip.writes != 0 {
		t.Errorf("New wrote %d times to a foreign chip", chip.writes)
	}
}

func TestMAX31790DriverConcurrent(t *testing.T) {
	var bus i2cemu.Bus
	m := max31790Attach(t, &bus, 0x20, true)
	m.SetFanRPM(1, 1000)
	d, err := max31790.New(&bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var wg sync.WaitGroup
	// The fan flips between two speeds while readers read and a writer
	// changes the duty: every reading is one of the two.
	wg.Go(func() {
		for i := range 300 {
			m.SetFanRPM(1, 1000+981*(i%2))
		}
	})
	wg.Go(func() {
		for i := range 100 {
			if err := d.SetDuty(2, gpio.Duty(i)*gpio.DutyMax/100); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for range 2 {
		wg.Go(func() {
			buf := make([]sensor.Reading, 0, 18)
			for range 100 {
				rs, err := d.Read(buf[:0])
				if err != nil {
					t.Error(err)
					return
				}
				if got, _, _ := max31790Fan(t, rs, "fan1"); got != 1_000_040 && got != 1_981_935 {
					t.Errorf("fan1 read %d milli-RPM", got)
					return
				}
			}
		})
	}
	wg.Wait()
}
