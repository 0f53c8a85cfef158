// Package traps receives the SNMP notifications (traps and INFORMs) that
// switches send to the edge, so that a link going down is seen when it
// happens instead of at the next poll.
//
// It sits beside snmppoll on the edge. A Receiver owns one UDP socket
// (default port 162, IPv4 and IPv6), authenticates each message, turns the
// notifications it knows into typed Events and hands them to a handler
// through a bounded queue. The edge publishes Event.Samples under the
// Sparkplug device Event.Device, next to what the poller publishes for the
// same device.
//
// # Protocol
//
// SNMPv1 and SNMPv2c messages must carry one of Opts.Communities.
// SNMPv3 uses the User-based Security Model (RFC 3414). Keys are localized
// to an authoritative engine ID, which differs between the two kinds of
// notification:
//
//   - a trap is sent by an authoritative sender, so the receiver must know
//     the sender's engine ID: User.EngineID names it, and one user name may
//     appear once per engine;
//   - an INFORM is a confirmed request and the receiver is authoritative: the
//     sender discovers the receiver's engine ID (Opts.EngineID) with an
//     unauthenticated probe, then synchronizes engine boots and time with an
//     authenticated one (RFC 3414 section 4). Users with an empty EngineID
//     are localized to the receiver's engine ID.
//
// The Receiver answers both discovery steps with the Report PDUs RFC 3414
// specifies (usmStatsUnknownEngineIDs, then usmStatsNotInTimeWindows
// carrying the receiver's engine boots and time), and checks the time window
// of authenticated messages addressed to its own engine (RFC 3414 3.2.7a),
// which protects INFORMs against replay. Messages addressed to a sender's
// engine (traps) are not checked for timeliness: the receiver would have to
// track each sender's clock, and a device whose boot counter does not
// survive a reboot would have its link traps refused until its clock caught
// up. A replayed trap only repeats an event that the next poll reconciles.
// A message must use at least the security level its user is configured
// for: a user with a privacy protocol cannot send authNoPriv.
//
// INFORMs (v2c and v3) are acknowledged with a Response PDU carrying the
// same request-id and variable bindings (RFC 3416 4.2.7) once the event is
// queued. An INFORM that could not be queued is not acknowledged, so the
// sender retransmits it later; one from a sender that failed
// authentication is never acknowledged.
//
// Reports are sent only for what a sender needs to discover the engine: an
// unknown engine ID (usmStatsUnknownEngineIDs) and an authenticated message
// outside the time window (usmStatsNotInTimeWindows), and only when the
// message is reportable. An unknown community or user, a wrong digest, a
// failed decryption or a security level too low is counted, logged
// (rate-limited) with the peer address and dropped without an answer. Nothing from the network can stop the receive loop:
// a message that gosnmp cannot decode, even one that makes it panic, is
// counted as malformed.
//
// # Why not gosnmp's TrapListener
//
// The receive loop is written here on top of gosnmp's decoder
// (GoSNMP.UnmarshalTrap, GoSNMP.SnmpDecodePacket) and encoder
// (SnmpPacket.MarshalMsg). gosnmp v1.47.0's TrapListener acknowledges every
// INFORM it can decode whatever its handler makes of it, including one with
// a wrong community, since it has no notion of communities; it answers
// engine discovery with the probe's own engine boots and time (0) and never
// checks the time window;
// its v3 user table is keyed by user name alone, and gosnmp re-localizes a
// user's keys to whatever engine ID a message claims, so the same user name
// under two engine IDs (or a configured user sent with a foreign engine ID)
// cannot be told apart; and it gives no place to count malformed or
// rejected messages, nor to drop an INFORM without acknowledging it when the
// queue is full. Here the header is read first, the (engine ID, user) pair
// selects exactly one set of localized keys, and only then is the message
// authenticated and decrypted with gosnmp.
//
// # Notifications and devices
//
// linkDown (1.3.6.1.6.3.1.1.5.3) and linkUp (1.3.6.1.6.3.1.1.5.4) from
// IF-MIB (RFC 2863) are always accepted, with their ifIndex, ifAdminStatus
// and ifOperStatus variable bindings parsed into the Event. SNMPv1 traps are
// mapped to SNMPv2 notification OIDs as RFC 3584 3.1 specifies, so a v1
// generic-trap 2 is a linkDown. Opts.OIDs names further notifications to
// accept; any other notification is counted as ignored (and an INFORM of
// that kind is still acknowledged, so the sender stops retrying).
//
// The device a notification belongs to is found by matching the sender
// against Opts.Targets, the edge's SNMP targets: first the UDP source
// address, then the agent-addr of a v1 trap, then the snmpTrapAddress.0
// variable binding (RFC 3584) that some switches add when they send from an
// address other than their management address. When Targets is empty every
// authenticated sender is accepted with an empty Device; otherwise a
// notification from an address no target has is counted as rejected
// (UnknownPeer) and dropped: its interfaces could not be named, and
// accepting it would let any host holding the community publish under the
// edge.
//
// # Samples
//
// A trap does not name its interface: it carries ifIndex, and the poller
// knows ifIndex → ifName for each device. Event.Samples therefore takes the
// poller's lookup and returns
//
//   - if_oper_up{ifname} (the same series the poller publishes), from
//     ifOperStatus, or false for a linkDown without one (RFC 2863: the link
//     is entering the down state); a linkUp without ifOperStatus gives none,
//     since the link may be entering dormant or testing rather than up. When
//     the interface cannot be named the sample is left to the next poll;
//   - snmp_traps_total{trap} (a counter, unit "notifications"): Event.Count,
//     the number of notifications of that name the receiver has accepted
//     from the device since it started.
//
// Counting by interface (link flaps per ifIndex) is left out: ifIndex comes
// from the network, so such a table could not be bounded, and a consumer
// counts flaps from the transitions of if_oper_up. The counts kept here are
// bounded by the configured targets and notification names.
//
// # Counters
//
// Stats returns the receiver's counters. Every datagram read is counted once
// in Received and once in exactly one of Accepted, Dropped, Ignored,
// Rejected, Malformed or Discovery.
package traps
