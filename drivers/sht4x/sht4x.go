package sht4x

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rackwatch/rackwatch/drivers/sensirion"
	"github.com/rackwatch/rackwatch/drivers/sensor"
	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// Commands ("Command Overview"): one byte each.
const (
	cmdMeasureHigh   byte = 0xFD // measure T & RH with high precision (high repeatability)
	cmdMeasureMedium byte = 0xF6
	cmdMeasureLow    byte = 0xE0
	cmdSerialNumber  byte = 0x89
	cmdSoftReset     byte = 0x94
)

// Waits. The sensor NACKs the read header until a measurement is done, so
// the driver waits the maximum measurement duration of the precision
// ("Timing Specifications": 8.3, 4.5 and 1.7 ms; the Linux sht4x driver
// waits 8.2 ms for high precision, the maximum in earlier revisions).
const (
	waitHigh   = 8300 * time.Microsecond
	waitMedium = 4500 * time.Microsecond
	waitLow    = 1700 * time.Microsecond
	// waitReset is the soft reset time, 1 ms maximum.
	waitReset = time.Millisecond
	// waitSerial: the datasheet gives no execution time for reading the
	// serial number; Sensirion's reference driver (embedded-i2c-sht4x)
	// waits 10 ms, and so does this one.
	waitSerial = 10 * time.Millisecond
)

// Raw to physical conversion ("Conversion of Signal Output"):
// T = −45 °C + 175 °C·S_T/(2¹⁶−1) and RH = −6 %RH + 125 %RH·S_RH/(2¹⁶−1),
// cropped to 0–100 %RH.
const (
	fullScale = 65535
	tSpan     = 175 * int64(physic.Kelvin) // nano-kelvin over the full scale
	rhSpan    = 125 * int64(physic.PercentRH)
	tMin      = physic.ZeroCelsius - 45*physic.Kelvin
	rhMin     = -6 * physic.PercentRH
	rhMax     = 100 * physic.PercentRH
)

// doSleep is replaced in tests to observe and skip the waits.
var doSleep = time.Sleep

// Precision selects the measurement command. Higher precision means less
// noise and a longer measurement (repeatability of RH 0.08, 0.15 and
// 0.25 %RH and of T 0.04, 0.07 and 0.1 °C for high, medium and low).
type Precision uint8

// Precisions. The zero Precision selects PrecisionHigh.
const (
	PrecisionHigh Precision = iota + 1
	PrecisionMedium
	PrecisionLow
)

func (p Precision) normal() Precision {
	if p == 0 {
		return PrecisionHigh
	}
	return p
}

// String returns "high", "medium" or "low".
func (p Precision) String() string {
	switch p.normal() {
	case PrecisionHigh:
		return "high"
	case PrecisionMedium:
		return "medium"
	case PrecisionLow:
		return "low"
	}
	return fmt.Sprintf("precision(%d)", p)
}

// UnmarshalText accepts "high", "medium" or "low", so that a configuration
// file can name the precision.
func (p *Precision) UnmarshalText(b []byte) error {
	switch string(b) {
	case "high":
		*p = PrecisionHigh
	case "medium":
		*p = PrecisionMedium
	case "low":
		*p = PrecisionLow
	default:
		return fmt.Errorf("sht4x: unknown precision %q (want high, medium or low)", b)
	}
	return nil
}

// MeasurementTime is how long the driver waits between the measurement
// command and the readout: the datasheet's maximum measurement duration.
func (p Precision) MeasurementTime() time.Duration {
	switch p.normal() {
	case PrecisionMedium:
		return waitMedium
	case PrecisionLow:
		return waitLow
	}
	return waitHigh
}

func (p Precision) command() (byte, error) {
	switch p.normal() {
	case PrecisionHigh:
		return cmdMeasureHigh, nil
	case PrecisionMedium:
		return cmdMeasureMedium, nil
	case PrecisionLow:
		return cmdMeasureLow, nil
	}
	return 0, fmt.Errorf("sht4x: unknown precision %d", p)
}

// Opts configures a Dev.
type Opts struct {
	// Addr is the 7-bit address, fixed by the part number: 0x44 for the
	// SHT4x-AD1B parts, 0x45 for -BD1B, 0x46 for -CD1B.
	Addr uint16
	// Precision of each measurement; zero means PrecisionHigh.
	Precision Precision
}

// DefaultOpts is the configuration New uses when opts is nil: the address
// of the common -AD1B parts and high precision.
var DefaultOpts = Opts{Addr: 0x44, Precision: PrecisionHigh}

// Dev is an SHT40, SHT41, SHT43 or SHT45 on an I²C bus. It is safe for
// concurrent use.
type Dev struct {
	c      i2c.Dev
	cmd    byte
	wait   time.Duration
	serial uint32

	mu sync.Mutex // serialises bus access and guards the buffers
	w  [1]byte    // transfer buffers, so a read does not allocate
	r  [6]byte

	cont sensor.Continuous // the SenseContinuous loop
}

// Probe reports whether the device at addr is an SHT4x, without changing
// its state: it reads the serial number (command 0x89) and checks the CRCs
// of both words. It returns nil for an SHT4x, an error wrapping
// sensor.ErrChipID and sensor.ErrCRC for a device whose answer fails the
// checksum, and the wrapped bus error when the transfer fails, for example
// because nothing answers at addr or the device NACKs the command (an
// SHT3x does).
func Probe(bus i2c.Bus, addr uint16) error {
	if bus == nil {
		return errors.New("sht4x: nil bus")
	}
	d := &Dev{c: i2c.Dev{Bus: bus, Addr: addr}}
	_, err := d.readSerial()
	return err
}

// New checks that the device at opts.Addr is an SHT4x by reading its serial
// number. A nil opts means DefaultOpts. The driver does not take ownership
// of bus.
//
// Unlike the SHT3x, the SHT4x keeps no mode between commands (each
// measurement and heater pulse is a single command), so New does not reset
// it: there is no state another program could have left behind.
func New(bus i2c.Bus, opts *Opts) (*Dev, error) {
	if bus == nil {
		return nil, errors.New("sht4x: nil bus")
	}
	if opts == nil {
		opts = &DefaultOpts
	}
	if opts.Addr < 0x44 || opts.Addr > 0x46 {
		return nil, fmt.Errorf("sht4x: address %#x out of range 0x44-0x46", opts.Addr)
	}
	cmd, err := opts.Precision.command()
	if err != nil {
		return nil, err
	}
	d := &Dev{
		c:    i2c.Dev{Bus: bus, Addr: opts.Addr},
		cmd:  cmd,
		wait: opts.Precision.MeasurementTime(),
	}
	if d.serial, err = d.readSerial(); err != nil {
		return nil, err
	}
	return d, nil
}

// String implements conn.Resource.
func (d *Dev) String() string {
	return "SHT4x{" + d.c.String() + "}"
}

// SerialNumber is the sensor's unique serial number, read by New.
func (d *Dev) SerialNumber() uint32 {
	return d.serial
}

// Sense measures temperature and humidity into e and leaves the other
// fields alone. On error e is not modified. Implements physic.SenseEnv.
func (d *Dev) Sense(e *physic.Env) error {
	t, h, err := d.measure()
	if err != nil {
		return err
	}
	e.Temperature, e.Humidity = t, h
	return nil
}

// Read implements sensor.Sensor: a temperature and a humidity reading, in
// that order, or none.
func (d *Dev) Read(dst []sensor.Reading) ([]sensor.Reading, error) {
	t, h, err := d.measure()
	if err != nil {
		return dst, err
	}
	return append(dst, sensor.Temp(t), sensor.Reading{Quantity: sensor.Humidity, Value: int64(h)}), nil
}

// Precision implements physic.SenseEnv: one step of the 16-bit raw values,
// 175/65535 °C and 125/65535 %RH, rounded to the nearest unit.
func (d *Dev) Precision(e *physic.Env) {
	e.Temperature = physic.Temperature(sensor.DivRound(tSpan, fullScale))
	e.Humidity = physic.RelativeHumidity(sensor.DivRound(rhSpan, fullScale))
}

// Reset sends a soft reset (0x94) and waits for it to complete, for a
// caller recovering a sensor that stopped answering: a heater pulse or
// measurement started by someone else ends with it.
func (d *Dev) Reset() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.w[0] = cmdSoftReset
	if err := d.c.Tx(d.w[:], nil); err != nil {
		return fmt.Errorf("sht4x: soft reset at %#x: %w", d.c.Addr, err)
	}
	doSleep(waitReset)
	return nil
}

// SenseContinuous measures every interval and sends the result on the
// returned channel, starting at once. A previous continuous read is stopped
// first. The channel is closed by Halt, or after a measurement fails; call
// Sense to learn why it failed. Implements physic.SenseEnv.
func (d *Dev) SenseContinuous(interval time.Duration) (<-chan physic.Env, error) {
	if interval <= 0 {
		return nil, fmt.Errorf("sht4x: sense continuous at %#x: interval %s is not positive", d.c.Addr, interval)
	}
	return d.cont.Start(interval, func() (e physic.Env, err error) {
		err = d.Sense(&e)
		return e, err
	}), nil
}

// Halt stops a continuous read. It sends nothing to the sensor, which
// idles on its own after each measurement. Implements conn.Resource.
func (d *Dev) Halt() error {
	return d.cont.Halt(nil)
}

// measure runs one measurement: command, wait, readout of T, CRC, RH, CRC.
// Both words must pass their CRC, or nothing is returned.
func (d *Dev) measure() (physic.Temperature, physic.RelativeHumidity, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.w[0] = d.cmd
	if err := d.c.Tx(d.w[:], nil); err != nil {
		return 0, 0, fmt.Errorf("sht4x: start measurement at %#x: %w", d.c.Addr, err)
	}
	doSleep(d.wait)
	if err := d.c.Tx(nil, d.r[:]); err != nil {
		return 0, 0, fmt.Errorf("sht4x: read measurement at %#x: %w", d.c.Addr, err)
	}
	st, err := d.word(d.r[0:3], "temperature")
	if err != nil {
		return 0, 0, err
	}
	srh, err := d.word(d.r[3:6], "humidity")
	if err != nil {
		return 0, 0, err
	}
	return temperature(st), humidity(srh), nil
}

// readSerial reads and checks the serial number. Call it with mu held, or
// before the Dev is shared.
func (d *Dev) readSerial() (uint32, error) {
	d.w[0] = cmdSerialNumber
	if err := d.c.Tx(d.w[:], nil); err != nil {
		return 0, fmt.Errorf("sht4x: read serial number at %#x: %w", d.c.Addr, err)
	}
	doSleep(waitSerial)
	if err := d.c.Tx(nil, d.r[:]); err != nil {
		return 0, fmt.Errorf("sht4x: read serial number at %#x: %w", d.c.Addr, err)
	}
	var s uint32
	for i, name := range [2]string{"high", "low"} {
		w, got, want, ok := sensirion.Word(d.r[3*i:])
		if !ok {
			return 0, fmt.Errorf("sht4x: not an SHT4x at %#x: %w: serial number %s word %#04x has CRC %#02x, want %#02x (%w)",
				d.c.Addr, sensor.ErrChipID, name, w, got, want, sensor.ErrCRC)
		}
		s = s<<16 | uint32(w)
	}
	return s, nil
}

func (d *Dev) word(b []byte, name string) (uint16, error) {
	w, got, want, ok := sensirion.Word(b)
	if !ok {
		return 0, fmt.Errorf("sht4x: %s at %#x: %w: word %#04x has CRC %#02x, want %#02x",
			name, d.c.Addr, sensor.ErrCRC, w, got, want)
	}
	return w, nil
}

// temperature converts S_T exactly to the nearest nano-kelvin.
func temperature(raw uint16) physic.Temperature {
	return tMin + physic.Temperature(sensor.DivRound(tSpan*int64(raw), fullScale))
}

// humidity converts S_RH to the nearest 10⁻⁵ %RH and crops it to 0–100 %RH:
// the sensor reports values slightly outside near both ends, which the
// datasheet tells the host to crop.
func humidity(raw uint16) physic.RelativeHumidity {
	h := rhMin + physic.RelativeHumidity(sensor.DivRound(rhSpan*int64(raw), fullScale))
	return min(max(h, 0), rhMax)
}

var (
	_ sensor.Sensor   = &Dev{}
	_ conn.Resource   = &Dev{}
	_ physic.SenseEnv = &Dev{}
)
