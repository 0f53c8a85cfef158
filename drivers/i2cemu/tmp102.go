package i2cemu

import (
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/physic"
)

// TMP102 register pointers and configuration bits (TI SBOS397 rev. H
// §7.5.1 and §7.5.3); the configuration is byte1<<8 | byte2.
const (
	tmpRegTemp  = 0x00
	tmpRegConf  = 0x01
	tmpRegTLow  = 0x02
	tmpRegTHigh = 0x03

	tmpOS   uint16 = 1 << 15
	tmpR1R0 uint16 = 3 << 13
	tmpPOL  uint16 = 1 << 10
	tmpSD   uint16 = 1 << 8
	tmpAL   uint16 = 1 << 5
	tmpEM   uint16 = 1 << 4
	// tmpWritable are the bits a write changes: F1 F0 POL TM SD in byte 1,
	// CR1 CR0 EM in byte 2. OS is a command, R1 R0 and AL are read only and
	// D3–D0 of byte 2 read 0.
	tmpWritable uint16 = 0x1F00 | 0x00D0

	tmpPowerUpConf  uint16 = 0x60A0 // §7.5.3: 12-bit, 4 Hz, comparator, AL = 1
	tmpPowerUpTLow  uint16 = 0x4B00 // 75 °C, §7.5.4
	tmpPowerUpTHigh uint16 = 0x5000 // 80 °C, §7.5.4

	// TMP102TypicalConversionTime is the typical conversion time (§6.5);
	// the maximum is 35 ms.
	TMP102TypicalConversionTime = 26 * time.Millisecond

	tmpLSB = 62_500 * physic.MicroKelvin // 0.0625 °C
)

// The operating range of the TMP102 (SBOS397 §6.1, §6.3); SetTemperature
// clamps to it.
var (
	TMP102Min = physic.ZeroCelsius - 55*physic.Kelvin
	TMP102Max = physic.ZeroCelsius + 150*physic.Kelvin
)

// TMP102 is a register-level model of a TI TMP102 temperature sensor
// (SBOS397). It emulates what a driver can observe on the bus:
//
//   - the pointer register, which persists between transactions, so a read
//     without a write returns the register selected last (§7.5.1);
//   - the temperature register in the 12-bit format (saturating at
//     127.9375 °C) or the 13-bit extended format, with bit D0 of byte 2 as
//     the EM flag (§7.3.1, §7.4.2, §7.5.2);
//   - the configuration register, power-up value 0x60A0, with read-only R1
//     R0 (always 11), AL and D3–D0, and writable F1 F0, POL, TM, SD, CR1 CR0
//     and EM; registers are written byte by byte, so a one-byte write changes
//     byte 1 only (§7.5.3);
//   - conversion timing: after power-up, after leaving shutdown and after
//     a change of EM, the temperature register keeps its previous content
//     (0 °C at power-up, or a result in the previous format) until a
//     conversion time has passed; in shutdown it keeps the last result, and
//     writing OS = 1 starts a one-shot conversion, during which OS reads 0
//     and after which it reads 1 (§7.4.3, §7.4.4);
//   - the T(LOW) and T(HIGH) registers (power-up 75 °C and 80 °C) and the
//     AL bit in comparator mode: it reads the inverse of POL until a result
//     reaches T(HIGH), then reads POL until a result falls below T(LOW)
//     (§7.5.3.8).
//
// It does not emulate the conversion cadence set by CR1 CR0 (in
// continuous mode every read sees the current temperature), the fault
// queue (every result counts as a fault), the ALERT pin, SMBus alert
// response or general call. Reads longer than two bytes, writes of more
// than two data bytes and pointers above 0x03 are errors, so that a driver
// bug shows up in tests.
//
// All methods are safe for concurrent use.
type TMP102 struct {
	mu       sync.Mutex
	now      func() time.Time
	convTime time.Duration

	temp      physic.Temperature // what the sensor is exposed to
	ptr       byte
	conf      uint16 // writable bits only
	tlow      uint16
	thigh     uint16
	result    uint16    // temperature register
	busyUntil time.Time // end of the conversion in progress, if busy
	busy      bool
	oneShot   bool // the conversion in progress was requested with OS
	osReady   bool // a one-shot conversion completed in shutdown
	alert     bool // comparator state, before POL
	stuck     bool // the temperature register no longer updates
}

// NewTMP102 returns a TMP102 in its power-up state, exposed to 25 °C. Its
// first conversion completes TMP102TypicalConversionTime later.
func NewTMP102() *TMP102 {
	m := &TMP102{
		now:      time.Now,
		convTime: TMP102TypicalConversionTime,
		temp:     physic.ZeroCelsius + 25*physic.Kelvin,
		conf:     tmpPowerUpConf & tmpWritable,
		tlow:     tmpPowerUpTLow,
		thigh:    tmpPowerUpTHigh,
	}
	m.startConversion(false)
	return m
}

// SetTemperature sets the temperature the sensor is exposed to, clamped to
// the operating range TMP102Min–TMP102Max. Conversions from then on report
// it.
func (m *TMP102) SetTemperature(t physic.Temperature) {
	t = max(TMP102Min, min(TMP102Max, t))
	m.mu.Lock()
	defer m.mu.Unlock()
	m.temp = t
}

// SetStuck freezes the temperature register at its current value, as a
// chip whose converter has hung would, or releases it.
func (m *TMP102) SetStuck(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stuck = on
}

// SetConversionTime sets how long a conversion takes. Zero makes
// conversions complete at once, for tests that do not exercise timing.
func (m *TMP102) SetConversionTime(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.convTime = d
	if m.busy {
		m.busyUntil = m.now()
		if d > 0 {
			m.busyUntil = m.busyUntil.Add(d)
		}
	}
}

// Tx implements Device.
func (m *TMP102) Tx(w, r []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.update()
	if len(w) > 0 {
		if w[0] > tmpRegTHigh {
			return fmt.Errorf("tmp102 model: pointer %#x selects no register: %w", w[0], ErrNACK)
		}
		if len(w) > 3 {
			return fmt.Errorf("tmp102 model: write of %d data bytes to a 2-byte register: %w", len(w)-1, ErrNACK)
		}
		m.ptr = w[0]
		if len(w) > 1 {
			m.write(w[1:])
		}
	}
	if len(r) > 2 {
		return fmt.Errorf("tmp102 model: read of %d bytes from a 2-byte register", len(r))
	}
	v := m.read()
	if len(r) > 0 {
		r[0] = byte(v >> 8)
	}
	if len(r) > 1 {
		r[1] = byte(v)
	}
	return nil
}

// update completes a conversion whose time has come and, in continuous
// mode, converts the current temperature.
func (m *TMP102) update() {
	if m.busy {
		if m.now().Before(m.busyUntil) {
			return
		}
		m.busy = false
		m.convert()
		if m.oneShot && m.conf&tmpSD != 0 {
			m.osReady = true
		}
		m.oneShot = false
		return
	}
	if m.conf&tmpSD == 0 {
		m.convert()
	}
}

func (m *TMP102) startConversion(oneShot bool) {
	m.busy = true
	m.oneShot = oneShot
	m.busyUntil = m.now().Add(m.convTime)
}

// convert stores a conversion of the current temperature and updates the
// comparator: AL trips when a result reaches T(HIGH) and clears when one
// falls below T(LOW) (§7.4.5.1, §7.5.3.8).
func (m *TMP102) convert() {
	if m.stuck {
		return
	}
	em := m.conf&tmpEM != 0
	m.result = encodeTMP102(m.temp, em)
	code := decodeTMP102(m.result, em)
	switch {
	case code >= decodeTMP102(m.thigh, em):
		m.alert = true
	case code < decodeTMP102(m.tlow, em):
		m.alert = false
	}
}

func (m *TMP102) write(data []byte) {
	var cur uint16
	switch m.ptr {
	case tmpRegTemp:
		// Read only; the chip acknowledges and ignores the data.
		return
	case tmpRegConf:
		cur = m.conf
	case tmpRegTLow:
		cur = m.tlow
	case tmpRegTHigh:
		cur = m.thigh
	}
	v := uint16(data[0])<<8 | cur&0x00FF
	if len(data) > 1 {
		v = v&0xFF00 | uint16(data[1])
	}
	switch m.ptr {
	case tmpRegConf:
		m.writeConf(v)
	case tmpRegTLow:
		m.tlow = v & m.limitMask()
	case tmpRegTHigh:
		m.thigh = v & m.limitMask()
	}
}

// limitMask keeps the bits of a limit register that hold temperature in
// the current format; the others read 0 (§7.5.4).
func (m *TMP102) limitMask() uint16 {
	if m.conf&tmpEM != 0 {
		return 0xFFF8
	}
	return 0xFFF0
}

func (m *TMP102) writeConf(v uint16) {
	old := m.conf
	m.conf = v & tmpWritable
	wasDown, isDown := old&tmpSD != 0, m.conf&tmpSD != 0
	emChanged := (old^m.conf)&tmpEM != 0
	switch {
	case isDown && v&tmpOS != 0 && !m.busy:
		// §7.4.4: in shutdown, OS = 1 starts a single conversion.
		m.osReady = false
		m.startConversion(true)
	case !isDown && (wasDown || emChanged):
		// §7.4.1: continuous conversion restarts; the register keeps its
		// old content until the first new conversion completes.
		m.osReady = false
		m.startConversion(false)
	case !isDown:
		m.osReady = false
	}
}

func (m *TMP102) read() uint16 {
	switch m.ptr {
	case tmpRegTemp:
		return m.result
	case tmpRegConf:
		v := m.conf | tmpR1R0
		// AL reads 1 when the comparator state equals POL (§7.5.3.8).
		if m.alert == (m.conf&tmpPOL != 0) {
			v |= tmpAL
		}
		if m.osReady && m.conf&tmpSD != 0 {
			v |= tmpOS
		}
		return v
	case tmpRegTLow:
		return m.tlow
	default:
		return m.thigh
	}
}

// encodeTMP102 converts a temperature to the temperature register format:
// the code is rounded down to a multiple of 0.0625 °C, saturated to the
// format's range and left-justified; extended results set bit D0 (§7.3.1,
// §7.4.2, §7.5.2).
func encodeTMP102(t physic.Temperature, extended bool) uint16 {
	d := int64(t - physic.ZeroCelsius)
	code := d / int64(tmpLSB)
	if d%int64(tmpLSB) != 0 && d < 0 {
		code--
	}
	if extended {
		code = max(-4096, min(4095, code))
		return uint16(code&0x1FFF)<<3 | 1
	}
	code = max(-2048, min(2047, code))
	return uint16(code&0x0FFF) << 4
}

// decodeTMP102 returns the signed code, in 0.0625 °C steps, of a register
// in the given format.
func decodeTMP102(v uint16, extended bool) int64 {
	if extended {
		return int64(int16(v) >> 3)
	}
	return int64(int16(v) >> 4)
}
