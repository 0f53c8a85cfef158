package tmp102

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

// Register pointers (SBOS397 §7.5.1).
const (
	regTemperature byte = 0x00
	regConfig      byte = 0x01
)

// Configuration register bits (SBOS397 §7.5.3), as the 16-bit value
// byte1<<8 | byte2.
const (
	cfgOS     uint16 = 1 << 15 // one-shot / conversion ready
	cfgR1R0   uint16 = 3 << 13 // converter resolution, read only, always 11
	cfgSD     uint16 = 1 << 8  // shutdown
	cfgCR     uint16 = 3 << 6  // conversion rate CR1 CR0
	cfgEM     uint16 = 1 << 4  // extended mode
	cfgUnused uint16 = 0x000F  // D3–D0 of byte 2 always read 0
)

// ConversionTime is the longest a conversion takes (SBOS397 §6.5: 26 ms
// typical, 35 ms maximum; the Linux tmp102 driver waits 35 ms too). Until
// the first conversion after power-up, shutdown or a change of EM
// completes, the temperature register holds 0 °C or a result in the
// previous format, so the driver waits this long before trusting it.
const ConversionTime = 35 * time.Millisecond

// lsb is one step of the temperature register: 0.0625 °C, exactly
// 62 500 000 nK (SBOS397 §7.3.1).
const lsb = 62_500 * physic.MicroKelvin

// doSleep is replaced in tests to observe and skip conversion waits.
var doSleep = time.Sleep

var (
	// ErrNotTMP102 means the device at the address answered, but its
	// configuration register does not have the read-only bits of a TMP102
	// (R1 R0 = 11, D3–D0 of byte 2 = 0).
	// It matches sensor.ErrChipID.
	ErrNotTMP102 error = notTMP102{}
	// ErrModeMismatch means the temperature register kept reporting the
	// other data format (bit D0 of byte 2) than the one New configured,
	// even after a conversion time: the sensor was reset or reconfigured by
	// someone else. Create the Dev again to restore the configuration.
	ErrModeMismatch = errors.New("tmp102: extended-mode flag mismatch")
)

// Rate is the conversion rate, bits CR1 CR0 of the configuration register
// (SBOS397 §7.5.3).
type Rate uint8

// Conversion rates. The zero Rate selects Rate4Hz, the power-up rate.
const (
	RateQuarterHz Rate = iota + 1 // CR1 CR0 = 00, one conversion every 4 s
	Rate1Hz                       // 01
	Rate4Hz                       // 10, power-up default
	Rate8Hz                       // 11
)

// bits returns the CR1 CR0 field for r.
func (r Rate) bits() (uint16, error) {
	switch r {
	case RateQuarterHz:
		return 0 << 6, nil
	case Rate1Hz:
		return 1 << 6, nil
	case 0, Rate4Hz:
		return 2 << 6, nil
	case Rate8Hz:
		return 3 << 6, nil
	}
	return 0, fmt.Errorf("tmp102: unknown conversion rate %d", r)
}

// Opts configures a Dev.
type Opts struct {
	// Addr is the 7-bit address, 0x48 to 0x4B depending on the ADD0 pin
	// (SBOS397 §7.3.4).
	Addr uint16
	// Extended selects the 13-bit format, which reads up to 150 °C instead
	// of saturating at 127.9375 °C (SBOS397 §7.4.2).
	Extended bool
	// Rate is the conversion rate; zero means Rate4Hz.
	Rate Rate
}

// DefaultOpts is the configuration New uses when opts is nil: the address
// with ADD0 tied to ground, normal (12-bit) mode, 4 conversions a second.
var DefaultOpts = Opts{Addr: 0x48, Extended: false, Rate: Rate4Hz}

// Dev is a TMP102 on an I²C bus. It is safe for concurrent use.
type Dev struct {
	c        i2c.Dev
	extended bool

	mu     sync.Mutex // serialises bus access and guards cfg, halted and the buffers
	cfg    uint16     // configuration written by New, SD clear
	halted bool
	w      [3]byte // transfer buffers, so a read does not allocate
	r      [2]byte

	cont sensor.Continuous // the SenseContinuous loop
}

// New checks that the device at opts.Addr is a TMP102, configures it
// (extended mode, conversion rate, shutdown cleared) and waits for the first
// conversion in that configuration. A nil opts means DefaultOpts. The
// driver does not take ownership of bus.
func New(bus i2c.Bus, opts *Opts) (*Dev, error) {
	if bus == nil {
		return nil, errors.New("tmp102: nil bus")
	}
	if opts == nil {
		opts = &DefaultOpts
	}
	if opts.Addr < 0x48 || opts.Addr > 0x4B {
		return nil, fmt.Errorf("tmp102: address %#x out of range 0x48-0x4b", opts.Addr)
	}
	cr, err := opts.Rate.bits()
	if err != nil {
		return nil, err
	}
	d := &Dev{c: i2c.Dev{Bus: bus, Addr: opts.Addr}, extended: opts.Extended}
	cfg, err := d.readConfig()
	if err != nil {
		return nil, err
	}
	// Another chip at the same address (an LM75, a TMP75, an empty socket
	// pulled high) would hand back a register without the TMP102's fixed
	// bits; configuring it blindly could write into something else.
	if cfg&(cfgR1R0|cfgUnused) != cfgR1R0 {
		return nil, fmt.Errorf("%w at %#x: config %#04x", ErrNotTMP102, opts.Addr, cfg)
	}
	// Keep the fault queue, polarity and thermostat mode: the ALERT pin may
	// be wired to something that relies on them. OS is cleared because a 1
	// would request a one-shot conversion.
	cfg &^= cfgOS | cfgSD | cfgCR | cfgEM
	cfg |= cr
	if opts.Extended {
		cfg |= cfgEM
	}
	if err := d.writeConfig(cfg); err != nil {
		return nil, err
	}
	d.cfg = cfg
	doSleep(ConversionTime)
	return d, nil
}

type notTMP102 struct{}

func (notTMP102) Error() string        { return "tmp102: not a TMP102" }
func (notTMP102) Is(target error) bool { return target == sensor.ErrChipID }

// Probe reports whether the device at addr looks like a TMP102: its
// configuration register has the chip's fixed bits (R1 R0 read 11, the
// unused bits of byte 2 read 0). It only reads. Other chips at the same
// addresses (an LM75, a TMP75) usually fail the check, but the TMP102 has
// no ID register, so a match is a strong guess, not a proof.
func Probe(bus i2c.Bus, addr uint16) error {
	d := &Dev{c: i2c.Dev{Bus: bus, Addr: addr}}
	cfg, err := d.readConfig()
	if err != nil {
		return err
	}
	if cfg&(cfgR1R0|cfgUnused) != cfgR1R0 {
		return fmt.Errorf("%w at %#x: config %#04x", ErrNotTMP102, addr, cfg)
	}
	return nil
}

// String implements conn.Resource.
func (d *Dev) String() string {
	return "TMP102{" + d.c.String() + "}"
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

// SenseTemperature reads the temperature. After Halt it takes the sensor out
// of shutdown first and waits for a conversion.
func (d *Dev) SenseTemperature() (physic.Temperature, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.halted {
		if err := d.writeConfig(d.cfg); err != nil {
			return 0, err
		}
		d.halted = false
		doSleep(ConversionTime)
	}
	raw, err := d.readTemperature()
	if err != nil {
		return 0, err
	}
	if isExtended(raw) != d.extended {
		// The register holds a result converted before the last change of
		// EM (SBOS397 §7.5.2: bit D0 of byte 2 tells the formats apart).
		// Give the sensor one conversion time before deciding that it
		// was reset behind our back.
		doSleep(ConversionTime)
		if raw, err = d.readTemperature(); err != nil {
			return 0, err
		}
		if isExtended(raw) != d.extended {
			return 0, fmt.Errorf("%w at %#x: temperature register %#04x, configured %s mode",
				ErrModeMismatch, d.c.Addr, raw, modeName(d.extended))
		}
	}
	return decode(raw), nil
}

// Precision implements physic.SenseEnv: one LSB, 0.0625 °C, in both modes.
func (d *Dev) Precision(e *physic.Env) {
	e.Temperature = lsb
}

// SenseContinuous reads the temperature every interval and sends it on the
// returned channel, starting at once. A previous continuous read is
// stopped first. The channel is closed by Halt, or after a read fails; call
// Sense to learn why it failed. Implements physic.SenseEnv.
func (d *Dev) SenseContinuous(interval time.Duration) (<-chan physic.Env, error) {
	if interval <= 0 {
		return nil, fmt.Errorf("tmp102: sense continuous at %#x: interval %s is not positive", d.c.Addr, interval)
	}
	return d.cont.Start(interval, func() (physic.Env, error) {
		t, err := d.SenseTemperature()
		return physic.Env{Temperature: t}, err
	}), nil
}

// Halt stops a continuous read and puts the sensor in shutdown (SD = 1,
// SBOS397 §7.5.3.1), where it draws at most 1 µA (§6.5). A later Sense wakes it
// up. Implements conn.Resource.
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
	if err := d.writeConfig(d.cfg | cfgSD); err != nil {
		return err
	}
	d.halted = true
	return nil
}

// readConfig, writeConfig and readTemperature use the Dev's buffers: call
// them with mu held, or before the Dev is shared.
func (d *Dev) readConfig() (uint16, error) {
	d.w[0] = regConfig
	if err := d.c.Tx(d.w[:1], d.r[:]); err != nil {
		return 0, fmt.Errorf("tmp102: read config at %#x: %w", d.c.Addr, err)
	}
	return uint16(d.r[0])<<8 | uint16(d.r[1]), nil
}

func (d *Dev) writeConfig(cfg uint16) error {
	d.w = [3]byte{regConfig, byte(cfg >> 8), byte(cfg)}
	if err := d.c.Tx(d.w[:], nil); err != nil {
		return fmt.Errorf("tmp102: write config at %#x: %w", d.c.Addr, err)
	}
	return nil
}

func (d *Dev) readTemperature() (uint16, error) {
	d.w[0] = regTemperature
	if err := d.c.Tx(d.w[:1], d.r[:]); err != nil {
		return 0, fmt.Errorf("tmp102: read temperature at %#x: %w", d.c.Addr, err)
	}
	return uint16(d.r[0])<<8 | uint16(d.r[1]), nil
}

// isExtended reports whether a temperature register value is in the
// 13-bit format: bit D0 of byte 2 is the EM flag (SBOS397 §7.5.2).
func isExtended(raw uint16) bool {
	return raw&1 != 0
}

// decode converts a temperature register value. The temperature is
// left-justified two's complement: 12 bits in normal mode, 13 bits in
// extended mode (SBOS397 §7.3.1, §7.4.2); an arithmetic shift of the
// signed 16-bit word extends the sign.
func decode(raw uint16) physic.Temperature {
	shift := 4
	if isExtended(raw) {
		shift = 3
	}
	code := int16(raw) >> shift
	return physic.ZeroCelsius + physic.Temperature(code)*lsb
}

func modeName(extended bool) string {
	if extended {
		return "extended"
	}
	return "normal"
}

var (
	_ conn.Resource   = &Dev{}
	_ physic.SenseEnv = &Dev{}
)

// Read implements sensor.Sensor: one temperature reading.
func (d *Dev) Read(dst []sensor.Reading) ([]sensor.Reading, error) {
	t, err := d.SenseTemperature()
	if err != nil {
		return dst, err
	}
	return append(dst, sensor.Temp(t)), nil
}

var _ sensor.Sensor = &Dev{}
