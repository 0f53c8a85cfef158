package i2cemu

import (
	"fmt"
	"math"
	"math/bits"
	"sync"
	"time"

	"periph.io/x/conn/v3/physic"
)

// INA219 register pointers, configuration fields and flags (TI SBOS448G
// §8.6: Table 2 register set, §8.6.2.1 configuration, §8.6.3.2 bus voltage
// register).
const (
	ina219RegConfig  = 0x00
	ina219RegShunt   = 0x01
	ina219RegBus     = 0x02
	ina219RegPower   = 0x03
	ina219RegCurrent = 0x04
	ina219RegCal     = 0x05

	ina219RST  uint16 = 1 << 15
	ina219BRNG uint16 = 1 << 13 // 32 V bus range
	// ina219Writable: bit 14 is unused and reads 0; RST self-clears.
	ina219Writable uint16 = 0x3FFF
	ina219PowerOn  uint16 = 0x399F // 32 V, PGA ÷8, 12-bit, shunt and bus continuous
	ina219CNVR     uint16 = 1 << 1
	ina219OVF      uint16 = 1 << 0
)

// ina219ADCTime is the conversion time of one ADC for each value of the
// 4-bit BADC/SADC field (SBOS448G §8.6.2.1, ADC settings table; 0X00 to
// 0X11 are single conversions at 9 to 12 bits, 1001 to 1111 average 2 to
// 128 12-bit samples).
var ina219ADCTime = [16]time.Duration{
	84 * time.Microsecond, 148 * time.Microsecond, 276 * time.Microsecond, 532 * time.Microsecond,
	84 * time.Microsecond, 148 * time.Microsecond, 276 * time.Microsecond, 532 * time.Microsecond,
	532 * time.Microsecond,
	1060 * time.Microsecond, 2130 * time.Microsecond, 4260 * time.Microsecond, 8510 * time.Microsecond,
	17020 * time.Microsecond, 34050 * time.Microsecond, 68100 * time.Microsecond,
}

// INA219 is a register-level model of a TI INA219 current, voltage and
// power monitor (SBOS448G) on a board with a shunt resistor. It emulates
// what a driver can observe on the bus:
//
//   - the pointer register, which persists between transactions, so a read
//     without a write returns the register selected last (§8.5.6);
//   - the configuration register, power-on value 0x399F, with the RST bit
//     (self-clearing, resets every register) and bit 14 reading 0
//     (§8.6.2.1);
//   - the shunt voltage register in 10 µV steps, saturated at the range of
//     the PGA setting (±40, 80, 160 or 320 mV); the bus voltage register in
//     4 mV steps (BD12–BD0 from bit 3) with CNVR in bit 1 and OVF in bit 0,
//     up to 32.76 V, or 16.38 V with BRNG = 0 (§8.6.3.1, §8.6.3.2);
//   - the calibration register, whose bit 0 always reads 0 (§8.6.4.1), and
//     the current and power registers computed from it after each
//     conversion as the datasheet defines them (§8.5.1):
//     current = trunc(shunt × calibration / 4096) and
//     power = trunc(|current| × bus / 5000), where bus is the BD field;
//   - OVF, set when the current does not fit its signed 16-bit register;
//   - conversion timing: writing an operating mode other than power-down
//     clears CNVR and starts a conversion; CNVR is set when a conversion of
//     the selected channels completes, and reading the power register
//     clears it (§8.6.3.2). Continuous modes convert again and again;
//     triggered modes convert once. By default a conversion takes the
//     datasheet time of the configured ADC settings; SetConversionTime
//     overrides it.
//
// It does not model ADC noise, the coarser steps of 9- to 11-bit
// resolutions or of the higher PGA ranges, averaging (the physical values
// are constant during a conversion) or SMBus alert. Reads of more than two bytes, register writes of other
// than two data bytes and pointers above 0x05 are errors, so that a driver
// bug shows up in tests.
//
// All methods are safe for concurrent use.
type INA219 struct {
	mu        sync.Mutex
	now       func() time.Time
	convTime  time.Duration
	convFixed bool // convTime overrides the datasheet timing
	stuck     bool

	// Physical quantities on the board.
	shunt   physic.ElectricResistance
	current physic.ElectricCurrent
	bus     physic.ElectricPotential

	ptr     byte
	config  uint16 // writable bits only
	cal     uint16
	shuntV  int16  // shunt voltage register
	busCode uint16 // BD12–BD0
	currReg int16
	power   uint16
	cnvr    bool
	ovf     bool

	converting bool      // a conversion is scheduled
	doneAt     time.Time // when it completes
}

// NewINA219 returns an INA219 in its power-on state on a board with a
// 100 mΩ shunt (the value on common breakout boards), no current and a
// 0 V bus. Its first conversion completes the datasheet conversion time
// later.
func NewINA219() *INA219 {
	m := &INA219{now: time.Now, shunt: 100 * physic.MilliOhm}
	m.reset()
	return m
}

// SetShunt sets the resistance of the shunt resistor on the emulated
// board: a physical property, which the driver learns only from its
// configuration. A negative value is taken as 0.
func (m *INA219) SetShunt(r physic.ElectricResistance) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.shunt = max(r, 0)
}

// SetCurrent sets the current through the shunt; negative values flow
// from IN− to IN+.
func (m *INA219) SetCurrent(i physic.ElectricCurrent) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.current = i
}

// SetBusVoltage sets the voltage of IN− to ground.
func (m *INA219) SetBusVoltage(v physic.ElectricPotential) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bus = v
}

// SetStuck freezes the result registers at their current values: no
// conversion completes, so CNVR stays as it is until a power register read
// clears it. SetStuck(false) resumes conversions.
func (m *INA219) SetStuck(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stuck = on
}

// SetConversionTime sets how long one conversion of the selected channels
// takes, whatever the configuration. Zero makes conversions complete at
// once, for tests that do not exercise timing.
func (m *INA219) SetConversionTime(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.convTime = max(d, 0)
	m.convFixed = true
	if m.converting {
		m.doneAt = m.now().Add(m.convTime)
	}
}

// Tx implements Device.
func (m *INA219) Tx(w, r []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.update()
	if len(w) > 0 {
		if w[0] > ina219RegCal {
			return fmt.Errorf("ina219 model: pointer %#x selects no register: %w", w[0], ErrNACK)
		}
		if len(w) != 1 && len(w) != 3 {
			return fmt.Errorf("ina219 model: write of %d data bytes, registers take 2: %w", len(w)-1, ErrNACK)
		}
		m.ptr = w[0]
		if len(w) == 3 {
			m.write(uint16(w[1])<<8 | uint16(w[2]))
		}
	}
	if len(r) > 2 {
		return fmt.Errorf("ina219 model: read of %d bytes from a 2-byte register", len(r))
	}
	if len(r) == 0 {
		return nil
	}
	v := m.read()
	r[0] = byte(v >> 8)
	if len(r) > 1 {
		r[1] = byte(v)
	}
	return nil
}

func (m *INA219) reset() {
	m.config = ina219PowerOn
	m.cal = 0
	m.shuntV, m.busCode, m.currReg, m.power = 0, 0, 0, 0
	m.cnvr, m.ovf = false, false
	m.start()
}

// mode returns the MODE field: bit 0 selects the shunt, bit 1 the bus, bit
// 2 continuous conversion; 000 and 100 convert nothing (§8.6.2.1).
func (m *INA219) mode() uint16 { return m.config & 7 }

// cycle is the time one conversion of the selected channels takes.
func (m *INA219) cycle() time.Duration {
	if m.convFixed {
		return m.convTime
	}
	var d time.Duration
	if m.mode()&1 != 0 {
		d += ina219ADCTime[m.config>>3&0xF]
	}
	if m.mode()&2 != 0 {
		d += ina219ADCTime[m.config>>7&0xF]
	}
	return d
}

func (m *INA219) start() {
	m.converting = m.mode()&3 != 0
	m.doneAt = m.now().Add(m.cycle())
}

// update completes the conversion whose time has come. In continuous mode
// the next one starts at once; conversions that completed while nobody
// looked leave only the last result, as on the chip.
func (m *INA219) update() {
	if !m.converting {
		return
	}
	now := m.now()
	if now.Before(m.doneAt) {
		return
	}
	if !m.stuck {
		m.convert()
		m.cnvr = true
	}
	if m.mode()&4 == 0 {
		m.converting = false
		return
	}
	if c := m.cycle(); c > 0 {
		n := now.Sub(m.doneAt)/c + 1
		m.doneAt = m.doneAt.Add(n * c)
	} else {
		m.doneAt = now
	}
}

func (m *INA219) convert() {
	if m.mode()&1 != 0 {
		// One LSB is 10 µV: nA × nΩ is 1e-18 V, so divide by 1e13.
		fs := int64(4000) << (m.config >> 11 & 3)
		code, ok := ina2xxMulDivRound(int64(m.current), int64(m.shunt), 1e13)
		if !ok || code > fs {
			code = fs
			if m.current < 0 {
				code = -fs
			}
		}
		m.shuntV = int16(max(-fs, code))
		cur := int64(m.shuntV) * int64(m.cal) / 4096
		m.ovf = cur > math.MaxInt16 || cur < math.MinInt16
		m.currReg = int16(max(math.MinInt16, min(math.MaxInt16, cur)))
	}
	if m.mode()&2 != 0 {
		top := int64(8191)
		if m.config&ina219BRNG == 0 {
			top = 4095 // BD12 reads 0 in the 16 V range (§8.6.3.2)
		}
		code := (int64(m.bus) + 2_000_000) / 4_000_000 // 4 mV steps, rounded
		m.busCode = uint16(max(0, min(top, code)))
	}
	// Power follows the bus conversion from the last current (§8.5.1); at
	// most 32768 × 8191 / 5000, so it always fits 16 bits.
	p := int64(m.currReg)
	if p < 0 {
		p = -p
	}
	m.power = uint16(p * int64(m.busCode) / 5000)
}

func (m *INA219) write(v uint16) {
	switch m.ptr {
	case ina219RegConfig:
		if v&ina219RST != 0 {
			m.reset()
			return
		}
		m.config = v & ina219Writable
		if m.mode()&3 != 0 {
			// A new operating mode restarts conversion and clears CNVR;
			// power-down and ADC off leave CNVR alone (§8.6.3.2).
			m.cnvr = false
		}
		m.start()
	case ina219RegCal:
		m.cal = v &^ 1 // FS0 is void and reads 0 (§8.6.4.1)
	}
	// The data registers are read only; the chip acknowledges and ignores
	// the data.
}

func (m *INA219) read() uint16 {
	switch m.ptr {
	case ina219RegConfig:
		return m.config
	case ina219RegShunt:
		return uint16(m.shuntV)
	case ina219RegBus:
		v := m.busCode << 3
		if m.cnvr {
			v |= ina219CNVR
		}
		if m.ovf {
			v |= ina219OVF
		}
		return v
	case ina219RegPower:
		m.cnvr = false
		return m.power
	case ina219RegCurrent:
		return uint16(m.currReg)
	default:
		return m.cal
	}
}

// ina2xxMulDivRound returns a×b/d rounded to the nearest integer, halves
// away from zero, computed in 128 bits so that nA × nΩ products cannot
// overflow. ok is false when the result does not fit an int64.
func ina2xxMulDivRound(a, b int64, d uint64) (q int64, ok bool) {
	neg := (a < 0) != (b < 0)
	hi, lo := bits.Mul64(ina2xxAbs(a), ina2xxAbs(b))
	var c uint64
	lo, c = bits.Add64(lo, d/2, 0)
	hi += c
	if hi >= d {
		return 0, false
	}
	u, _ := bits.Div64(hi, lo, d)
	if u > math.MaxInt64 {
		return 0, false
	}
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}

func ina2xxAbs(v int64) uint64 {
	if v < 0 {
		return uint64(-v) // also right for math.MinInt64
	}
	return uint64(v)
}
