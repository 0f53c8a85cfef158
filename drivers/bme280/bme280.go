package bme280

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

// Registers (BST-BME280-DS002 §5.3, memory map).
const (
	regCalib1   byte = 0x88 // dig_T1 … dig_H1, 26 bytes
	regChipID   byte = 0xD0
	regReset    byte = 0xE0
	regCalib2   byte = 0xE1 // dig_H2 … dig_H6, 7 bytes
	regCtrlHum  byte = 0xF2
	regStatus   byte = 0xF3
	regCtrlMeas byte = 0xF4
)

const (
	resetCommand byte = 0xB6 // §5.4.2: any other value has no effect

	statusMeasuring byte = 1 << 3 // §5.4.4: a conversion is running
	statusImUpdate  byte = 1 << 0 // §5.4.4: NVM data are being copied

	modeMask   byte = 0x03 // ctrl_meas bits 1:0 (§5.4.5)
	modeForced byte = 0x01
	osrsHMask  byte = 0x07 // ctrl_hum bits 2:0 (§5.4.3)
)

// Burst read of one measurement, starting at ctrl_hum on a BME280: ctrl_hum,
// status, ctrl_meas, config, a reserved byte, then the data registers
// press_msb … hum_lsb (0xF7–0xFE). One burst gives a consistent snapshot:
// the chip blocks data register updates while a burst read is in progress
// (§4.1). A BMP280 has no ctrl_hum and no humidity, so its burst runs from
// status (0xF3) to temp_xlsb (0xFC).
const (
	burstBME = 0xFE - 0xF2 + 1
	burstBMP = 0xFC - 0xF3 + 1
)

// Timing.
const (
	// StartupTime is the time from a reset to the first communication
	// (§1, table 1: t_startup, 2 ms maximum).
	StartupTime = 2 * time.Millisecond
	// pollInterval and maxPolls bound the wait, beyond the datasheet's
	// maximum measurement time or start-up time, for the status register
	// to report the chip idle. A healthy chip never needs them.
	pollInterval = time.Millisecond
	maxPolls     = 5
)

// doSleep is replaced in tests to observe and skip waits.
var doSleep = time.Sleep

// ErrCalibration means the calibration parameters read from the chip cannot
// be right (dig_T1 or dig_P1 is zero, which the compensation formulas
// divide by or scale with): a damaged part or a corrupted transfer.
var ErrCalibration = errors.New("bme280: invalid calibration data")

// Model is the chip found at the address, by its chip ID (register 0xD0).
type Model uint8

// Chip IDs (BST-BME280-DS002 §5.4.1; BST-BMP280-DS001 §4.3.1).
const (
	BME280 Model = 0x60
	BMP280 Model = 0x58
)

func (m Model) String() string {
	switch m {
	case BME280:
		return "BME280"
	case BMP280:
		return "BMP280"
	}
	return fmt.Sprintf("Model(%#02x)", uint8(m))
}

// Oversampling is how many ADC samples the chip averages into one
// measurement (§3.4, §5.4.3, §5.4.5). The value is the factor, so a
// configuration file can carry the number itself. More samples reduce
// noise and lengthen the measurement (§9.1). Off skips the measurement.
type Oversampling uint8

// Oversampling settings.
const (
	Off Oversampling = 0
	X1  Oversampling = 1
	X2  Oversampling = 2
	X4  Oversampling = 4
	X8  Oversampling = 8
	X16 Oversampling = 16
)

// bits returns the osrs_x field value: 000 skipped, 001 ×1, 010 ×2, 011 ×4,
// 100 ×8, 101 ×16 (§5.4.3, §5.4.5).
func (o Oversampling) bits() (byte, bool) {
	switch o {
	case Off:
		return 0, true
	case X1:
		return 1, true
	case X2:
		return 2, true
	case X4:
		return 3, true
	case X8:
		return 4, true
	case X16:
		return 5, true
	}
	return 0, false
}

// Opts configures a Dev.
type Opts struct {
	// Addr is the 7-bit address: 0x76 with SDO tied to GND, 0x77 with SDO
	// tied to VDDIO (§6.2).
	Addr uint16
	// Temperature oversampling. It cannot be Off: every compensation
	// formula needs the temperature (t_fine).
	Temperature Oversampling
	// Pressure oversampling; Off leaves pressure out of the readings.
	Pressure Oversampling
	// Humidity oversampling; Off leaves humidity out of the readings. A
	// BMP280 has no humidity sensor and ignores it.
	Humidity Oversampling
}

// DefaultOpts is the configuration New uses when opts is nil: the address
// with SDO tied to GND and the datasheet's "weather monitoring" settings,
// one sample of each quantity per forced measurement (§3.5.1), whose noise
// is far below what a rack's air does between two reads.
var DefaultOpts = Opts{Addr: 0x76, Temperature: X1, Pressure: X1, Humidity: X1}

// MeasurementTime returns the longest a forced measurement takes with these
// settings on a BME280 (§9.1):
//
//	t_measure,max = 1.25 + 2.3·osrs_t + (2.3·osrs_p + 0.575) + (2.3·osrs_h + 0.575) ms
//
// where a skipped measurement contributes no term. On a BMP280 the humidity
// term is left out.
func (o *Opts) MeasurementTime() time.Duration {
	return measurementTime(o.Temperature, o.Pressure, o.Humidity)
}

func measurementTime(t, p, h Oversampling) time.Duration {
	us := 1250 + 2300*int64(t)
	if p != Off {
		us += 2300*int64(p) + 575
	}
	if h != Off {
		us += 2300*int64(h) + 575
	}
	return time.Duration(us) * time.Microsecond
}

// Dev is a BME280 (or BMP280) on an I²C bus, measured in forced mode: each
// read starts one measurement, waits for it and reads the result, and the
// chip sleeps in between (§3.3). It is safe for concurrent use.
type Dev struct {
	c        i2c.Dev
	model    Model
	cal      calibration
	ctrlHum  byte // ctrl_hum as written (BME280)
	ctrlMeas byte // ctrl_meas as written, forced mode
	pressure bool // pressure is measured
	humid    bool // humidity is measured (BME280 with humidity on)
	measTime time.Duration

	mu sync.Mutex      // serialises bus access and guards the buffers
	w  [4]byte         // transfer buffers, so a read does not allocate
	r  [calib1Len]byte // a calibration block or a measurement burst

	cont sensor.Continuous // the SenseContinuous loop
}

// New checks that the device at opts.Addr is a BME280 or a BMP280, resets
// it, reads its calibration and returns a Dev that measures it in forced
// mode. A nil opts means DefaultOpts. The driver does not take ownership of
// bus.
//
// A BMP280 is accepted: it is pin- and register-compatible without the
// humidity sensor, and breakout boards sold as BME280 sometimes carry one.
// Its readings then have no humidity; Model tells which chip was found.
func New(bus i2c.Bus, opts *Opts) (*Dev, error) {
	if bus == nil {
		return nil, errors.New("bme280: nil bus")
	}
	if opts == nil {
		opts = &DefaultOpts
	}
	if opts.Addr != 0x76 && opts.Addr != 0x77 {
		return nil, fmt.Errorf("bme280: address %#x out of range (0x76 or 0x77)", opts.Addr)
	}
	if opts.Temperature == Off {
		return nil, errors.New("bme280: temperature oversampling is Off; the pressure and humidity compensation need the temperature")
	}
	osrsT, okT := opts.Temperature.bits()
	osrsP, okP := opts.Pressure.bits()
	osrsH, okH := opts.Humidity.bits()
	for _, o := range []struct {
		name string
		v    Oversampling
		ok   bool
	}{{"temperature", opts.Temperature, okT}, {"pressure", opts.Pressure, okP}, {"humidity", opts.Humidity, okH}} {
		if !o.ok {
			return nil, fmt.Errorf("bme280: %s oversampling %d is not 0, 1, 2, 4, 8 or 16", o.name, o.v)
		}
	}

	d := &Dev{c: i2c.Dev{Bus: bus, Addr: opts.Addr}}
	m, err := d.readChipID()
	if err != nil {
		return nil, err
	}
	d.model = m
	d.pressure = opts.Pressure != Off
	d.humid = m == BME280 && opts.Humidity != Off
	d.ctrlMeas = osrsT<<5 | osrsP<<2 | modeForced
	h := opts.Humidity
	if m == BME280 {
		d.ctrlHum = osrsH
	} else {
		h = Off
	}
	d.measTime = measurementTime(opts.Temperature, opts.Pressure, h)

	// A soft reset puts the chip in a known state whatever ran before:
	// sleep mode, IIR filter off (config 0x00), and the calibration copied
	// afresh from NVM (§5.4.2).
	if err := d.reset(); err != nil {
		return nil, err
	}
	if err := d.readCalibration(); err != nil {
		return nil, err
	}
	return d, nil
}

// Identify reads the chip ID at addr and returns the model. An address
// other than 0x76 or 0x77, or an ID other than a BME280's or a BMP280's,
// is an error wrapping sensor.ErrChipID. It only reads register 0xD0.
func Identify(bus i2c.Bus, addr uint16) (Model, error) {
	if addr != 0x76 && addr != 0x77 {
		return 0, fmt.Errorf("bme280: address %#x is not a BME280 address (0x76 or 0x77): %w", addr, sensor.ErrChipID)
	}
	d := Dev{c: i2c.Dev{Bus: bus, Addr: addr}}
	return d.readChipID()
}

// Probe returns nil when the device at addr is a BME280 or a BMP280 (which
// this driver also serves), and an error wrapping sensor.ErrChipID when it
// answers with another chip ID. It only reads the chip ID register, which
// has no side effect.
func Probe(bus i2c.Bus, addr uint16) error {
	_, err := Identify(bus, addr)
	return err
}

// Model returns the chip found by New.
func (d *Dev) Model() Model { return d.model }

// MeasurementTime returns how long a read waits for a measurement: the
// datasheet's maximum for the configured oversampling (§9.1).
func (d *Dev) MeasurementTime() time.Duration { return d.measTime }

// String implements conn.Resource.
func (d *Dev) String() string {
	return d.model.String() + "{" + d.c.String() + "}"
}

// Sense performs one measurement and sets e.Temperature, and e.Pressure and
// e.Humidity when they are measured; it leaves the other fields alone.
// Implements physic.SenseEnv.
func (d *Dev) Sense(e *physic.Env) error {
	var v values
	if err := d.measure(&v); err != nil {
		return err
	}
	e.Temperature = v.t
	if d.pressure {
		e.Pressure = v.p
	}
	if d.humid {
		e.Humidity = v.h
	}
	return nil
}

// Read implements sensor.Sensor: temperature, then pressure and humidity
// when they are measured.
func (d *Dev) Read(dst []sensor.Reading) ([]sensor.Reading, error) {
	var v values
	if err := d.measure(&v); err != nil {
		return dst, err
	}
	dst = append(dst, sensor.Temp(v.t))
	if d.pressure {
		dst = append(dst, sensor.Reading{Quantity: sensor.Pressure, Value: int64(v.p)})
	}
	if d.humid {
		dst = append(dst, sensor.Reading{Quantity: sensor.Humidity, Value: int64(v.h)})
	}
	return dst, nil
}

// Precision implements physic.SenseEnv: the resolution of the compensated
// outputs, 0.01 °C, 1/256 Pa and 1/1024 %RH (rounded up to 0.00098 %RH)
// (§4.2.3).
func (d *Dev) Precision(e *physic.Env) {
	e.Temperature = 10 * physic.MilliKelvin
	if d.pressure {
		e.Pressure = physic.Pascal / 256
	}
	if d.humid {
		e.Humidity = 98 * physic.TenthMicroRH
	}
}

// SenseContinuous measures every interval and sends the result on the
// returned channel, starting at once. A previous continuous read is stopped
// first. The channel is closed by Halt, or after a read fails; call Sense to
// learn why it failed. Implements physic.SenseEnv.
func (d *Dev) SenseContinuous(interval time.Duration) (<-chan physic.Env, error) {
	if interval <= 0 {
		return nil, fmt.Errorf("bme280: sense continuous at %#x: interval %s is not positive", d.c.Addr, interval)
	}
	return d.cont.Start(interval, func() (e physic.Env, err error) {
		err = d.Sense(&e)
		return e, err
	}), nil
}

// Halt stops a continuous read. The chip needs no command: in forced mode
// it returns to sleep mode after each measurement (§3.3.2), where it draws
// 0.1 µA typical (§1). Implements conn.Resource.
func (d *Dev) Halt() error {
	return d.cont.Halt(nil)
}

// values are the compensated results of one measurement.
type values struct {
	t physic.Temperature
	p physic.Pressure
	h physic.RelativeHumidity
}

// measure runs one forced measurement and compensates its result.
func (d *Dev) measure(v *values) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	// ctrl_hum first: a change to it takes effect only with the next write
	// to ctrl_meas (§5.4.3). Both go in one transaction as register/data
	// pairs (§6.2.1), written on every read so that a chip reset by a
	// supply glitch is configured again.
	w := d.w[:0]
	if d.model == BME280 {
		w = append(w, regCtrlHum, d.ctrlHum)
	}
	w = append(w, regCtrlMeas, d.ctrlMeas)
	if err := d.c.Tx(w, nil); err != nil {
		return fmt.Errorf("bme280: start measurement at %#x: %w", d.c.Addr, err)
	}
	doSleep(d.measTime)

	// b is laid out as a BME280 burst from ctrl_hum; a BMP280 burst
	// starts one register later and its missing ctrl_hum reads as 0.
	b := d.r[:burstBME]
	rd, start := b, regCtrlHum
	if d.model != BME280 {
		b = d.r[:burstBMP+1]
		rd, start = b[1:], regStatus
		b[0] = 0
	}
	for i := 0; ; i++ {
		d.w[0] = start
		if err := d.c.Tx(d.w[:1], rd); err != nil {
			return fmt.Errorf("bme280: read measurement at %#x: %w", d.c.Addr, err)
		}
		hum, status, meas := b[0]&osrsHMask, b[1], b[2]
		// ctrl_meas and ctrl_hum must still hold what was written: a
		// chip that lost them was reset after the write, so it skipped
		// the measurement and its data registers hold the reset value
		// 0x80000 (§5.3). The configuration tells, not the value: 0x80000
		// and 0x8000 are also genuine mid-scale ADC codes, met around room
		// temperature and 80 %RH.
		if meas&^modeMask != d.ctrlMeas&^modeMask || hum != d.ctrlHum {
			return fmt.Errorf("bme280: measurement skipped at %#x: ctrl_meas %#02x, ctrl_hum %#02x, written %#02x, %#02x; the chip was reset: %w",
				d.c.Addr, meas, hum, d.ctrlMeas, d.ctrlHum, sensor.ErrImplausible)
		}
		// Done when the chip is back in sleep mode (§3.3.2) with no
		// conversion running and no NVM copy under way (§5.4.4).
		if meas&modeMask == 0 && status&(statusMeasuring|statusImUpdate) == 0 {
			break
		}
		if i == maxPolls {
			return fmt.Errorf("bme280: still measuring at %#x %s after the datasheet maximum (status %#02x, ctrl_meas %#02x): %w",
				d.c.Addr, time.Duration(maxPolls)*pollInterval, status, meas, sensor.ErrNotReady)
		}
		doSleep(pollInterval)
	}
	data := b[5:] // press_msb at 0xF7
	pRaw := int32(data[0])<<12 | int32(data[1])<<4 | int32(data[2])>>4
	tRaw := int32(data[3])<<12 | int32(data[4])<<4 | int32(data[5])>>4
	centi, tFine := d.cal.temperature(tRaw)
	// 0.01 °C is 10 000 000 nK.
	v.t = physic.ZeroCelsius + physic.Temperature(centi)*10*physic.MilliKelvin
	if d.pressure {
		p := d.cal.pressure(pRaw, tFine)
		if p <= 0 {
			return fmt.Errorf("bme280: pressure at %#x: ADC value %#x compensates to %d/256 Pa: %w", d.c.Addr, pRaw, p, sensor.ErrImplausible)
		}
		// 1/256 Pa is exactly 3 906 250 nPa.
		v.p = physic.Pressure(p) * (physic.Pascal / 256)
	}
	if d.humid {
		hRaw := int32(data[6])<<8 | int32(data[7])
		// h/1024 %RH in units of 0.00001 %RH is h·3125/32, rounded.
		h := int64(d.cal.humidity(hRaw, tFine))
		v.h = physic.RelativeHumidity((h*3125 + 16) / 32)
	}
	return nil
}

func (d *Dev) readChipID() (Model, error) {
	var id [1]byte
	d.w[0] = regChipID
	if err := d.c.Tx(d.w[:1], id[:]); err != nil {
		return 0, fmt.Errorf("bme280: read chip ID at %#x: %w", d.c.Addr, err)
	}
	switch m := Model(id[0]); m {
	case BME280, BMP280:
		return m, nil
	}
	return 0, fmt.Errorf("bme280: chip ID %#02x at %#x, want %#02x (BME280) or %#02x (BMP280): %w",
		id[0], d.c.Addr, byte(BME280), byte(BMP280), sensor.ErrChipID)
}

// reset soft-resets the chip and waits until it has copied its NVM into
// the calibration registers (§5.4.2, §5.4.4).
func (d *Dev) reset() error {
	d.w[0], d.w[1] = regReset, resetCommand
	if err := d.c.Tx(d.w[:2], nil); err != nil {
		return fmt.Errorf("bme280: reset at %#x: %w", d.c.Addr, err)
	}
	doSleep(StartupTime)
	var status [1]byte
	for i := 0; ; i++ {
		d.w[0] = regStatus
		if err := d.c.Tx(d.w[:1], status[:]); err != nil {
			return fmt.Errorf("bme280: read status at %#x: %w", d.c.Addr, err)
		}
		if status[0]&statusImUpdate == 0 {
			return nil
		}
		if i == maxPolls {
			return fmt.Errorf("bme280: still copying the NVM at %#x %s after a reset (status %#02x): %w",
				d.c.Addr, StartupTime+time.Duration(maxPolls)*pollInterval, status[0], sensor.ErrNotReady)
		}
		doSleep(pollInterval)
	}
}

func (d *Dev) readCalibration() error {
	c1 := d.r[:calib1Len]
	d.w[0] = regCalib1
	if err := d.c.Tx(d.w[:1], c1); err != nil {
		return fmt.Errorf("bme280: read calibration at %#x: %w", d.c.Addr, err)
	}
	var c2 []byte
	var buf [calib2Len]byte
	if d.model == BME280 {
		c2 = buf[:]
		d.w[0] = regCalib2
		if err := d.c.Tx(d.w[:1], c2); err != nil {
			return fmt.Errorf("bme280: read humidity calibration at %#x: %w", d.c.Addr, err)
		}
	}
	d.cal = parseCalibration(c1, c2)
	if d.cal.t1 == 0 || d.cal.p1 == 0 {
		return fmt.Errorf("%w at %#x: dig_T1 = %d, dig_P1 = %d", ErrCalibration, d.c.Addr, d.cal.t1, d.cal.p1)
	}
	return nil
}

var (
	_ conn.Resource   = &Dev{}
	_ physic.SenseEnv = &Dev{}
	_ sensor.Sensor   = &Dev{}
)
