// Package lm75 drives LM75-family digital temperature sensors over I²C.
// The edge agent uses it to read inlet and exhaust temperatures on a rack;
// each reading becomes a temperature sample.
//
// # Datasheets
//
// The name covers two register formats, and the same part number does not
// always mean the same one:
//
//   - 9 bits, 0.5 °C: National Semiconductor / TI LM75 (DS012658), TI
//     LM75B and LM75C (SNIS153, revision D, October 2015;
//     https://www.ti.com/lit/ds/symlink/lm75b.pdf) and TI LM75A (SNOS808,
//     revision P, December 2014). Variant LM75.
//   - 11 bits, 0.125 °C: NXP LM75B, "Digital temperature sensor and thermal
//     watchdog", product data sheet Rev. 6.1, 6 February 2015
//     (https://www.nxp.com/docs/en/data-sheet/LM75B.pdf), and the NXP LM75A
//     (Rev. 04, July 2007), which has the same format. Variant LM75B.
//
// Sections cited in this package:
//
//   - NXP LM75B §7.4 Register list, Table 5: pointer 0x00 temperature (read
//     only), 0x01 configuration (one byte), 0x02 T(HYST), 0x03 T(OS); the
//     upper pointer bits must be 0. TI SNIS153 "Pointer Register": the same
//     map, "P3–P7: must be kept zero".
//   - NXP LM75B §7.4.2 Table 8 and TI SNIS153 "Configuration Register":
//     B0 shutdown, B1 OS comparator/interrupt, B2 OS polarity, B4–B3 fault
//     queue; B7–B5 are reserved (NXP) or test bits that must be kept 0
//     (TI). Power-up value 0x00.
//   - NXP LM75B §7.4.3 Tables 9 and 10: the temperature is the 11 most
//     significant bits of the 16-bit register, two's complement; the 5
//     least significant bits are 0. TI SNIS153 "Temperature Register": the
//     9 most significant bits, D6–D0 undefined. Worked example: `19 80` is
//     51 × 0.5 °C with 9 bits and 204 × 0.125 °C with 11, both 25.5 °C.
//   - TI SNIS153 "Temperature-to-Digital Converter Characteristics":
//     temperature conversion time 100 ms typical, 300 ms maximum; its note
//     says a read interrupts a conversion in progress, which restarts
//     after the read. NXP LM75B §1: a read never interrupts a conversion.
//   - TI SNIS153 "Shutdown Mode": in shutdown T(OS), T(HYST) and the
//     configuration stay readable and writable, and in interrupt mode OS is
//     reset. In interrupt mode any read resets OS too ("Comparator and
//     Interrupt Mode"), which is one more reason the driver reads only
//     what it needs.
//
// The Linux hwmon lm75 driver (drivers/hwmon/lm75.c) reads the same
// formats with ((s16 >> (16-res)) * 1000) >> (res-8) m°C, res 9 for
// "lm75" and "lm75a" and 11 for "lm75b"; its sample times are 100 ms for
// all three since Linux 5.4. This driver computes the same value exactly
// in nano-kelvin.
//
// # Timing
//
// New, and the first read after Halt, clear the shutdown bit and wait one
// conversion time: 300 ms for the 9-bit variant (the TI maximum), 100 ms
// for the 11-bit NXP parts (the kernel's sample time). Poll a 9-bit part no
// more often than every 300 ms: each read restarts the conversion in
// progress, so faster polling can return the same stale result forever.
// SenseContinuous refuses shorter intervals; Read and Sense leave the pace
// to the caller.
//
// # No Probe
//
// Unlike the tmp102 or mcp9808 packages, this package has no Probe. The
// LM75 has no ID register, and the patterns that can be read within the
// datasheets' rules (reserved configuration bits at 0, set-point
// registers with their low bits at 0) are shared by every LM75-compatible
// part (TMP75, DS75, PCT2075, MCP9800 family...) and can be matched by
// unrelated chips strapped into 0x48–0x4F (an INA219 in some
// configurations, a PCF8591). The Linux driver's lm75_detect goes further
// by reading pointers 0x04–0x07 and 0x08–0xFF, which the datasheets say
// must not be written, and still detects only the original National LM75
// and LM75A on purpose. New's reserved-bit check is a safety check before
// writing, not an identification: a scan can only name the LM75 as a
// candidate at these addresses.
//
// # Why not periph.io
//
// periph.io/x/devices v3.7.4 has no LM75 package.
//
// The driver never opens or closes the bus: it takes an i2c.Bus owned by
// the caller.
package lm75
