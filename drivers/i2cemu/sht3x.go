package i2cemu

import (
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/physic"
)

// SHT3x commands (Sensirion SHT3x-DIS datasheet, version 5, §4.3 Table 9,
// §4.8–§4.11).
const (
	sht3xCmdHigh          uint16 = 0x2400 // single shot, no clock stretching
	sht3xCmdMedium        uint16 = 0x240B
	sht3xCmdLow           uint16 = 0x2416
	sht3xCmdHighStretch   uint16 = 0x2C06 // single shot, clock stretching
	sht3xCmdMediumStretch uint16 = 0x2C0D
	sht3xCmdLowStretch    uint16 = 0x2C10
	sht3xCmdBreak         uint16 = 0x3093
	sht3xCmdSoftReset     uint16 = 0x30A2
	sht3xCmdHeaterOn      uint16 = 0x306D
	sht3xCmdHeaterOff     uint16 = 0x3066
	sht3xCmdReadStatus    uint16 = 0xF32D
	sht3xCmdClearStatus   uint16 = 0x3041

	// Status register bits (§4.11 Table 18).
	sht3xStatusAlert     uint16 = 1 << 15
	sht3xStatusHeater    uint16 = 1 << 13
	sht3xStatusRHAlert   uint16 = 1 << 11
	sht3xStatusTAlert    uint16 = 1 << 10
	sht3xStatusReset     uint16 = 1 << 4
	sht3xStatusCmdFailed uint16 = 1 << 1
	// sht3xStatusPowerUp: alert pending and reset detected are 1 after any
	// reset; every other defined bit is 0.
	sht3xStatusPowerUp = sht3xStatusAlert | sht3xStatusReset
)

// Typical measurement durations of the SHT3x (§2.2); the maxima the
// drivers wait are 4.5, 6.5 and 15.5 ms.
const (
	SHT3xTypicalTimeHigh   = 12500 * time.Microsecond
	SHT3xTypicalTimeMedium = 4500 * time.Microsecond
	SHT3xTypicalTimeLow    = 2500 * time.Microsecond
)

// The raw formats of the SHT3x and SHT4x (§4.13; SHT4x "Conversion of Signal
// Output"): S_T = (T + 45 °C)·65535/175 °C, S_RH = RH·65535/100 %RH on the
// SHT3x and (RH + 6 %RH)·65535/125 %RH on the SHT4x.
const (
	shtFullScale = 65535
	shtTSpan     = 175 * int64(physic.Kelvin)
	shtTMin      = physic.ZeroCelsius - 45*physic.Kelvin
)

// What a read header returns next.
const (
	shtNone = iota
	shtMeasurement
	shtStatus
	shtSerial
)

// SHT3x is a command-level model of a Sensirion SHT30/SHT31/SHT35 humidity
// and temperature sensor in single-shot mode (SHT3x-DIS datasheet). It
// emulates what a driver can observe on the bus:
//
//   - 16-bit commands, one per write; after a command the next read header
//     returns its answer: the status word and its CRC, or the measurement
//     (temperature word, CRC, humidity word, CRC), each CRC the Sensirion
//     CRC-8 (§4.4, §4.12);
//   - single-shot measurements with high, medium and low repeatability. They
//     take the typical measurement duration (§2.2) or the time set with
//     SetConversionTime. Until then the sensor NACKs a read header (§4.3)
//     unless the command enabled clock stretching, in which case the read
//     waits for the result. Any other header is NACKed while it measures,
//     and a result can be read once: a second read header is NACKed;
//   - the status register (§4.11): alert pending and reset detected are set
//     at power-up and by a soft reset, clear status (0x3041) clears them,
//     the heater commands set and clear the heater bit, and an unsupported
//     command sets the command status bit;
//   - break (0x3093), which is accepted and does nothing in single-shot
//     mode, and soft reset (0x30A2), which restores the power-up state.
//
// It does not emulate periodic acquisition, ART, alert limits (commands
// with data), the heater's effect on the temperature, the reset time or
// the ALERT pin: those commands are NACKed so that a driver that relies on
// them fails in tests. Raw values are the exact conversions of the values
// set, rounded to the nearest step.
//
// All methods are safe for concurrent use.
type SHT3x struct {
	mu       sync.Mutex
	now      func() time.Time
	convTime time.Duration // < 0: the typical duration of each repeatability
	temp     physic.Temperature
	rh       physic.RelativeHumidity
	stuck    bool
	corrupt  int

	status    uint16
	pending   int
	busy      bool
	stretch   bool
	busyUntil time.Time
	ready     bool      // a measurement result waits to be read
	result    [2]uint16 // words of the last completed measurement
}

// NewSHT3x returns an SHT3x in its power-up state, exposed to 25 °C and
// 50 %RH: a first measurement reads 66 66 93 80 00 A2.
func NewSHT3x() *SHT3x {
	m := &SHT3x{
		now:      time.Now,
		convTime: -1,
		temp:     physic.ZeroCelsius + 25*physic.Kelvin,
		rh:       50 * physic.PercentRH,
		status:   sht3xStatusPowerUp,
	}
	m.result = m.encode()
	return m
}

// SetTemperature sets the temperature the sensor is exposed to, clamped to
// −45…130 °C, what the raw format can represent (the sensor is specified
// for −40…125 °C). Measurements from then on report it.
func (m *SHT3x) SetTemperature(t physic.Temperature) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.temp = t
}

// SetHumidity sets the relative humidity the sensor is exposed to, clamped
// to 0…100 %RH.
func (m *SHT3x) SetHumidity(h physic.RelativeHumidity) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rh = h
}

// SetStuck freezes the results: while on, every measurement returns the
// words of the last measurement completed before, whatever the exposure.
func (m *SHT3x) SetStuck(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stuck = on
}

// CorruptCRC makes the next n reads that return data (a measurement or the
// status word) carry a wrong CRC after every word. n <= 0 cancels.
func (m *SHT3x) CorruptCRC(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.corrupt = max(n, 0)
}

// SetConversionTime sets how long a measurement takes, whatever the
// repeatability. Zero makes measurements complete at once; a negative d
// restores the typical durations SHT3xTypicalTimeHigh, …Medium and …Low.
func (m *SHT3x) SetConversionTime(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.convTime = d
}

// Tx implements Device.
func (m *SHT3x) Tx(w, r []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.update()
	if len(w) > 0 {
		if m.busy {
			return fmt.Errorf("sht3x model: command while measuring: %w", ErrNACK)
		}
		if len(w) != 2 {
			return fmt.Errorf("sht3x model: write of %d bytes, want a 2-byte command: %w", len(w), ErrNACK)
		}
		if err := m.command(uint16(w[0])<<8 | uint16(w[1])); err != nil {
			return err
		}
	}
	if len(r) > 0 {
		return m.read(r)
	}
	return nil
}

func (m *SHT3x) command(cmd uint16) error {
	m.pending = shtNone
	if cmd != sht3xCmdReadStatus {
		// The command status bit reports on the last command before the
		// status is read, or reading it could never show a 1.
		m.status &^= sht3xStatusCmdFailed
	}
	switch cmd {
	case sht3xCmdHigh, sht3xCmdMedium, sht3xCmdLow,
		sht3xCmdHighStretch, sht3xCmdMediumStretch, sht3xCmdLowStretch:
		m.start(cmd)
	case sht3xCmdReadStatus:
		m.pending = shtStatus
	case sht3xCmdClearStatus:
		m.status &^= sht3xStatusAlert | sht3xStatusRHAlert | sht3xStatusTAlert | sht3xStatusReset
	case sht3xCmdHeaterOn:
		m.status |= sht3xStatusHeater
	case sht3xCmdHeaterOff:
		m.status &^= sht3xStatusHeater
	case sht3xCmdBreak:
		// Single-shot mode already: nothing to stop.
	case sht3xCmdSoftReset:
		m.status = sht3xStatusPowerUp
		m.ready = false
	default:
		m.status |= sht3xStatusCmdFailed
		return fmt.Errorf("sht3x model: command %#04x is not modelled: %w", cmd, ErrNACK)
	}
	return nil
}

func (m *SHT3x) start(cmd uint16) {
	d := m.convTime
	if d < 0 {
		switch cmd {
		case sht3xCmdHigh, sht3xCmdHighStretch:
			d = SHT3xTypicalTimeHigh
		case sht3xCmdMedium, sht3xCmdMediumStretch:
			d = SHT3xTypicalTimeMedium
		default:
			d = SHT3xTypicalTimeLow
		}
	}
	m.pending = shtMeasurement
	m.ready = false
	m.busy = true
	m.stretch = cmd>>8 == 0x2C
	m.busyUntil = m.now().Add(d)
	m.update()
}

// update completes a measurement whose time has come.
func (m *SHT3x) update() {
	if m.busy && !m.now().Before(m.busyUntil) {
		m.complete()
	}
}

func (m *SHT3x) complete() {
	m.busy = false
	m.ready = true
	if !m.stuck {
		m.result = m.encode()
	}
}

func (m *SHT3x) encode() [2]uint16 {
	t := min(max(int64(m.temp-shtTMin), 0), shtTSpan)
	h := min(max(int64(m.rh), 0), int64(100*physic.PercentRH))
	return [2]uint16{
		uint16(shtDivRound(t*shtFullScale, shtTSpan)),
		uint16(shtDivRound(h*shtFullScale, int64(100*physic.PercentRH))),
	}
}

func (m *SHT3x) read(r []byte) error {
	switch m.pending {
	case shtStatus:
		if len(r) > 3 {
			return fmt.Errorf("sht3x model: read of %d bytes, the status is 3", len(r))
		}
		m.pending = shtNone
		shtPut(r, m.status)
	case shtMeasurement:
		if m.busy {
			if !m.stretch {
				return fmt.Errorf("sht3x model: read header while measuring: %w", ErrNACK)
			}
			// With clock stretching the sensor holds SCL low until the
			// result is ready.
			m.complete()
		}
		if len(r) > 6 {
			return fmt.Errorf("sht3x model: read of %d bytes, a measurement is 6", len(r))
		}
		m.pending = shtNone
		m.ready = false
		shtPut(r, m.result[:]...)
	default:
		return fmt.Errorf("sht3x model: read header with no data: %w", ErrNACK)
	}
	if m.corrupt > 0 {
		m.corrupt--
		shtCorrupt(r)
	}
	return nil
}

// shtPut writes words, each followed by its CRC, into r as far as r goes:
// the master may stop reading after any byte (§4.4).
func shtPut(r []byte, words ...uint16) {
	for i := range r {
		w := words[i/3]
		switch i % 3 {
		case 0:
			r[i] = byte(w >> 8)
		case 1:
			r[i] = byte(w)
		case 2:
			r[i] = shtCRC(w)
		}
	}
}

// shtCorrupt inverts every CRC byte in r.
func shtCorrupt(r []byte) {
	for i := 2; i < len(r); i += 3 {
		r[i] ^= 0xFF
	}
}

// shtCRC is the Sensirion CRC-8 of a word: polynomial 0x31, initial value
// 0xFF, no reflection, no final XOR (SHT3x-DIS §4.12 Table 20). The model
// has its own implementation so that it checks the drivers' rather than
// sharing its mistakes.
func shtCRC(w uint16) byte {
	crc := byte(0xFF)
	for _, b := range [2]byte{byte(w >> 8), byte(w)} {
		crc ^= b
		for range 8 {
			if crc&0x80 != 0 {
				crc = crc<<1 ^ 0x31
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// shtDivRound divides a non-negative n by d > 0, rounding halves up:
// 50 %RH is 32767.5 steps and reads 0x8000, as in the worked example.
func shtDivRound(n, d int64) int64 {
	return (n + d/2) / d
}
