package i2cemu

import (
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/physic"
)

// SHT4x commands (Sensirion SHT4x datasheet, "Command Overview"): one byte
// each.
const (
	sht4xCmdHigh      byte = 0xFD
	sht4xCmdMedium    byte = 0xF6
	sht4xCmdLow       byte = 0xE0
	sht4xCmdSerial    byte = 0x89
	sht4xCmdSoftReset byte = 0x94
)

// Typical measurement durations of the SHT4x (datasheet, timing
// specifications); the maxima the drivers wait are 8.3, 4.5 and 1.7 ms.
const (
	SHT4xTypicalTimeHigh   = 6900 * time.Microsecond
	SHT4xTypicalTimeMedium = 3700 * time.Microsecond
	SHT4xTypicalTimeLow    = 1300 * time.Microsecond
)

// sht4xHeater maps the heater commands to their heating time; each heats,
// then measures with high precision.
var sht4xHeater = map[byte]time.Duration{
	0x39: time.Second, 0x32: 100 * time.Millisecond, // 200 mW
	0x2F: time.Second, 0x24: 100 * time.Millisecond, // 110 mW
	0x1E: time.Second, 0x15: 100 * time.Millisecond, // 20 mW
}

// SHT4x RH format: S_RH = (RH + 6 %RH)·65535/125 %RH, so raw values span
// −6…119 %RH; the datasheet tells the host to crop the result to 0–100.
const (
	sht4xRHMin  = -6 * physic.PercentRH
	sht4xRHSpan = 125 * int64(physic.PercentRH)
)

// SHT4x is a command-level model of a Sensirion SHT40/SHT41/SHT45 humidity
// and temperature sensor (SHT4x datasheet). It emulates what a driver can
// observe on the bus:
//
//   - 1-byte commands; after a command the next read header returns its
//     answer: the measurement (temperature word, CRC, humidity word, CRC) or
//     the 32-bit serial number as two words, each word followed by its
//     Sensirion CRC-8;
//   - measurements with high, medium and low precision (0xFD, 0xF6, 0xE0),
//     and the heater commands, which heat for 1 s or 0.1 s and then measure
//     with high precision. A measurement takes the typical duration or the
//     time set with SetConversionTime; until it is done the sensor NACKs
//     every header, a read header included. A result can be read once;
//   - the serial number (0x89), available at once, and soft reset (0x94),
//     which drops a result not yet read;
//   - raw humidity outside 0–100 %RH, which the real sensor reports near
//     the ends of its range and the driver must crop: SetHumidity accepts
//     −6…119 %RH.
//
// It does not emulate the heater's effect on the temperature, the reset
// time or the limits on heater duty cycle. Unknown commands are NACKed.
//
// All methods are safe for concurrent use.
type SHT4x struct {
	mu       sync.Mutex
	now      func() time.Time
	convTime time.Duration // < 0: the typical duration of each precision
	temp     physic.Temperature
	rh       physic.RelativeHumidity
	serial   uint32
	stuck    bool
	corrupt  int

	pending   int
	busy      bool
	busyUntil time.Time
	result    [2]uint16 // words of the last completed measurement
}

// NewSHT4x returns an SHT4x just powered up, exposed to 25 °C and 50 %RH,
// with serial number 0x0BEEF042.
func NewSHT4x() *SHT4x {
	m := &SHT4x{
		now:      time.Now,
		convTime: -1,
		temp:     physic.ZeroCelsius + 25*physic.Kelvin,
		rh:       50 * physic.PercentRH,
		serial:   0x0BEEF042,
	}
	m.result = m.encode()
	return m
}

// SetTemperature sets the temperature the sensor is exposed to, clamped to
// −45…130 °C, what the raw format can represent.
func (m *SHT4x) SetTemperature(t physic.Temperature) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.temp = t
}

// SetHumidity sets the relative humidity the sensor reports, clamped to
// −6…119 %RH, what the raw format can represent.
func (m *SHT4x) SetHumidity(h physic.RelativeHumidity) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rh = h
}

// SetSerialNumber sets the serial number command 0x89 returns.
func (m *SHT4x) SetSerialNumber(s uint32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.serial = s
}

// SetStuck freezes the results: while on, every measurement returns the
// words of the last measurement completed before, whatever the exposure.
func (m *SHT4x) SetStuck(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stuck = on
}

// CorruptCRC makes the next n reads that return data (a measurement or the
// serial number) carry a wrong CRC after every word. n <= 0 cancels.
func (m *SHT4x) CorruptCRC(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.corrupt = max(n, 0)
}

// SetConversionTime sets how long a measurement takes, whatever the
// precision (a heater command still heats first). Zero makes measurements
// complete at once; a negative d restores the typical durations
// SHT4xTypicalTimeHigh, …Medium and …Low.
func (m *SHT4x) SetConversionTime(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.convTime = d
}

// Tx implements Device.
func (m *SHT4x) Tx(w, r []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.busy {
		if m.now().Before(m.busyUntil) {
			return fmt.Errorf("sht4x model: busy measuring: %w", ErrNACK)
		}
		m.complete()
	}
	if len(w) > 0 {
		if len(w) != 1 {
			return fmt.Errorf("sht4x model: write of %d bytes, want a 1-byte command: %w", len(w), ErrNACK)
		}
		if err := m.command(w[0]); err != nil {
			return err
		}
		if m.busy {
			if len(r) > 0 {
				return fmt.Errorf("sht4x model: read header while measuring: %w", ErrNACK)
			}
			return nil
		}
	}
	if len(r) > 0 {
		return m.read(r)
	}
	return nil
}

func (m *SHT4x) command(cmd byte) error {
	m.pending = shtNone
	switch cmd {
	case sht4xCmdHigh, sht4xCmdMedium, sht4xCmdLow:
		m.start(m.duration(cmd))
	case sht4xCmdSerial:
		m.pending = shtSerial
	case sht4xCmdSoftReset:
	default:
		heat, ok := sht4xHeater[cmd]
		if !ok {
			return fmt.Errorf("sht4x model: unknown command %#02x: %w", cmd, ErrNACK)
		}
		m.start(heat + m.duration(sht4xCmdHigh))
	}
	return nil
}

func (m *SHT4x) duration(cmd byte) time.Duration {
	if m.convTime >= 0 {
		return m.convTime
	}
	switch cmd {
	case sht4xCmdMedium:
		return SHT4xTypicalTimeMedium
	case sht4xCmdLow:
		return SHT4xTypicalTimeLow
	}
	return SHT4xTypicalTimeHigh
}

func (m *SHT4x) start(d time.Duration) {
	m.pending = shtMeasurement
	m.busy = true
	m.busyUntil = m.now().Add(d)
	if d <= 0 {
		m.complete()
	}
}

func (m *SHT4x) complete() {
	m.busy = false
	if !m.stuck {
		m.result = m.encode()
	}
}

func (m *SHT4x) encode() [2]uint16 {
	t := min(max(int64(m.temp-shtTMin), 0), shtTSpan)
	h := min(max(int64(m.rh-sht4xRHMin), 0), sht4xRHSpan)
	return [2]uint16{
		uint16(shtDivRound(t*shtFullScale, shtTSpan)),
		uint16(shtDivRound(h*shtFullScale, sht4xRHSpan)),
	}
}

func (m *SHT4x) read(r []byte) error {
	if len(r) > 6 {
		return fmt.Errorf("sht4x model: read of %d bytes, answers are 6", len(r))
	}
	switch m.pending {
	case shtMeasurement:
		shtPut(r, m.result[:]...)
	case shtSerial:
		shtPut(r, uint16(m.serial>>16), uint16(m.serial))
	default:
		return fmt.Errorf("sht4x model: read header with no data: %w", ErrNACK)
	}
	m.pending = shtNone
	if m.corrupt > 0 {
		m.corrupt--
		shtCorrupt(r)
	}
	return nil
}
