package i2cemu_test

import (
	"errors"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/sensor"
	"github.com/rackwatch/rackwatch/drivers/sht3x"
	"github.com/rackwatch/rackwatch/drivers/sht4x"
	"periph.io/x/conn/v3/physic"
)

// These tests run the sht3x and sht4x drivers, unchanged, against the
// models with the drivers' real waits. The models encode physical values
// independently of the drivers (and are checked against the datasheet
// vectors in their own tests), so a round trip exposes a conversion error
// on either side.

func shtTemp(milli int64) physic.Temperature {
	return physic.ZeroCelsius + physic.Temperature(milli)*physic.MilliKelvin
}

// Half a step of the raw formats, rounded up: 175/65535/2 °C, 100/65535/2
// and 125/65535/2 %RH.
const (
	shtHalfStepT   = 1_335_165 // nK
	shtHalfStepRH3 = 77        // 10⁻⁵ %RH
	shtHalfStepRH4 = 96
)

func shtNear[T ~int32 | ~int64](got, want T, tol int64) bool {
	d := int64(got - want)
	return d >= -tol && d <= tol
}

// shtSweep is the exposure set for the round trips: both ends of the
// specified ranges, 0 °C, both signs, odd values between steps.
var shtSweep = []struct {
	t  physic.Temperature
	rh physic.RelativeHumidity
}{
	{shtTemp(-40_000), 0},
	{shtTemp(-25_123), 3 * physic.PercentRH},
	{shtTemp(-1), 12_345},
	{shtTemp(0), 20 * physic.PercentRH},
	{shtTemp(1), 3_333_333},
	{shtTemp(21_500), 45 * physic.PercentRH},
	{shtTemp(25_000), 50 * physic.PercentRH},
	{shtTemp(37_777), 6_123_456},
	{shtTemp(60_000), 80 * physic.PercentRH},
	{shtTemp(85_001), 9_999_999},
	{shtTemp(125_000), 100 * physic.PercentRH},
}

func TestSHT3xDriver(t *testing.T) {
	for _, rep := range []sht3x.Repeatability{sht3x.RepeatabilityHigh, sht3x.RepeatabilityMedium, sht3x.RepeatabilityLow} {
		t.Run(rep.String(), func(t *testing.T) {
			var bus i2cemu.Bus
			m := i2cemu.NewSHT3x() // typical measurement durations
			if err := bus.Attach(0x45, m); err != nil {
				t.Fatal(err)
			}
			d, err := sht3x.New(&bus, &sht3x.Opts{Addr: 0x45, Repeatability: rep})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			for _, x := range shtSweep {
				m.SetTemperature(x.t)
				m.SetHumidity(x.rh)
				var e physic.Env
				if err := d.Sense(&e); err != nil {
					t.Fatalf("Sense at %s %s: %v", x.t, x.rh, err)
				}
				if !shtNear(e.Temperature, x.t, shtHalfStepT) || !shtNear(e.Humidity, x.rh, shtHalfStepRH3) {
					t.Errorf("set %s %s: read %s %s", x.t, x.rh, e.Temperature, e.Humidity)
				}
			}
			if err := d.Halt(); err != nil {
				t.Errorf("Halt: %v", err)
			}
		})
	}
}

func TestSHT4xDriver(t *testing.T) {
	for _, p := range []sht4x.Precision{sht4x.PrecisionHigh, sht4x.PrecisionMedium, sht4x.PrecisionLow} {
		t.Run(p.String(), func(t *testing.T) {
			var bus i2cemu.Bus
			m := i2cemu.NewSHT4x()
			m.SetSerialNumber(0x12345678)
			if err := bus.Attach(0x46, m); err != nil {
				t.Fatal(err)
			}
			d, err := sht4x.New(&bus, &sht4x.Opts{Addr: 0x46, Precision: p})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if d.SerialNumber() != 0x12345678 {
				t.Errorf("SerialNumber() = %#08x", d.SerialNumber())
			}
			for _, x := range shtSweep {
				m.SetTemperature(x.t)
				m.SetHumidity(x.rh)
				var e physic.Env
				if err := d.Sense(&e); err != nil {
					t.Fatalf("Sense at %s %s: %v", x.t, x.rh, err)
				}
				if !shtNear(e.Temperature, x.t, shtHalfStepT) || !shtNear(e.Humidity, x.rh, shtHalfStepRH4) {
					t.Errorf("set %s %s: read %s %s", x.t, x.rh, e.Temperature, e.Humidity)
				}
			}
			// Out-of-range raw humidity is cropped by the driver.
			for _, tc := range []struct{ set, want physic.RelativeHumidity }{
				{-5 * physic.PercentRH, 0},
				{-physic.PercentRH / 10, 0},
				{101 * physic.PercentRH, 100 * physic.PercentRH},
				{119 * physic.PercentRH, 100 * physic.PercentRH},
			} {
				m.SetHumidity(tc.set)
				var e physic.Env
				if err := d.Sense(&e); err != nil || e.Humidity != tc.want {
					t.Errorf("set %s: read %s, %v; want %s", tc.set, e.Humidity, err, tc.want)
				}
			}
		})
	}
}

func TestSHT3xDriverNewResets(t *testing.T) {
	var bus i2cemu.Bus
	m := i2cemu.NewSHT3x()
	if err := bus.Attach(0x44, m); err != nil {
		t.Fatal(err)
	}
	// Another program left the heater on and cleared the status.
	for _, cmd := range [][]byte{{0x30, 0x6D}, {0x30, 0x41}} {
		if err := bus.Tx(0x44, cmd, nil); err != nil {
			t.Fatal(err)
		}
	}
	d, err := sht3x.New(&bus, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	st, err := d.Status()
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if st&sht3x.StatusHeater != 0 || st&sht3x.StatusReset == 0 {
		t.Errorf("status after New = %#04x, want heater off and reset detected", st)
	}
}

// shtModel is what the fault tests need of either model.
type shtModel interface {
	i2cemu.Device
	SetTemperature(physic.Temperature)
	SetStuck(bool)
	CorruptCRC(int)
	SetConversionTime(time.Duration)
}

// shtTestDriverFaults injects each fault into a model: it must surface as
// the right error with no readings appended, and the driver must recover
// when the fault is gone.
func shtTestDriverFaults(t *testing.T, m shtModel, bus *i2cemu.Bus, addr uint16, s sensor.Sensor) {
	t.Helper()
	m.SetTemperature(shtTemp(30_000))
	buf := make([]sensor.Reading, 0, 2)

	bus.FailNext(addr, 1, nil)
	if out, err := s.Read(buf); !errors.Is(err, i2cemu.ErrNACK) || len(out) != 0 {
		t.Errorf("NACK: %v %v, want ErrNACK and no readings", out, err)
	}
	errBus := errors.New("arbitration lost")
	bus.FailNext(addr, 1, errBus)
	if _, err := s.Read(buf); !errors.Is(err, errBus) {
		t.Errorf("bus error: %v, want the injected error", err)
	}

	m.CorruptCRC(1)
	if out, err := s.Read(buf); !errors.Is(err, sensor.ErrCRC) || len(out) != 0 {
		t.Errorf("corrupt CRC: %v %v, want ErrCRC and no readings", out, err)
	}

	// A measurement slower than the driver's wait: the read header is
	// NACKed, as on the real part.
	// 250 ms leaves a wide margin over the driver's few milliseconds on a
	// loaded machine.
	m.SetConversionTime(250 * time.Millisecond)
	if _, err := s.Read(buf); !errors.Is(err, i2cemu.ErrNACK) {
		t.Errorf("slow conversion: %v, want ErrNACK", err)
	}
	time.Sleep(250 * time.Millisecond) // let the pending measurement end
	m.SetConversionTime(-1)

	out, err := s.Read(buf)
	if err != nil || len(out) != 2 || !shtNear(physic.Temperature(out[0].Value), shtTemp(30_000), shtHalfStepT) {
		t.Fatalf("after the faults: %v %v, want 30 °C", out, err)
	}
	m.SetStuck(true)
	m.SetTemperature(shtTemp(40_000))
	if again, err := s.Read(buf); err != nil || again[0] != out[0] {
		t.Errorf("stuck: %v %v, want the frozen %v", again, err, out[0])
	}
	m.SetStuck(false)

	// The fault policy counts a corrupted transfer as discarded.
	g := sensor.NewGuard(s, nil, nil)
	m.CorruptCRC(1)
	if _, err := g.Read(buf); !errors.Is(err, sensor.ErrCRC) {
		t.Errorf("guarded read: %v, want ErrCRC", err)
	}
	if out, err := g.Read(buf); err != nil || !shtNear(physic.Temperature(out[0].Value), shtTemp(40_000), shtHalfStepT) {
		t.Errorf("guarded read: %v %v, want 40 °C", out, err)
	}
	if c := g.Counters(); c.Discarded != 1 || c.Good != 1 {
		t.Errorf("guard counters %+v, want 1 discarded, 1 good", c)
	}
}

func TestSHT3xDriverFaults(t *testing.T) {
	var bus i2cemu.Bus
	if _, err := sht3x.New(&bus, nil); !errors.Is(err, i2cemu.ErrNACK) {
		t.Fatalf("New on an empty bus: err %v, want ErrNACK", err)
	}
	m := i2cemu.NewSHT3x()
	if err := bus.Attach(0x44, m); err != nil {
		t.Fatal(err)
	}
	d, err := sht3x.New(&bus, &sht3x.Opts{Addr: 0x44, Repeatability: sht3x.RepeatabilityLow})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	shtTestDriverFaults(t, m, &bus, 0x44, d)
}

func TestSHT4xDriverFaults(t *testing.T) {
	var bus i2cemu.Bus
	if _, err := sht4x.New(&bus, nil); !errors.Is(err, i2cemu.ErrNACK) {
		t.Fatalf("New on an empty bus: err %v, want ErrNACK", err)
	}
	m := i2cemu.NewSHT4x()
	if err := bus.Attach(0x44, m); err != nil {
		t.Fatal(err)
	}
	m.CorruptCRC(1)
	if _, err := sht4x.New(&bus, nil); !errors.Is(err, sensor.ErrChipID) {
		t.Fatalf("New with a corrupted serial number: err %v, want ErrChipID", err)
	}
	d, err := sht4x.New(&bus, &sht4x.Opts{Addr: 0x44, Precision: sht4x.PrecisionLow})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	shtTestDriverFaults(t, m, &bus, 0x44, d)
}

// TestSHTProbe is what an I²C scan does: try each driver's Probe at each
// address and keep the ones that answer nil.
func TestSHTProbe(t *testing.T) {
	var bus i2cemu.Bus
	if err := bus.Attach(0x44, i2cemu.NewSHT3x()); err != nil {
		t.Fatal(err)
	}
	if err := bus.Attach(0x45, i2cemu.NewSHT4x()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		addr       uint16
		sht3, sht4 bool
	}{
		{0x44, true, false},
		{0x45, false, true},
		{0x46, false, false},
	} {
		if err := sht3x.Probe(&bus, tc.addr); (err == nil) != tc.sht3 {
			t.Errorf("sht3x.Probe(%#x) = %v, want found %v", tc.addr, err, tc.sht3)
		}
		if err := sht4x.Probe(&bus, tc.addr); (err == nil) != tc.sht4 {
			t.Errorf("sht4x.Probe(%#x) = %v, want found %v", tc.addr, err, tc.sht4)
		}
	}
	if err := sht3x.Probe(&bus, 0x46); !errors.Is(err, i2cemu.ErrNACK) {
		t.Errorf("sht3x.Probe on an empty address: %v, want ErrNACK", err)
	}
}
