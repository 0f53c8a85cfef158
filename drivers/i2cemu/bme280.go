package i2cemu

import (
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/physic"
)

// BME280 registers, bits and reset values (Bosch BST-BME280-DS002 §5.3,
// memory map, and §5.4).
const (
	bmeRegCalib1   = 0x88 // dig_T1 … dig_P9, reserved, dig_H1: 0x88–0xA1
	bmeRegChipID   = 0xD0
	bmeRegReset    = 0xE0
	bmeRegCalib2   = 0xE1 // dig_H2 … dig_H6: 0xE1–0xE7
	bmeRegCtrlHum  = 0xF2
	bmeRegStatus   = 0xF3
	bmeRegCtrlMeas = 0xF4
	bmeRegConfig   = 0xF5
	bmeRegData     = 0xF7 // press_msb … hum_lsb: 0xF7–0xFE

	bmeResetCommand = 0xB6 // §5.4.2

	bmeStatusMeasuring = 1 << 3 // §5.4.4
	bmeStatusImUpdate  = 1 << 0

	bmeModeSleep  = 0x00 // ctrl_meas bits 1:0 (§5.4.5); 01 and 10 are forced
	bmeModeNormal = 0x03

	// bmeSkipped20 and bmeSkipped16 are the reset values of the data
	// registers, which a skipped measurement leaves in place (§5.3,
	// §5.4.7–§5.4.9).
	bmeSkipped20 = 0x80000
	bmeSkipped16 = 0x8000

	bmeCalib1Len = 0xA1 - 0x88 + 1
	bmeCalib2Len = 0xE7 - 0xE1 + 1
)

// Chip IDs (§5.4.1; BMP280: BST-BMP280-DS001 §4.3.1).
const (
	BME280ChipID = 0x60
	BMP280ChipID = 0x58
)

// BME280StartupTime is how long the NVM copy takes after a power-on or
// soft reset (§1, table 1: t_startup 2 ms); the status bit im_update reads
// 1 and the calibration registers read 0 until it ends.
const BME280StartupTime = 2 * time.Millisecond

// bmeRealNVM1 and bmeRealNVM2 are the calibration registers 0x88–0xA1 and
// 0xE1–0xE7 read from a real BME280 (recorded in periph.io's bmxx80 tests):
// dig_T1 28176, dig_T2 26220, dig_T3 50, dig_P1 38237, dig_P2 -10824,
// dig_P3 3024, dig_P4 7799, dig_P5 -99, dig_P6 -7, dig_P7 9900,
// dig_P8 -10230, dig_P9 4285, dig_H1 75, dig_H2 366, dig_H3 0, dig_H4 309,
// dig_H5 0, dig_H6 30.
var (
	bmeRealNVM1 = [bmeCalib1Len]byte{
		0x10, 0x6E, 0x6C, 0x66, 0x32, 0x00, 0x5D, 0x95, 0xB8, 0xD5, 0xD0, 0x0B, 0x77,
		0x1E, 0x9D, 0xFF, 0xF9, 0xFF, 0xAC, 0x26, 0x0A, 0xD8, 0xBD, 0x10, 0x00, 0x4B,
	}
	bmeRealNVM2 = [bmeCalib2Len]byte{0x6E, 0x01, 0x00, 0x13, 0x05, 0x00, 0x1E}
)

// BME280 is a register-level model of a Bosch BME280 (or, from NewBMP280,
// a BMP280) combined humidity, pressure and temperature sensor. It emulates
// what a driver can observe on the bus:
//
//   - the register map (§5.3): chip ID 0xD0, the calibration blocks
//     0x88–0xA1 and 0xE1–0xE7 holding a real part's NVM, reset 0xE0,
//     ctrl_hum 0xF2, status 0xF3, ctrl_meas 0xF4, config 0xF5 and the data
//     registers 0xF7–0xFE, at their reset values after power-on;
//   - I²C access (§6.2): a one-byte write sets the register address, reads
//     auto-increment from it, and longer writes are register/data pairs;
//     read-only registers ignore writes;
//   - ctrl_hum takes effect only at the next write to ctrl_meas (§5.4.3),
//     and config is written only in sleep mode (§5.4.6);
//   - soft reset (0xB6 to 0xE0) and PowerOnReset: registers back to their
//     reset values, data registers to 0x80000 / 0x8000, and for
//     BME280StartupTime im_update reads 1 and the calibration reads 0;
//   - forced mode (§3.3.2): a write of mode 01 or 10 to ctrl_meas starts a
//     measurement; status bit 3 (measuring) reads 1 and the data registers
//     keep their previous content for the measurement time, then the
//     results appear and the mode bits read 00 (sleep) again. Normal mode
//     repeats measurements with the standby time of config (§3.3.3);
//   - the measurement time: by default the datasheet's typical time for
//     the oversampling in use, 1 + 2·osrs_t + (2·osrs_p + 0.5) +
//     (2·osrs_h + 0.5) ms without the terms of skipped measurements
//     (§9.1);
//   - the results: the raw ADC values whose Bosch integer compensation
//     (§4.2.3) comes closest to the temperature, pressure and humidity set,
//     at the resolution of the oversampling (16 bit at ×1 up to 20 bit at
//     ×16 for temperature and pressure, 16 bit for humidity; §3.4); a
//     skipped measurement leaves 0x80000 (0x8000 for humidity).
//
// It does not emulate the IIR filter (config filter bits are stored but
// results are unfiltered), SPI, or the NVM copy that precedes each
// conversion. Reads past register 0xFF and odd-length writes longer than
// one byte are errors, so that a driver bug shows up in tests; other
// unmapped registers read 0.
//
// All methods are safe for concurrent use.
type BME280 struct {
	mu       sync.Mutex
	now      func() time.Time
	fixed    bool          // convTime replaces the datasheet timing
	convTime time.Duration // when fixed

	chipID   byte
	humidity bool // BME280: has the humidity sensor and its registers
	nvm1     [bmeCalib1Len]byte
	nvm2     [bmeCalib2Len]byte
	cal      bmeCalibration

	temp  physic.Temperature
	press physic.Pressure
	hum   physic.RelativeHumidity
	stuck bool

	ptr      byte
	ctrlHum  byte // as written
	osrsH    byte // ctrl_hum latched by the last ctrl_meas write
	ctrlMeas byte
	config   byte
	data     [8]byte // 0xF7–0xFE

	startingUntil time.Time // end of the NVM copy after a reset
	starting      bool
	measuring     bool      // a forced measurement is running
	measEnd       time.Time // when it completes
	cycleStart    time.Time // normal mode: start of the first cycle
	cycles        int64     // normal mode: measurements completed
}

// NewBME280 returns a powered-up BME280 in sleep mode, with the calibration
// of a real part, exposed to 25 °C, 101.325 kPa and 40 %RH. Its data
// registers hold the reset values until the first measurement.
func NewBME280() *BME280 {
	m := &BME280{
		now:      time.Now,
		chipID:   BME280ChipID,
		humidity: true,
		nvm1:     bmeRealNVM1,
		nvm2:     bmeRealNVM2,
		temp:     physic.ZeroCelsius + 25*physic.Kelvin,
		press:    101325 * physic.Pascal,
		hum:      40 * physic.PercentRH,
	}
	m.cal = bmeParseCalibration(m.nvm1[:], m.nvm2[:])
	m.resetRegisters()
	return m
}

// NewBMP280 returns the model of a BMP280: chip ID 0x58, no humidity
// sensor, and none of the humidity registers (ctrl_hum, 0xE1–0xE7 and
// 0xFD–0xFE read 0).
func NewBMP280() *BME280 {
	m := NewBME280()
	m.chipID = BMP280ChipID
	m.humidity = false
	return m
}

// SetTemperature sets the temperature the sensor is exposed to. Values
// beyond what the ADC can represent saturate at its range.
func (m *BME280) SetTemperature(t physic.Temperature) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.temp = t
}

// SetPressure sets the pressure the sensor is exposed to.
func (m *BME280) SetPressure(p physic.Pressure) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.press = p
}

// SetHumidity sets the relative humidity the sensor is exposed to; the
// compensation clamps it to 0–100 %RH. A BMP280 ignores it.
func (m *BME280) SetHumidity(h physic.RelativeHumidity) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hum = h
}

// SetStuck freezes the data registers at their current content while on:
// measurements still run and the status register still reports them.
func (m *BME280) SetStuck(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stuck = on
}

// SetConversionTime makes every measurement take d; zero completes them at
// once, for tests that do not exercise timing. A negative d restores the
// datasheet's typical time for the oversampling in use.
func (m *BME280) SetConversionTime(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fixed = d >= 0
	m.convTime = max(d, 0)
	if m.measuring {
		m.measEnd = m.now().Add(m.measurementTime())
	}
}

// SetChipID sets the value of the chip ID register, to emulate another
// chip at the address (0x61 is a BME680, 0x55 a BMP180).
func (m *BME280) SetChipID(id byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.chipID = id
}

// SetCalibration replaces the calibration NVM with another part's:
// block1 holds registers 0x88–0xA1 (26 bytes), block2 registers 0xE1–0xE7
// (7 bytes; nil keeps the current ones).
func (m *BME280) SetCalibration(block1, block2 []byte) error {
	if len(block1) != bmeCalib1Len || (block2 != nil && len(block2) != bmeCalib2Len) {
		return fmt.Errorf("bme280 model: calibration of %d and %d bytes, want %d and %d", len(block1), len(block2), bmeCalib1Len, bmeCalib2Len)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	copy(m.nvm1[:], block1)
	if block2 != nil {
		copy(m.nvm2[:], block2)
	}
	m.cal = bmeParseCalibration(m.nvm1[:], m.nvm2[:])
	return nil
}

// PowerOnReset emulates a supply glitch: the chip restarts as after a
// soft reset, losing its configuration and results.
func (m *BME280) PowerOnReset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reset()
}

// Tx implements Device.
func (m *BME280) Tx(w, r []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.update(now)
	switch {
	case len(w) == 1:
		m.ptr = w[0]
	case len(w)%2 != 0:
		return fmt.Errorf("bme280 model: write of %d bytes is not register/data pairs: %w", len(w), ErrNACK)
	default:
		for i := 0; i < len(w); i += 2 {
			m.write(now, w[i], w[i+1])
			m.ptr = w[i]
		}
	}
	if int(m.ptr)+len(r) > 0x100 {
		return fmt.Errorf("bme280 model: read of %d bytes from %#x runs past register 0xff", len(r), m.ptr)
	}
	for i := range r {
		r[i] = m.read(now, m.ptr+byte(i))
	}
	return nil
}

func (m *BME280) resetRegisters() {
	m.ctrlHum, m.osrsH, m.ctrlMeas, m.config = 0, 0, 0, 0
	m.measuring = false
	m.cycles = 0
	bmeEncode(m.data[:], bmeSkipped20, bmeSkipped20, bmeSkipped16)
}

// reset is the power-on-reset procedure a soft reset also runs (§5.4.2).
func (m *BME280) reset() {
	m.resetRegisters()
	m.starting = true
	m.startingUntil = m.now().Add(BME280StartupTime)
}

// update brings the model to time now: the NVM copy after a reset ends,
// and measurements complete.
func (m *BME280) update(now time.Time) {
	if m.starting && !now.Before(m.startingUntil) {
		m.starting = false
	}
	switch mode := m.ctrlMeas & 0x03; {
	case m.measuring:
		if now.Before(m.measEnd) {
			return
		}
		m.measuring = false
		m.convert()
		m.ctrlMeas &^= 0x03 // back to sleep (§3.3.2)
	case mode == bmeModeNormal:
		meas := m.measurementTime()
		elapsed := now.Sub(m.cycleStart)
		if elapsed < meas {
			return
		}
		period := meas + m.standby()
		if done := int64((elapsed-meas)/period) + 1; done > m.cycles {
			m.cycles = done
			m.convert()
		}
	}
}

// measuringNow reports whether a conversion is running, for the status
// register.
func (m *BME280) measuringNow(now time.Time) bool {
	if m.measuring {
		return true
	}
	if m.ctrlMeas&0x03 != bmeModeNormal {
		return false
	}
	meas := m.measurementTime()
	period := meas + m.standby()
	return now.Sub(m.cycleStart)%period < meas
}

func (m *BME280) write(now time.Time, reg, v byte) {
	switch reg {
	case bmeRegReset:
		if v == bmeResetCommand {
			m.reset()
		}
	case bmeRegCtrlHum:
		if m.humidity {
			m.ctrlHum = v & 0x07
		}
	case bmeRegCtrlMeas:
		m.ctrlMeas = v
		m.osrsH = m.ctrlHum // §5.4.3: ctrl_hum takes effect now
		switch v & 0x03 {
		case bmeModeSleep:
			m.measuring = false
		case bmeModeNormal:
			m.measuring = false
			m.cycleStart = now
			m.cycles = 0
		default: // forced
			m.measuring = true
			m.measEnd = now.Add(m.measurementTime())
		}
		m.update(now)
	case bmeRegConfig:
		// §5.4.6: writes in normal mode may be ignored; bit 1 is
		// reserved.
		if m.ctrlMeas&0x03 == bmeModeSleep && !m.measuring {
			m.config = v &^ 0x02
		}
	}
}

func (m *BME280) read(now time.Time, reg byte) byte {
	switch {
	case reg >= bmeRegCalib1 && reg < bmeRegCalib1+bmeCalib1Len:
		if m.starting {
			return 0
		}
		return m.nvm1[reg-bmeRegCalib1]
	case reg == bmeRegChipID:
		return m.chipID
	case reg >= bmeRegCalib2 && reg < bmeRegCalib2+bmeCalib2Len:
		if m.starting || !m.humidity {
			return 0
		}
		return m.nvm2[reg-bmeRegCalib2]
	case reg == bmeRegCtrlHum:
		return m.ctrlHum
	case reg == bmeRegStatus:
		var s byte
		if m.measuringNow(now) {
			s |= bmeStatusMeasuring
		}
		if m.starting {
			s |= bmeStatusImUpdate
		}
		return s
	case reg == bmeRegCtrlMeas:
		return m.ctrlMeas
	case reg == bmeRegConfig:
		return m.config
	case reg >= bmeRegData && reg <= 0xFC:
		return m.data[reg-bmeRegData]
	case reg >= 0xFD:
		if !m.humidity {
			return 0
		}
		return m.data[reg-bmeRegData]
	}
	return 0
}

// bmeFactor returns the oversampling factor of an osrs field: 0 (skipped),
// 1, 2, 4, 8, or 16 for 101 and above (§5.4.3, §5.4.5).
func bmeFactor(osrs byte) int64 {
	if osrs == 0 {
		return 0
	}
	return 1 << min(osrs-1, 4)
}

// measurementTime is the time one measurement takes with the current
// settings: the fixed time, or the datasheet's typical time (§9.1).
func (m *BME280) measurementTime() time.Duration {
	if m.fixed {
		return m.convTime
	}
	t, p, h := bmeFactor(m.ctrlMeas>>5), bmeFactor(m.ctrlMeas>>2&0x07), bmeFactor(m.osrsH)
	us := 1000 + 2000*t
	if p > 0 {
		us += 2000*p + 500
	}
	if h > 0 {
		us += 2000*h + 500
	}
	return time.Duration(us) * time.Microsecond
}

// standby is t_standby in normal mode, config bits 7:5 (§5.4.6; the BMP280
// has 2 s and 4 s where the BME280 has 10 ms and 20 ms).
func (m *BME280) standby() time.Duration {
	us := [8]time.Duration{500, 62500, 125000, 250000, 500000, 1000000, 10000, 20000}
	if !m.humidity {
		us[6], us[7] = 2000000, 4000000
	}
	return us[m.config>>5] * time.Microsecond
}

// convert stores the results of a measurement of the current conditions.
func (m *BME280) convert() {
	if m.stuck {
		return
	}
	osT, osP := m.ctrlMeas>>5, m.ctrlMeas>>2&0x07
	// The temperature ADC value is found first: the pressure and humidity
	// compensation depend on it through t_fine.
	tRaw := m.cal.rawTemperature(m.temp, bmeStep(osT))
	_, tFine := m.cal.temperature(tRaw)
	pRaw := int32(bmeSkipped20)
	if osP != 0 {
		pRaw = m.cal.rawPressure(m.press, tFine, bmeStep(osP))
	}
	hRaw := int32(bmeSkipped16)
	if m.humidity && m.osrsH != 0 {
		hRaw = m.cal.rawHumidity(m.hum, tFine)
	}
	if osT == 0 {
		tRaw = bmeSkipped20
	}
	bmeEncode(m.data[:], pRaw, tRaw, hRaw)
}

// bmeStep is the spacing of the 20-bit temperature and pressure ADC values
// at an oversampling: 16 bit resolution at ×1, one more bit for each
// doubling, 20 bit at ×16 (§3.4.2, §3.4.3).
func bmeStep(osrs byte) int32 {
	f := bmeFactor(osrs)
	if f == 0 {
		return 1
	}
	return int32(16 / f)
}

// bmeEncode lays out raw values as the data registers: 20-bit pressure and
// temperature as msb, lsb and the top nibble of xlsb, then 16-bit humidity
// (§5.4.7–§5.4.9).
func bmeEncode(b []byte, p, t, h int32) {
	b[0], b[1], b[2] = byte(p>>12), byte(p>>4), byte(p<<4)
	b[3], b[4], b[5] = byte(t>>12), byte(t>>4), byte(t<<4)
	b[6], b[7] = byte(h>>8), byte(h)
}

// bmeCalibration holds the trimming parameters (§4.2.2).
type bmeCalibration struct {
	t1                             uint16
	t2, t3                         int16
	p1                             uint16
	p2, p3, p4, p5, p6, p7, p8, p9 int16
	h1                             uint8
	h2                             int16
	h3                             uint8
	h4, h5                         int16
	h6                             int8
}

// bmeParseCalibration decodes the NVM. Words are little endian; dig_H4
// and dig_H5 are 12-bit signed values sharing register 0xE5 (§4.2.2).
func bmeParseCalibration(b1, b2 []byte) bmeCalibration {
	u := func(b []byte, i int) uint16 { return uint16(b[i]) | uint16(b[i+1])<<8 }
	s := func(b []byte, i int) int16 { return int16(u(b, i)) }
	return bmeCalibration{
		t1: u(b1, 0), t2: s(b1, 2), t3: s(b1, 4),
		p1: u(b1, 6), p2: s(b1, 8), p3: s(b1, 10), p4: s(b1, 12), p5: s(b1, 14),
		p6: s(b1, 16), p7: s(b1, 18), p8: s(b1, 20), p9: s(b1, 22),
		h1: b1[25],
		h2: s(b2, 0),
		h3: b2[2],
		h4: int16(uint16(b2[3])<<8|uint16(b2[4]&0x0F)<<4) >> 4,
		h5: int16(uint16(b2[5])<<8|uint16(b2[4]&0xF0)) >> 4,
		h6: int8(b2[6]),
	}
}

// temperature is BME280_compensate_T_int32 (§4.2.3): 0.01 °C and t_fine.
func (c *bmeCalibration) temperature(adc int32) (int32, int32) {
	a := ((adc>>3 - int32(c.t1)<<1) * int32(c.t2)) >> 11
	d := adc>>4 - int32(c.t1)
	b := (((d * d) >> 12) * int32(c.t3)) >> 14
	return ((a+b)*5 + 128) >> 8, a + b
}

// pressure is BME280_compensate_P_int64 (§4.2.3): Pa in Q24.8, without
// the final cast to uint32 so that it stays monotonic where the pressure
// it computes goes negative.
func (c *bmeCalibration) pressure(adc, tFine int32) int64 {
	a := int64(tFine) - 128000
	b := a*a*int64(c.p6) + (a*int64(c.p5))<<17 + int64(c.p4)<<35
	a = (a*a*int64(c.p3))>>8 + (a*int64(c.p2))<<12
	a = ((1<<47 + a) * int64(c.p1)) >> 33
	if a == 0 {
		return 0
	}
	p := ((int64(1048576-adc)<<31 - b) * 3125) / a
	a = (int64(c.p9) * (p >> 13) * (p >> 13)) >> 25
	b = (int64(c.p8) * p) >> 19
	return (p+a+b)>>8 + int64(c.p7)<<4
}

// humidity is bme280_compensate_H_int32 (§4.2.3): %RH in Q22.10. It is
// evaluated in 64 bits, where the 32-bit original would overflow for ADC
// values far above 100 %RH and wrap to 0 instead of clamping.
func (c *bmeCalibration) humidity(adc, tFine int32) uint32 {
	v := int64(tFine) - 76800
	x := (int64(adc)<<14 - int64(c.h4)<<20 - int64(c.h5)*v + 16384) >> 15
	y := ((((v*int64(c.h6))>>10)*(((v*int64(c.h3))>>11)+32768))>>10 + 2097152) * int64(c.h2)
	v = x * ((y + 8192) >> 14)
	v -= ((((v >> 15) * (v >> 15)) >> 7) * int64(c.h1)) >> 4
	v = max(0, min(419430400, v))
	return uint32(v >> 12)
}

// rawTemperature returns the ADC value, a multiple of step, whose t_fine
// is closest to t: t_fine is the temperature in 1/5120 °C, finer than the
// 0.01 °C output, so the compensated output is t rounded to 0.01 °C.
func (c *bmeCalibration) rawTemperature(t physic.Temperature, step int32) int32 {
	target := int64(t-physic.ZeroCelsius) * 5120 // nK·5120 = t_fine·1e9
	return bmeSearch(step, 0xFFFFF, target, func(adc int32) int64 {
		_, f := c.temperature(adc)
		return int64(f) * 1e9
	})
}

// rawPressure returns the ADC value, a multiple of step, whose compensated
// pressure is closest to p.
func (c *bmeCalibration) rawPressure(p physic.Pressure, tFine, step int32) int32 {
	return bmeSearch(step, 0xFFFFF, int64(p), func(adc int32) int64 {
		return c.pressure(adc, tFine) * int64(physic.Pascal/256)
	})
}

// rawHumidity returns the 16-bit ADC value whose compensated humidity is
// closest to h.
func (c *bmeCalibration) rawHumidity(h physic.RelativeHumidity, tFine int32) int32 {
	// Compared in units of 1/1024 of 0.00001 %RH.
	return bmeSearch(1, 0xFFFF, int64(h)*1024, func(adc int32) int64 {
		return int64(c.humidity(adc, tFine)) * 100000
	})
}

// bmeSearch returns the multiple of step in [0, limit] at which f, which is
// monotonic in either direction, comes closest to target: a binary search,
// as the compensation formulas are monotonic in the ADC value.
func bmeSearch(step, limit int32, target int64, f func(int32) int64) int32 {
	n := limit / step // indices 0..n
	sign := int64(1)
	if f(0) > f(n*step) {
		sign = -1
	}
	lo, hi := int32(0), n
	for lo < hi {
		mid := lo + (hi-lo)/2
		if sign*f(mid*step) < sign*target {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo > 0 && bmeAbs(f((lo-1)*step)-target) < bmeAbs(f(lo*step)-target) {
		lo--
	}
	return lo * step
}

func bmeAbs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
