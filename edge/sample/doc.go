// Package sample is the unit of telemetry that flows from the edge to the
// collector: one named, labelled, typed value at one instant.
//
// Every source on the edge (I2C drivers, SNMP polls, the host reader)
// produces Samples; the sparkplug package carries them over MQTT and the
// collector decodes them back into Samples. The JSON rendering in this package
// is the single JSON schema for samples, used by every command that prints
// them and by plain-MQTT consumers.
//
// Counters are kept as uint64 from the device to the wire, so that a
// Counter64 is never rounded through float64.
package sample
