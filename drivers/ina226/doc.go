// Package ina226 drives the Texas Instruments INA226 current, voltage and
// power monitor over I²C. The edge agent uses it to watch a rack supply
// rail through a shunt resistor: each measurement becomes a shunt voltage,
// a bus voltage, a current and a power sample. Probe tells an INA226 from
// other chips at 0x40–0x4F for the edge's I²C scan.
//
// # Datasheet
//
// TI INA226, "High-Side or Low-Side Measurement, Bi-Directional Current
// and Power Monitor with I2C Compatible Interface", literature number
// SBOS547, revision B (September 2024), whose section numbers are used
// below (earlier revisions number them differently but keep the titles):
// https://www.ti.com/lit/ds/symlink/ina226.pdf
//
//   - §6.5.1 Programming the Calibration Register:
//     Current_LSB = maximum expected current / 2^15,
//     CAL = 0.00512 / (Current_LSB × R_SHUNT), Power_LSB = 25 ×
//     Current_LSB; current register = shunt voltage register × CAL / 2048,
//     power register = current register × bus voltage register / 20000.
//     The Configure/Measure/Calculate example (10 A through 2 mΩ, bus
//     11.98 V: shunt 1F40h, bus 2570h, calibration 0A00h, current 2710h =
//     10 A, power 12B8h = 119.8 W) is a test vector.
//   - §6.5.5.1 Serial Bus Address: 0x40 to 0x4F from A0 and A1.
//   - §7.1.1 Configuration Register, power-on value 0x4127: RST, bits
//     14–12 reserved (reading 100), AVG (1 to 1024 averages), VBUSCT and
//     VSHCT (140 µs to 8.244 ms, 1.1 ms at power-on), MODE (000
//     power-down, 111 shunt and bus continuous). A result takes averages ×
//     (bus + shunt conversion time).
//   - §7.1.2 Shunt Voltage Register: signed, 2.5 µV per LSB, ±81.92 mV;
//     §7.1.3 Bus Voltage Register: 1.25 mV per LSB, bit 15 reads 0;
//     §7.1.4 Power and §7.1.5 Current Registers; §7.1.6 Calibration
//     Register (bit 15 reserved; power-on 0, which leaves current and power
//     at 0).
//   - §7.1.7 Mask/Enable Register: CVRF (bit 3, conversion ready: set when
//     a conversion completes, cleared by reading this register or writing
//     the configuration) and OVF (bit 2, an arithmetic operation
//     overflowed, current and power may be invalid).
//   - §7.1.9 Manufacturer ID Register 0x5449 ("TI") and §7.1.10 Die ID
//     Register 0x2260 (DID 0x226 in bits 15–4, revision 0 in bits 3–0).
//
// # Calibration and units
//
// New checks both ID registers (an INA226 of any die revision is
// accepted), computes the calibration from Opts.ShuntResistance and
// Opts.MaxCurrent with integer arithmetic, writes the calibration, then
// the configuration, and waits one conversion time. Readings are computed
// exactly from the registers in periph's nano-units: shunt × 2.5 µV, bus ×
// 1.25 mV, current × MaxCurrent / 2^15 and power × 25 × MaxCurrent / 2^15,
// rounded to the nearest nano-unit. The default MaxCurrent, 819.2 mA on a
// 100 mΩ shunt, makes Current_LSB exactly 25 µA and CAL 2048, so every
// value is decimal-exact. A current flowing back through the shunt reads
// negative, and so does the power: the power register holds a magnitude.
// Because CAL is truncated, the chip's actual current step is larger than
// Current_LSB by less than 1/CAL; as MaxCurrent × ShuntResistance is at
// most 81.92 mV, CAL is at least 2048 and the scale error under 0.05 %.
//
// # Faults
//
// Every bus error is returned wrapped with %w, naming the register and the
// address. A device whose ID registers do not read as an INA226 is refused
// before anything is written to it, with an error wrapping
// sensor.ErrChipID. An OVF flag (the current is beyond MaxCurrent), a shunt
// voltage at the ±81.92 mV full scale (the ADC clipped) and a bus voltage
// register at 40.96 V or with bit 15 set wrap sensor.ErrImplausible. Until
// the first conversion after configuring completes (CVRF), Sense waits one
// more conversion time, then fails with sensor.ErrNotReady. When the
// current register reads 0 although the shunt voltage says a current
// flows, the driver reads the calibration register: if the chip was reset
// (a brown-out zeroes it), it is configured again and the read fails with
// sensor.ErrNotReady, as the Linux ina2xx driver does.
//
// Reading the Mask/Enable register, which Sense does for the flags, also
// clears an alert latched there; this driver does not use the ALERT pin.
//
// periph.io/x/devices/v3 (v3.7.4) has no INA226 package.
//
// The driver never opens or closes the bus: it takes an i2c.Bus owned by
// the caller.
package ina226
