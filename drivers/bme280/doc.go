// Package bme280 drives the Bosch Sensortec BME280 combined humidity,
// pressure and temperature sensor over I²C, and its humidity-less sibling
// the BMP280. The edge agent uses it to read the air at a rack's inlet or
// exhaust; each reading becomes a temperature, pressure or humidity sample.
//
// # Datasheet
//
// Bosch Sensortec BME280, "Combined humidity and pressure sensor", document
// BST-BME280-DS002 (section numbers follow revision 1.6, September 2018,
// DS002-13; later revisions keep them):
// https://www.bosch-sensortec.com/media/boschsensortec/downloads/datasheets/bst-bme280-ds002.pdf
//
//   - §1 Specification: operating range −40…85 °C, 300…1100 hPa,
//     0…100 %RH; start-up time 2 ms; sleep current 0.1 µA.
//   - §3.3 Power modes: in forced mode (§3.3.2) the chip performs one
//     measurement, stores the results and returns to sleep mode.
//   - §3.4 Measurement flow: oversampling ×1 … ×16 per quantity, or
//     skipped; temperature and pressure have 16 bit resolution at ×1 and one
//     more bit per doubling, humidity 16 bit.
//   - §3.5.1 Weather monitoring: forced mode, ×1 everywhere, filter off —
//     the recommendation DefaultOpts follows.
//   - §4.1 Data register access: a burst read is consistent; the chip
//     blocks register updates while it runs.
//   - §4.2.2 Trimming parameter readout: dig_T1…dig_P9 at 0x88–0x9F, dig_H1
//     at 0xA1, dig_H2…dig_H6 at 0xE1–0xE7, little endian; dig_H4 and dig_H5
//     are 12-bit signed values sharing 0xE5.
//   - §4.2.3 Compensation formulas: the 32-bit temperature formula and its
//     t_fine, the 64-bit pressure formula (Q24.8 Pa) and the 32-bit
//     humidity formula (Q22.10 %RH). §8.1 gives the floating-point
//     versions, which the tests use as an independent check.
//   - §5.3 Memory map and §5.4 register description: chip ID 0xD0 (0x60),
//     reset 0xE0 (write 0xB6), ctrl_hum 0xF2 (effective only after the next
//     write to ctrl_meas), status 0xF3 (bit 3 measuring, bit 0 im_update),
//     ctrl_meas 0xF4, config 0xF5, data 0xF7–0xFE; reset values 0x80000 and
//     0x8000 in the data registers.
//   - §6.2 I²C interface: address 0x76 (SDO to GND) or 0x77 (SDO to
//     VDDIO); writes are register/data pairs, reads auto-increment.
//   - §9.1 Measurement time: typical 1 + 2·osrs_t + (2·osrs_p + 0.5) +
//     (2·osrs_h + 0.5) ms, maximum 1.25 + 2.3·osrs_t +
//     (2.3·osrs_p + 0.575) + (2.3·osrs_h + 0.575) ms, leaving out skipped
//     measurements.
//
// The BMP280 (BST-BMP280-DS001, chip ID 0x58) has the same registers
// without ctrl_hum, the humidity calibration and the humidity data. New
// accepts it, since BME280 breakout boards sometimes carry one, and its
// readings then have no humidity; Dev.Model says which chip answered.
//
// # How a read works
//
// Each Read writes ctrl_hum and ctrl_meas in one transaction (forced mode,
// ctrl_hum first), sleeps the datasheet's maximum measurement time, then
// reads 0xF2–0xFE in one burst: the configuration, the status and the data
// together. A read is accepted when the chip is back in sleep mode, not
// measuring and not copying its NVM; otherwise it polls a few more times
// and then fails with sensor.ErrNotReady.
//
// A measurement that the chip skipped is recognised by the configuration
// read back in the same burst, not by the data value: a chip that lost
// ctrl_meas or ctrl_hum was reset (a supply glitch) after the write, and
// its data registers hold the reset values. That read fails with
// sensor.ErrImplausible, and the next one configures the chip again. The
// reset values themselves are not rejected: 0x80000 is the middle of the
// ADC range, met around room temperature, and 0x8000 reads around 70–80 %RH
// (Adafruit_BME280_Library issue #114 hit this at 80 %RH). In a rack kept
// near 23 °C, rejecting 0x80000 would discard good readings, several in a
// row on a stable inlet.
//
// Two departures from the datasheet's integer formulas, each only where
// the original gives a meaningless result: humidity is evaluated in 64 bits
// (the 32-bit expression overflows for ADC values far above 100 %RH, which
// a negative dig_H4 brings into range, and wraps to 0 %RH instead of
// clamping at 100), and the pressure is not cast to uint32 (near full scale
// it is negative, which the cast would turn into 16.7 MPa); a pressure of
// 0 or below is reported as sensor.ErrImplausible.
//
// # Why not periph.io/x/devices/v3/bmxx80
//
// periph ships a bmxx80 package (devices v3.7.4) for the BMP180, BMP280 and
// BME280. This driver replaces it because that package:
//
//   - drops the cause of every error: it wraps bus errors with %v, so
//     errors.Is cannot tell a NACK from anything else, and its chip ID
//     error is a bare string;
//   - allocates on every Sense (the register writes are slice literals and
//     the read buffers escape through the bus interface), where the edge
//     wants zero allocations per reading;
//   - waits the typical measurement time and then polls the status register
//     in a loop with no sleep and no bound, so a chip that never clears
//     its measuring bit hangs the caller;
//   - reads dig_H4 and dig_H5 without sign extension;
//   - never checks that a measurement happened, so a chip reset between
//     two reads yields the data registers' reset values as a reading;
//   - has no soft reset, and does not wait for the NVM copy before reading
//     the calibration.
//
// This driver keeps every bus error (wrapped with %w, naming the chip
// address), checks the chip ID before writing anything, soft-resets the
// chip and waits for the NVM copy, waits the datasheet's maximum time with
// a bounded poll after it, uses the Bosch integer compensation, and reads
// without allocating. Values are physic units: 0.01 °C steps of
// temperature, 1/256 Pa (exactly 3 906 250 nPa) of pressure, and humidity
// rounded to 0.00001 %RH.
//
// The driver never opens or closes the bus: it takes an i2c.Bus owned by
// the caller.
package bme280
