package i2cemu

import (
	"fmt"
	"sync"
	"time"
)

// MAX31790 register map (Maxim 19-6540 rev. 2, register map); the model
// answers addresses 0x00 to 0x67.
const (
	max31790RegGlobal       = 0x00
	max31790RegPWMFreq      = 0x01
	max31790RegFanConfig    = 0x02 // + ch
	max31790RegFanDynamics  = 0x08 // + ch
	max31790RegFaultStatus2 = 0x10
	max31790RegFaultStatus1 = 0x11
	max31790RegTachCount    = 0x18 // + 2·ch; 0x24–0x2F are TACH7–12
	max31790RegDutyCycle    = 0x30 // + 2·ch
	max31790RegTargetDuty   = 0x40 // + 2·ch
	max31790RegTargetCount  = 0x50 // + 2·ch
	max31790RegCount        = 0x68

	max31790GlobalReset   = 0x40
	max31790CfgRPMMode    = 0x80
	max31790CfgTachInput  = 0x08
	max31790CountOverflow = 0x7FF // count of a stopped or unmonitored fan
	max31790TachClock     = 8192  // Hz

	// MAX31790MeasureTime is how long the model's first tach count takes
	// after a TACH input is enabled: one full count window, 2047 ticks of
	// the 8192 Hz tach clock. Until then the count reads as a stopped fan.
	MAX31790MeasureTime = 250 * time.Millisecond
)

// max31790SRTable maps the SR field of fan dynamics (bits 7:5) to the tach
// periods counted.
var max31790SRTable = [8]int{1, 2, 4, 8, 16, 32, 32, 32}

// MAX31790 is a register-level model of a Maxim MAX31790 six-channel fan
// controller (19-6540). It emulates what a driver can observe on the bus:
//
//   - the register pointer, which auto-increments over reads and writes
//     and persists between transactions; addresses above 0x67 are NACKed;
//   - the power-up values: global configuration 0x20, PWM frequency 0x44,
//     fan configuration 0x00 (TACH inputs disabled, PWM mode), fan
//     dynamics 0x4C (SR = 4); every other register reads 0x00 (the model
//     does not know their reset values where they depend on pins, such as
//     the PWM_START straps);
//   - TACH1–6 counts computed from the fan's speed, SR and pulses per
//     revolution exactly as the chip counts: floor(60·SR·8192 / (NP·RPM))
//     ticks in bits 15:5, saturating at 0x7FF (register 0xFFE0) for a
//     stopped or too slow fan, for a disabled TACH input, and until
//     a measurement time has passed after the input was enabled; a fan too
//     fast to count reads count 1;
//   - fan configuration: setting RPM mode sets the TACH input enable bit,
//     as the chip does;
//   - PWMOUT target duty (9 bits in 15:7, other bits read 0) and the duty
//     cycle register, which follows the target at once (the model has no
//     rate of change and no speed loop, in either mode);
//   - TACH target count (11 bits in 15:5);
//   - fan fault status 1, sticky: a fault injected with SetFanFault is
//     latched, stays latched after the fault ends, and is cleared by a
//     write to the channel's target duty or target count register; a fault
//     still present is latched again at once;
//   - the reset bit of the global configuration, which restores the
//     power-up values.
//
// It does not emulate standby, the watchdog, spin-up, failed-fan
// sequencing, fault masks (they gate the FAN_FAIL pin only), PWMOUT pins
// used as tach inputs (TACH7–12 read as stopped, fault status 2 reads 0)
// or register writes to read-only registers, which are ignored.
//
// Channels are numbered 1 to 6, as in the datasheet; setters ignore other
// channel numbers. All methods are safe for concurrent use.
type MAX31790 struct {
	mu       sync.Mutex
	now      func() time.Time
	measTime time.Duration

	regs      [max31790RegCount]byte // stored values of the writable registers
	ptr       byte
	rpm       [6]int
	np        [6]int
	faultOn   [6]bool
	latched   byte         // fault status 1, bits 5:0
	tachSince [6]time.Time // when each TACH input was last enabled
	stuck     bool
	frozen    [max31790RegCount]byte // result registers while stuck
}

// NewMAX31790 returns a MAX31790 in its power-up state, with six stopped
// fans of two pulses per revolution.
func NewMAX31790() *MAX31790 {
	m := &MAX31790{now: time.Now, measTime: MAX31790MeasureTime}
	for i := range m.np {
		m.np[i] = 2
	}
	m.reset()
	return m
}

func (m *MAX31790) reset() {
	m.regs = [max31790RegCount]byte{}
	m.regs[max31790RegGlobal] = 0x20
	m.regs[max31790RegPWMFreq] = 0x44
	for ch := range 6 {
		m.regs[max31790RegFanDynamics+ch] = 0x4C
	}
	m.latched = 0
}

func max31790Channel(ch int) (int, bool) {
	return ch - 1, ch >= 1 && ch <= 6
}

// SetFanRPM sets the speed of the fan on channel ch (1–6); 0 or less is a
// stopped fan.
func (m *MAX31790) SetFanRPM(ch int, rpm int) {
	i, ok := max31790Channel(ch)
	if !ok {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rpm[i] = max(0, rpm)
}

// SetPulsesPerRev sets the tach pulses per revolution (NP) of the fan on
// channel ch (1–6); values below 1 are ignored. The default is 2.
func (m *MAX31790) SetPulsesPerRev(ch int, np int) {
	i, ok := max31790Channel(ch)
	if !ok || np < 1 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.np[i] = np
}

// SetFanFault starts or ends a fault condition on channel ch (1–6). The
// chip latches it in fan fault status 1 until it is cleared.
func (m *MAX31790) SetFanFault(ch int, on bool) {
	i, ok := max31790Channel(ch)
	if !ok {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.faultOn[i] = on
	m.latchFaults()
}

// SetStuck freezes the result registers (tach counts, duty cycles and
// fault status) at their current values while on is true, like a chip
// whose measurement engine hung.
func (m *MAX31790) SetStuck(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if on && !m.stuck {
		m.latchFaults()
		for a := range max31790RegCount {
			m.frozen[a] = m.result(byte(a))
		}
	}
	m.stuck = on
}

// SetConversionTime sets how long the first tach count takes after a TACH
// input is enabled; zero makes it immediate.
func (m *MAX31790) SetConversionTime(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.measTime = max(0, d)
}

// Tx implements Device: w[0] sets the register pointer, further bytes are
// written from there, and r is read from the pointer on; the pointer
// advances after each byte.
func (m *MAX31790) Tx(w, r []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.latchFaults()
	if len(w) > 0 {
		if w[0] >= max31790RegCount {
			return fmt.Errorf("max31790 model: register %#x does not exist: %w", w[0], ErrNACK)
		}
		m.ptr = w[0]
		for _, b := range w[1:] {
			if m.ptr >= max31790RegCount {
				return fmt.Errorf("max31790 model: write past register 0x67: %w", ErrNACK)
			}
			m.write(m.ptr, b)
			m.ptr++
		}
	}
	for i := range r {
		if m.ptr >= max31790RegCount {
			return fmt.Errorf("max31790 model: read past register 0x67")
		}
		if m.stuck && max31790IsResult(m.ptr) {
			r[i] = m.frozen[m.ptr]
		} else {
			r[i] = m.result(m.ptr)
		}
		m.ptr++
	}
	return nil
}

func (m *MAX31790) latchFaults() {
	for i, on := range m.faultOn {
		if on {
			m.latched |= 1 << i
		}
	}
}

// max31790IsResult reports whether a is a register the chip computes: fault
// status, tach counts and duty cycles.
func max31790IsResult(a byte) bool {
	return a == max31790RegFaultStatus2 || a == max31790RegFaultStatus1 || (a >= max31790RegTachCount && a < max31790RegDutyCycle+12)
}

func (m *MAX31790) write(a, v byte) {
	switch {
	case a == max31790RegGlobal:
		if v&max31790GlobalReset != 0 {
			// The reset bit restores the power-up state and reads 0.
			m.reset()
			return
		}
		m.regs[a] = v
	case a >= max31790RegFanConfig && a < max31790RegFanConfig+6:
		i := int(a - max31790RegFanConfig)
		if v&max31790CfgRPMMode != 0 {
			v |= max31790CfgTachInput
		}
		if m.regs[a]&max31790CfgTachInput == 0 && v&max31790CfgTachInput != 0 {
			m.tachSince[i] = m.now()
		}
		m.regs[a] = v
	case max31790IsResult(a), a >= max31790RegDutyCycle+12 && a < max31790RegTargetDuty:
		// Read only, or no register: acknowledged and ignored.
	case a >= max31790RegTargetDuty && a < max31790RegTargetDuty+12:
		if a%2 == 1 {
			v &= 0x80 // bits 6:0 of the low byte read 0
		}
		m.regs[a] = v
		m.clearFault(int(a-max31790RegTargetDuty) / 2)
	case a >= max31790RegTargetCount && a < max31790RegTargetCount+12:
		if a%2 == 1 {
			v &= 0xE0 // bits 4:0 of the low byte read 0
		}
		m.regs[a] = v
		m.clearFault(int(a-max31790RegTargetCount) / 2)
	default:
		m.regs[a] = v
	}
}

// clearFault clears the latched fault of channel i (0-based); a fault still
// present is detected again at once.
func (m *MAX31790) clearFault(i int) {
	m.latched &^= 1 << i
	if m.faultOn[i] {
		m.latched |= 1 << i
	}
}

// result returns the byte at a, computing the result registers.
func (m *MAX31790) result(a byte) byte {
	switch {
	case a == max31790RegFaultStatus1:
		return m.latched
	case a == max31790RegFaultStatus2:
		return 0
	case a >= max31790RegTachCount && a < max31790RegDutyCycle:
		n := int(a-max31790RegTachCount) / 2
		v := uint16(max31790CountOverflow << 5)
		if n < 6 {
			v = m.tach(n)
		}
		if a%2 == 0 {
			return byte(v >> 8)
		}
		return byte(v)
	case a >= max31790RegDutyCycle && a < max31790RegDutyCycle+12:
		return m.regs[a-max31790RegDutyCycle+max31790RegTargetDuty]
	}
	return m.regs[a]
}

// tach returns the TACH count register of channel i (0-based).
func (m *MAX31790) tach(i int) uint16 {
	cfg := m.regs[max31790RegFanConfig+i]
	if cfg&max31790CfgTachInput == 0 || m.now().Before(m.tachSince[i].Add(m.measTime)) {
		return max31790CountOverflow << 5
	}
	sr := max31790SRTable[m.regs[max31790RegFanDynamics+i]>>5]
	return encodeMAX31790Tach(m.rpm[i], sr, m.np[i])
}

// encodeMAX31790Tach is the count register the chip reports for a fan at
// rpm: the 8192 Hz ticks in SR tach periods, floor(60·SR·8192 / (NP·RPM)),
// in bits 15:5, saturating at 0x7FF; a fan too fast to count reads 1.
func encodeMAX31790Tach(rpm, sr, np int) uint16 {
	if rpm <= 0 {
		return max31790CountOverflow << 5
	}
	count := int64(60*sr*max31790TachClock) / (int64(np) * int64(rpm))
	count = max(1, min(max31790CountOverflow, count))
	return uint16(count) << 5
}
