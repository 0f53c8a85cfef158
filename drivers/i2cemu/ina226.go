package i2cemu

import (
	"fmt"
	"math"
	"sync"
	"time"

	"periph.io/x/conn/v3/physic"
)

// INA226 register pointers, fields and identification values (TI SBOS547B
// §7.1, register map and §7.1.1–§7.1.10).
const (
	ina226RegConfig  = 0x00
	ina226RegShunt   = 0x01
	ina226RegBus     = 0x02
	ina226RegPower   = 0x03
	ina226RegCurrent = 0x04
	ina226RegCal     = 0x05
	ina226RegMask    = 0x06
	ina226RegLimit   = 0x07
	ina226RegMfrID   = 0xFE
	ina226RegDieID   = 0xFF

	ina226RST uint16 = 1 << 15
	// ina226Writable: AVG, VBUSCT, VSHCT and MODE. Bits 14–12 are reserved
	// and read 100; RST self-clears.
	ina226Writable uint16 = 0x0FFF
	ina226Reserved uint16 = 0x4000
	ina226PowerOn  uint16 = 0x4127 // 1 average, 1.1 ms + 1.1 ms, shunt and bus continuous

	// Mask/Enable: SOL SUL BOL BUL POL CNVR and APOL LEN are writable;
	// AFF, CVRF and OVF are flags (§7.1.7).
	ina226MaskWritable uint16 = 0xFC03
	ina226CVRF         uint16 = 1 << 3
	ina226OVF          uint16 = 1 << 2

	// INA226MfrID and INA226DieID are what the identification registers
	// of a genuine INA226 read (§7.1.9, §7.1.10): "TI" in ASCII, and die
	// 0x226 revision 0.
	INA226MfrID uint16 = 0x5449
	INA226DieID uint16 = 0x2260
)

// ina226Averages and ina226ConvTime decode the AVG and the VBUSCT/VSHCT
// fields (§7.1.1, AVG and conversion time bit settings tables).
var (
	ina226Averages = [8]int64{1, 4, 16, 64, 128, 256, 512, 1024}
	ina226ConvTime = [8]time.Duration{
		140 * time.Microsecond, 204 * time.Microsecond, 332 * time.Microsecond, 588 * time.Microsecond,
		1100 * time.Microsecond, 2116 * time.Microsecond, 4156 * time.Microsecond, 8244 * time.Microsecond,
	}
)

// INA226 is a register-level model of a TI INA226 current, voltage and
// power monitor (SBOS547B) on a board with a shunt resistor. It emulates
// what a driver can observe on the bus:
//
//   - the pointer register, which persists between transactions (§6.5.5.3);
//   - the configuration register, power-on value 0x4127, with RST
//     (self-clearing, resets every register) and reserved bits 14–12
//     reading 100 (§7.1.1);
//   - the shunt voltage register in 2.5 µV steps, saturated at ±81.92 mV
//     (0x7FFF, 0x8000), and the bus voltage register in 1.25 mV steps up to
//     40.96 V, bit 15 reading 0 (§7.1.2, §7.1.3);
//   - the calibration register, whose bit 15 is reserved and reads 0
//     (§7.1.6), and the current and power registers computed from it after
//     each conversion as the datasheet defines them (§6.5.1):
//     current = trunc(shunt × calibration / 2048) and
//     power = trunc(|current| × bus / 20000);
//   - the Mask/Enable register: its alert bits are stored, CVRF is set when
//     a conversion completes and cleared by reading the register or by
//     writing a configuration other than power-down, and OVF is set while
//     the current does not fit its signed 16-bit register (§7.1.7);
//   - the Alert Limit register as storage (§7.1.8), and the manufacturer
//     and die ID registers (§7.1.9, §7.1.10), which SetIDs can change to
//     make the part look like another chip;
//   - conversion timing: continuous modes convert again and again,
//     triggered modes once; by default a conversion takes
//     averages × (bus + shunt conversion time) of the configuration;
//     SetConversionTime overrides it.
//
// It does not model ADC noise, averaging (the physical values are constant
// during a conversion), the ALERT pin or AFF, or SMBus alert. Reads of more
// than two bytes, register writes of other than two data bytes and
// pointers outside the register map are errors, so that a driver bug shows
// up in tests.
//
// All methods are safe for concurrent use.
type INA226 struct {
	mu        sync.Mutex
	now       func() time.Time
	convTime  time.Duration
	convFixed bool
	stuck     bool
	mfrID     uint16
	dieID     uint16

	shunt   physic.ElectricResistance
	current physic.ElectricCurrent
	bus     physic.ElectricPotential

	ptr     byte
	config  uint16 // writable bits only
	cal     uint16
	mask    uint16 // writable bits only
	limit   uint16
	shuntV  int16
	busCode uint16
	currReg int16
	power   uint16
	cvrf    bool
	ovf     bool

	converting bool
	doneAt     time.Time
}

// NewINA226 returns an INA226 in its power-on state on a board with a
// 100 mΩ shunt, no current and a 0 V bus. Its first conversion completes
// 2.2 ms later, the power-on conversion time.
func NewINA226() *INA226 {
	m := &INA226{now: time.Now, shunt: 100 * physic.MilliOhm, mfrID: INA226MfrID, dieID: INA226DieID}
	m.reset()
	return m
}

// SetShunt sets the resistance of the shunt resistor on the emulated
// board. A negative value is taken as 0.
func (m *INA226) SetShunt(r physic.ElectricResistance) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.shunt = max(r, 0)
}

// SetCurrent sets the current through the shunt; negative values flow
// from IN− to IN+.
func (m *INA226) SetCurrent(i physic.ElectricCurrent) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.current = i
}

// SetBusVoltage sets the voltage on the VBUS pin.
func (m *INA226) SetBusVoltage(v physic.ElectricPotential) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bus = v
}

// SetIDs sets what the manufacturer ID (0xFE) and die ID (0xFF) registers
// read, to emulate another part at the address.
func (m *INA226) SetIDs(manufacturer, die uint16) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mfrID, m.dieID = manufacturer, die
}

// SetStuck freezes the result registers at their current values: no
// conversion completes and CVRF is not set again.
func (m *INA226) SetStuck(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stuck = on
}

// SetConversionTime sets how long one conversion cycle (all averages of
// the selected channels) takes, whatever the configuration. Zero makes
// conversions complete at once.
func (m *INA226) SetConversionTime(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.convTime = max(d, 0)
	m.convFixed = true
	if m.converting {
		m.doneAt = m.now().Add(m.convTime)
	}
}

// Tx implements Device.
func (m *INA226) Tx(w, r []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.update()
	if len(w) > 0 {
		if w[0] > ina226RegLimit && w[0] != ina226RegMfrID && w[0] != ina226RegDieID {
			return fmt.Errorf("ina226 model: pointer %#x selects no register: %w", w[0], ErrNACK)
		}
		if len(w) != 1 && len(w) != 3 {
			return fmt.Errorf("ina226 model: write of %d data bytes, registers take 2: %w", len(w)-1, ErrNACK)
		}
		m.ptr = w[0]
		if len(w) == 3 {
			m.write(uint16(w[1])<<8 | uint16(w[2]))
		}
	}
	if len(r) > 2 {
		return fmt.Errorf("ina226 model: read of %d bytes from a 2-byte register", len(r))
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

func (m *INA226) reset() {
	m.config = ina226PowerOn & ina226Writable
	m.cal, m.mask, m.limit = 0, 0, 0
	m.shuntV, m.busCode, m.currReg, m.power = 0, 0, 0, 0
	m.cvrf, m.ovf = false, false
	m.start()
}

// mode is the MODE field, with the same bit meanings as on the INA219:
// shunt, bus, continuous (§7.1.1, mode settings table).
func (m *INA226) mode() uint16 { return m.config & 7 }

func (m *INA226) cycle() time.Duration {
	if m.convFixed {
		return m.convTime
	}
	var d time.Duration
	if m.mode()&1 != 0 {
		d += ina226ConvTime[m.config>>3&7]
	}
	if m.mode()&2 != 0 {
		d += ina226ConvTime[m.config>>6&7]
	}
	return d * time.Duration(ina226Averages[m.config>>9&7])
}

func (m *INA226) start() {
	m.converting = m.mode()&3 != 0
	m.doneAt = m.now().Add(m.cycle())
}

func (m *INA226) update() {
	if !m.converting {
		return
	}
	now := m.now()
	if now.Before(m.doneAt) {
		return
	}
	if !m.stuck {
		m.convert()
		m.cvrf = true
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

func (m *INA226) convert() {
	if m.mode()&1 != 0 {
		// One LSB is 2.5 µV: nA × nΩ is 1e-18 V, so divide by 2.5e12.
		code, ok := ina2xxMulDivRound(int64(m.current), int64(m.shunt), 2_500_000_000_000)
		if !ok {
			code = math.MaxInt16
			if m.current < 0 {
				code = math.MinInt16
			}
		}
		m.shuntV = int16(max(math.MinInt16, min(math.MaxInt16, code)))
		cur := int64(m.shuntV) * int64(m.cal) / 2048
		m.ovf = cur > math.MaxInt16 || cur < math.MinInt16
		m.currReg = int16(max(math.MinInt16, min(math.MaxInt16, cur)))
	}
	if m.mode()&2 != 0 {
		code := (int64(m.bus) + 625_000) / 1_250_000 // 1.25 mV steps, rounded
		m.busCode = uint16(max(0, min(math.MaxInt16, code)))
	}
	// At most 32768 × 32767 / 20000: always fits 16 bits.
	p := int64(m.currReg)
	if p < 0 {
		p = -p
	}
	m.power = uint16(p * int64(m.busCode) / 20000)
}

func (m *INA226) write(v uint16) {
	switch m.ptr {
	case ina226RegConfig:
		if v&ina226RST != 0 {
			m.reset()
			return
		}
		m.config = v & ina226Writable
		if m.mode()&3 != 0 {
			m.cvrf = false
		}
		m.start()
	case ina226RegCal:
		m.cal = v & 0x7FFF
	case ina226RegMask:
		m.mask = v & ina226MaskWritable
	case ina226RegLimit:
		m.limit = v
	}
}

func (m *INA226) read() uint16 {
	switch m.ptr {
	case ina226RegConfig:
		return m.config | ina226Reserved
	case ina226RegShunt:
		return uint16(m.shuntV)
	case ina226RegBus:
		return m.busCode
	case ina226RegPower:
		return m.power
	case ina226RegCurrent:
		return uint16(m.currReg)
	case ina226RegCal:
		return m.cal
	case ina226RegMask:
		v := m.mask
		if m.cvrf {
			v |= ina226CVRF
		}
		if m.ovf {
			v |= ina226OVF
		}
		m.cvrf = false
		return v
	case ina226RegLimit:
		return m.limit
	case ina226RegMfrID:
		return m.mfrID
	default:
		return m.dieID
	}
}
