// Package sht4x drives the Sensirion SHT40, SHT41, SHT43 and SHT45 humidity
// and temperature sensors over I²C. The edge agent reads them for the
// temperature and relative humidity of a rack's inlet air; each
// measurement becomes a temperature and a humidity sample.
//
// # Datasheet
//
// Sensirion, "Datasheet SHT4x, 4th Generation, High-Accuracy,
// Ultra-Low-Power, 16-bit Relative Humidity and Temperature Sensor",
// version 7.1; the Linux hwmon documentation links it as
// https://www.sensirion.com/fileadmin/user_upload/customers/sensirion/Dokumente/2_Humidity_Sensors/Datasheets/Sensirion_Humidity_Sensors_SHT4x_Datasheet.pdf
// Section numbers moved between versions, so sections are cited by title:
//
//   - Timing Specifications: measurement duration (maximum) 1.7, 4.5 and
//     8.3 ms for low, medium and high precision (earlier versions, and the
//     Linux sht4x driver, give 8.2 ms for high); soft reset time 1 ms.
//   - Command Overview: 0xFD, 0xF6 and 0xE0 measure T and RH with high,
//     medium and low precision; 0x89 reads the serial number; 0x94 is a
//     soft reset; the heater commands heat, then measure. Each answer is
//     six bytes: two words, each followed by its CRC. The sensor NACKs a
//     read header while it is measuring.
//   - Checksum Calculation: CRC-8, polynomial 0x31, init 0xFF, as on the
//     SHT3x (package sensirion).
//   - Conversion of Signal Output: T = −45 + 175·S_T/(2¹⁶−1) °C,
//     RH = −6 + 125·S_RH/(2¹⁶−1) %RH, to be cropped to 0–100 %RH because the
//     sensor reports slightly out-of-range values near both ends.
//   - Device Overview: the I²C address is fixed by the part number, 0x44
//     for -AD1B, 0x45 for -BD1B, 0x46 for -CD1B.
//
// # How the driver uses the chip
//
// Each Read sends the measurement command of the configured precision,
// waits the maximum measurement duration and reads six bytes. Both words
// are checked against their CRC before either is converted, and a mismatch
// fails the whole measurement with an error wrapping sensor.ErrCRC that
// names the word. The conversions are exact integer arithmetic, rounded to
// the nearest nano-kelvin and 10⁻⁵ %RH: 0x6666 is exactly 25 °C and
// 44 %RH.
//
// New reads the serial number to make sure the device is an SHT4x (both
// CRCs must match); SerialNumber returns it, for inventory. The SHT4x keeps
// no mode between commands, so New does not reset it; Reset sends the soft
// reset for a caller that wants one. Halt sends nothing: the sensor idles
// on its own after each measurement.
//
// periph.io has no SHT4x driver (devices v3.7.4); this one follows the
// periph shape (New(bus, opts), physic units, Halt, String) and also
// implements sensor.Sensor. The driver never opens or closes the bus: it
// takes an i2c.Bus owned by the caller.
package sht4x
