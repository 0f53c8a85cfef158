package max31790

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rackwatch/rackwatch/drivers/sensor"
	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c"
)

// Register addresses (datasheet register map). ch is the 0-based channel:
// fan n of the datasheet is ch = n-1.
const (
	regFanConfig    = 0x02 // + ch
	regFanDynamics  = 0x08 // + ch
	regFaultStatus1 = 0x11 // TACH1–TACH6 in bits 5:0
	regTachCount    = 0x18 // + 2·ch, 16 bits, count in 15:5
	regDutyCycle    = 0x30 // + 2·ch, current PWMOUT duty, 9 bits in 15:7
	regTargetDuty   = 0x40 // + 2·ch, PWMOUT target duty, 9 bits in 15:7
	regTargetCount  = 0x50 // + 2·ch, TACH target count, 11 bits in 15:5
)

// Fan configuration and dynamics bits.
const (
	cfgRPMMode   = 0x80 // speed loop instead of a fixed duty
	cfgTachInput = 0x08 // TACH input enable
	dynSRShift   = 5    // speed range SR in bits 7:5
	dynSRMask    = 0x07 << dynSRShift
)

const (
	// Channels is the number of fan channels (PWMOUT1–6, TACH1–6).
	Channels = 6
	// MinAddr and MaxAddr bound the 7-bit addresses the ADD0 and ADD1
	// straps select.
	MinAddr = 0x20
	MaxAddr = 0x2F

	// tachClock is the frequency of the clock the tachometer counts:
	// 8192 Hz, derived from the 32.768 kHz oscillator.
	tachClock = 8192
	// countOverflow is the 11-bit count the chip reports when a fan is
	// stopped, too slow to measure or not monitored (register 0xFFE0).
	countOverflow = 0x7FF
	// dutySteps is full scale of the 9-bit duty cycle: 511 is 100 %.
	dutySteps = 511
	// defaultNP is the pulses per revolution of most PC and server fans.
	defaultNP = 2
	maxNP     = 8
)

// TachSettleTime is how long New waits after it enables a TACH input,
// before the first count can be trusted. The counter runs at 8192 Hz and
// saturates at 2047 ticks, so one measurement lasts at most 250 ms; the
// chip first has to see a tach edge, so two windows are allowed. Until
// then the count register still reads the value of a stopped fan.
const TachSettleTime = 500 * time.Millisecond

// srTable maps the SR field of the fan dynamics register to the number of
// tach periods counted: codes 101, 110 and 111 all count 32.
var srTable = [8]int64{1, 2, 4, 8, 16, 32, 32, 32}

var fanNames = [Channels]string{"fan1", "fan2", "fan3", "fan4", "fan5", "fan6"}

// doSleep is replaced in tests to observe and skip the settle wait.
var doSleep = time.Sleep

var (
	// ErrRPMMode is returned when an operation would fight the chip's
	// own speed loop: setting a duty cycle, or changing the speed range,
	// of a channel in RPM mode.
	ErrRPMMode = errors.New("max31790: channel is in RPM mode")
)

// Fan describes a fan wired to one channel.
type Fan struct {
	// Channel is the datasheet's channel number, 1 to 6 (TACHn, PWMOUTn).
	Channel int
	// SpeedRange is SR, the number of tach periods the chip counts per
	// measurement: 1, 2, 4, 8, 16 or 32. Zero leaves the fan dynamics
	// register as it is (SR = 4 at power-up). A larger SR gives finer
	// readings of fast fans; slow fans need a small one, or they read as
	// stopped (see doc.go).
	SpeedRange int
	// PulsesPerRev is NP, the tach pulses the fan gives per revolution;
	// zero means 2, the usual value for PC and server fans.
	PulsesPerRev int
}

// Opts configures a Dev.
type Opts struct {
	// Addr is the 7-bit address, MinAddr to MaxAddr, set by the ADD0 and
	// ADD1 straps; 0x20 with both tied to ground.
	Addr uint16
	// Fans lists the channels that have a fan, in the order their
	// readings are reported. Nil or empty means all six, with defaults.
	Fans []Fan
}

// DefaultOpts is the configuration New uses when opts is nil: address
// 0x20 and six fans with two pulses per revolution, at the speed range the
// chip already has.
var DefaultOpts = Opts{Addr: 0x20}

// fan is a configured channel.
type fan struct {
	ch int // 0-based
	np int64
	sr int // requested SR, 0 to keep
}

// Dev is a MAX31790 on an I²C bus. It is safe for concurrent use.
type Dev struct {
	c    i2c.Dev
	fans []fan

	mu  sync.Mutex // serialises bus access and guards the buffers below
	w   [3]byte
	r   [2]byte
	res [Channels]result
}

// result is one fan's measurement, kept in the Dev so Read does not
// allocate.
type result struct {
	mrpm  int64
	ppm   int64
	fault bool
}

// New checks opts, checks that the device at opts.Addr has the shape of a
// MAX31790, enables the TACH input of every configured fan that lacks it
// (waiting TachSettleTime for the first count) and programs the requested
// speed ranges. It never changes a duty cycle, a fan mode or a target. A
// nil opts means DefaultOpts. The driver does not take ownership of bus.
func New(bus i2c.Bus, opts *Opts) (*Dev, error) {
	if bus == nil {
		return nil, errors.New("max31790: nil bus")
	}
	if opts == nil {
		opts = &DefaultOpts
	}
	if opts.Addr < MinAddr || opts.Addr > MaxAddr {
		return nil, fmt.Errorf("max31790: address %#x out of range %#x-%#x", opts.Addr, MinAddr, MaxAddr)
	}
	fans, err := checkFans(opts.Fans)
	if err != nil {
		return nil, err
	}
	d := &Dev{c: i2c.Dev{Bus: bus, Addr: opts.Addr}, fans: fans}
	// The address range is shared with common GPIO expanders (PCA9555,
	// MCP23017 at 0x20–0x27), where registers 0x02–0x0D drive outputs.
	// Look before writing: a MAX31790 tach count keeps bits 4:0 at zero.
	for _, f := range fans {
		raw, err := d.read16(regTachCount+2*byte(f.ch), "tach count")
		if err != nil {
			return nil, err
		}
		if raw&0x1F != 0 {
			return nil, fmt.Errorf("max31790: not a MAX31790 at %#x: tach count %d reads %#04x, bits 4:0 set: %w",
				opts.Addr, f.ch+1, raw, sensor.ErrChipID)
		}
	}
	enabled := false
	for _, f := range fans {
		cfg, err := d.read8(regFanConfig+byte(f.ch), "fan config")
		if err != nil {
			return nil, err
		}
		// In RPM mode the chip enables the TACH input itself.
		if cfg&(cfgTachInput|cfgRPMMode) == 0 {
			if err := d.write8(regFanConfig+byte(f.ch), cfg|cfgTachInput, "fan config"); err != nil {
				return nil, err
			}
			enabled = true
		}
		if f.sr == 0 {
			continue
		}
		dyn, err := d.read8(regFanDynamics+byte(f.ch), "fan dynamics")
		if err != nil {
			return nil, err
		}
		code := srCode(f.sr)
		if dyn&dynSRMask == code {
			continue
		}
		if cfg&cfgRPMMode != 0 {
			// The target count is relative to SR: changing SR alone
			// would change the speed the chip regulates to.
			return nil, fmt.Errorf("%w: set speed range of fan %d at %#x: refused, it would change the fan's target speed",
				ErrRPMMode, f.ch+1, opts.Addr)
		}
		if err := d.write8(regFanDynamics+byte(f.ch), dyn&^dynSRMask|code, "fan dynamics"); err != nil {
			return nil, err
		}
	}
	if enabled {
		doSleep(TachSettleTime)
	}
	return d, nil
}

func checkFans(in []Fan) ([]fan, error) {
	if len(in) == 0 {
		out := make([]fan, Channels)
		for i := range out {
			out[i] = fan{ch: i, np: defaultNP}
		}
		return out, nil
	}
	if len(in) > Channels {
		return nil, fmt.Errorf("max31790: %d fans listed, the chip has %d channels", len(in), Channels)
	}
	out := make([]fan, 0, len(in))
	var seen [Channels]bool
	for _, f := range in {
		if f.Channel < 1 || f.Channel > Channels {
			return nil, fmt.Errorf("max31790: fan channel %d out of range 1-%d", f.Channel, Channels)
		}
		if seen[f.Channel-1] {
			return nil, fmt.Errorf("max31790: fan channel %d listed twice", f.Channel)
		}
		seen[f.Channel-1] = true
		switch f.SpeedRange {
		case 0, 1, 2, 4, 8, 16, 32:
		default:
			return nil, fmt.Errorf("max31790: fan %d: speed range %d is not 1, 2, 4, 8, 16 or 32", f.Channel, f.SpeedRange)
		}
		np := int64(f.PulsesPerRev)
		if np == 0 {
			np = defaultNP
		}
		if np < 1 || np > maxNP {
			return nil, fmt.Errorf("max31790: fan %d: %d pulses per revolution out of range 1-%d", f.Channel, f.PulsesPerRev, maxNP)
		}
		out = append(out, fan{ch: f.Channel - 1, np: np, sr: f.SpeedRange})
	}
	return out, nil
}

// srCode returns the SR field, in place in the fan dynamics register, for
// a valid speed range.
func srCode(sr int) byte {
	code := byte(0)
	for srTable[code] != int64(sr) {
		code++
	}
	return code << dynSRShift
}

// String implements conn.Resource.
func (d *Dev) String() string {
	return "MAX31790{" + d.c.String() + "}"
}

// Halt implements conn.Resource. It does nothing, on purpose: the fans
// keep turning at the duty cycle or speed they have. Stopping the fans of
// a rack because a monitoring agent exits would cook the servers, and the
// chip's standby mode stops every PWM output at once.
func (d *Dev) Halt() error {
	return nil
}

// Read implements sensor.Sensor. For each configured fan, in the order of
// Opts.Fans, it appends three readings on channel "fanN": FanSpeed in
// milli-RPM (0 when the fan is stopped or too slow to measure), FanDuty in
// ppm of the duty cycle the chip is driving now, and FanFault, 1 when the
// chip latched a fault for the fan since the previous Read.
//
// Fault bits are sticky in the chip; Read clears the ones it reports, so a
// fault that persists is reported again by the next Read, and one that
// came and went is reported once. On error nothing is appended and no
// fault is cleared.
func (d *Dev) Read(dst []sensor.Reading) ([]sensor.Reading, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	status, err := d.read8(regFaultStatus1, "fault status")
	if err != nil {
		return dst, err
	}
	for _, f := range d.fans {
		dyn, err := d.read8(regFanDynamics+byte(f.ch), "fan dynamics")
		if err != nil {
			return dst, err
		}
		tach, err := d.read16(regTachCount+2*byte(f.ch), "tach count")
		if err != nil {
			return dst, err
		}
		duty, err := d.read16(regDutyCycle+2*byte(f.ch), "duty cycle")
		if err != nil {
			return dst, err
		}
		mrpm, err := milliRPM(tach, srTable[dyn>>dynSRShift], f.np)
		if err != nil {
			return dst, fmt.Errorf("max31790: fan %d at %#x: %w", f.ch+1, d.c.Addr, err)
		}
		d.res[f.ch] = result{mrpm: mrpm, ppm: dutyPPM(duty), fault: status&(1<<f.ch) != 0}
	}
	for _, f := range d.fans {
		if d.res[f.ch].fault {
			if err := d.clearFault(f.ch); err != nil {
				return dst, err
			}
		}
	}
	for _, f := range d.fans {
		r := d.res[f.ch]
		var fault int64
		if r.fault {
			fault = 1
		}
		dst = append(dst,
			sensor.Reading{Quantity: sensor.FanSpeed, Channel: fanNames[f.ch], Value: r.mrpm},
			sensor.Reading{Quantity: sensor.FanDuty, Channel: fanNames[f.ch], Value: r.ppm},
			sensor.Reading{Quantity: sensor.FanFault, Channel: fanNames[f.ch], Value: fault})
	}
	return dst, nil
}

// milliRPM converts a tach count register: RPM = 60·SR·8192 / (NP·count),
// with the 11-bit count in bits 15:5. The overflow count is a stopped fan.
func milliRPM(raw uint16, sr, np int64) (int64, error) {
	count := int64(raw >> 5)
	switch count {
	case countOverflow:
		return 0, nil
	case 0:
		// Not a count the chip can produce: it would be a fan turning
		// infinitely fast.
		return 0, fmt.Errorf("%w: tach count register %#04x", sensor.ErrImplausible, raw)
	}
	return 60 * sr * tachClock * 1000 / (np * count), nil
}

// dutyPPM converts a 9-bit duty register (bits 15:7) to parts per
// million, rounded to nearest.
func dutyPPM(raw uint16) int64 {
	steps := int64(raw >> 7)
	return (2*steps*1_000_000 + dutySteps) / (2 * dutySteps)
}

// dutyFromReg and regFromDuty convert between the 9-bit duty and
// gpio.Duty, rounding to nearest; a register value survives the round
// trip.
func dutyFromReg(raw uint16) gpio.Duty {
	steps := int64(raw >> 7)
	return gpio.Duty((2*steps*int64(gpio.DutyMax) + dutySteps) / (2 * dutySteps))
}

func regFromDuty(d gpio.Duty) uint16 {
	steps := (2*int64(d)*dutySteps + int64(gpio.DutyMax)) / (2 * int64(gpio.DutyMax))
	return uint16(steps) << 7
}

// SetDuty sets the target duty cycle of channel ch (1–6), which the chip
// reaches at the rate of change of the fan dynamics register. Zero stops
// the fan. The duty is rounded to the nearest of 511 steps. A channel in
// RPM mode is refused with ErrRPMMode. Like any write to the target duty
// register, it also clears the channel's latched fault.
func (d *Dev) SetDuty(ch int, duty gpio.Duty) error {
	if err := checkChannel(ch); err != nil {
		return err
	}
	if !duty.Valid() {
		return fmt.Errorf("max31790: duty %d out of range 0-%d", duty, gpio.DutyMax)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	i := byte(ch - 1)
	cfg, err := d.read8(regFanConfig+i, "fan config")
	if err != nil {
		return err
	}
	if cfg&cfgRPMMode != 0 {
		return fmt.Errorf("%w: set duty of fan %d at %#x: its duty is set by the speed loop", ErrRPMMode, ch, d.c.Addr)
	}
	v := regFromDuty(duty)
	d.w = [3]byte{regTargetDuty + 2*i, byte(v >> 8), byte(v)}
	if err := d.c.Tx(d.w[:], nil); err != nil {
		return fmt.Errorf("max31790: write target duty at %#x: %w", d.c.Addr, err)
	}
	return nil
}

// Duty returns the duty cycle channel ch (1–6) is driving now. After
// SetDuty it moves towards the target at the programmed rate of change; in
// RPM mode it is the duty the speed loop chose.
func (d *Dev) Duty(ch int) (gpio.Duty, error) {
	return d.duty(ch, regDutyCycle, "duty cycle")
}

// TargetDuty returns the target duty cycle of channel ch (1–6), the value
// SetDuty writes.
func (d *Dev) TargetDuty(ch int) (gpio.Duty, error) {
	return d.duty(ch, regTargetDuty, "target duty")
}

func (d *Dev) duty(ch int, reg byte, what string) (gpio.Duty, error) {
	if err := checkChannel(ch); err != nil {
		return 0, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	raw, err := d.read16(reg+2*byte(ch-1), what)
	if err != nil {
		return 0, err
	}
	return dutyFromReg(raw), nil
}

// Faults returns the latched fault bits of fans 1–6 (bit 0 is fan 1) from
// fan fault status 1, for every channel whether configured or not. It
// clears nothing.
func (d *Dev) Faults() (uint8, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, err := d.read8(regFaultStatus1, "fault status")
	return v & 0x3F, err
}

// ClearFaults clears the latched faults of the fans whose bits are set in
// mask (bit 0 is fan 1). The chip clears a fault when its target duty or
// target count register is written, so this writes the target count's
// high byte back unchanged. A fault that persists is latched again by the
// chip.
func (d *Dev) ClearFaults(mask uint8) error {
	if mask&^0x3F != 0 {
		return fmt.Errorf("max31790: fault mask %#x has bits above fan 6", mask)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for ch := range Channels {
		if mask&(1<<ch) != 0 {
			if err := d.clearFault(ch); err != nil {
				return err
			}
		}
	}
	return nil
}

// clearFault rewrites the high byte of the target count of ch (0-based),
// as the Linux driver does; the value does not change. Call with mu held.
func (d *Dev) clearFault(ch int) error {
	reg := regTargetCount + 2*byte(ch)
	v, err := d.read16(reg, "target count")
	if err != nil {
		return err
	}
	return d.write8(reg, byte(v>>8), "target count")
}

func checkChannel(ch int) error {
	if ch < 1 || ch > Channels {
		return fmt.Errorf("max31790: channel %d out of range 1-%d", ch, Channels)
	}
	return nil
}

// read8, read16 and write8 use the Dev's buffers: call them with mu held,
// or before the Dev is shared. 16-bit registers are MSB first.
func (d *Dev) read8(reg byte, what string) (byte, error) {
	d.w[0] = reg
	if err := d.c.Tx(d.w[:1], d.r[:1]); err != nil {
		return 0, fmt.Errorf("max31790: read %s at %#x: %w", what, d.c.Addr, err)
	}
	return d.r[0], nil
}

func (d *Dev) read16(reg byte, what string) (uint16, error) {
	d.w[0] = reg
	if err := d.c.Tx(d.w[:1], d.r[:2]); err != nil {
		return 0, fmt.Errorf("max31790: read %s at %#x: %w", what, d.c.Addr, err)
	}
	return uint16(d.r[0])<<8 | uint16(d.r[1]), nil
}

func (d *Dev) write8(reg, v byte, what string) error {
	d.w[0], d.w[1] = reg, v
	if err := d.c.Tx(d.w[:2], nil); err != nil {
		return fmt.Errorf("max31790: write %s at %#x: %w", what, d.c.Addr, err)
	}
	return nil
}

var (
	_ sensor.Sensor = &Dev{}
	_ conn.Resource = &Dev{}
)
