package ina226

import (
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/rackwatch/rackwatch/drivers/sensor"
	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// Register pointers (SBOS547B §7.1, register map).
const (
	regConfig         byte = 0x00
	regShunt          byte = 0x01
	regBus            byte = 0x02
	regPower          byte = 0x03
	regCurrent        byte = 0x04
	regCalibration    byte = 0x05
	regMaskEnable     byte = 0x06
	regManufacturerID byte = 0xFE
	regDieID          byte = 0xFF
)

// Configuration register fields (SBOS547B §7.1.1).
const (
	cfgReserved    uint16 = 0x4000 // bits 14–12 read 100; written as read
	cfgAVGShift           = 9
	cfgVBUSCTShift        = 6
	cfgVSHCTShift         = 3
	cfgMode        uint16 = 7
	modeContinuous uint16 = 7 // shunt and bus, continuous
	modePowerDown  uint16 = 0
)

// Mask/Enable register flags (SBOS547B §7.1.7).
const (
	maskCVRF uint16 = 1 << 3 // conversion ready
	maskOVF  uint16 = 1 << 2 // math overflow
)

// Identification (SBOS547B §7.1.9, §7.1.10).
const (
	manufacturerTI uint16 = 0x5449 // "TI"
	dieINA226      uint16 = 0x226  // DID, bits 15–4 of the die ID register
)

const (
	shuntLSB = 2500 * physic.NanoVolt   // 2.5 µV, §7.1.2
	busLSB   = 1250 * physic.MicroVolt  // 1.25 mV, §7.1.3
	shuntFS  = 81920 * physic.MicroVolt // ±81.92 mV, §7.1.2
	// maxMaxCurrent bounds MaxCurrent so that power register × 25 ×
	// MaxCurrent fits an int64 in nano-units.
	maxMaxCurrent = 1000 * physic.Ampere
	// powerRatio is Power_LSB / Current_LSB (§6.5.1).
	powerRatio = 25
)

// averages and convTimes list the AVG and VBUSCT/VSHCT settings in code
// order (SBOS547B §7.1.1, AVG and conversion time bit settings tables).
var (
	averages  = [8]int{1, 4, 16, 64, 128, 256, 512, 1024}
	convTimes = [8]time.Duration{
		140 * time.Microsecond, 204 * time.Microsecond, 332 * time.Microsecond, 588 * time.Microsecond,
		1100 * time.Microsecond, 2116 * time.Microsecond, 4156 * time.Microsecond, 8244 * time.Microsecond,
	}
)

// doSleep is replaced in tests to observe and skip conversion waits.
var doSleep = time.Sleep

// Opts configures a Dev.
type Opts struct {
	// Addr is the 7-bit address, 0x40 to 0x4F depending on the A0 and A1
	// pins (SBOS547B §6.5.5.1).
	Addr uint16
	// ShuntResistance is the value of the shunt resistor on the board;
	// it is required, since a wrong value scales every current.
	ShuntResistance physic.ElectricResistance
	// MaxCurrent is the largest current expected through the shunt, in
	// either direction. It sets Current_LSB = MaxCurrent / 2^15; beyond it
	// the chip reports an overflow. Zero means the largest the shunt
	// allows: 81.92 mV / ShuntResistance.
	MaxCurrent physic.ElectricCurrent
	// Averages is the number of conversions averaged per result: 1, 4,
	// 16, 64, 128, 256, 512 or 1024; zero means 1.
	Averages int
	// BusConversionTime and ShuntConversionTime are the conversion times
	// of the two voltages: 140µs, 204µs, 332µs, 588µs, 1.1ms, 2.116ms,
	// 4.156ms or 8.244ms; zero means 1.1ms. A result takes Averages ×
	// (BusConversionTime + ShuntConversionTime).
	BusConversionTime   time.Duration
	ShuntConversionTime time.Duration
}

// DefaultOpts is the configuration New uses when opts is nil: the address
// with A0 and A1 tied to ground and the 100 mΩ shunt of common breakout
// boards, read over its whole ±819.2 mA range (Current_LSB exactly 25 µA),
// and the power-on conversion settings, one average of 1.1 ms + 1.1 ms.
// With these options New writes the power-on configuration 0x4127.
var DefaultOpts = Opts{
	Addr:                0x40,
	ShuntResistance:     100 * physic.MilliOhm,
	MaxCurrent:          819200 * physic.MicroAmpere,
	Averages:            1,
	BusConversionTime:   1100 * time.Microsecond,
	ShuntConversionTime: 1100 * time.Microsecond,
}

// PowerMonitor is one measurement.
type PowerMonitor struct {
	Shunt   physic.ElectricPotential // voltage across the shunt, IN+ − IN−
	Bus     physic.ElectricPotential // voltage of VBUS to ground
	Current physic.ElectricCurrent   // negative when the current flows back
	Power   physic.Power             // negative when the current flows back
}

// String formats the measurement.
func (p PowerMonitor) String() string {
	return fmt.Sprintf("shunt %s, bus %s, current %s, power %s", p.Shunt, p.Bus, p.Current, p.Power)
}

// Dev is an INA226 on an I²C bus. It is safe for concurrent use.
type Dev struct {
	c          i2c.Dev
	maxCurrent int64  // nA; Current_LSB = maxCurrent / 2^15
	cal        uint16 // calibration register as written
	cfg        uint16 // configuration register, continuous mode
	conv       time.Duration

	mu     sync.Mutex // serialises bus access and guards the fields below
	ready  bool       // a conversion completed since the configuration was written
	halted bool
	w      [3]byte
	r      [2]byte
}

// Probe reports whether the device at addr is an INA226: nil if its
// manufacturer ID reads "TI" (0x5449) and its die ID 0x226 in bits 15–4
// (SBOS547B §7.1.9, §7.1.10; any revision in bits 3–0), an error wrapping
// sensor.ErrChipID if it is another chip, or the bus error. It only reads,
// and leaves the chip's pointer register at the die ID.
func Probe(bus i2c.Bus, addr uint16) error {
	if addr < 0x40 || addr > 0x4F {
		return fmt.Errorf("ina226: address %#x is outside 0x40-0x4f: %w", addr, sensor.ErrChipID)
	}
	var w [1]byte
	var r [2]byte
	return checkID(&i2c.Dev{Bus: bus, Addr: addr}, w[:], r[:])
}

// checkID reads both identification registers with the given buffers.
func checkID(c *i2c.Dev, w, r []byte) error {
	w[0] = regManufacturerID
	if err := c.Tx(w[:1], r[:2]); err != nil {
		return fmt.Errorf("ina226: read manufacturer ID at %#x: %w", c.Addr, err)
	}
	mfr := uint16(r[0])<<8 | uint16(r[1])
	w[0] = regDieID
	if err := c.Tx(w[:1], r[:2]); err != nil {
		return fmt.Errorf("ina226: read die ID at %#x: %w", c.Addr, err)
	}
	die := uint16(r[0])<<8 | uint16(r[1])
	if mfr != manufacturerTI || die>>4 != dieINA226 {
		return fmt.Errorf("ina226: not an INA226 at %#x: manufacturer ID %#04x, die ID %#04x: %w", c.Addr, mfr, die, sensor.ErrChipID)
	}
	return nil
}

// New checks that the device at opts.Addr is an INA226, configures it
// (calibration, then configuration) and waits for the first conversion. A
// nil opts means DefaultOpts. The driver does not take ownership of bus.
func New(bus i2c.Bus, opts *Opts) (*Dev, error) {
	if bus == nil {
		return nil, errors.New("ina226: nil bus")
	}
	if opts == nil {
		opts = &DefaultOpts
	}
	if opts.Addr < 0x40 || opts.Addr > 0x4F {
		return nil, fmt.Errorf("ina226: address %#x out of range 0x40-0x4f", opts.Addr)
	}
	d := &Dev{c: i2c.Dev{Bus: bus, Addr: opts.Addr}}
	if err := d.settings(opts); err != nil {
		return nil, err
	}
	// Writing to another chip's registers could change what it does.
	if err := checkID(&d.c, d.w[:], d.r[:]); err != nil {
		return nil, err
	}
	// Calibration first: the conversion started by the configuration write
	// then computes current and power with it.
	if err := d.writeReg(regCalibration, d.cal, "calibration"); err != nil {
		return nil, err
	}
	if err := d.writeReg(regConfig, d.cfg, "config"); err != nil {
		return nil, err
	}
	doSleep(d.conv)
	return d, nil
}

// settings derives the calibration and configuration registers from opts
// (SBOS547B §6.5.1, §7.1.1).
func (d *Dev) settings(opts *Opts) error {
	r := opts.ShuntResistance
	if r <= 0 {
		return fmt.Errorf("ina226: shunt resistance %s: must be positive", r)
	}
	// The full ±81.92 mV range in nA: 81.92 mV × 1e9 / R[nΩ].
	full := big.NewInt(int64(shuntFS))
	full.Mul(full, big.NewInt(1e9))
	full.Quo(full, big.NewInt(int64(r)))
	maxI := opts.MaxCurrent
	if maxI == 0 {
		if !full.IsInt64() || full.Int64() > int64(maxMaxCurrent) {
			return fmt.Errorf("ina226: shunt resistance %s: too small, the full range exceeds %s", r, maxMaxCurrent)
		}
		maxI = physic.ElectricCurrent(full.Int64())
	}
	if maxI <= 0 || maxI > maxMaxCurrent {
		return fmt.Errorf("ina226: max current %s: must be positive and at most %s", maxI, maxMaxCurrent)
	}
	drop := new(big.Int).Mul(big.NewInt(int64(maxI)), big.NewInt(int64(r)))
	if fs := new(big.Int).Mul(big.NewInt(int64(shuntFS)), big.NewInt(1e9)); drop.Cmp(fs) > 0 {
		return fmt.Errorf("ina226: max current %s through %s drops more than the ±81.92mV shunt range", maxI, r)
	}
	// Cal = trunc(0.00512 / (Current_LSB × R)) with Current_LSB =
	// MaxCurrent / 2^15, so Cal = trunc(0.00512 × 2^15 / (MaxCurrent × R)),
	// and 0.00512 × 2^15 A·Ω = 2^24 × 1e13 nA·nΩ.
	cal := new(big.Int).Mul(big.NewInt(1<<24), big.NewInt(1e13))
	cal.Quo(cal, drop)
	// Bit 15 is reserved (§7.1.6).
	if !cal.IsInt64() || cal.Int64() > 0x7FFF {
		return fmt.Errorf("ina226: max current %s through %s: calibration %s exceeds 15 bits, use a larger max current", maxI, r, cal)
	}
	avg, err := code(averages[:], opts.Averages, 1, "averages")
	if err != nil {
		return err
	}
	vbus, err := code(convTimes[:], opts.BusConversionTime, 1100*time.Microsecond, "bus conversion time")
	if err != nil {
		return err
	}
	vsh, err := code(convTimes[:], opts.ShuntConversionTime, 1100*time.Microsecond, "shunt conversion time")
	if err != nil {
		return err
	}
	d.maxCurrent = int64(maxI)
	d.cal = uint16(cal.Int64())
	d.cfg = cfgReserved | avg<<cfgAVGShift | vbus<<cfgVBUSCTShift | vsh<<cfgVSHCTShift | modeContinuous
	d.conv = time.Duration(averages[avg]) * (convTimes[vbus] + convTimes[vsh])
	return nil
}

// code returns the index of v (or of def when v is zero) in table.
func code[T comparable](table []T, v, def T, what string) (uint16, error) {
	var zero T
	if v == zero {
		v = def
	}
	for i, t := range table {
		if t == v {
			return uint16(i), nil
		}
	}
	return 0, fmt.Errorf("ina226: %s %v: want one of %v", what, v, table)
}

// String implements conn.Resource.
func (d *Dev) String() string {
	return "INA226{" + d.c.String() + "}"
}

// ConversionTime is how long one result takes with the configured
// averaging and conversion times: the least useful interval between
// reads.
func (d *Dev) ConversionTime() time.Duration {
	return d.conv
}

// Sense reads one measurement. After Halt it wakes the chip up first and
// waits for a conversion.
//
// It reads the Mask/Enable register for the conversion-ready and overflow
// flags, which also clears an alert latched there (§7.1.7): do not combine
// this driver with a latched ALERT pin.
//
// It fails, wrapping sensor.ErrImplausible, when the chip flags a math
// overflow (the current is beyond MaxCurrent) or a voltage register is at
// the end of its range; wrapping sensor.ErrNotReady when no conversion
// completed after the configuration, or when the chip was reset and has
// been configured again.
func (d *Dev) Sense() (PowerMonitor, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.halted {
		if err := d.writeReg(regConfig, d.cfg, "config"); err != nil {
			return PowerMonitor{}, err
		}
		d.halted, d.ready = false, false
		doSleep(d.conv)
	}
	flags, err := d.readReg(regMaskEnable, "mask/enable")
	if err != nil {
		return PowerMonitor{}, err
	}
	if !d.ready {
		// Until the first conversion after the configuration write
		// completes, the registers hold results of the old configuration
		// or calibration (§7.1.7: CVRF). Afterwards continuous mode keeps
		// them current, and CVRF only says whether a new result came since
		// the last read of this register, so it is not checked again.
		if flags&maskCVRF == 0 {
			doSleep(d.conv)
			if flags, err = d.readReg(regMaskEnable, "mask/enable"); err != nil {
				return PowerMonitor{}, err
			}
			if flags&maskCVRF == 0 {
				return PowerMonitor{}, fmt.Errorf("ina226: no conversion completed at %#x: %w", d.c.Addr, sensor.ErrNotReady)
			}
		}
		d.ready = true
	}
	if flags&maskOVF != 0 {
		return PowerMonitor{}, fmt.Errorf("ina226: math overflow at %#x: the current exceeds %s: %w",
			d.c.Addr, physic.ElectricCurrent(d.maxCurrent), sensor.ErrImplausible)
	}
	shunt, err := d.readReg(regShunt, "shunt voltage")
	if err != nil {
		return PowerMonitor{}, err
	}
	bus, err := d.readReg(regBus, "bus voltage")
	if err != nil {
		return PowerMonitor{}, err
	}
	current, err := d.readReg(regCurrent, "current")
	if err != nil {
		return PowerMonitor{}, err
	}
	power, err := d.readReg(regPower, "power")
	if err != nil {
		return PowerMonitor{}, err
	}
	if shunt == 0x7FFF || shunt == 0x8000 {
		// The ADC clipped: the real drop, and current, may be larger.
		return PowerMonitor{}, fmt.Errorf("ina226: shunt voltage register %#04x at %#x is at the ±81.92mV full scale: %w",
			shunt, d.c.Addr, sensor.ErrImplausible)
	}
	if bus >= 0x7FFF {
		// Bit 15 always reads 0, and 40.96 V is beyond the 36 V the VBUS pin
		// takes: the ADC clipped or the transfer is corrupt.
		return PowerMonitor{}, fmt.Errorf("ina226: bus voltage register %#04x at %#x is at or beyond the 40.96V full scale: %w",
			bus, d.c.Addr, sensor.ErrImplausible)
	}
	s, i := int16(shunt), int16(current)
	if i == 0 && int64(s)*int64(d.cal)/2048 != 0 {
		if err := d.checkCalibration(); err != nil {
			return PowerMonitor{}, err
		}
	}
	pm := PowerMonitor{
		Shunt:   physic.ElectricPotential(s) * shuntLSB,
		Bus:     physic.ElectricPotential(bus) * busLSB,
		Current: physic.ElectricCurrent(sensor.DivRound(int64(i)*d.maxCurrent, 1<<15)),
		Power:   physic.Power(sensor.DivRound(int64(power)*powerRatio*d.maxCurrent, 1<<15)),
	}
	// The power register holds a magnitude (§6.5.1 computes it from the
	// current register); give it the direction of the current.
	if i < 0 {
		pm.Power = -pm.Power
	}
	return pm, nil
}

// checkCalibration is called when the current register reads 0 although
// the shunt voltage and calibration predict otherwise: a chip reset (a
// brown-out, or RST) zeroes the calibration, and current and power then
// stay 0 (§6.5.1). The calibration register tells; a reset chip is
// configured again.
func (d *Dev) checkCalibration() error {
	cal, err := d.readReg(regCalibration, "calibration")
	if err != nil {
		return err
	}
	if cal == d.cal {
		return nil
	}
	if err := d.writeReg(regCalibration, d.cal, "calibration"); err != nil {
		return err
	}
	if err := d.writeReg(regConfig, d.cfg, "config"); err != nil {
		return err
	}
	d.ready = false
	return fmt.Errorf("ina226: calibration at %#x read %#04x instead of %#04x, the chip was reset; configured again: %w",
		d.c.Addr, cal, d.cal, sensor.ErrNotReady)
}

// Read implements sensor.Sensor: the shunt and bus voltages (channels
// "shunt" and "bus"), the current and the power.
func (d *Dev) Read(dst []sensor.Reading) ([]sensor.Reading, error) {
	pm, err := d.Sense()
	if err != nil {
		return dst, err
	}
	return append(dst,
		sensor.Reading{Quantity: sensor.Voltage, Channel: "shunt", Value: int64(pm.Shunt)},
		sensor.Reading{Quantity: sensor.Voltage, Channel: "bus", Value: int64(pm.Bus)},
		sensor.Reading{Quantity: sensor.Current, Value: int64(pm.Current)},
		sensor.Reading{Quantity: sensor.Power, Value: int64(pm.Power)},
	), nil
}

// Halt puts the chip in power-down mode (MODE = 000, SBOS547B §7.1.1),
// keeping its configuration and calibration. A later Sense wakes it up.
// Implements conn.Resource.
func (d *Dev) Halt() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.halted {
		return nil
	}
	if err := d.writeReg(regConfig, d.cfg&^cfgMode|modePowerDown, "config"); err != nil {
		return err
	}
	d.halted = true
	return nil
}

// readReg and writeReg use the Dev's buffers: call them with mu held, or
// before the Dev is shared.
func (d *Dev) readReg(reg byte, name string) (uint16, error) {
	d.w[0] = reg
	if err := d.c.Tx(d.w[:1], d.r[:]); err != nil {
		return 0, fmt.Errorf("ina226: read %s at %#x: %w", name, d.c.Addr, err)
	}
	return uint16(d.r[0])<<8 | uint16(d.r[1]), nil
}

func (d *Dev) writeReg(reg byte, v uint16, name string) error {
	d.w = [3]byte{reg, byte(v >> 8), byte(v)}
	if err := d.c.Tx(d.w[:], nil); err != nil {
		return fmt.Errorf("ina226: write %s at %#x: %w", name, d.c.Addr, err)
	}
	return nil
}

var (
	_ conn.Resource = &Dev{}
	_ sensor.Sensor = &Dev{}
)
