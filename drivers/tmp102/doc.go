// Package tmp102 drives the Texas Instruments TMP102 digital temperature
// sensor over I²C. The edge agent uses it to read inlet and exhaust
// temperatures on a rack; each reading becomes a temperature sample.
//
// # Datasheet
//
// TI TMP102, "Low-Power Digital Temperature Sensor With SMBus and
// Two-Wire Serial Interface in SOT563", literature number SBOS397
// (section numbers below follow revision H, December 2018; revision I
// renumbers chapter 7 as chapter 6 but keeps the section titles):
// https://www.ti.com/lit/ds/symlink/tmp102.pdf
//
//   - §6.5 Electrical Characteristics: conversion time 26 ms typical,
//     35 ms maximum.
//   - §7.3.1 Digital Temperature Output: the 12-bit data format table
//     (one LSB is 0.0625 °C, two's complement; 25 °C is 0x190,
//     −25 °C is 0xE70, −55 °C is 0xC90, and anything at or above 128 °C
//     saturates at 0x7FF).
//   - §7.4.2 Extended Mode (EM): the 13-bit data format table, which
//     reaches 150 °C (0x0960); −55 °C is 0x1C90.
//   - §7.5 Programming, the register map: §7.5.1 Pointer Register
//     (0x00 temperature, read only; 0x01 configuration; 0x02 T(LOW);
//     0x03 T(HIGH)), §7.5.2 Temperature Register (byte 1 is the MSB; bit D0
//     of byte 2 reads 1 in extended mode and 0 in normal mode; unused bits
//     read 0), §7.5.3 Configuration Register, §7.5.4 High- and Low-Limit
//     Registers.
//   - §7.5.3 Configuration Register, power-up value 0x60A0. Byte 1, MSB
//     first: OS (one-shot), R1 R0 (converter resolution, read only, always
//     11), F1 F0 (fault queue), POL (alert polarity), TM (thermostat mode),
//     SD (shutdown). Byte 2: CR1 CR0 (conversion rate: 0.25, 1, 4 or 8 Hz;
//     4 Hz at power-up), AL (alert, read only), EM (extended mode), then
//     four bits that read 0.
//
// # Why not periph.io/x/devices/v3/tmp102
//
// periph ships a tmp102 package (devices v3.7.4). This driver replaces it
// because that package:
//
//   - discards the bus error when it reads the configuration register, so
//     a device that does not answer (NACK) reads as configuration 0x0000
//     and the driver carries on with a made-up configuration;
//   - has no extended (13-bit) mode, so it cannot report temperatures
//     above 128 °C;
//   - clears the SD bit in Halt, which wakes the sensor up instead of
//     shutting it down.
//
// This driver keeps every bus error (wrapped with %w, naming the chip
// address), checks the read-only resolution bits to make sure the device
// at the address is a TMP102, supports extended mode, and puts the sensor
// in shutdown on Halt. Temperatures are computed with integer arithmetic in
// physic.Temperature units (nano-kelvin): one LSB is exactly 62 500 000 nK.
//
// The driver never opens or closes the bus: it takes an i2c.Bus owned by
// the caller.
package tmp102
