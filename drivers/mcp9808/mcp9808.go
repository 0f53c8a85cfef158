package mcp9808

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rackwatch/rackwatch/drivers/sensor"
	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// Register pointers (DS25095A §5.1, Register 5-1). Pointer bits 7–4 must be
// 0, and 0x09–0x0F are test registers that must not be accessed.
const (
	regConfig       byte = 0x01
	regAmbient      byte = 0x05
	regManufacturer byte = 0x06
	regDeviceID     byte = 0x07
	regResolution   byte = 0x08
)

// Configuration register bits (DS25095A §5.1.1, Register 5-2).
const (
	cfgSHDN      uint16 = 1 << 8
	cfgCritLock  uint16 = 1 << 7
	cfgWinLock   uint16 = 1 << 6
	cfgIntClear  uint16 = 1 << 5 // writing 1 clears an alert interrupt
	cfgAlertStat uint16 = 1 << 4 // read only
)

// IDs of the MCP9808 (DS25095A §5.1.4 and §5.1.5). The device ID register
// holds the revision in its low byte, which Probe ignores. Other JC-42.4
// sensors share the manufacturer ID (the MCP9804 has device ID 0x02, the
// MCP98243 0x21), so both are checked.
const (
	ManufacturerID uint16 = 0x0054
	DeviceID       byte   = 0x04
)

// lsb is one step of the ambient temperature register: 0.0625 °C, exactly
// 62 500 000 nK (DS25095A §5.1.3).
const lsb = 62_500 * physic.MicroKelvin

// doSleep is replaced in tests to observe and skip conversion waits.
var doSleep = time.Sleep

// ErrLocked is returned by Halt when the sensor refused to shut down: a
// lock bit of its configuration is set, and then SHDN cannot be set until
// the next power-on reset (DS25095A §5.2.1).
var ErrLocked = errors.New("mcp9808: configuration locked")

// Resolution is the measurement resolution, the resolution register
// (DS25095A §5.1.6). A finer resolution takes longer to convert (§5.2.4).
type Resolution uint8

// Resolutions. The zero Resolution selects Res0_0625, the power-up value.
const (
	Res0_5    Resolution = iota + 1 // 0.5 °C, 30 ms
	Res0_25                         // 0.25 °C, 65 ms
	Res0_125                        // 0.125 °C, 130 ms
	Res0_0625                       // 0.0625 °C, 250 ms, power-up default
)

var resolutions = [...]struct {
	name string
	step physic.Temperature
	conv time.Duration
}{
	Res0_5:    {"0.5", 500 * physic.MilliKelvin, 30 * time.Millisecond},
	Res0_25:   {"0.25", 250 * physic.MilliKelvin, 65 * time.Millisecond},
	Res0_125:  {"0.125", 125 * physic.MilliKelvin, 130 * time.Millisecond},
	Res0_0625: {"0.0625", lsb, 250 * time.Millisecond},
}

// canonical maps the zero Resolution to the default.
func (r Resolution) canonical() Resolution {
	if r == 0 {
		return Res0_0625
	}
	return r
}

func (r Resolution) valid() bool {
	r = r.canonical()
	return r >= Res0_5 && r <= Res0_0625
}

// bits is the resolution register value: 0 for 0.5 °C up to 3 for
// 0.0625 °C.
func (r Resolution) bits() byte { return byte(r.canonical() - Res0_5) }

// Step is the size of one step of the result.
func (r Resolution) Step() physic.Temperature {
	if !r.valid() {
		return 0
	}
	return resolutions[r.canonical()].step
}

// ConversionTime is the typical conversion time at r (DS25095A §5.2.4; the
// datasheet gives no maximum).
func (r Resolution) ConversionTime() time.Duration {
	if !r.valid() {
		return 0
	}
	return resolutions[r.canonical()].conv
}

// String returns the step in °C, as ParseResolution accepts it.
func (r Resolution) String() string {
	if !r.valid() {
		return fmt.Sprintf("resolution(%d)", uint8(r))
	}
	return resolutions[r.canonical()].name
}

// ParseResolution returns the Resolution whose step is s °C: "0.5",
// "0.25", "0.125" or "0.0625".
func ParseResolution(s string) (Resolution, error) {
	for r := Res0_5; r <= Res0_0625; r++ {
		if resolutions[r].name == s {
			return r, nil
		}
	}
	return 0, fmt.Errorf("mcp9808: unknown resolution %q °C (want 0.5, 0.25, 0.125 or 0.0625)", s)
}

// Opts configures a Dev.
type Opts struct {
	// Addr is the 7-bit address, 0x18 to 0x1F depending on pins A2–A0
	// (DS25095A §4.1.4, Table 3-2).
	Addr uint16
	// Resolution is the measurement resolution; zero means Res0_0625.
	Resolution Resolution
}

// DefaultOpts is the configuration New uses when opts is nil: the address
// with A2–A0 tied to ground, and the finest resolution.
var DefaultOpts = Opts{Addr: 0x18, Resolution: Res0_0625}

// Dev is an MCP9808 on an I²C bus. It is safe for concurrent use.
type Dev struct {
	c   i2c.Dev
	res Resolution

	mu     sync.Mutex // serialises bus access and guards cfg, halted and the buffers
	cfg    uint16     // configuration as New left it, SHDN clear
	halted bool
	w      [3]byte // transfer buffers, so a read does not allocate
	r      [2]byte

	cont sensor.Continuous // the SenseContinuous loop
}

// Probe reports whether the device at addr is an MCP9808: nil if its
// manufacturer ID is 0x0054 and its device ID 0x04, whatever its
// revision; an error wrapping sensor.ErrChipID if it answers with other
// IDs or addr is not an MCP9808 address; the bus error if the read fails.
// It only reads: the register pointer it leaves at 0x07 is rewritten by
// every driver access.
func Probe(bus i2c.Bus, addr uint16) error {
	if addr < 0x18 || addr > 0x1F {
		return fmt.Errorf("mcp9808: address %#x is not an MCP9808 address (0x18-0x1f): %w", addr, sensor.ErrChipID)
	}
	d := Dev{c: i2c.Dev{Bus: bus, Addr: addr}}
	return d.checkIDs()
}

// New checks the IDs of the device at opts.Addr, sets the resolution,
// takes the sensor out of shutdown if needed and waits one conversion time
// at the new resolution, so the first reading is a conversion in the
// requested resolution. A nil opts means DefaultOpts. The driver does not
// take ownership of bus.
func New(bus i2c.Bus, opts *Opts) (*Dev, error) {
	if bus == nil {
		return nil, errors.New("mcp9808: nil bus")
	}
	if opts == nil {
		opts = &DefaultOpts
	}
	if opts.Addr < 0x18 || opts.Addr > 0x1F {
		return nil, fmt.Errorf("mcp9808: address %#x out of range 0x18-0x1f", opts.Addr)
	}
	if !opts.Resolution.valid() {
		return nil, fmt.Errorf("mcp9808: unknown resolution %d", opts.Resolution)
	}
	d := &Dev{c: i2c.Dev{Bus: bus, Addr: opts.Addr}, res: opts.Resolution.canonical()}
	// Nothing is written before the IDs match: another JC-42.4 sensor or an
	// EEPROM at these addresses would take the writes differently.
	if err := d.checkIDs(); err != nil {
		return nil, err
	}
	d.w = [3]byte{regResolution, d.res.bits()}
	if err := d.c.Tx(d.w[:2], nil); err != nil {
		return nil, fmt.Errorf("mcp9808: write resolution at %#x: %w", d.c.Addr, err)
	}
	cfg, err := d.readConfig()
	if err != nil {
		return nil, err
	}
	// Keep the alert configuration: the Alert pin may be wired to a fan or
	// a shutdown circuit that relies on it. Int. Clear is written as 0 so
	// that a pending interrupt stays for its owner to see.
	cfg &^= cfgIntClear | cfgAlertStat
	if cfg&cfgSHDN != 0 {
		// SHDN can be cleared even while the configuration is locked.
		cfg &^= cfgSHDN
		if err := d.writeConfig(cfg); err != nil {
			return nil, err
		}
	}
	d.cfg = cfg
	doSleep(d.res.ConversionTime())
	return d, nil
}

// String implements conn.Resource.
func (d *Dev) String() string {
	return "MCP9808{" + d.c.String() + "}"
}

// Sense reads the temperature into e.Temperature and leaves the other fields
// alone. Implements physic.SenseEnv.
func (d *Dev) Sense(e *physic.Env) error {
	t, err := d.SenseTemperature()
	if err != nil {
		return err
	}
	e.Temperature = t
	return nil
}

// SenseTemperature reads the ambient temperature. After Halt it takes the
// sensor out of shutdown first and waits for a conversion.
func (d *Dev) SenseTemperature() (physic.Temperature, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.halted {
		if err := d.writeConfig(d.cfg); err != nil {
			return 0, err
		}
		d.halted = false
		doSleep(d.res.ConversionTime())
	}
	raw, err := d.read16(regAmbient, "ambient temperature")
	if err != nil {
		return 0, err
	}
	return decode(raw), nil
}

// Precision implements physic.SenseEnv: one step at the configured
// resolution.
func (d *Dev) Precision(e *physic.Env) {
	e.Temperature = d.res.Step()
}

// SenseContinuous reads the temperature every interval and sends it on the
// returned channel, starting at once. The interval must be at least the
// conversion time at the configured resolution: the sensor publishes a
// new result no more often. A previous continuous read is stopped first.
// The channel is closed by Halt, or after a read fails; call Sense to
// learn why it failed. Implements physic.SenseEnv.
func (d *Dev) SenseContinuous(interval time.Duration) (<-chan physic.Env, error) {
	if least := d.res.ConversionTime(); interval < least {
		return nil, fmt.Errorf("mcp9808: sense continuous at %#x: interval %s is shorter than the %s conversion time", d.c.Addr, interval, least)
	}
	return d.cont.Start(interval, func() (physic.Env, error) {
		t, err := d.SenseTemperature()
		return physic.Env{Temperature: t}, err
	}), nil
}

// Halt stops a continuous read and puts the sensor in shutdown (SHDN = 1,
// DS25095A §5.2.1), where it stops converting and draws 0.1 µA typical.
// It reads the configuration back: a locked configuration keeps the
// sensor running, and Halt then returns an error wrapping ErrLocked. A
// later Sense wakes the sensor up. Implements conn.Resource.
func (d *Dev) Halt() error {
	return d.cont.Halt(d.shutdown)
}

// shutdown puts the chip in shutdown; the caller holds no lock.
func (d *Dev) shutdown() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.halted {
		return nil
	}
	if err := d.writeConfig(d.cfg | cfgSHDN); err != nil {
		return err
	}
	got, err := d.readConfig()
	if err != nil {
		return err
	}
	if got&cfgSHDN == 0 {
		return fmt.Errorf("%w at %#x: shutdown refused, configuration %#04x", ErrLocked, d.c.Addr, got)
	}
	d.halted = true
	return nil
}

// Read implements sensor.Sensor: one temperature reading.
func (d *Dev) Read(dst []sensor.Reading) ([]sensor.Reading, error) {
	t, err := d.SenseTemperature()
	if err != nil {
		return dst, err
	}
	return append(dst, sensor.Temp(t)), nil
}

// checkIDs, readConfig, writeConfig and read16 use the Dev's buffers: call
// them with mu held, or before the Dev is shared.
func (d *Dev) checkIDs() error {
	mfr, err := d.read16(regManufacturer, "manufacturer ID")
	if err != nil {
		return err
	}
	dev, err := d.read16(regDeviceID, "device ID")
	if err != nil {
		return err
	}
	if mfr != ManufacturerID || byte(dev>>8) != DeviceID {
		return fmt.Errorf("mcp9808: device at %#x is not an MCP9808: manufacturer ID %#04x, device ID %#02x (want %#04x, %#02x): %w",
			d.c.Addr, mfr, dev>>8, ManufacturerID, DeviceID, sensor.ErrChipID)
	}
	return nil
}

func (d *Dev) readConfig() (uint16, error) {
	return d.read16(regConfig, "configuration")
}

func (d *Dev) writeConfig(cfg uint16) error {
	d.w = [3]byte{regConfig, byte(cfg >> 8), byte(cfg)}
	if err := d.c.Tx(d.w[:], nil); err != nil {
		return fmt.Errorf("mcp9808: write configuration at %#x: %w", d.c.Addr, err)
	}
	return nil
}

// read16 reads a 16-bit register, MSB first; what names it in errors.
func (d *Dev) read16(reg byte, what string) (uint16, error) {
	d.w[0] = reg
	if err := d.c.Tx(d.w[:1], d.r[:]); err != nil {
		return 0, fmt.Errorf("mcp9808: read %s at %#x: %w", what, d.c.Addr, err)
	}
	return uint16(d.r[0])<<8 | uint16(d.r[1]), nil
}

// decode converts the ambient temperature register (DS25095A §5.1.3,
// Register 5-4). Bits 15–13 are alert flags, not temperature; they are
// set at room temperature on a fresh chip, whose limits power up at 0 °C.
// Bits 12–0 are a 13-bit two's complement count of 0.0625 °C: (raw &
// 0x0FFF) × 0.0625 °C, minus 256 °C when the sign bit 12 is set. The
// datasheet's Equation 5-1 (§5.1.3.1) computes 256 − (…) for negative
// temperatures instead, which reads `1F 90` as +7 °C; it is −7 °C.
func decode(raw uint16) physic.Temperature {
	code := int16(raw<<3) >> 3
	return physic.ZeroCelsius + physic.Temperature(code)*lsb
}

var (
	_ conn.Resource   = &Dev{}
	_ physic.SenseEnv = &Dev{}
	_ sensor.Sensor   = &Dev{}
)
