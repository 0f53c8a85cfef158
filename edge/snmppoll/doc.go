// Package snmppoll polls SNMP agents (top-of-rack switches, server BMCs and
// net-snmp hosts) and turns what it reads into samples.
//
// It sits on the edge between the network and the sample stream: a Poller
// owns one target, walks the tables its profiles name and returns
// []sample.Sample, which the edge publishes like any other reading.
//
// A Profile is data, not code: tables, numeric column OIDs, the label each
// row gets and how each column converts to a catalogue metric. The running
// binary never parses MIBs; the OIDs come from the MIBs cited beside each
// profile:
//
//   - if-mib: IF-MIB (RFC 2863) ifTable and ifXTable, and EtherLike-MIB
//     (RFC 3635) dot3StatsTable, for error counters and link state.
//   - lm-sensors: UCD-SNMP LM-SENSORS-MIB lmTempSensorsTable on net-snmp hosts.
//   - idrac: Dell IDRAC-MIB-SMIv2 temperatureProbeTable.
//
// Counters stay uint64 from the wire to the sample: a Counter64 is never
// rounded through float64.
//
// A poll is best effort per value: a value of the wrong type or out of range
// is skipped and reported as a *ValueError, and the rest of the poll still
// produces samples. A failed request (timeout, unreachable target, canceled
// context) stops the poll, because every further request to the same target
// would most likely wait out the same timeout.
package snmppoll
