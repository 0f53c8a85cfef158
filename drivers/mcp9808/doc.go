// Package mcp9808 drives the Microchip MCP9808 digital temperature sensor
// over I²C. The edge agent uses it to read inlet and exhaust temperatures
// on a rack; each reading becomes a temperature sample.
//
// # Datasheet
//
// Microchip MCP9808, "±0.5°C Maximum Accuracy Digital Temperature
// Sensor", DS25095A (2011); section numbers below follow it. The current
// online revision (https://www.microchip.com/en-us/product/MCP9808)
// renumbers chapter 5 but keeps the register tables.
//
//   - §4.1.4 Address Byte and Table 3-2: addresses 0011 A2 A1 A0, 0x18 to
//     0x1F.
//   - §5.1 Registers, Register 5-1: the pointer selects 0x01 configuration,
//     0x02–0x04 the T_UPPER, T_LOWER and T_CRIT limits, 0x05 ambient
//     temperature T_A, 0x06 manufacturer ID, 0x07 device ID and revision,
//     0x08 resolution; pointer bits 7–4 must be 0, and the test registers
//     must not be accessed.
//   - §5.1.1 Register 5-2, configuration (power-up 0x0000): T_HYST (bits
//     10–9), SHDN (bit 8), Crit. Lock and Win. Lock (bits 7–6, cleared only
//     by a power-on reset), Int. Clear, Alert Stat. (read only), Alert
//     Cnt., Alert Sel., Alert Pol., Alert Mod.
//   - §5.1.3 Register 5-4, T_A: bits 15–13 flag T_A ≥ T_CRIT, T_A >
//     T_UPPER and T_A < T_LOWER; bit 12 is the sign; bits 11–0 count
//     0.0625 °C. The register is double-buffered and refreshed every
//     t_CONV. Worked examples: `01 90` is 25 °C, `1F 90` is −7 °C.
//   - §5.1.4 and §5.1.5: manufacturer ID 0x0054; device ID 0x04 in the
//     upper byte of register 0x07, the revision in the lower.
//   - §5.1.6 and §5.2.4: the resolution register, bits 1–0 select 0.5,
//     0.25, 0.125 or 0.0625 °C (power-up), with typical conversion times
//     of 30, 65, 130 and 250 ms; no maximum is given.
//   - §5.2.1 Shutdown Mode: conversions stop and T_A keeps the last
//     result; SHDN cannot be set while a lock bit is set, but can be
//     cleared.
//
// # Timing
//
// New writes the resolution, clears SHDN and waits the typical conversion
// time at that resolution; the first read after Halt waits the same. The
// datasheet gives no maximum, and reading a little early is harmless: T_A
// then still holds the previous conversion, a real temperature at the
// previous resolution, not a half-finished one. Polling faster than the
// conversion time returns the same result again.
//
// # Probe
//
// Probe reads registers 0x06 and 0x07 and writes nothing but the register
// pointer. Both IDs are checked because other JC-42.4 sensors share the
// manufacturer ID and the addresses, among them the temperature sensors
// on DDR memory modules (MCP9804: device ID 0x02; MCP98243: 0x21).
//
// # Why not periph.io/x/devices/v3/mcp9808
//
// periph ships an mcp9808 package (devices v3.7.4). This driver replaces it
// because that package:
//
//   - replaces every bus error with a fixed sentinel ("failed to read
//     ambient temperature"), so the cause, a NACK or a timeout, is lost;
//   - never reads the manufacturer or device ID, so it configures
//     whatever answers at the address;
//   - overwrites the whole configuration register with 0x0000 on start and
//     0x0100 on Halt, wiping the alert configuration someone may rely on,
//     and does not notice when a locked configuration refuses shutdown;
//   - does not wait for a conversion after setting the resolution or
//     leaving shutdown;
//   - dereferences a nil *Opts, and writes 0 K into the Env when a read
//     fails; its continuous reads send 0 K on errors, and their goroutine
//     stays blocked on a send for ever if the caller stops receiving
//     before calling Halt.
//
// This driver keeps every bus error (wrapped with %w, naming the chip
// address), checks the IDs before writing anything, keeps the alert
// configuration, waits for the first conversion, and computes
// temperatures with integer arithmetic in physic.Temperature units
// (nano-kelvin): one LSB is exactly 62 500 000 nK.
//
// The driver never opens or closes the bus: it takes an i2c.Bus owned by
// the caller.
package mcp9808
