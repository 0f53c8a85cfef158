package snmpnotify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/rackwatch/rackwatch/edge/traps"
)

// Defaults.
const (
	DefaultPort     = 162
	DefaultTimeout  = 2 * time.Second
	DefaultRetries  = 2
	DefaultQueue    = 256
	DefaultLogEvery = time.Minute
)

// minPassphrase is the shortest USM passphrase RFC 3414 section 11.2
// allows; net-snmp refuses shorter ones.
const minPassphrase = 8

// Target is one management station.
type Target struct {
	// Name names the target in stats and logs; default: Address.
	Name string
	// Address is host or host:port (default port 162).
	Address string
	// Version is "2c" or "3" ("v2c" and "v3" are accepted too).
	Version string
	// Inform sends SNMPv2c INFORMs, which the receiver acknowledges,
	// instead of traps. SNMPv3 always sends INFORMs.
	Inform bool
	// Community is the SNMPv2c community (default "public").
	Community string
	// User and the protocols and passphrases are SNMPv3 USM settings. The
	// protocols are spelt as net-snmp's -a and -x options spell them: MD5,
	// SHA, SHA-224, SHA-256, SHA-384, SHA-512; DES, AES, AES-192, AES-256,
	// AES-192-C, AES-256-C. Privacy needs authentication.
	User                         string
	AuthProtocol, AuthPassphrase string
	PrivProtocol, PrivPassphrase string
	// Timeout is how long one INFORM attempt waits for the acknowledgement
	// (default DefaultTimeout).
	Timeout time.Duration
	// Retries is how many times an unacknowledged INFORM is sent again:
	// 0 takes DefaultRetries, a negative value none.
	Retries int
	// Queue bounds the notifications waiting for this target (default
	// DefaultQueue).
	Queue int
}

// Opts configure a Sender.
type Opts struct {
	Targets []Target
	Logger  *slog.Logger
	// Now gives sysUpTime (time since New) and paces the logs.
	Now func() time.Time
	// LogEvery is the least time between two log lines about the same
	// target's failures or drops (default DefaultLogEvery); the counters
	// hold the rest.
	LogEvery time.Duration
}

// Stats are one target's counters since the Sender started.
type Stats struct {
	Name, Address string
	// Sent counts notifications put on the wire (once each, however many
	// times an INFORM was retransmitted).
	Sent uint64
	// Acknowledged counts INFORMs the target answered.
	Acknowledged uint64
	// Retried counts retransmissions, of INFORMs and of SNMPv3 engine
	// discovery probes.
	Retried uint64
	// Failed counts notifications given up on: unacknowledged after the
	// retries, refused, or not sendable at all.
	Failed uint64
	// Dropped counts notifications not queued because the queue was full.
	Dropped uint64
	// Queued is the number waiting now.
	Queued int
}

// Sender sends notifications to its targets. Send is safe for concurrent
// use.
type Sender struct {
	opts    Opts
	log     *slog.Logger
	start   time.Time
	targets []*target
	running atomic.Bool
}

type item struct {
	alert  Alert
	uptime time.Duration
}

type target struct {
	t      Target
	host   string
	port   uint16
	v3     bool
	inform bool
	usm    *gosnmp.UsmSecurityParameters
	flags  gosnmp.SnmpV3MsgFlags
	queue  chan item

	sent, acked, retried, failed, dropped atomic.Uint64

	logMu   sync.Mutex
	logNext time.Time // no log line about this target before
	quiet   uint64    // events not logged since the last line

	// Owned by the target's goroutine: the client, and the packets it
	// sent for the notification under way (engine discovery probes apart).
	client        *gosnmp.GoSNMP
	stopClose     func() bool // cancels the close at ctx's end
	sends, probes uint64
}

// New checks the targets; nothing is sent until Run.
func New(opts *Opts) (*Sender, error) {
	if opts == nil {
		opts = &Opts{}
	}
	o := *opts
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.LogEvery <= 0 {
		o.LogEvery = DefaultLogEvery
	}
	s := &Sender{opts: o, log: o.Logger, start: o.Now()}
	names := map[string]bool{}
	for i, t := range o.Targets {
		tg, err := newTarget(t)
		if err != nil {
			return nil, fmt.Errorf("snmpnotify: target %d (%s): %w", i, t.Address, err)
		}
		if names[tg.t.Name] {
			return nil, fmt.Errorf("snmpnotify: target %d: %w", i, &FieldError{"name", fmt.Errorf("%q is used twice", tg.t.Name)})
		}
		names[tg.t.Name] = true
		s.targets = append(s.targets, tg)
	}
	return s, nil
}

// FieldError is a problem with one setting of a Target. Field names the
// setting as the collector's configuration spells it ("auth_passphrase").
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }

func (e *FieldError) Unwrap() error { return e.Err }

// CheckTarget reports what is wrong with t, as New would.
func CheckTarget(t Target) error {
	_, err := newTarget(t)
	return err
}

// ParseVersion maps "2c", "v2c", "3" and "v3" to gosnmp's versions.
func ParseVersion(v string) (gosnmp.SnmpVersion, error) {
	switch strings.TrimPrefix(strings.ToLower(strings.TrimSpace(v)), "v") {
	case "2c":
		return gosnmp.Version2c, nil
	case "3":
		return gosnmp.Version3, nil
	}
	return 0, fmt.Errorf("unsupported SNMP version %q (want 2c or 3)", v)
}

func newTarget(t Target) (*target, error) {
	host, port, err := splitAddress(t.Address)
	if err != nil {
		return nil, &FieldError{"address", err}
	}
	if t.Name == "" {
		t.Name = t.Address
	}
	switch {
	case t.Timeout == 0:
		t.Timeout = DefaultTimeout
	case t.Timeout < 0:
		return nil, &FieldError{"timeout", fmt.Errorf("negative timeout %v", t.Timeout)}
	}
	switch {
	case t.Retries == 0:
		t.Retries = DefaultRetries
	case t.Retries < 0:
		t.Retries = 0
	}
	if t.Queue <= 0 {
		t.Queue = DefaultQueue
	}
	tg := &target{t: t, host: host, port: port, inform: t.Inform}
	v, err := ParseVersion(t.Version)
	if err != nil {
		return nil, &FieldError{"version", err}
	}
	if v == gosnmp.Version2c {
		if t.User != "" || t.AuthProtocol != "" || t.PrivProtocol != "" {
			return nil, &FieldError{"user", errors.New("user, auth and privacy settings are for SNMPv3: set version 3")}
		}
		if tg.t.Community == "" {
			tg.t.Community = "public"
		}
	} else {
		if err := tg.configureUSM(); err != nil {
			return nil, err
		}
		tg.v3, tg.inform = true, true
	}
	tg.queue = make(chan item, t.Queue)
	return tg, nil
}

// configureUSM sets the User-based Security Model parameters (RFC 3414),
// with the protocol names the trap receiver accepts.
func (tg *target) configureUSM() error {
	t := tg.t
	if t.User == "" {
		return &FieldError{"user", errors.New("SNMPv3 needs a user")}
	}
	if t.Community != "" {
		return &FieldError{"community", errors.New("a community is for SNMPv2c; SNMPv3 uses a user")}
	}
	auth, err := traps.ParseAuthProtocol(t.AuthProtocol)
	if err != nil {
		return &FieldError{"auth_protocol", err}
	}
	priv, err := traps.ParsePrivProtocol(t.PrivProtocol)
	if err != nil {
		return &FieldError{"priv_protocol", err}
	}
	switch {
	case priv != gosnmp.NoPriv && auth == gosnmp.NoAuth:
		return &FieldError{"priv_protocol", errors.New("privacy needs authentication: set an auth protocol (RFC 3414 section 3.1.1)")}
	case auth != gosnmp.NoAuth && len(t.AuthPassphrase) < minPassphrase:
		return &FieldError{"auth_passphrase", fmt.Errorf("auth passphrase shorter than %d characters (RFC 3414 section 11.2)", minPassphrase)}
	case priv != gosnmp.NoPriv && len(t.PrivPassphrase) < minPassphrase:
		return &FieldError{"priv_passphrase", fmt.Errorf("privacy passphrase shorter than %d characters (RFC 3414 section 11.2)", minPassphrase)}
	}
	tg.usm = &gosnmp.UsmSecurityParameters{UserName: t.User, AuthenticationProtocol: auth, PrivacyProtocol: priv}
	tg.flags = gosnmp.NoAuthNoPriv
	if auth != gosnmp.NoAuth {
		tg.usm.AuthenticationPassphrase = t.AuthPassphrase
		tg.flags = gosnmp.AuthNoPriv
	}
	if priv != gosnmp.NoPriv {
		tg.usm.PrivacyPassphrase = t.PrivPassphrase
		tg.flags = gosnmp.AuthPriv
	}
	return nil
}

func splitAddress(addr string) (string, uint16, error) {
	if addr == "" {
		return "", 0, errors.New("empty address")
	}
	if _, err := netip.ParseAddr(addr); err == nil {
		return addr, DefaultPort, nil
	}
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		var aerr *net.AddrError
		if errors.As(err, &aerr) && aerr.Err == "missing port in address" {
			return addr, DefaultPort, nil
		}
		return "", 0, fmt.Errorf("address %q: %w", addr, err)
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if host == "" || err != nil || port == 0 {
		return "", 0, fmt.Errorf("address %q: want host or host:port", addr)
	}
	return host, uint16(port), nil
}

// Send queues a for every target. It never blocks: a target whose queue
// is full drops a, counts it and, at most once per LogEvery, logs it.
func (s *Sender) Send(a Alert) {
	it := item{alert: a, uptime: s.opts.Now().Sub(s.start)}
	for _, tg := range s.targets {
		select {
		case tg.queue <- it:
		default:
			tg.dropped.Add(1)
			s.warn(tg, "snmpnotify: queue full; dropping notifications for this target", nil)
		}
	}
}

// Stats returns each target's counters, in the order of Opts.Targets.
func (s *Sender) Stats() []Stats {
	out := make([]Stats, 0, len(s.targets))
	for _, tg := range s.targets {
		out = append(out, Stats{
			Name: tg.t.Name, Address: tg.t.Address,
			Sent: tg.sent.Load(), Acknowledged: tg.acked.Load(), Retried: tg.retried.Load(),
			Failed: tg.failed.Load(), Dropped: tg.dropped.Load(), Queued: len(tg.queue),
		})
	}
	return out
}

// Run sends queued notifications, one goroutine per target, until ctx
// ends, and waits for them. A send under way when ctx ends is abandoned;
// notifications still queued are not sent. It returns an error if it is
// already running.
func (s *Sender) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("snmpnotify: Run called twice")
	}
	defer s.running.Store(false)
	var wg sync.WaitGroup
	for _, tg := range s.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serve(ctx, tg)
		}()
	}
	wg.Wait()
	return nil
}

func (s *Sender) serve(ctx context.Context, tg *target) {
	defer tg.close()
	for {
		select {
		case <-ctx.Done():
			return
		case it := <-tg.queue:
			if err := tg.send(ctx, it); err != nil && ctx.Err() == nil {
				s.warn(tg, "snmpnotify: notification not delivered", err)
			}
		}
	}
}

func (tg *target) close() {
	if tg.client != nil {
		tg.stopClose()
		tg.client.Conn.Close()
	}
	tg.client = nil
}

// connect builds the target's client. UDP has no handshake: this only
// resolves the address and opens a socket.
func (tg *target) connect(ctx context.Context) error {
	g := &gosnmp.GoSNMP{
		Target: tg.host, Port: tg.port, Transport: "udp", Version: gosnmp.Version2c, Community: tg.t.Community,
		Timeout: tg.t.Timeout, Retries: tg.t.Retries, Context: ctx, MaxOids: gosnmp.MaxOids,
		// gosnmp calls OnRetry once more than it retransmits (before it
		// gives up), so packets are counted as they leave instead.
		OnSent: tg.onSent,
	}
	if tg.v3 {
		g.Version, g.Community = gosnmp.Version3, ""
		g.SecurityModel, g.MsgFlags = gosnmp.UserSecurityModel, tg.flags
		// A copy per client: gosnmp stores the discovered engine in it.
		g.SecurityParameters = tg.usm.Copy()
	}
	if err := g.Connect(); err != nil {
		return fmt.Errorf("snmpnotify: %s: %w", tg.t.Name, err)
	}
	// gosnmp looks at the context only between attempts: closing the
	// socket ends a wait for an acknowledgement as soon as ctx ends.
	conn := g.Conn
	tg.client, tg.stopClose = g, context.AfterFunc(ctx, func() { conn.Close() })
	return nil
}

// send delivers one notification and counts the outcome.
func (tg *target) send(ctx context.Context, it item) error {
	pdus, err := it.alert.PDUs(it.uptime)
	if err != nil {
		tg.failed.Add(1)
		return err
	}
	if tg.client == nil {
		if err := tg.connect(ctx); err != nil {
			tg.failed.Add(1)
			return err
		}
	}
	tg.sends, tg.probes = 0, 0
	res, err := tg.client.SendTrap(gosnmp.SnmpTrap{Variables: pdus, IsInform: tg.inform})
	if tg.sends > 0 {
		tg.sent.Add(1)
		tg.retried.Add(tg.sends - 1)
	}
	if tg.probes > 0 {
		tg.retried.Add(tg.probes - 1)
	}
	if err == nil && tg.inform && (res == nil || res.PDUType != gosnmp.GetResponse) {
		err = fmt.Errorf("unexpected answer %v to an INFORM", pduType(res))
	}
	if err == nil && tg.inform && res.Error != gosnmp.NoError {
		err = fmt.Errorf("the target answered %v", res.Error)
	}
	if err != nil {
		tg.failed.Add(1)
		// Start afresh: a receiver that restarted may have a new engine
		// ID or boots, and a socket may hold a stale ICMP error.
		tg.close()
		return fmt.Errorf("snmpnotify: %s: %w", tg.t.Name, err)
	}
	if tg.inform {
		tg.acked.Add(1)
	}
	return nil
}

// onSent counts a packet of the notification under way. Until gosnmp
// knows the receiver's engine ID, an SNMPv3 packet is its discovery probe
// (RFC 3414, section 4), not the INFORM.
func (tg *target) onSent(g *gosnmp.GoSNMP) {
	if usm, ok := g.SecurityParameters.(*gosnmp.UsmSecurityParameters); ok && tg.v3 && usm.AuthoritativeEngineID == "" {
		tg.probes++
		return
	}
	tg.sends++
}

func pduType(p *gosnmp.SnmpPacket) string {
	if p == nil {
		return "none"
	}
	return p.PDUType.String()
}

// warn logs about a target at most once per LogEvery, with the number of
// events it did not log since its last line.
func (s *Sender) warn(tg *target, msg string, err error) {
	now := s.opts.Now()
	tg.logMu.Lock()
	if now.Before(tg.logNext) {
		tg.quiet++
		tg.logMu.Unlock()
		return
	}
	quiet := tg.quiet
	tg.quiet, tg.logNext = 0, now.Add(s.opts.LogEvery)
	tg.logMu.Unlock()
	attrs := []any{"target", tg.t.Name, "address", tg.t.Address, "not_logged", quiet,
		"failed_total", tg.failed.Load(), "dropped_total", tg.dropped.Load()}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	// Non-blocking as far as this package goes: a slow log handler is
	// the logger's to bound.
	s.log.Warn(msg, attrs...)
}
