// Package ina219 drives the Texas Instruments INA219 current, voltage and
// power monitor over I²C. The edge agent uses it to watch a rack supply
// rail through a shunt resistor: each measurement becomes a shunt voltage,
// a bus voltage, a current and a power sample.
//
// # Datasheet
//
// TI INA219, "Zerø-Drift, Bidirectional Current/Power Monitor With I2C
// Interface", literature number SBOS448, revision G (December 2015):
// https://www.ti.com/lit/ds/symlink/ina219.pdf
//
//   - §8.3.1 Basic ADC Functions: in shunt-and-bus continuous mode the
//     chip converts the shunt voltage, then the bus voltage, so one
//     conversion takes the sum of both ADC times.
//   - §8.5.1 Programming the Calibration Register:
//     Current_LSB = maximum expected current / 2^15,
//     Cal = trunc(0.04096 / (Current_LSB × R_SHUNT)),
//     Power_LSB = 20 × Current_LSB; current register = shunt voltage
//     register × Cal / 4096, power register = current register × bus
//     voltage register / 5000. The Configure/Measure/Calculate example
//     (10 A through 2 mΩ, 11.98 V: shunt 07D0h, bus 5D98h, calibration
//     5000h, current 2710h = 10 A, power 1766h = 119.8 W) is a test vector.
//   - §8.5.5.1 Serial Bus Address: 0x40 to 0x4F from A0 and A1.
//   - §8.6.2.1 Configuration Register, power-on value 0x399F: RST, BRNG
//     (16 or 32 V bus range), PG (shunt range ±40, 80, 160 or 320 mV),
//     BADC and SADC (resolution or averaging, with the conversion time of
//     each setting: 532 µs for one 12-bit sample up to 68.10 ms for 128),
//     MODE (000 power-down, 111 shunt and bus continuous).
//   - §8.6.3.1 Shunt Voltage Register: signed, 10 µV per LSB at every PGA
//     setting; §8.6.3.2 Bus Voltage Register: BD12–BD0 from bit 3, 4 mV per
//     LSB, CNVR (bit 1, conversion ready: set when a conversion completes,
//     cleared by a power register read or a new operating mode) and OVF
//     (bit 0, the current or power calculation overflowed); §8.6.3.3 Power
//     and §8.6.3.4 Current Registers; §8.6.4.1 Calibration Register (bit 0
//     is void and reads 0; power-on 0, which leaves current and power at 0).
//
// # Calibration and units
//
// New computes the calibration from Opts.ShuntResistance and
// Opts.MaxCurrent with integer arithmetic, selects the smallest shunt
// range that holds MaxCurrent × ShuntResistance, writes the calibration,
// then the configuration, and waits one conversion time. Readings are
// computed exactly from the registers in periph's nano-units: shunt × 10 µV,
// bus × 4 mV, current × MaxCurrent / 2^15 and power × 20 × MaxCurrent /
// 2^15, rounded to the nearest nano-unit. Choosing MaxCurrent as a round
// number × 2^15 (for example 1.6384 A, Current_LSB 50 µA) makes every
// value decimal-exact. A current flowing back through the shunt reads
// negative, and so does the power: the power register holds a magnitude.
// Because Cal is truncated and its bit 0 dropped, the chip's actual
// current step is larger than Current_LSB by less than 2/Cal; as
// MaxCurrent × ShuntResistance is at most 320 mV, Cal is at least 4194 and
// the scale error under 0.05 %.
//
// # Faults
//
// Every bus error is returned wrapped with %w, naming the register and the
// address. An OVF flag (the current is beyond MaxCurrent) and a shunt
// voltage at the full scale of its range (the ADC clipped) wrap
// sensor.ErrImplausible. Until the first conversion after configuring
// completes (CNVR), Sense waits one more conversion time, then fails with
// sensor.ErrNotReady. When the current register reads 0 although the shunt
// voltage says a current flows, the driver reads the calibration register:
// if the chip was reset (a brown-out zeroes it), it is configured again and
// the read fails with sensor.ErrNotReady, as the Linux ina2xx driver does.
//
// # No Probe
//
// The INA219 has no manufacturer or die ID register. Its only recognisable
// pattern is the power-on configuration 0x399F, and that is gone as soon
// as anything (this driver, the Linux ina2xx driver, a previous run) has
// configured the chip; the INA220 has the same register map and power-on
// value, and other chips live in 0x40–0x4F (INA226, INA260, PCA9685,
// HTU21D, SHT3x and SHT4x). A write-and-read-back test
// (of the void calibration bit 0, say) would change a chip that may belong
// to someone else. So the package has no Probe: an INA219 is configured
// at an address the operator names.
//
// # Why not periph.io/x/devices/v3/ina219
//
// periph ships an ina219 package (devices v3.7.4). This driver replaces it
// because that package:
//
//   - replaces every bus error with a fresh sentinel ("failed to read
//     shunt voltage"), so the cause (a NACK, a timeout) is lost;
//   - dereferences a nil *Opts (New(bus, nil) panics);
//   - returns the overflow as an unexported error alongside a half-filled
//     measurement, with nothing a caller can test with errors.Is;
//   - never looks at CNVR and does not wait after configuring, so the first
//     readings after New can be those of the power-on, uncalibrated state
//     (current and power 0);
//   - hard-codes the configuration 0x1FFF: 16 V bus range, ±320 mV shunt
//     range and 128-sample averaging on both ADCs (136 ms per conversion),
//     none of it configurable;
//   - truncates Current_LSB and rounds Power_LSB to whole nano-units, so
//     readings carry a systematic scale error (250 ppm at a 100 mA
//     maximum current), and writes odd calibrations whose bit 0 the chip drops;
//   - has no Halt or String, so it is not a conn.Resource.
//
// The driver never opens or closes the bus: it takes an i2c.Bus owned by
// the caller.
package ina219
