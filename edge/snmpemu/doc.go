// Package snmpemu emulates SNMP devices: an SNMPv1/v2c agent on UDP that
// answers GET, GETNEXT and GETBULK from an in-memory table, and models of
// the devices rackwatch polls, a top-of-rack switch and a server BMC, whose
// state changes at run time. It sits where real switches and BMCs sit in
// the data flow: edge/snmppoll polls it and edge/traps receives its traps
// unchanged, so demos, load tests and integration tests run on one
// machine, on loopback.
//
// # Agent
//
// Start binds a UDP address and serves a Table with a few goroutines the
// Agent owns; Close (or cancelling the context) stops them and waits.
// Packets are encoded and decoded with gosnmp. Semantics follow RFC 3416
// and, for SNMPv1, RFC 1157 and RFC 2576:
//
//   - GET answers noSuchObject or noSuchInstance (v2c) per binding, or
//     noSuchName with its error-index (v1). An instance is told from an
//     object by its last sub-identifier: exact for scalars and tables with
//     one index arc, approximate for longer indices;
//   - GETNEXT answers endOfMibView (v2c) or noSuchName (v1) past the end;
//   - GETBULK: the first non-repeaters bindings are GETNEXTs, the rest
//     repeat max-repetitions times, endOfMibView repeating for an exhausted
//     binding, and the repetitions stop early once every binding is
//     exhausted. A response is bounded by Opts.MaxVarbinds bindings and by
//     Opts.MaxMessageSize bytes, losing bindings from its end to fit (RFC
//     3416 §4.2.3); GETBULK in an SNMPv1 message is dropped;
//   - a GET or GETNEXT response over the message size is tooBig with no
//     bindings (v2c) or the request's (v1); one that cannot fit even so is
//     dropped (snmpSilentDrops);
//   - SNMPv1 never sees a Counter64 (RFC 2576 §4.2.2.1): GET answers
//     noSuchName and GETNEXT skips it;
//   - SET is refused with noAccess (noSuchName for v1): the view is
//     read-only to the network and changed by the models;
//   - a wrong community, an SNMPv3 message, a response, trap or report,
//     and anything malformed are dropped and counted (Stats); nothing from
//     the network can panic the agent.
//
// Notify sends an SNMPv2-Trap from the agent's own socket to
// Opts.TrapAddr. Receivers match a trap's sender by address, so give each
// emulated device its own loopback address (127.0.0.2, 127.0.0.3, ...).
//
// # Table
//
// A Table holds object instances in OID order. A value is static (Set), a
// counter that ramps at a rate from the time it is set (SetCounterRate;
// AddCounter adds a step), or computed at each read (SetFunc). Ramps and
// functions read the Table's clock, which tests and demos inject: a
// poller on the same clock sees exact rates. LoadSnmprec fills a Table
// from a LibreNMS/snmpsim recording of a real device.
//
// # Models
//
// Switch (NewSwitch): IF-MIB ifTable and ifXTable (RFC 2863), EtherLike-MIB
// dot3StatsTable (RFC 3635) and LLDP-MIB lldpLocPortTable and lldpRemTable
// (IEEE 802.1AB), which snmppoll's if-mib and lldp profiles read. Ports
// are ifIndex 1..Ports, named swp1.. by default, 25 Gbit/s, counting
// OctetsPerSecond bytes each way while up (default 1.25 MB/s). At run
// time: SetLink (ifOperStatus, ifLastChange, linkDown/linkUp to a
// Notifier, traffic stops while down), AddErrors, CRCStorm (FCS errors,
// which are input errors too, at a rate per second), SetNeighbor and
// Restart (sysUpTime from 0, a counter discontinuity for pollers).
//
// BMC (NewBMC): a Dell iDRAC (sysObjectID 1.3.6.1.4.1.674.10892.5), which
// the idrac profile recognises: temperatureProbeTable in tenths of °C with
// "CPUn Temp" (critical 98 °C), "System Board Inlet Temp" (warning 43 °C,
// critical 47 °C) and "System Board Exhaust Temp" (75 °C, 80 °C), each
// with a status that follows its thresholds, and coolingDeviceTable fan
// speeds in RPM. A probe is set (SetCPUTemperature, SetInletTemperature)
// or bound to a Thermometer read at each poll (BindCPU, BindInlet), which
// is how a CPU model such as collector/demo/apinode drives it.
//
// Temperatures are physic.Temperature, converted to the MIB's units only
// when read.
package snmpemu
