package mibs

// Numeric OIDs from RACKWATCH-MIB.
//
// The line comment after each OID constant names the MIB descriptor it
// stands for; the package test resolves every such descriptor in the MIB
// text and compares the numbers.
//
// The OBJECT-TYPEs below are scalars with MAX-ACCESS accessible-for-notify:
// they appear only as notification varbinds, and a varbind names the
// object's single instance, which for a scalar is the object's OID with
// ".0" appended (the SNMPv2-Trap-PDU, RFC 3416, section 4.2.6, carries
// instances, and a scalar's only instance is .0).
const (
	EnterpriseOID    = "1.3.6.1.4.1.32473"  // rackwatchMIB
	NotificationsOID = EnterpriseOID + ".0" // rackwatchNotifications

	NodeDrainedOID         = NotificationsOID + ".1"  // rwNodeDrained
	NodeRestoredOID        = NotificationsOID + ".2"  // rwNodeRestored
	NodeShedOID            = NotificationsOID + ".3"  // rwNodeShed
	NodeThrottlingOID      = NotificationsOID + ".4"  // rwNodeThrottling
	LinkErrorsDegradingOID = NotificationsOID + ".5"  // rwLinkErrorsDegrading
	RackCoolingAlarmOID    = NotificationsOID + ".6"  // rwRackCoolingAlarm
	SensorFaultOID         = NotificationsOID + ".7"  // rwSensorFault
	EdgeOfflineOID         = NotificationsOID + ".8"  // rwEdgeOffline
	EdgeOnlineOID          = NotificationsOID + ".9"  // rwEdgeOnline
	ActionRolledBackOID    = NotificationsOID + ".10" // rwActionRolledBack
	CommandRejectedOID     = NotificationsOID + ".11" // rwCommandRejected

	AlertIDOID    = EnterpriseOID + ".1.1.1" // rwAlertId
	AlertStateOID = EnterpriseOID + ".1.1.2" // rwAlertState
	SeverityOID   = EnterpriseOID + ".1.1.3" // rwSeverity
	NodeOID       = EnterpriseOID + ".1.1.4" // rwNode
	RackOID       = EnterpriseOID + ".1.1.5" // rwRack
	EvidenceOID   = EnterpriseOID + ".1.1.6" // rwEvidence
	ActionOID     = EnterpriseOID + ".1.1.7" // rwAction
	EdgeOID       = EnterpriseOID + ".1.1.8" // rwEdge
	SensorOID     = EnterpriseOID + ".1.1.9" // rwSensor

	// Evidence values, in the fixed-point units of their UNITS clauses.
	CPUTemperatureOID   = EnterpriseOID + ".1.2.1" // rwCpuTemperature
	InletTemperatureOID = EnterpriseOID + ".1.2.2" // rwInletTemperature
	ThrottleRateOID     = EnterpriseOID + ".1.2.3" // rwThrottleRate
	FCSErrorRateOID     = EnterpriseOID + ".1.2.4" // rwFcsErrorRate
	CarrierFlapsOID     = EnterpriseOID + ".1.2.5" // rwCarrierFlaps
	KernelEventsOID     = EnterpriseOID + ".1.2.6" // rwKernelEvents
	LatencyOID          = EnterpriseOID + ".1.2.7" // rwLatency
	HotNodesOID         = EnterpriseOID + ".1.2.8" // rwHotNodes
)

// MaxAdminString is the largest number of octets an SnmpAdminString
// (SNMP-FRAMEWORK-MIB, RFC 3411) holds: rwNode, rwRack, rwEvidence and
// rwAction, rwEdge and rwSensor must be cut to this length.
const MaxAdminString = 255

// AlertState is the value of rwAlertState.
type AlertState int

// Values of rwAlertState.
const (
	AlertActive AlertState = 1 // rwAlertState active
	AlertClear  AlertState = 2 // rwAlertState clear
)

func (s AlertState) String() string {
	switch s {
	case AlertActive:
		return "active"
	case AlertClear:
		return "clear"
	}
	return "unknown"
}

// Severity is the value of rwSeverity. The numbers are those of
// ItuPerceivedSeverity (ITU-ALARM-TC-MIB, RFC 3877).
type Severity int

// Values of rwSeverity.
const (
	SeverityIndeterminate Severity = 2 // rwSeverity indeterminate
	SeverityCritical      Severity = 3 // rwSeverity critical
	SeverityMajor         Severity = 4 // rwSeverity major
	SeverityMinor         Severity = 5 // rwSeverity minor
	SeverityWarning       Severity = 6 // rwSeverity warning
)

func (s Severity) String() string {
	switch s {
	case SeverityIndeterminate:
		return "indeterminate"
	case SeverityCritical:
		return "critical"
	case SeverityMajor:
		return "major"
	case SeverityMinor:
		return "minor"
	case SeverityWarning:
		return "warning"
	}
	return "unknown"
}

// base is the head of every notification's OBJECTS clause.
var base = []string{AlertIDOID, AlertStateOID, SeverityOID, NodeOID, RackOID, EvidenceOID, ActionOID}

// NotificationObjects lists, for each notification OID, the objects of its
// OBJECTS clause in order: a notification carries their instances in that
// order, after sysUpTime.0 and snmpTrapOID.0 (RFC 3416, section 4.2.6). A
// test checks it against the MIB.
var NotificationObjects = map[string][]string{
	NodeDrainedOID:         base,
	NodeRestoredOID:        base,
	NodeShedOID:            base,
	NodeThrottlingOID:      append(base[:len(base):len(base)], ThrottleRateOID),
	LinkErrorsDegradingOID: base,
	RackCoolingAlarmOID:    append(base[:len(base):len(base)], HotNodesOID),
	SensorFaultOID:         append(base[:len(base):len(base)], EdgeOID, SensorOID),
	EdgeOfflineOID:         append(base[:len(base):len(base)], EdgeOID),
	EdgeOnlineOID:          append(base[:len(base):len(base)], EdgeOID),
	ActionRolledBackOID:    base,
	CommandRejectedOID:     append(base[:len(base):len(base)], EdgeOID),
}
