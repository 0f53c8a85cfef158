package traps

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gosnmp/gosnmp"
)

// Defaults applied by New.
const (
	// DefaultAddr is the SNMP notification port on every address, IPv4 and
	// IPv6 (RFC 3417 section 3).
	DefaultAddr = ":162"
	// DefaultQueueSize bounds the events waiting for the handler. A
	// switch reboot sends a linkDown and a linkUp per port; 1024 holds that
	// for a dozen 48-port switches at once.
	DefaultQueueSize = 1024
	// DefaultReadBuffer is the socket receive buffer asked of the kernel,
	// which caps it at net.core.rmem_max.
	DefaultReadBuffer = 1 << 20
)

// maxDatagram is the largest UDP payload (RFC 768 over IPv4); SNMP
// messages may be that large (RFC 3417 section 3), so nothing is truncated.
const maxDatagram = 65535

// Opts configures a Receiver.
type Opts struct {
	// Addr is the UDP address to listen on, "host:port"; empty means
	// DefaultAddr. "127.0.0.1:1162" listens on IPv4 loopback only, "[::]:162"
	// on every IPv6 and (where the system allows) IPv4 address.
	Addr string
	// Communities are accepted from v1 and v2c senders. With none, v1 and
	// v2c messages are rejected.
	Communities []string
	// Users are the SNMPv3 users. With none, v3 messages are rejected.
	Users []User
	// EngineID is the receiver's own engine ID in hex, which INFORM senders
	// discover and users with an empty EngineID are localized to. Empty
	// means a random one (see NewEngineID). A caller that persists it must
	// also persist and increment EngineBoots at every start.
	EngineID string
	// EngineBoots is the receiver's snmpEngineBoots (RFC 3414 2.2.2);
	// 0 means 1.
	EngineBoots uint32
	// Targets maps sender addresses to device names. When empty, every
	// authenticated sender is accepted with an empty Event.Device.
	Targets map[netip.Addr]string
	// OIDs are notifications accepted besides linkDown and linkUp.
	OIDs []Notification
	// Handler receives the events, one at a time, from a goroutine the
	// Receiver owns. It must return: Run waits for it.
	Handler func(Event)
	// QueueSize bounds the events waiting for Handler; 0 means
	// DefaultQueueSize. Events that do not fit are counted as dropped.
	QueueSize int
	// ReadBuffer is the socket receive buffer in bytes; 0 means
	// DefaultReadBuffer.
	ReadBuffer int
	// Logger receives rejections (rate-limited) and errors; nil discards.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Receiver listens for notifications on one UDP socket.
type Receiver struct {
	addr       string
	readBuffer int
	handler    func(Event)
	log        *slog.Logger
	now        func() time.Time

	communities [][]byte
	targets     map[netip.Addr]string
	names       map[string]string // trap OID → name

	engineID    string // raw octets
	engineBoots uint32
	start       time.Time
	creds       map[credKey]*credential
	engines     map[string]bool // engine IDs some credential is localized to
	plain       *gosnmp.GoSNMP  // decodes v1 and v2c
	peek        *gosnmp.GoSNMP  // reads v3 headers

	queue chan Event
	// counts is only touched by the receive goroutine; its keys are
	// configured device and notification names, so it stays bounded.
	counts  map[countKey]uint64
	limiter logLimiter

	stats   counters
	running atomic.Bool
	ready   chan struct{}
	bound   atomic.Pointer[netip.AddrPort]
}

type countKey struct{ device, name string }

// New checks opts and prepares a Receiver; Run starts it.
func New(opts *Opts) (*Receiver, error) {
	if opts == nil {
		return nil, errors.New("traps: nil opts")
	}
	if opts.Handler == nil {
		return nil, errors.New("traps: no handler")
	}
	r := &Receiver{
		addr:        opts.Addr,
		readBuffer:  opts.ReadBuffer,
		handler:     opts.Handler,
		log:         opts.Logger,
		now:         opts.Now,
		engineBoots: opts.EngineBoots,
		targets:     make(map[netip.Addr]string, len(opts.Targets)),
		names:       map[string]string{OIDLinkDown: NameLinkDown, OIDLinkUp: NameLinkUp},
		creds:       make(map[credKey]*credential, len(opts.Users)),
		engines:     map[string]bool{},
		counts:      map[countKey]uint64{},
		ready:       make(chan struct{}),
		plain:       &gosnmp.GoSNMP{Version: gosnmp.Version2c},
	}
	if r.addr == "" {
		r.addr = DefaultAddr
	}
	if r.readBuffer <= 0 {
		r.readBuffer = DefaultReadBuffer
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.engineBoots == 0 {
		r.engineBoots = 1
	}
	q := opts.QueueSize
	if q <= 0 {
		q = DefaultQueueSize
	}
	r.queue = make(chan Event, q)
	r.start = r.now()
	r.limiter = logLimiter{burst: 20, every: time.Second}

	for _, c := range opts.Communities {
		if c == "" {
			return nil, errors.New("traps: empty community")
		}
		r.communities = append(r.communities, []byte(c))
	}
	for a, dev := range opts.Targets {
		if !a.IsValid() || dev == "" {
			return nil, fmt.Errorf("traps: target %v %q: want an address and a device name", a, dev)
		}
		r.targets[a.Unmap()] = dev
	}
	for _, n := range opts.OIDs {
		oid := strings.TrimPrefix(n.OID, ".")
		if !validOID(oid) || n.Name == "" {
			return nil, fmt.Errorf("traps: notification %q %q: want a numeric OID and a name", n.OID, n.Name)
		}
		if _, dup := r.names[oid]; dup {
			return nil, fmt.Errorf("traps: notification %s configured twice", oid)
		}
		r.names[oid] = n.Name
	}

	eid := opts.EngineID
	if eid == "" {
		var err error
		if eid, err = NewEngineID(nil); err != nil {
			return nil, err
		}
	}
	var err error
	if r.engineID, err = ParseEngineID(eid); err != nil {
		return nil, err
	}
	for _, u := range opts.Users {
		c, err := newCredential(u, r.engineID)
		if err != nil {
			return nil, fmt.Errorf("traps: user %s: %w", u, err)
		}
		k := credKey{c.engineID, c.user}
		if _, dup := r.creds[k]; dup {
			return nil, fmt.Errorf("traps: user %s configured twice for engine %x", u.Name, c.engineID)
		}
		r.creds[k] = c
		r.engines[c.engineID] = true
	}
	// The header reader has no keys: on an authenticated message
	// SnmpDecodePacket stops at msgAuthenticationParameters with an error,
	// and returns the packet with the engine ID, user name and flags it has
	// read by then, which is all handleUSM needs to pick the credentials.
	r.peek = &gosnmp.GoSNMP{
		Version:       gosnmp.Version3,
		SecurityModel: gosnmp.UserSecurityModel,
		MsgFlags:      gosnmp.NoAuthNoPriv,
		SecurityParameters: &gosnmp.UsmSecurityParameters{
			UserName:               peekUser,
			AuthenticationProtocol: gosnmp.NoAuth,
			PrivacyProtocol:        gosnmp.NoPriv,
		},
	}
	return r, nil
}

func validOID(s string) bool {
	if s == "" {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if part == "" {
			return false
		}
		for _, c := range part {
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return true
}

// EngineID returns the receiver's engine ID in hex.
func (r *Receiver) EngineID() string { return fmt.Sprintf("%x", r.engineID) }

// Ready is closed once Run has bound its socket.
func (r *Receiver) Ready() <-chan struct{} { return r.ready }

// Addr returns the bound address once Ready is closed, else the zero
// AddrPort.
func (r *Receiver) Addr() netip.AddrPort {
	if p := r.bound.Load(); p != nil {
		return *p
	}
	return netip.AddrPort{}
}

// Run listens until ctx ends, then stops reading, lets the handler finish
// the queued events and returns nil. It returns an error if the socket
// cannot be bound or fails. A Receiver runs once.
func (r *Receiver) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("traps: receiver already ran")
	}
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp", r.addr)
	if err != nil {
		return listenError(err)
	}
	conn := pc.(*net.UDPConn)
	if err := conn.SetReadBuffer(r.readBuffer); err != nil {
		r.log.Warn("traps: set socket receive buffer", "bytes", r.readBuffer, "err", err)
	}
	ap := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	r.bound.Store(&ap)
	close(r.ready)
	r.log.Info("traps: listening", "addr", ap.String(), "engine_id", r.EngineID())

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ev := range r.queue {
			r.handler(ev)
		}
	}()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	err = r.readLoop(conn)
	stop()
	conn.Close()
	close(r.queue)
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// listenError explains the two usual bind failures.
func listenError(err error) error {
	switch {
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("traps: %w (run as root or use CAP_NET_BIND_SERVICE, or listen on a port above 1023)", err)
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("traps: %w (another trap receiver, such as snmptrapd, holds the port)", err)
	}
	return fmt.Errorf("traps: %w", err)
}

// maxReadErrors is how many read errors in a row end Run: a socket that
// fails that often will not recover, and looping on it would spin.
const maxReadErrors = 100

func (r *Receiver) readLoop(conn *net.UDPConn) error {
	buf := make([]byte, maxDatagram)
	failures := 0
	for {
		n, peer, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			failures++
			if failures >= maxReadErrors {
				return fmt.Errorf("traps: read: %w", err)
			}
			r.log.Warn("traps: read", "err", err)
			continue
		}
		failures = 0
		peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
		reply := r.handle(buf[:n], peer, r.now())
		if reply == nil {
			continue
		}
		if _, err := conn.WriteToUDPAddrPort(reply, peer); err != nil {
			r.log.Warn("traps: send reply", "peer", peer.String(), "err", err)
		}
	}
}

// Stats returns a snapshot of the counters.
func (r *Receiver) Stats() Stats { return r.stats.snapshot() }
