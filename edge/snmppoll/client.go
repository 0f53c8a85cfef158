package snmppoll

import "github.com/gosnmp/gosnmp"

// snmpClient is the part of gosnmp a Poller uses. *gosnmp.GoSNMP implements
// it; unit tests use a map-driven fake.
type snmpClient interface {
	Connect() error
	Close() error
	// BulkWalk walks a subtree with GETBULK (SNMPv2c and later).
	BulkWalk(rootOID string, fn gosnmp.WalkFunc) error
	// Walk walks a subtree with GETNEXT (SNMPv1 has no GETBULK).
	Walk(rootOID string, fn gosnmp.WalkFunc) error
}

var _ snmpClient = (*gosnmp.GoSNMP)(nil)
