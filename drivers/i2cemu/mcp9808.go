package i2cemu

import (
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/physic"
)

// MCP9808 register pointers and bits (Microchip DS25095A §5.1, Registers
// 5-1 to 5-7; the current online revision renumbers the sections).
const (
	mcpRegRFU    = 0x00
	mcpRegConfig = 0x01
	mcpRegUpper  = 0x02
	mcpRegLower  = 0x03
	mcpRegCrit   = 0x04
	mcpRegTA     = 0x05
	mcpRegMfr    = 0x06
	mcpRegDevice = 0x07
	mcpRegRes    = 0x08

	mcpCfgHyst     uint16 = 3 << 9
	mcpCfgSHDN     uint16 = 1 << 8
	mcpCfgCritLock uint16 = 1 << 7
	mcpCfgWinLock  uint16 = 1 << 6
	mcpCfgIntClear uint16 = 1 << 5
	mcpCfgAlertCnt uint16 = 1 << 3
	mcpCfgAlertSel uint16 = 1 << 2
	// mcpCfgWritable: bits 15–11 are unimplemented, Alert Stat (bit 4) is
	// read only and Int. Clear (bit 5) always reads 0.
	mcpCfgWritable uint16 = 0x07CF
	mcpCfgLocks    uint16 = mcpCfgCritLock | mcpCfgWinLock

	// The limit registers hold sign and 10 bits in 0.25 °C steps; bits
	// 15–13 and 1–0 read 0 (Register 5-3).
	mcpLimitMask uint16 = 0x1FFC

	// TA flag bits (Register 5-4).
	mcpTACrit  uint16 = 1 << 15
	mcpTAUpper uint16 = 1 << 14
	mcpTALower uint16 = 1 << 13

	// MCP9808ManufacturerID is the value of register 0x06 (§5.1.4).
	MCP9808ManufacturerID uint16 = 0x0054
	// MCP9808DeviceID is the value of register 0x07: device ID 0x04 in the
	// upper byte, revision 0x00 in the lower (§5.1.5).
	MCP9808DeviceID uint16 = 0x0400

	mcpLSB = 62_500 * physic.MicroKelvin // 0.0625 °C
)

// mcpConvTimes are the typical conversion times for resolution register
// values 0 to 3: 0.5, 0.25, 0.125 and 0.0625 °C (DS25095A §5.2.4; the
// datasheet gives no maximum).
var mcpConvTimes = [4]time.Duration{
	30 * time.Millisecond,
	65 * time.Millisecond,
	130 * time.Millisecond,
	250 * time.Millisecond,
}

// The operating range of the MCP9808 (DS25095A, "Temperature
// Characteristics": −40 °C to +125 °C); SetTemperature clamps to it.
var (
	MCP9808Min = physic.ZeroCelsius - 40*physic.Kelvin
	MCP9808Max = physic.ZeroCelsius + 125*physic.Kelvin
)

// MCP9808 is a register-level model of a Microchip MCP9808 temperature
// sensor (DS25095A). It emulates what a driver can observe on the bus:
//
//   - the pointer register, which persists between transactions; pointer
//     values above 0x08 (test registers, or upper bits that must be 0,
//     Register 5-1) are refused with a NACK;
//   - the ambient temperature register T_A: 13-bit two's complement in
//     0.0625 °C steps, with the bits below the selected resolution read as
//     0, and the three flag bits 15–13 set when T_A ≥ T_CRIT, T_A > T_UPPER
//     and T_A < T_LOWER, whatever the alert configuration (§5.1.3). The
//     limits power up at 0 °C, so at room temperature a fresh chip reads
//     with bits 15 and 14 set;
//   - the configuration register, power-up 0x0000, with T_HYST, SHDN, the
//     two lock bits and the alert bits; the modelled lock rules are that a
//     lock bit, once set, stays set; that while either is set SHDN cannot
//     be set (it can be cleared) and T_HYST and Alert Cnt. cannot change;
//     that the window lock freezes Alert Sel., T_UPPER and T_LOWER, and the
//     critical lock T_CRIT (§5.1.1, §5.2.1);
//   - the manufacturer and device ID registers, 0x0054 and 0x0400 unless
//     SetIDs says otherwise, and the one-byte resolution register,
//     power-up 0x03 (0.0625 °C);
//   - conversion timing: after power-up, after leaving shutdown and after
//     a change of resolution, T_A keeps its previous content (0x0000 at
//     power-up) until a conversion time for the resolution has passed; in
//     shutdown it keeps the last result.
//
// It does not emulate the Alert output, Alert Stat., interrupt clearing or
// the conversion cadence: in continuous mode every read sees the current
// temperature. Registers are read and written whole (two bytes, or one for
// the resolution register); other lengths are errors, so that a driver bug
// shows up in tests.
//
// All methods are safe for concurrent use.
type MCP9808 struct {
	mu       sync.Mutex
	now      func() time.Time
	convTime time.Duration // every conversion's duration when fixed is set
	fixed    bool

	temp      physic.Temperature // what the sensor is exposed to
	stuck     bool
	mfr, dev  uint16
	ptr       byte
	config    uint16
	upper     uint16
	lower     uint16
	crit      uint16
	res       byte
	ta        uint16 // temperature bits 12–0 of the last result
	busy      bool
	busyUntil time.Time
}

// NewMCP9808 returns an MCP9808 in its power-up state, exposed to 25 °C.
// Its first conversion completes 250 ms later, the typical conversion time
// at the power-up resolution.
func NewMCP9808() *MCP9808 {
	m := &MCP9808{
		now:  time.Now,
		temp: physic.ZeroCelsius + 25*physic.Kelvin,
		mfr:  MCP9808ManufacturerID,
		dev:  MCP9808DeviceID,
		res:  3,
	}
	m.startConversion()
	return m
}

// SetTemperature sets the temperature the sensor is exposed to, clamped to
// the operating range MCP9808Min–MCP9808Max. Conversions from then on
// report it.
func (m *MCP9808) SetTemperature(t physic.Temperature) {
	t = max(MCP9808Min, min(MCP9808Max, t))
	m.mu.Lock()
	defer m.mu.Unlock()
	m.temp = t
}

// SetStuck freezes the temperature bits of T_A at their current value while
// on is true, as a sensor whose converter has locked up.
func (m *MCP9808) SetStuck(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stuck = on
}

// SetConversionTime makes every conversion take d, whatever the
// resolution, instead of the datasheet's typical times. Zero makes
// conversions complete at once, for tests that do not exercise timing.
func (m *MCP9808) SetConversionTime(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.convTime, m.fixed = max(d, 0), true
	if m.busy {
		m.busyUntil = m.now().Add(m.convTime)
	}
}

// SetIDs sets the manufacturer ID (register 0x06) and the device ID and
// revision (register 0x07) the chip reports, to emulate another JC-42.4
// sensor at an MCP9808 address, such as an MCP9804 (0x0054, 0x0200).
func (m *MCP9808) SetIDs(mfr, dev uint16) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mfr, m.dev = mfr, dev
}

// Tx implements Device.
func (m *MCP9808) Tx(w, r []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.update()
	if len(w) > 0 {
		if w[0] > mcpRegRes {
			return fmt.Errorf("mcp9808 model: pointer %#x selects no register: %w", w[0], ErrNACK)
		}
		size := mcpRegSize(w[0])
		if n := len(w) - 1; n != 0 && n != size {
			return fmt.Errorf("mcp9808 model: write of %d data bytes to a %d-byte register: %w", n, size, ErrNACK)
		}
		m.ptr = w[0]
		if len(w) > 1 {
			m.write(w[1:])
		}
	}
	if size := mcpRegSize(m.ptr); len(r) > size {
		return fmt.Errorf("mcp9808 model: read of %d bytes from a %d-byte register", len(r), size)
	}
	if m.ptr == mcpRegRes {
		if len(r) > 0 {
			r[0] = m.res
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

func mcpRegSize(ptr byte) int {
	if ptr == mcpRegRes {
		return 1
	}
	return 2
}

func (m *MCP9808) conversionTime() time.Duration {
	if m.fixed {
		return m.convTime
	}
	return mcpConvTimes[m.res&3]
}

// update completes a conversion whose time has come and, in continuous
// mode, converts the current temperature.
func (m *MCP9808) update() {
	if m.busy {
		if m.now().Before(m.busyUntil) {
			return
		}
		m.busy = false
		m.convert()
		return
	}
	if m.config&mcpCfgSHDN == 0 {
		m.convert()
	}
}

func (m *MCP9808) startConversion() {
	m.busy = true
	m.busyUntil = m.now().Add(m.conversionTime())
}

func (m *MCP9808) convert() {
	if !m.stuck {
		m.ta = encodeMCP9808(m.temp, m.res)
	}
}

func (m *MCP9808) write(data []byte) {
	if m.ptr == mcpRegRes {
		old := m.res
		m.res = data[0] & 3
		if m.res != old && m.config&mcpCfgSHDN == 0 {
			// The next result comes at the new resolution, one conversion
			// time later; until then T_A keeps the last one.
			m.startConversion()
		}
		return
	}
	v := uint16(data[0])<<8 | uint16(data[1])
	locked := m.config&mcpCfgLocks != 0
	switch m.ptr {
	case mcpRegConfig:
		m.writeConfig(v, locked)
	case mcpRegUpper, mcpRegLower:
		if m.config&mcpCfgWinLock == 0 {
			if m.ptr == mcpRegUpper {
				m.upper = v & mcpLimitMask
			} else {
				m.lower = v & mcpLimitMask
			}
		}
	case mcpRegCrit:
		if m.config&mcpCfgCritLock == 0 {
			m.crit = v & mcpLimitMask
		}
	default:
		// T_A, the IDs and the reserved register are read only; the chip
		// acknowledges and ignores the data.
	}
}

func (m *MCP9808) writeConfig(v uint16, locked bool) {
	old := m.config
	next := v & mcpCfgWritable
	// Lock bits are cleared only by a power-on reset.
	next |= old & mcpCfgLocks
	if locked {
		keep := mcpCfgHyst | mcpCfgAlertCnt
		if old&mcpCfgWinLock != 0 {
			keep |= mcpCfgAlertSel
		}
		next = next&^keep | old&keep
		if old&mcpCfgSHDN == 0 {
			next &^= mcpCfgSHDN // SHDN cannot be set while locked
		}
	}
	m.config = next
	if old&mcpCfgSHDN != 0 && next&mcpCfgSHDN == 0 {
		m.startConversion()
	}
}

func (m *MCP9808) read16() uint16 {
	switch m.ptr {
	case mcpRegConfig:
		return m.config
	case mcpRegUpper:
		return m.upper
	case mcpRegLower:
		return m.lower
	case mcpRegCrit:
		return m.crit
	case mcpRegTA:
		return m.ta | m.flags()
	case mcpRegMfr:
		return m.mfr
	case mcpRegDevice:
		return m.dev
	default:
		return 0 // mcpRegRFU
	}
}

// flags compares the last result with the limits (Register 5-4): the
// limits count in 0.25 °C, T_A in 0.0625 °C.
func (m *MCP9808) flags() uint16 {
	ta := mcpSigned(m.ta)
	var f uint16
	if ta >= mcpSigned(m.crit) {
		f |= mcpTACrit
	}
	if ta > mcpSigned(m.upper) {
		f |= mcpTAUpper
	}
	if ta < mcpSigned(m.lower) {
		f |= mcpTALower
	}
	return f
}

// mcpSigned returns bits 12–0 of a temperature or limit register as a
// signed count of 0.0625 °C.
func mcpSigned(v uint16) int64 {
	return int64(int16(v<<3) >> 3)
}

// encodeMCP9808 converts a temperature to bits 12–0 of T_A: the code is
// rounded down to a multiple of the resolution (0.5 °C for 0, down to
// 0.0625 °C for 3), whose lower bits read 0.
func encodeMCP9808(t physic.Temperature, res byte) uint16 {
	d := int64(t - physic.ZeroCelsius)
	code := d / int64(mcpLSB)
	if d%int64(mcpLSB) != 0 && d < 0 {
		code--
	}
	code = max(-4096, min(4095, code))
	drop := uint(3 - res&3)
	code = code >> drop << drop
	return uint16(code) & 0x1FFF
}
