package snmppoll

import (
	"net"

	"github.com/gosnmp/gosnmp"
)

// snmpClient is the part of gosnmp a Poller uses. *gosnmp.GoSNMP implements
// it; unit tests use a map-driven fake.
type snmpClient interface {
	Connect() error
	Close() error
	// Get reads the given instances (scalars, and lookups into other
	// tables).
	Get(oids []string) (*gosnmp.SnmpPacket, error)
	// GetNext walks columns on SNMPv1, which has no GETBULK.
	GetNext(oids []string) (*gosnmp.SnmpPacket, error)
	// GetBulk walks columns on SNMPv2c and v3 (RFC 3416 §4.2.3).
	GetBulk(oids []string, nonRepeaters uint8, maxRepetitions uint32) (*gosnmp.SnmpPacket, error)
}

var _ snmpClient = (*gosnmp.GoSNMP)(nil)

// usmClient is gosnmp's client for SNMPv3, keeping the last datagram it
// received. An agent sends the reports of a wrong digest or an unknown
// user unauthenticated (RFC 3414 §3.2 steps 4 and 6), so gosnmp discards
// them as not authentic and reports only that; the kept datagram still
// says why the agent refused.
type usmClient struct {
	*gosnmp.GoSNMP
	conn *keepLast
}

// keepLast is a UDP socket that keeps a copy of the last datagram read.
type keepLast struct {
	*net.UDPConn
	last []byte
}

func (k *keepLast) Read(b []byte) (int, error) {
	n, err := k.UDPConn.Read(b)
	k.keep(b[:max(n, 0)])
	return n, err
}

func (k *keepLast) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := k.UDPConn.ReadFrom(b)
	k.keep(b[:max(n, 0)])
	return n, addr, err
}

func (k *keepLast) keep(b []byte) {
	k.last = append(k.last[:0], b...)
}

func (c *usmClient) Connect() error {
	if err := c.GoSNMP.Connect(); err != nil {
		return err
	}
	if u, ok := c.GoSNMP.Conn.(*net.UDPConn); ok {
		c.conn = &keepLast{UDPConn: u}
		c.GoSNMP.Conn = c.conn
	}
	return nil
}

func (c *usmClient) forget() {
	if c.conn != nil {
		c.conn.last = c.conn.last[:0]
	}
}

func (c *usmClient) Get(oids []string) (*gosnmp.SnmpPacket, error) {
	c.forget()
	return c.GoSNMP.Get(oids)
}

func (c *usmClient) GetNext(oids []string) (*gosnmp.SnmpPacket, error) {
	c.forget()
	return c.GoSNMP.GetNext(oids)
}

func (c *usmClient) GetBulk(oids []string, nonRepeaters uint8, maxRepetitions uint32) (*gosnmp.SnmpPacket, error) {
	c.forget()
	return c.GoSNMP.GetBulk(oids, nonRepeaters, maxRepetitions)
}

// usmReports maps the USM statistics a Report carries (RFC 3414 §5) to
// gosnmp's errors for them.
var usmReports = map[string]error{
	".1.3.6.1.6.3.15.1.1.1.0": gosnmp.ErrUnknownSecurityLevel,
	".1.3.6.1.6.3.15.1.1.2.0": gosnmp.ErrNotInTimeWindow,
	".1.3.6.1.6.3.15.1.1.3.0": gosnmp.ErrUnknownUsername,
	".1.3.6.1.6.3.15.1.1.4.0": gosnmp.ErrUnknownEngineID,
	".1.3.6.1.6.3.15.1.1.5.0": gosnmp.ErrWrongDigest,
	".1.3.6.1.6.3.15.1.1.6.0": gosnmp.ErrDecryption,
}

// report returns the USM error of the last datagram, when it was an
// unauthenticated Report.
func (c *usmClient) report() error {
	if c.conn == nil || len(c.conn.last) == 0 {
		return nil
	}
	dec := &gosnmp.GoSNMP{Version: gosnmp.Version3, SecurityModel: gosnmp.UserSecurityModel, MsgFlags: gosnmp.NoAuthNoPriv,
		SecurityParameters: &gosnmp.UsmSecurityParameters{UserName: "report"}}
	pkt, err := dec.SnmpDecodePacket(c.conn.last)
	if err != nil || pkt.PDUType != gosnmp.Report || len(pkt.Variables) != 1 {
		return nil
	}
	return usmReports[pkt.Variables[0].Name]
}
