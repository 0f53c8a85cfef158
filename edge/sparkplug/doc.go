// Package sparkplug is rackwatch's wire contract: Eclipse Sparkplug B 3.0
// over MQTT between the edge (an edge node; its I2C sensors and SNMP targets
// are devices) and the collector (the primary host application).
//
// It builds and parses topics, turns sample.Samples into Sparkplug payloads
// and back, keeps the edge-side session state (bdSeq, seq 0–255, metric
// aliases, births) in Session, and the host-side accounting (births, deaths,
// seq gaps, the 64-bit sample sequence, duplicates) in Host.
//
// Three rackwatch conventions sit on top of the specification, all
// documented in docs/wire.md:
//
//   - Every payload carries the metric "rackwatch/sample_seq", a UInt64 that
//     numbers the samples of the edge across reconnects and restarts, so loss
//     and duplicates can be audited where seq restarts at each birth.
//   - A data message built while the edge's clock is not synchronised
//     carries "rackwatch/clock_unsynced" = true, which Host reports as
//     Update.ClockUnsynced, so the collector can distrust its timestamps.
//   - Data messages default to QoS 1 (the specification says 0) so that no
//     sample is lost in flight; a strict setting restores QoS 0.
package sparkplug
