// Package snmppoll polls SNMP agents (top-of-rack switches, server BMCs and
// net-snmp hosts) and turns what it reads into samples.
//
// It sits on the edge between the network and the sample stream: a Poller
// owns one target, reads the tables and scalars its profiles name and
// returns []sample.Sample, which the edge publishes like any other reading.
//
// # Protocol
//
// SNMPv1, v2c and v3 (RFC 3414 USM: MD5, SHA-1 and the SHA-2 family of
// RFC 7860 for authentication; DES, AES-128 and AES-192/256 for privacy,
// with both key extensions: Blumenthal, net-snmp's AES-192 and AES-256, and
// Reeder, Cisco's and net-snmp's AES-192-C and AES-256-C), over UDP on IPv4
// or IPv6, through gosnmp. A poll sends:
//
//   - one GET for sysUpTime.0, sysObjectID.0, sysDescr.0 and the profiles'
//     scalars, split when there are more than gosnmp.MaxOids;
//   - for each table, GETBULK requests (GETNEXT on SNMPv1) that walk all its
//     columns together, so that a table of k columns and n rows costs about
//     n/max-repetitions requests rather than k times that. Agents may answer
//     fewer varbinds than asked (RFC 3416 §4.2.3), which only costs
//     requests; tooBig halves the repetitions, then the columns per request;
//   - for tables with lookup columns (a sensor's entPhysicalName, an LLDP
//     neighbour's local port), GETs of just the instances the rows need.
//
// OIDs are numeric: the running binary never parses MIBs. An answer whose
// OID does not follow the one asked for fails the walk with
// ErrNotIncreasing rather than looping. A timeout, an unauthenticated USM
// report (wrong digest, unknown user, unsupported security level: gosnmp
// discards those reports, the Poller still reads their reason) or a
// malformed answer stops the poll with an error naming the target.
//
// Each target keeps its socket and its SNMPv3 engine state between polls.
// gosnmp's receive buffer (64 KiB per connected client) is not kept per
// target: requests borrow one from a pool shared by all Pollers of the
// process, which keeps as many as requests have overlapped in the last 30
// s, so memory follows how many polls run at once rather than how many
// targets there are.
//
// # Profiles
//
// A Profile is data: YAML files, one profile each, embedded from the
// profiles directory and overridable by name from Opts.ProfileDirs (see
// LoadProfiles). Decoding is strict; errors name the file, the line and the
// key. The built-in profiles:
//
//   - if-mib: IF-MIB (RFC 2863) ifTable and ifXTable, EtherLike-MIB
//     (RFC 3635) dot3StatsTable and dot3HCStatsTable (64-bit preferred);
//   - lldp: LLDP-MIB (IEEE 802.1AB) lldpRemTable, local ports named from
//     lldpLocPortTable;
//   - entity-sensor: ENTITY-SENSOR-MIB (RFC 3433) with ENTITY-MIB names;
//   - lm-sensors: UCD-SNMP LM-SENSORS-MIB on net-snmp hosts;
//   - idrac: Dell IDRAC-MIB-SMIv2 temperature probes and fans;
//   - hpe-ilo: HPE CPQHLTH-MIB cpqHeTemperatureTable;
//   - supermicro-aten: Supermicro BMC ATEN-IPMI-MIB sensorTable;
//   - supermicro-superdoctor: SUPERMICRO-HEALTH-MIB smHealthMonitorTable;
//   - cisco-envmon and cisco-entity-sensor: CISCO-ENVMON-MIB and
//     CISCO-ENTITY-SENSOR-MIB.
//
// With the profile "auto", the default, a Poller picks every profile whose
// match section fits the agent: a sysObjectID prefix, a sysDescr regular
// expression, or an object that exists under a given OID (all such probes
// go in one request). That includes the generic profiles wherever their
// tables exist: IF-MIB, ENTITY-SENSOR-MIB, LLDP, LM-SENSORS. Detection runs
// on the first poll, when sysObjectID or sysDescr change, after an agent
// restart, and hourly. An agent no profile fits makes Poll fail with
// ErrNoMatch; profiles whose objects the agent lacks, with ErrNoData.
//
// # Labels
//
// Interfaces are labelled by ifname only (ifName, else ifDescr): ifAlias is
// free text operators edit, and each label value multiplies the series a
// collector stores. Sensors are labelled by sensor, the device's own name
// for them (built from locale and index on HPE, which has none). Two rows
// named alike, as BMCs and Windows hosts do, are told apart by " #<index>"
// on the later one, in index order. LLDP neighbours are an info metric:
// lldp_neighbor_info{ifname, neighbor, neighbor_port} = 1, with neighbor
// the remote system name (else its chassis ID) and neighbor_port the remote
// port ID (else its description); a MAC address is written in hex.
//
// # Counters and rates
//
// Counters stay uint64 from the wire to the sample: a Counter64 is never
// rounded through float64. For each counter series the Poller also
// publishes its per-second rate, <name without _total>_per_second (see
// RateName), computed from the previous poll's value over the agent's own
// clock, the sysUpTime delta, not the poller's. The poller's clock only
// vets it: an interval over which sysUpTime moved by a different amount
// than the poller's clock (by more than a quarter, plus 5 s) is not used.
// There is no rate, never a spike, for an interval with a discontinuity:
//
//   - the first value of a series;
//   - an agent restart: sysUpTime went back (a TimeTicks wrap after 497
//     days is not one: the modular delta matches the poller's clock);
//   - a change of the row's discontinuity column (IF-MIB
//     ifCounterDiscontinuityTime);
//   - a Counter64 that went down: it was reset, as 2^64 is never reached;
//   - a change of the column read (ifHCInOctets appearing where ifInOctets
//     was read).
//
// A Counter32 that went down over an otherwise normal interval wrapped
// (RFC 2578 §7.1.6): its rate is (2^32 − previous + current) / Δt. An agent
// without sysUpTime gets no rates.
//
// # Bad values
//
// A poll is best effort per value: a value of the wrong type (a negative
// INTEGER where a counter belongs, text where a number belongs) or out of
// range is skipped and reported as a *ValueError, and the rest of the poll
// still produces samples. Values a profile declares as "no reading" (HPE's
// -99 °C, an empty BMC sensor slot) are skipped silently.
//
// # Memory
//
// The Poller keeps each table's rows between polls, so that a steady poll
// allocates its result and nothing else; tables are bounded to maxRows
// rows, and errors to maxProblems per poll.
package snmppoll
