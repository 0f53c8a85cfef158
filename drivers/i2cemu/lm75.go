package i2cemu

import (
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/physic"
)

// LM75 register pointers, configuration bits and power-up values (NXP LM75B
// product data sheet Rev. 6.1 §7.4, Tables 5–12; TI SNIS153 "Pointer
// Register", "Configuration Register", "THYST and TOS Register").
const (
	lm75RegTemp  = 0x00
	lm75RegConf  = 0x01
	lm75RegThyst = 0x02
	lm75RegTos   = 0x03

	lm75Shutdown byte = 1 << 0
	// lm75ConfWritable are the fault queue, OS polarity, OS mode and
	// shutdown bits. B7–B5 are reserved (NXP) or production test bits that
	// must be kept 0 (TI); the model ignores writes to them and reads them
	// as 0.
	lm75ConfWritable byte = 0x1F

	// The set-point registers hold 9 bits in both variants (NXP §7.4.4);
	// the others read 0.
	lm75LimitMask    uint16 = 0xFF80
	lm75PowerUpThyst uint16 = 0x4B00 // 75 °C
	lm75PowerUpTos   uint16 = 0x5000 // 80 °C

	// LM75TypicalConversionTime is the typical time a conversion takes:
	// 100 ms on the 9-bit parts (TI SNIS153, "Temperature-to-Digital
	// Converter Characteristics", 300 ms maximum), and the interval at
	// which the Linux lm75 driver expects a new result from the 11-bit NXP
	// LM75B.
	LM75TypicalConversionTime = 100 * time.Millisecond
)

// The operating range of the LM75 family (−55 °C to +125 °C in every
// datasheet); SetTemperature clamps to it.
var (
	LM75Min = physic.ZeroCelsius - 55*physic.Kelvin
	LM75Max = physic.ZeroCelsius + 125*physic.Kelvin
)

// LM75 is a register-level model of an LM75-family temperature sensor:
// with 9 bits, the National/TI LM75, LM75A, LM75B and LM75C (0.5 °C); with
// 11 bits, the NXP LM75B and LM75A (0.125 °C). It emulates what a driver
// can observe on the bus:
//
//   - the pointer register, which persists between transactions, so a read
//     without a write returns the register selected last; pointer values
//     above 0x03 (whose upper bits the datasheets say must be 0) are
//     refused with a NACK;
//   - the temperature register, two's complement and left-justified: the
//     9 or 11 most significant bits hold the result, the others read 0 (on
//     a real 9-bit part they are undefined); a one-byte read returns the
//     MSB, as the NXP datasheet allows (§7.4.3);
//   - the one-byte configuration register, power-up 0x00, whose bits B7–B5
//     read 0 whatever is written;
//   - the T(HYST) and T(OS) set-point registers, 9 bits, power-up 75 °C and
//     80 °C;
//   - conversion timing: after power-up and after leaving shutdown, the
//     temperature register keeps its previous content (0 °C at power-up)
//     until a conversion time has passed; in shutdown it keeps the last
//     result.
//
// It does not emulate the OS output, fault queue or bus time-out, nor the
// conversion cadence: in normal mode every read sees the current
// temperature. Reads longer than the register and writes of more data
// bytes than it holds are errors, so that a driver bug shows up in tests.
//
// All methods are safe for concurrent use.
type LM75 struct {
	mu       sync.Mutex
	now      func() time.Time
	convTime time.Duration
	bits     int

	temp      physic.Temperature // what the sensor is exposed to
	stuck     bool
	ptr       byte
	conf      byte
	thyst     uint16
	tos       uint16
	result    uint16
	busy      bool
	busyUntil time.Time
}

// NewLM75 returns an LM75 with a bits-bit temperature register (9 or 11)
// in its power-up state, exposed to 25 °C. Its first conversion completes
// LM75TypicalConversionTime later. It panics if bits is neither 9 nor 11:
// the resolution is chosen by code, never read from input.
func NewLM75(bits int) *LM75 {
	if bits != 9 && bits != 11 {
		panic(fmt.Sprintf("i2cemu: NewLM75(%d): an LM75 has a 9- or 11-bit temperature register", bits))
	}
	m := &LM75{
		now:      time.Now,
		convTime: LM75TypicalConversionTime,
		bits:     bits,
		temp:     physic.ZeroCelsius + 25*physic.Kelvin,
		thyst:    lm75PowerUpThyst,
		tos:      lm75PowerUpTos,
	}
	m.startConversion()
	return m
}

// SetTemperature sets the temperature the sensor is exposed to, clamped to
// the operating range LM75Min–LM75Max. Conversions from then on report it.
func (m *LM75) SetTemperature(t physic.Temperature) {
	t = max(LM75Min, min(LM75Max, t))
	m.mu.Lock()
	defer m.mu.Unlock()
	m.temp = t
}

// SetStuck freezes the temperature register at its current value while on
// is true, as a sensor whose converter has locked up: reads keep
// succeeding with the old result.
func (m *LM75) SetStuck(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stuck = on
}

// SetConversionTime sets how long a conversion takes. Zero makes
// conversions complete at once, for tests that do not exercise timing.
func (m *LM75) SetConversionTime(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.convTime = d
	if m.busy {
		m.busyUntil = m.now().Add(max(d, 0))
	}
}

// Tx implements Device.
func (m *LM75) Tx(w, r []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.update()
	if len(w) > 0 {
		if w[0] > lm75RegTos {
			return fmt.Errorf("lm75 model: pointer %#x selects no register: %w", w[0], ErrNACK)
		}
		if n := len(w) - 1; n > lm75RegSize(w[0]) {
			return fmt.Errorf("lm75 model: write of %d data bytes to a %d-byte register: %w", n, lm75RegSize(w[0]), ErrNACK)
		}
		m.ptr = w[0]
		if len(w) > 1 {
			m.write(w[1:])
		}
	}
	if size := lm75RegSize(m.ptr); len(r) > size {
		return fmt.Errorf("lm75 model: read of %d bytes from a %d-byte register", len(r), size)
	}
	if m.ptr == lm75RegConf {
		if len(r) > 0 {
			r[0] = m.conf
		}
		return nil
	}
	v := m.read16()
	if len(r) > 0 {
		r[0] = byte(v >> 8)
	}
	if len(r) > 1 {
		r[1] = byte(v)
	}
	return nil
}

func lm75RegSize(ptr byte) int {
	if ptr == lm75RegConf {
		return 1
	}
	return 2
}

// update completes a conversion whose time has come and, in normal mode,
// converts the current temperature.
func (m *LM75) update() {
	if m.busy {
		if m.now().Before(m.busyUntil) {
			return
		}
		m.busy = false
		m.convert()
		return
	}
	if m.conf&lm75Shutdown == 0 {
		m.convert()
	}
}

func (m *LM75) startConversion() {
	m.busy = true
	m.busyUntil = m.now().Add(max(m.convTime, 0))
}

func (m *LM75) convert() {
	if !m.stuck {
		m.result = encodeLM75(m.temp, m.bits)
	}
}

func (m *LM75) write(data []byte) {
	switch m.ptr {
	case lm75RegTemp:
		// Read only; the chip acknowledges and ignores the data.
	case lm75RegConf:
		wasDown := m.conf&lm75Shutdown != 0
		m.conf = data[0] & lm75ConfWritable
		if wasDown && m.conf&lm75Shutdown == 0 {
			// Conversions restart; the register keeps the last result
			// until the first new one completes.
			m.startConversion()
		}
	case lm75RegThyst, lm75RegTos:
		cur := &m.thyst
		if m.ptr == lm75RegTos {
			cur = &m.tos
		}
		// MSByte first (NXP §7.10); a one-byte write changes the MSByte.
		v := uint16(data[0])<<8 | *cur&0x00FF
		if len(data) > 1 {
			v = v&0xFF00 | uint16(data[1])
		}
		*cur = v & lm75LimitMask
	}
}

func (m *LM75) read16() uint16 {
	switch m.ptr {
	case lm75RegThyst:
		return m.thyst
	case lm75RegTos:
		return m.tos
	default:
		return m.result
	}
}

// encodeLM75 converts a temperature to the temperature register: the code
// is rounded down to a multiple of one LSB (0.5 °C with 9 bits, 0.125 °C
// with 11), saturated to the format and left-justified (NXP LM75B §7.4.3
// Table 10; TI SNIS153 "Temperature Data Format").
func encodeLM75(t physic.Temperature, bits int) uint16 {
	lsb := int64(physic.Kelvin) >> (bits - 8)
	d := int64(t - physic.ZeroCelsius)
	code := d / lsb
	if d%lsb != 0 && d < 0 {
		code--
	}
	limit := int64(1) << (bits - 1)
	code = max(-limit, min(limit-1, code))
	return uint16(code) << (16 - bits)
}
