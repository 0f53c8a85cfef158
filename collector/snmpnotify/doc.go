// Package snmpnotify sends the collector's alerts to network management
// stations as SNMP notifications of RACKWATCH-MIB (mibs/RACKWATCH-MIB.txt):
// SNMPv2c traps or INFORMs, and SNMPv3 INFORMs under the User-based
// Security Model (RFC 3414).
//
// It sits beside the audit recorder at the end of the collector's data
// flow. A Notifier turns what the collector sees and does into alerts:
// the engine's decisions (shed, drain, restore, rollback, the rack cooling,
// throttling and link alarms), sensor faults from the samples the edges
// publish, and edges going offline and online. The notification that
// clears an alert carries the rwAlertId of the one that raised it, so a
// manager can pair them. A Sender delivers the alerts.
//
// The Sender keeps one bounded queue, one goroutine and one
// *gosnmp.GoSNMP per target. Send never blocks: an alert that finds a
// target's queue full is dropped for that target and counted. An INFORM is
// retransmitted a bounded number of times and then counted as failed, so a
// management station that is down or refuses INFORMs costs a counter and a
// rate-limited log line, never a stalled decision loop. Stats reports
// per-target counters.
//
// For an SNMPv3 INFORM the receiver is the authoritative engine (RFC 3414,
// section 3.2): gosnmp discovers its engine ID, boots and time with a
// probe before the first INFORM, and the receiver needs the user without
// an engine ID (net-snmp's snmptrapd: "createUser NAME SHA PASS AES PASS"
// and "authUser log NAME"). SNMPv3 traps are not offered: they would need
// every receiver configured with the collector's own engine ID.
//
// The OIDs come from package mibs, whose tests check them against the MIB.
package snmpnotify
