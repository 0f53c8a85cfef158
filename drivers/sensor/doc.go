// Package sensor is the one shape every rackwatch I2C driver takes, and the
// fault policy applied to all of them.
//
// Each chip package under drivers/ keeps the periph.io style of its own API
// (New(bus, opts), typed physic units, Halt, String) and also implements
// Sensor: Read appends the device's Readings — one per measured quantity
// and channel — to a caller's slice, so a steady read allocates nothing.
//
// Guard wraps a Sensor with the fault policy: a checksum failure or an
// implausible value discards the whole measurement and counts it, repeated
// failures mark the sensor faulted, and retries back off. Guard never
// recovers a bus: the bus belongs to the edge, which may reopen it.
package sensor
