package sht3x

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

// Commands (SHT3x-DIS §4.3 Table 9, §4.8, §4.9, §4.11 Tables 17 and 19).
// Each is a 16-bit word sent MSB first.
const (
	cmdMeasureHigh   uint16 = 0x2400 // single shot, high repeatability, no clock stretching
	cmdMeasureMedium uint16 = 0x240B
	cmdMeasureLow    uint16 = 0x2416
	cmdBreak         uint16 = 0x3093 // stop periodic acquisition
	cmdSoftReset     uint16 = 0x30A2
	cmdReadStatus    uint16 = 0xF32D
)

// Status register bits (§4.11 Table 18). Bits 14, 12, 3 and 2 are reserved
// and read 0; bits 9–5 are reserved with no defined value.
const (
	statusReserved uint16 = 1<<14 | 1<<12 | 1<<3 | 1<<2
	// StatusHeater is bit 13: the heater is on.
	StatusHeater uint16 = 1 << 13
	// StatusReset is bit 4: a reset (power-up, soft or hard) happened since
	// the register was last cleared.
	StatusReset uint16 = 1 << 4
)

// Waits. The command and readout are separate transactions: with clock
// stretching disabled the sensor NACKs a read header until the
// measurement is done (§4.3), so the driver waits the longest measurement
// duration first (§2.2). The maxima are 4, 6 and 15 ms at VDD 2.4–5.5 V
// and 4.5, 6.5 and 15.5 ms at 2.15–2.4 V; the driver waits the latter so
// that it does not depend on the supply. The Linux sht3x driver waits 15
// and 4 ms.
const (
	waitHigh   = 15500 * time.Microsecond
	waitMedium = 6500 * time.Microsecond
	waitLow    = 4500 * time.Microsecond
	// waitBreak: the break command takes 1 ms (§4.8), which also covers
	// the 1 ms the sensor needs between two commands (§4.3 Table 9).
	waitBreak = time.Millisecond
	// waitReset is the soft reset time t_SR, 1.5 ms maximum (§2.2).
	waitReset = 1500 * time.Microsecond
)

// Raw to physical conversion (§4.13): T = −45 °C + 175 °C·S_T/(2¹⁶−1) and
// RH = 100 %RH·S_RH/(2¹⁶−1).
const (
	fullScale = 65535
	tSpan     = 175 * int64(physic.Kelvin) // nano-kelvin over the full scale
	rhSpan    = 100 * int64(physic.PercentRH)
	tMin      = physic.ZeroCelsius - 45*physic.Kelvin
)

// doSleep is replaced in tests to observe and skip the waits.
var doSleep = time.Sleep

// Repeatability selects the single-shot measurement command (§4.3
// Table 9). Higher repeatability means less noise and a longer measurement:
// the repeatability of RH is 0.08, 0.15 and 0.21 %RH and of T 0.04, 0.08
// and 0.15 °C for high, medium and low (§1, Tables 1 and 2).
type Repeatability uint8

// Repeatabilities. The zero Repeatability selects RepeatabilityHigh.
const (
	RepeatabilityHigh Repeatability = iota + 1
	RepeatabilityMedium
	RepeatabilityLow
)

func (r Repeatability) normal() Repeatability {
	if r == 0 {
		return RepeatabilityHigh
	}
	return r
}

// String returns "high", "medium" or "low".
func (r Repeatability) String() string {
	switch r.normal() {
	case RepeatabilityHigh:
		return "high"
	case RepeatabilityMedium:
		return "medium"
	case RepeatabilityLow:
		return "low"
	}
	return fmt.Sprintf("repeatability(%d)", r)
}

// UnmarshalText accepts "high", "medium" or "low", so that a configuration
// file can name the repeatability.
func (r *Repeatability) UnmarshalText(b []byte) error {
	switch string(b) {
	case "high":
		*r = RepeatabilityHigh
	case "medium":
		*r = RepeatabilityMedium
	case "low":
		*r = RepeatabilityLow
	default:
		return fmt.Errorf("sht3x: unknown repeatability %q (want high, medium or low)", b)
	}
	return nil
}

// MeasurementTime is how long the driver waits between the measurement
// command and the readout: the datasheet's maximum measurement duration
// over the whole supply range (§2.2).
func (r Repeatability) MeasurementTime() time.Duration {
	switch r.normal() {
	case RepeatabilityMedium:
		return waitMedium
	case RepeatabilityLow:
		return waitLow
	}
	return waitHigh
}

func (r Repeatability) command() (uint16, error) {
	switch r.normal() {
	case RepeatabilityHigh:
		return cmdMeasureHigh, nil
	case RepeatabilityMedium:
		return cmdMeasureMedium, nil
	case RepeatabilityLow:
		return cmdMeasureLow, nil
	}
	return 0, fmt.Errorf("sht3x: unknown repeatability %d", r)
}

// Opts configures a Dev.
type Opts struct {
	// Addr is the 7-bit address: 0x44 with the ADDR pin low, 0x45 with it
	// high (§3, Pin Assignment).
	Addr uint16
	// Repeatability of each measurement; zero means RepeatabilityHigh.
	Repeatability Repeatability
}

// DefaultOpts is the configuration New uses when opts is nil: the address
// with ADDR tied low and high repeatability.
var DefaultOpts = Opts{Addr: 0x44, Repeatability: RepeatabilityHigh}

// Dev is an SHT30, SHT31 or SHT35 on an I²C bus. It is safe for concurrent
// use.
type Dev struct {
	c    i2c.Dev
	cmd  uint16
	wait time.Duration

	mu sync.Mutex // serialises bus access and guards the buffers
	w  [2]byte    // transfer buffers, so a read does not allocate
	r  [6]byte

	cont sensor.Continuous // the SenseContinuous loop
}

// Probe reports whether the device at addr is an SHT3x, without changing
// its state: it reads the status register (§4.11) and checks its CRC and
// the reserved bits that read 0. It returns nil for an SHT3x, an error
// wrapping sensor.ErrChipID (and sensor.ErrCRC when the checksum is wrong)
// for another device, and the wrapped bus error when the transfer fails,
// for example because nothing answers at addr or the device NACKs the
// 2-byte command, as an SHT4x, whose commands are 1 byte, may do.
func Probe(bus i2c.Bus, addr uint16) error {
	if bus == nil {
		return errors.New("sht3x: nil bus")
	}
	d := &Dev{c: i2c.Dev{Bus: bus, Addr: addr}}
	_, err := d.readStatus()
	return err
}

// New checks that the device at opts.Addr is an SHT3x, then stops periodic
// acquisition and soft-resets it. A nil opts means DefaultOpts. The driver
// does not take ownership of bus.
//
// The reset puts a sensor that another program used in a known state: a
// periodic acquisition left running would make it refuse single-shot
// commands, and a heater left on (§4.10) would read several degrees too
// warm. The soft reset is only accepted in the idle state (§4.9), hence the
// break command first (§4.8), which is harmless when the sensor is idle
// already.
func New(bus i2c.Bus, opts *Opts) (*Dev, error) {
	if bus == nil {
		return nil, errors.New("sht3x: nil bus")
	}
	if opts == nil {
		opts = &DefaultOpts
	}
	if opts.Addr != 0x44 && opts.Addr != 0x45 {
		return nil, fmt.Errorf("sht3x: address %#x out of range 0x44-0x45", opts.Addr)
	}
	cmd, err := opts.Repeatability.command()
	if err != nil {
		return nil, err
	}
	d := &Dev{
		c:    i2c.Dev{Bus: bus, Addr: opts.Addr},
		cmd:  cmd,
		wait: opts.Repeatability.MeasurementTime(),
	}
	if _, err := d.readStatus(); err != nil {
		return nil, err
	}
	if err := d.command(cmdBreak, "stop periodic acquisition"); err != nil {
		return nil, err
	}
	doSleep(waitBreak)
	if err := d.command(cmdSoftReset, "soft reset"); err != nil {
		return nil, err
	}
	doSleep(waitReset)
	return d, nil
}

// String implements conn.Resource.
func (d *Dev) String() string {
	return "SHT3x{" + d.c.String() + "}"
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
// 175/65535 °C and 100/65535 %RH, rounded to the nearest unit.
func (d *Dev) Precision(e *physic.Env) {
	e.Temperature = physic.Temperature(sensor.DivRound(tSpan, fullScale))
	e.Humidity = physic.RelativeHumidity(sensor.DivRound(rhSpan, fullScale))
}

// Status reads the status register (§4.11 Table 18), for diagnostics: see
// StatusHeater and StatusReset.
func (d *Dev) Status() (uint16, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.readStatus()
}

// SenseContinuous measures every interval and sends the result on the
// returned channel, starting at once. A previous continuous read is stopped
// first. The channel is closed by Halt, or after a measurement fails; call
// Sense to learn why it failed. Implements physic.SenseEnv.
func (d *Dev) SenseContinuous(interval time.Duration) (<-chan physic.Env, error) {
	if interval <= 0 {
		return nil, fmt.Errorf("sht3x: sense continuous at %#x: interval %s is not positive", d.c.Addr, interval)
	}
	return d.cont.Start(interval, func() (e physic.Env, err error) {
		err = d.Sense(&e)
		return e, err
	}), nil
}

// Halt stops a continuous read. It sends nothing to the sensor: between
// single-shot measurements the SHT3x already sleeps (§4.1; 0.2 µA typical,
// §2.1). Implements conn.Resource.
func (d *Dev) Halt() error {
	return d.cont.Halt(nil)
}

// measure runs one single-shot measurement: command, wait, readout of
// T, CRC, RH, CRC (§4.4). Both words must pass their CRC, or nothing is
// returned.
func (d *Dev) measure() (physic.Temperature, physic.RelativeHumidity, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.command(d.cmd, "start measurement"); err != nil {
		return 0, 0, err
	}
	doSleep(d.wait)
	if err := d.c.Tx(nil, d.r[:]); err != nil {
		return 0, 0, fmt.Errorf("sht3x: read measurement at %#x: %w", d.c.Addr, err)
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

// command sends a 16-bit command. Call it with mu held, or before the Dev
// is shared.
func (d *Dev) command(cmd uint16, what string) error {
	d.w = [2]byte{byte(cmd >> 8), byte(cmd)}
	if err := d.c.Tx(d.w[:], nil); err != nil {
		return fmt.Errorf("sht3x: %s at %#x: %w", what, d.c.Addr, err)
	}
	return nil
}

// readStatus reads and checks the status register. Call it with mu held,
// or before the Dev is shared.
func (d *Dev) readStatus() (uint16, error) {
	if err := d.command(cmdReadStatus, "read status"); err != nil {
		return 0, err
	}
	if err := d.c.Tx(nil, d.r[:3]); err != nil {
		return 0, fmt.Errorf("sht3x: read status at %#x: %w", d.c.Addr, err)
	}
	st, got, want, ok := sensirion.Word(d.r[:3])
	if !ok {
		return 0, fmt.Errorf("sht3x: not an SHT3x at %#x: %w: status word %#04x has CRC %#02x, want %#02x (%w)",
			d.c.Addr, sensor.ErrChipID, st, got, want, sensor.ErrCRC)
	}
	if st&statusReserved != 0 {
		return 0, fmt.Errorf("sht3x: not an SHT3x at %#x: %w: status word %#04x has reserved bits set",
			d.c.Addr, sensor.ErrChipID, st)
	}
	return st, nil
}

func (d *Dev) word(b []byte, name string) (uint16, error) {
	w, got, want, ok := sensirion.Word(b)
	if !ok {
		return 0, fmt.Errorf("sht3x: %s at %#x: %w: word %#04x has CRC %#02x, want %#02x",
			name, d.c.Addr, sensor.ErrCRC, w, got, want)
	}
	return w, nil
}

// temperature converts S_T exactly to the nearest nano-kelvin:
// 175·10⁹·S_T fits easily in an int64.
func temperature(raw uint16) physic.Temperature {
	return tMin + physic.Temperature(sensor.DivRound(tSpan*int64(raw), fullScale))
}

// humidity converts S_RH to the nearest 10⁻⁵ %RH.
func humidity(raw uint16) physic.RelativeHumidity {
	return physic.RelativeHumidity(sensor.DivRound(rhSpan*int64(raw), fullScale))
}

var (
	_ sensor.Sensor   = &Dev{}
	_ conn.Resource   = &Dev{}
	_ physic.SenseEnv = &Dev{}
)
