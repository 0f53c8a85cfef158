package ina219

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

// Register pointers (SBOS448G §8.6.1, register set table).
const (
	regConfig      byte = 0x00
	regShunt       byte = 0x01
	regBus         byte = 0x02
	regPower       byte = 0x03
	regCurrent     byte = 0x04
	regCalibration byte = 0x05
)

// Configuration register fields (SBOS448G §8.6.2.1).
const (
	cfgBRNG        uint16 = 1 << 13 // 32 V bus range
	cfgPGShift            = 11      // PG1 PG0: shunt range 40 mV << PG
	cfgBADCShift          = 7
	cfgSADCShift          = 3
	cfgMode        uint16 = 7
	modeContinuous uint16 = 7 // shunt and bus, continuous
	modePowerDown  uint16 = 0
)

// Bus voltage register flags (SBOS448G §8.6.3.2).
const (
	busCNVR uint16 = 1 << 1 // conversion ready
	busOVF  uint16 = 1 << 0 // math overflow
)

const (
	shuntLSB = 10 * physic.MicroVolt // §8.6.3.1, at every PGA setting
	busLSB   = 4 * physic.MilliVolt  // §8.6.3.2
	// maxMaxCurrent bounds MaxCurrent so that power register × 20 ×
	// MaxCurrent fits an int64 in nano-units.
	maxMaxCurrent = 1000 * physic.Ampere
	// powerRatio is Power_LSB / Current_LSB (§8.5.1).
	powerRatio = 20
)

// averaging maps a number of averaged 12-bit samples to its BADC/SADC
// code and the conversion time of one ADC (SBOS448G §8.6.2.1, ADC settings
// table; 0011 is the power-on 12-bit single conversion).
var averaging = [...]struct {
	n    int
	code uint16
	time time.Duration
}{
	{1, 0x3, 532 * time.Microsecond},
	{2, 0x9, 1060 * time.Microsecond},
	{4, 0xA, 2130 * time.Microsecond},
	{8, 0xB, 4260 * time.Microsecond},
	{16, 0xC, 8510 * time.Microsecond},
	{32, 0xD, 17020 * time.Microsecond},
	{64, 0xE, 34050 * time.Microsecond},
	{128, 0xF, 68100 * time.Microsecond},
}

// doSleep is replaced in tests to observe and skip conversion waits.
var doSleep = time.Sleep

// Opts configures a Dev.
type Opts struct {
	// Addr is the 7-bit address, 0x40 to 0x4F depending on the A0 and A1
	// pins (SBOS448G §8.5.5.1).
	Addr uint16
	// ShuntResistance is the value of the shunt resistor on the board;
	// it is required, since a wrong value scales every current.
	ShuntResistance physic.ElectricResistance
	// MaxCurrent is the largest current expected through the shunt, in
	// either direction. It sets Current_LSB = MaxCurrent / 2^15 and the
	// shunt range (PGA) to the smallest that holds MaxCurrent ×
	// ShuntResistance; beyond it the chip reports an overflow. Zero means
	// the largest the shunt allows: 320 mV / ShuntResistance.
	MaxCurrent physic.ElectricCurrent
	// Averages is the number of 12-bit samples averaged per conversion of
	// each of the shunt and bus voltages: 1, 2, 4, ..., 128; zero means 1.
	// A conversion of both takes from 1.064 ms (1) to 136.2 ms (128).
	Averages int
	// Bus16V selects the 16 V bus range instead of 32 V (BRNG).
	Bus16V bool
}

// DefaultOpts is the configuration New uses when opts is nil: the address
// with A0 and A1 tied to ground and the 100 mΩ shunt of common breakout
// boards, read over its whole ±3.2 A range (Current_LSB 97.65625 µA), one
// sample per conversion and the 32 V bus range. With these options New
// writes the power-on configuration 0x399F.
var DefaultOpts = Opts{
	Addr:            0x40,
	ShuntResistance: 100 * physic.MilliOhm,
	MaxCurrent:      3200 * physic.MilliAmpere,
	Averages:        1,
}

// PowerMonitor is one measurement.
type PowerMonitor struct {
	Shunt   physic.ElectricPotential // voltage across the shunt, IN+ − IN−
	Bus     physic.ElectricPotential // voltage of IN− to ground
	Current physic.ElectricCurrent   // negative when the current flows back
	Power   physic.Power             // negative when the current flows back
}

// String formats the measurement.
func (p PowerMonitor) String() string {
	return fmt.Sprintf("shunt %s, bus %s, current %s, power %s", p.Shunt, p.Bus, p.Current, p.Power)
}

// Dev is an INA219 on an I²C bus. It is safe for concurrent use.
type Dev struct {
	c          i2c.Dev
	maxCurrent int64  // nA; Current_LSB = maxCurrent / 2^15
	cal        uint16 // calibration register as written
	cfg        uint16 // configuration register, continuous mode
	shuntFS    int16  // shunt register code of the PGA full scale
	conv       time.Duration

	mu     sync.Mutex // serialises bus access and guards the fields below
	ready  bool       // a conversion completed since the configuration was written
	halted bool
	w      [3]byte
	r      [2]byte
}

// New configures the INA219 at opts.Addr (calibration, then configuration)
// and waits for the first conversion. A nil opts means DefaultOpts. The
// driver does not take ownership of bus.
//
// The INA219 has no identification register, so New cannot check that
// the device at the address is one; see the package documentation.
func New(bus i2c.Bus, opts *Opts) (*Dev, error) {
	if bus == nil {
		return nil, errors.New("ina219: nil bus")
	}
	if opts == nil {
		opts = &DefaultOpts
	}
	if opts.Addr < 0x40 || opts.Addr > 0x4F {
		return nil, fmt.Errorf("ina219: address %#x out of range 0x40-0x4f", opts.Addr)
	}
	d := &Dev{c: i2c.Dev{Bus: bus, Addr: opts.Addr}}
	if err := d.settings(opts); err != nil {
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
// (SBOS448G §8.5.1).
func (d *Dev) settings(opts *Opts) error {
	r := opts.ShuntResistance
	if r <= 0 {
		return fmt.Errorf("ina219: shunt resistance %s: must be positive", r)
	}
	// The widest range, ±320 mV, in nA: 320 mV × 1e9 / R[nΩ].
	full := big.NewInt(int64(320 * physic.MilliVolt))
	full.Mul(full, big.NewInt(1e9))
	full.Quo(full, big.NewInt(int64(r)))
	maxI := opts.MaxCurrent
	if maxI == 0 {
		if !full.IsInt64() || full.Int64() > int64(maxMaxCurrent) {
			return fmt.Errorf("ina219: shunt resistance %s: too small, the full range exceeds %s", r, maxMaxCurrent)
		}
		maxI = physic.ElectricCurrent(full.Int64())
	}
	if maxI <= 0 || maxI > maxMaxCurrent {
		return fmt.Errorf("ina219: max current %s: must be positive and at most %s", maxI, maxMaxCurrent)
	}
	// MaxCurrent × R in nA·nΩ, compared with each range in the same unit.
	drop := new(big.Int).Mul(big.NewInt(int64(maxI)), big.NewInt(int64(r)))
	pg := -1
	for g := range 4 {
		fs := new(big.Int).Mul(big.NewInt(int64(40*physic.MilliVolt)<<g), big.NewInt(1e9))
		if drop.Cmp(fs) <= 0 {
			pg = g
			break
		}
	}
	if pg < 0 {
		return fmt.Errorf("ina219: max current %s through %s drops more than the ±320mV shunt range", maxI, r)
	}
	// Cal = trunc(0.04096 / (Current_LSB × R)) with Current_LSB =
	// MaxCurrent / 2^15, so Cal = trunc(0.04096 × 2^15 / (MaxCurrent × R)),
	// and 0.04096 × 2^15 A·Ω = 2^27 × 1e13 nA·nΩ.
	cal := new(big.Int).Mul(big.NewInt(1<<27), big.NewInt(1e13))
	cal.Quo(cal, drop)
	// FS0 is void (§8.6.4.1): the chip would drop bit 0 of an odd value,
	// so clear it here and keep what the chip holds.
	if !cal.IsInt64() || cal.Int64() > 0xFFFF {
		return fmt.Errorf("ina219: max current %s through %s: calibration %s exceeds 16 bits, use a larger max current", maxI, r, cal)
	}
	avg := -1
	n := opts.Averages
	if n == 0 {
		n = 1
	}
	for i, a := range averaging {
		if a.n == n {
			avg = i
		}
	}
	if avg < 0 {
		return fmt.Errorf("ina219: averages %d: want 1, 2, 4, 8, 16, 32, 64 or 128", opts.Averages)
	}
	cfg := uint16(pg)<<cfgPGShift | averaging[avg].code<<cfgBADCShift | averaging[avg].code<<cfgSADCShift | modeContinuous
	if !opts.Bus16V {
		cfg |= cfgBRNG
	}
	d.maxCurrent = int64(maxI)
	d.cal = uint16(cal.Int64()) &^ 1
	d.cfg = cfg
	d.shuntFS = int16(4000 << pg)
	// Shunt then bus, one after the other (§8.3.1).
	d.conv = 2 * averaging[avg].time
	return nil
}

// String implements conn.Resource.
func (d *Dev) String() string {
	return "INA219{" + d.c.String() + "}"
}

// ConversionTime is how long one conversion of the shunt and bus voltages
// takes with the configured averaging: the least useful interval between
// reads.
func (d *Dev) ConversionTime() time.Duration {
	return d.conv
}

// Sense reads one measurement. After Halt it wakes the chip up first and
// waits for a conversion.
//
// It fails, wrapping sensor.ErrImplausible, when the chip flags a math
// overflow (the current is beyond MaxCurrent) or the shunt voltage is at
// the full scale of its range; wrapping sensor.ErrNotReady when no
// conversion completed after the configuration, or when the chip was reset
// and has been configured again.
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
	bus, err := d.readReg(regBus, "bus voltage")
	if err != nil {
		return PowerMonitor{}, err
	}
	if !d.ready {
		// Until the first conversion after the configuration write
		// completes, the registers hold results of the old configuration
		// or calibration (§8.6.3.2: CNVR). Afterwards continuous mode
		// keeps them current and CNVR only says whether a new result came
		// since the last power register read, so it is not checked again.
		if bus&busCNVR == 0 {
			doSleep(d.conv)
			if bus, err = d.readReg(regBus, "bus voltage"); err != nil {
				return PowerMonitor{}, err
			}
			if bus&busCNVR == 0 {
				return PowerMonitor{}, fmt.Errorf("ina219: no conversion completed at %#x: %w", d.c.Addr, sensor.ErrNotReady)
			}
		}
		d.ready = true
	}
	if bus&busOVF != 0 {
		return PowerMonitor{}, fmt.Errorf("ina219: math overflow at %#x: the current exceeds %s: %w",
			d.c.Addr, physic.ElectricCurrent(d.maxCurrent), sensor.ErrImplausible)
	}
	shunt, err := d.readReg(regShunt, "shunt voltage")
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
	s, i := int16(shunt), int16(current)
	if s >= d.shuntFS || s <= -d.shuntFS {
		// The ADC clipped: the real drop, and current, may be larger.
		return PowerMonitor{}, fmt.Errorf("ina219: shunt voltage %s at %#x is at the ±%s full scale: %w",
			physic.ElectricPotential(s)*shuntLSB, d.c.Addr, physic.ElectricPotential(d.shuntFS)*shuntLSB, sensor.ErrImplausible)
	}
	if i == 0 && int64(s)*int64(d.cal)/4096 != 0 {
		if err := d.checkCalibration(); err != nil {
			return PowerMonitor{}, err
		}
	}
	pm := PowerMonitor{
		Shunt:   physic.ElectricPotential(s) * shuntLSB,
		Bus:     physic.ElectricPotential(bus>>3) * busLSB,
		Current: physic.ElectricCurrent(sensor.DivRound(int64(i)*d.maxCurrent, 1<<15)),
		Power:   physic.Power(sensor.DivRound(int64(power)*powerRatio*d.maxCurrent, 1<<15)),
	}
	// The power register holds a magnitude (§8.5.1 computes it from the
	// current register); give it the direction of the current.
	if i < 0 {
		pm.Power = -pm.Power
	}
	return pm, nil
}

// checkCalibration is called when the current register reads 0 although
// the shunt voltage and calibration predict otherwise: a chip reset (a
// brown-out, or RST) zeroes the calibration, and current and power then
// stay 0 (§8.6.4.1). The calibration register tells; a reset chip is
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
	return fmt.Errorf("ina219: calibration at %#x read %#04x instead of %#04x, the chip was reset; configured again: %w",
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

// Halt puts the chip in power-down mode (MODE = 000, SBOS448G §8.6.2.1),
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
		return 0, fmt.Errorf("ina219: read %s at %#x: %w", name, d.c.Addr, err)
	}
	return uint16(d.r[0])<<8 | uint16(d.r[1]), nil
}

func (d *Dev) writeReg(reg byte, v uint16, name string) error {
	d.w = [3]byte{reg, byte(v >> 8), byte(v)}
	if err := d.c.Tx(d.w[:], nil); err != nil {
		return fmt.Errorf("ina219: write %s at %#x: %w", name, d.c.Addr, err)
	}
	return nil
}

var (
	_ conn.Resource = &Dev{}
	_ sensor.Sensor = &Dev{}
)
