// Package sht3x drives the Sensirion SHT30, SHT31 and SHT35 humidity and
// temperature sensors over I²C. The edge agent reads them for the
// temperature and relative humidity of a rack's inlet air; each
// measurement becomes a temperature and a humidity sample.
//
// # Datasheet
//
// Sensirion, "Datasheet SHT3x-DIS, Humidity and Temperature Sensor",
// version 5, May 2018, whose section numbers are cited below; the Linux
// hwmon documentation links it as
// https://www.sensirion.com/file/datasheet_sht3x_digital
//
//   - §2.2 Timing Specification for the Sensor System: measurement duration
//     (maximum) 4, 6 and 15 ms for low, medium and high repeatability at
//     VDD 2.4–5.5 V, and 4.5, 6.5 and 15.5 ms at 2.15–2.4 V; soft reset
//     time 1.5 ms maximum.
//   - §4.3 Measurement Commands for Single Shot Data Acquisition Mode,
//     Table 9: 0x2400, 0x240B and 0x2416 measure with high, medium and low
//     repeatability without clock stretching; the sensor NACKs a read header
//     while it has no data; the sensor needs 1 ms between commands.
//   - §4.4 Readout of Measurement Results: six bytes, temperature word, CRC,
//     humidity word, CRC.
//   - §4.8 Break Command (0x3093) and §4.9 Reset (soft reset 0x30A2, only in
//     the idle state).
//   - §4.11 Status Register (read with 0xF32D, Table 18: bit 15 alert
//     pending, 13 heater on, 11 and 10 RH and T tracking alerts, 4 reset
//     detected, 1 command status, 0 write checksum status; bits 14, 12, 3
//     and 2 are reserved and read 0).
//   - §4.12 Checksum Calculation, Table 20: CRC-8, polynomial 0x31, init 0xFF
//     (package sensirion).
//   - §4.13 Conversion of Signal Output: T = −45 + 175·S_T/(2¹⁶−1) °C,
//     RH = 100·S_RH/(2¹⁶−1) %RH.
//
// # How the driver uses the chip
//
// Each Read is a single-shot measurement without clock stretching: the
// command, a wait of the maximum measurement duration for the configured
// repeatability, then the six-byte readout. Clock stretching is avoided
// because not every I²C host handles a sensor that holds SCL low for 15 ms.
// Both words are checked against their CRC before either is converted, and
// a mismatch fails the whole measurement with an error wrapping
// sensor.ErrCRC that names the word. The conversions are exact integer
// arithmetic, rounded to the nearest nano-kelvin and 10⁻⁵ %RH: 0x6666 is
// exactly 25 °C, 0x8000 is 50.00076 %RH.
//
// New reads the status register to make sure the device is an SHT3x (its
// CRC must match and the reserved bits must read 0), then sends a break and
// a soft reset so that a periodic acquisition or a heater left on by
// another program cannot skew the readings. Halt sends nothing: between
// single shots the sensor sleeps on its own.
//
// periph.io has no SHT3x driver (devices v3.7.4); this one follows the
// periph shape (New(bus, opts), physic units, Halt, String) and also
// implements sensor.Sensor. The driver never opens or closes the bus: it
// takes an i2c.Bus owned by the caller.
package sht3x
