// Package mibs holds rackwatch's enterprise MIB, RACKWATCH-MIB, and the
// numeric OIDs the collector uses when it sends SNMP notifications.
//
// The MIB text is embedded so that a binary can hand it to an operator
// (for loading into a trap receiver or an NMS) without a separate file. The
// running collector never parses it: the OIDs it needs are compiled in as
// constants in oids.go, and a test checks every constant against the MIB so
// that the two cannot drift apart.
//
// The module sits under the documentation Private Enterprise Number 32473
// (RFC 5612). README.md in this directory says how to move it under an
// operator's own PEN.
package mibs

import _ "embed"

// RackwatchMIB is the text of RACKWATCH-MIB (SMIv2, RFC 2578).
//
//go:embed RACKWATCH-MIB.txt
var RackwatchMIB []byte
