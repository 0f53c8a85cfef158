// Package max31790 drives the Maxim (Analog Devices) MAX31790 six-channel
// PWM fan controller over I²C. The edge agent reads it for the speed, the
// drive and the fault state of a rack's fans; each fan becomes three
// samples (speed, duty, fault), labelled fan1 to fan6 after the chip's
// TACHn and PWMOUTn pins.
//
// # Datasheet
//
// Maxim MAX31790, "6-Channel PWM-Output Fan RPM Controller", document
// 19-6540, revision 2 (1/15):
// https://www.analog.com/media/en/technical-documentation/data-sheets/MAX31790.pdf
// The Linux driver drivers/hwmon/max31790.c (with the 2021 fixes by
// Guenter Roeck) was used to check the register semantics below.
//
//   - Register map: 0x00 global configuration, 0x01 PWM frequency,
//     0x02–0x07 fan n configuration, 0x08–0x0D fan n dynamics, 0x10 and
//     0x11 fan fault status 2 and 1, 0x12 and 0x13 fan fault mask 2 and 1,
//     0x14 failed fan options, 0x18–0x2F TACH1–12 count, 0x30–0x3B PWMOUT
//     1–6 duty cycle, 0x40–0x4B PWMOUT target duty cycle, 0x50–0x5B TACH
//     target count, 0x60–0x65 window. 16-bit registers are MSB first.
//   - Fan configuration: bit 7 selects RPM mode (the chip's speed loop)
//     over PWM mode (a fixed duty), bit 3 enables the TACH input; the chip
//     sets bit 3 itself in RPM mode.
//   - Fan dynamics: bits 7:5 are the speed range SR, the number of tach
//     periods counted per measurement: 1, 2, 4, 8, 16, 32 (codes 101 to
//     111 all count 32). Power-up value 0x4C, so SR = 4.
//   - TACH count: an 11-bit count of the 8192 Hz tach clock over SR tach
//     periods, in bits 15:5, so RPM = 60 · SR · 8192 / (NP · count), NP
//     being the fan's pulses per revolution. The Linux driver's
//     RPM_FROM_REG, 60·SR·8192 / (reg >> 4), is the same formula with
//     NP = 2 built in: reg >> 4 is twice the count. Worked example: a
//     register of 0x3E00 (count 496) at SR = 4 and NP = 2 is
//     1 966 080 / 992 = 1981.9 RPM; Read reports 1 981 935 milli-RPM.
//   - PWMOUT duty cycle and target duty cycle: 9 bits in 15:7, 0 to 511
//     for 0 to 100 %. The duty cycle register is what the pin drives now;
//     it moves to the target at the rate of change set in fan dynamics.
//   - Fan fault status 1: bits 5:0 are TACH1–TACH6 (status 2 holds
//     TACH7–12, PWMOUT pins used as tach inputs, which this driver does
//     not report). The bits are sticky: a write to the channel's target
//     duty or target count register clears one, and clears the companion
//     channel's too.
//
// # A stopped fan
//
// When a fan is stopped, unplugged, too slow for the speed range, or its
// TACH input is disabled, the count saturates and the register reads
// 0xFFE0 (count 0x7FF). Read reports that as 0 RPM, not as an error: a
// stopped fan is a fact about the rack, and the chip's fault bit (or a
// threshold on the speed) is what raises an alarm. The slowest fan a
// range can measure is 60·SR·8192 / (NP·2046): 480 RPM at SR = 4 and
// NP = 2, 120 RPM at SR = 1. A count of 0 cannot come from the chip and
// is reported as sensor.ErrImplausible.
//
// # What the driver writes
//
// New writes only what monitoring needs: it sets the TACH input enable bit
// of each configured fan that lacks it (a chip fresh from power-up counts
// nothing) and then waits TachSettleTime, and it programs the speed range
// a Fan asks for, refusing to do so in RPM mode, where the target count is
// relative to SR and the fan would change speed. Before any write it
// checks that bits 4:0 of the tach counts read 0, because GPIO expanders
// live at the same addresses and registers 0x02–0x0D would drive their
// outputs.
//
// Read clears the fault bits it reports, as the Linux driver does, so a
// fault is reported for as long as the chip keeps latching it, and once
// for a fault that came and went between two reads. It rewrites the high
// byte of the channel's target count with the value it holds.
//
// Halt does NOT stop the fans. Fans keep the duty or speed they have when
// the agent stops; stopping them would overheat the rack.
//
// # No Probe
//
// The MAX31790 has no manufacturer or device ID register, and its reset
// values change as soon as anything configures it, so there is no read
// that tells it apart from other chips at 0x20–0x2F; this package exports
// no Probe function. New's check of the tach count bits guards writes, it
// does not identify the chip.
//
// # Why not periph
//
// periph.io/x/devices (v3.7.4) has no MAX31790 driver.
//
// The driver never opens or closes the bus: it takes an i2c.Bus owned by
// the caller.
package max31790
