package snmppoll

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/gosnmp/gosnmp"
)

// snmpClient is the part of gosnmp a Poller uses. agentClient implements it
// on gosnmp; unit tests use a map-driven fake.
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

var (
	_ snmpClient = (*agentClient)(nil)
	_ snmpClient = (*usmClient)(nil)
)

// agentClient is the snmpClient of a real agent. gosnmp gives every client
// its own 64 KiB receive buffer: an edge polling 48 agents held 3 MiB of
// them, half its live heap, to receive a few hundred bytes per request. So
// the agent's settings, socket and SNMPv3 state live in cfg, a client that
// is never connected and so has no buffer, and each request borrows a
// connected client, a lane, from a pool shared by all agents.
type agentClient struct {
	cfg   *gosnmp.GoSNMP
	lanes *lanePool
}

func newAgentClient(cfg *gosnmp.GoSNMP) *agentClient {
	return &agentClient{cfg: cfg, lanes: sharedLanes}
}

// Connect validates the settings, dials the agent's socket and keeps it
// with the SNMPv3 state. The client connected to do so joins the lanes.
func (c *agentClient) Connect() error {
	g := &gosnmp.GoSNMP{}
	pointAt(g, c.cfg)
	if err := g.Connect(); err != nil {
		return err
	}
	pointAt(c.cfg, g)
	c.lanes.put(g)
	return nil
}

func (c *agentClient) Close() error { return c.cfg.Close() }

// setContext binds the context that bounds the next requests.
func (c *agentClient) setContext(ctx context.Context) { c.cfg.Context = ctx }

func (c *agentClient) Get(oids []string) (*gosnmp.SnmpPacket, error) {
	return c.on(func(g *gosnmp.GoSNMP) (*gosnmp.SnmpPacket, error) { return g.Get(oids) })
}

func (c *agentClient) GetNext(oids []string) (*gosnmp.SnmpPacket, error) {
	return c.on(func(g *gosnmp.GoSNMP) (*gosnmp.SnmpPacket, error) { return g.GetNext(oids) })
}

func (c *agentClient) GetBulk(oids []string, nonRepeaters uint8, maxRepetitions uint32) (*gosnmp.SnmpPacket, error) {
	return c.on(func(g *gosnmp.GoSNMP) (*gosnmp.SnmpPacket, error) {
		return g.GetBulk(oids, nonRepeaters, maxRepetitions)
	})
}

// on runs one request on a lane pointed at the agent.
func (c *agentClient) on(req func(*gosnmp.GoSNMP) (*gosnmp.SnmpPacket, error)) (*gosnmp.SnmpPacket, error) {
	if c.cfg.Conn == nil {
		return nil, errors.New("snmppoll: request before Connect")
	}
	lane := c.lanes.get()
	if lane == nil {
		// More requests in flight than lanes: connect one for the
		// buffer. Connecting a UDP socket sends nothing, and the socket
		// is closed at once; the request uses the agent's.
		lane = &gosnmp.GoSNMP{Target: c.cfg.Target, Port: c.cfg.Port, Transport: "udp", Version: gosnmp.Version2c, Community: "lane"}
		if err := lane.Connect(); err != nil {
			return nil, err
		}
		lane.Close()
	}
	pointAt(lane, c.cfg)
	pkt, err := req(lane)
	// SNMPv3 discovery learns the agent's context engine ID on the lane.
	c.cfg.ContextEngineID = lane.ContextEngineID
	c.lanes.put(lane)
	return pkt, err
}

// pointAt copies to dst the settings, socket and SNMPv3 state of src: every
// exported field but the hooks and the trap listener's, which a Poller does
// not use. TestPointAtCopiesEveryField keeps the list whole across gosnmp
// versions.
func pointAt(dst, src *gosnmp.GoSNMP) {
	dst.Conn = src.Conn
	dst.Target, dst.Port, dst.Transport = src.Target, src.Port, src.Transport
	dst.Community, dst.Version, dst.Context = src.Community, src.Version, src.Context
	dst.Timeout, dst.Retries, dst.ExponentialTimeout = src.Timeout, src.Retries, src.ExponentialTimeout
	dst.Logger = src.Logger
	dst.MaxOids, dst.MaxRepetitions, dst.NonRepeaters = src.MaxOids, src.MaxRepetitions, src.NonRepeaters
	dst.UseUnconnectedUDPSocket, dst.Control, dst.LocalAddr, dst.AppOpts = src.UseUnconnectedUDPSocket, src.Control, src.LocalAddr, src.AppOpts
	dst.MsgFlags, dst.SecurityModel, dst.SecurityParameters = src.MsgFlags, src.SecurityModel, src.SecurityParameters
	dst.ContextEngineID, dst.ContextName = src.ContextEngineID, src.ContextName
}

// laneIdleFor is how long a lane may go unused before the pool lets it go.
// A target has at most one request in flight, so the pool never holds more
// lanes than there are targets, as many as polls have recently overlapped.
// An edge's polls are short and spread by jitter: few overlap.
const laneIdleFor = 30 * time.Second

// sharedLanes serves every agent of the process.
var sharedLanes = newLanePool(time.Now)

// lanePool keeps connected gosnmp clients for their receive buffers.
type lanePool struct {
	mu   sync.Mutex
	now  func() time.Time
	idle []idleLane // a stack: the most recently returned on top
}

type idleLane struct {
	g     *gosnmp.GoSNMP
	since time.Time
}

func newLanePool(now func() time.Time) *lanePool { return &lanePool{now: now} }

// get returns an idle lane, or nil.
func (lp *lanePool) get() *gosnmp.GoSNMP {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	n := len(lp.idle)
	if n == 0 {
		return nil
	}
	g := lp.idle[n-1].g
	lp.idle[n-1] = idleLane{}
	lp.idle = lp.idle[:n-1]
	return g
}

// put returns a lane, dropping what it points at, and lets go of the lanes
// that have been idle for laneIdleFor: those at the bottom of the stack.
func (lp *lanePool) put(g *gosnmp.GoSNMP) {
	g.Conn, g.SecurityParameters, g.Context = nil, nil, nil
	lp.mu.Lock()
	defer lp.mu.Unlock()
	now := lp.now()
	lp.idle = append(lp.idle, idleLane{g, now})
	stale := 0
	for now.Sub(lp.idle[stale].since) > laneIdleFor {
		stale++
	}
	if stale > 0 {
		n := copy(lp.idle, lp.idle[stale:])
		clear(lp.idle[n:])
		lp.idle = lp.idle[:n]
	}
}

// usmClient is the agentClient for SNMPv3, keeping the last datagram it
// received. An agent sends the reports of a wrong digest or an unknown
// user unauthenticated (RFC 3414 §3.2 steps 4 and 6), so gosnmp discards
// them as not authentic and reports only that; the kept datagram still
// says why the agent refused.
type usmClient struct {
	*agentClient
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
	if err := c.agentClient.Connect(); err != nil {
		return err
	}
	if u, ok := c.cfg.Conn.(*net.UDPConn); ok {
		c.conn = &keepLast{UDPConn: u}
		c.cfg.Conn = c.conn
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
	return c.agentClient.Get(oids)
}

func (c *usmClient) GetNext(oids []string) (*gosnmp.SnmpPacket, error) {
	c.forget()
	return c.agentClient.GetNext(oids)
}

func (c *usmClient) GetBulk(oids []string, nonRepeaters uint8, maxRepetitions uint32) (*gosnmp.SnmpPacket, error) {
	c.forget()
	return c.agentClient.GetBulk(oids, nonRepeaters, maxRepetitions)
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
