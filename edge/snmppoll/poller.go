package snmppoll

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/rackwatch/rackwatch/edge/sample"
)

// Defaults applied by New to zero fields of Opts.
const (
	DefaultTimeout        = 2 * time.Second
	DefaultRetries        = 1
	DefaultMaxRepetitions = 25
	DefaultCommunity      = "public"
	DefaultVersion        = "2c"
	defaultPort           = 161
	// redetectEvery bounds how long autodetection trusts its result: an
	// agent may gain a MIB (a BMC module, LLDP switched on) without a
	// restart.
	redetectEvery = time.Hour
)

// Opts describes one target.
type Opts struct {
	// Name identifies the target in errors and logs, such as "tor1".
	Name string
	// Address is "host:port"; an IPv6 host is bracketed, "[::1]:161". The
	// port defaults to 161 when the address is a bare host or IP.
	Address string
	// Version is "1", "2c" (the default) or "3".
	Version string
	// Community is the SNMPv1 and v2c community; it defaults to "public".
	Community string

	// User is the SNMPv3 user name (RFC 3414 USM).
	User string
	// AuthProtocol is MD5, SHA, SHA-224, SHA-256, SHA-384 or SHA-512;
	// empty means no authentication.
	AuthProtocol   string
	AuthPassphrase string
	// PrivProtocol is DES, AES, AES-192, AES-256, AES-192-C or AES-256-C
	// (see privProtocols for the two AES key extensions); empty means no
	// privacy.
	PrivProtocol   string
	PrivPassphrase string
	// ContextName selects an SNMPv3 context (RFC 3411 §3.3.1).
	ContextName string
	// SecurityLevel is noAuthNoPriv, authNoPriv or authPriv; empty
	// derives it from the protocols given.
	SecurityLevel string

	// Timeout bounds one request; zero means DefaultTimeout.
	Timeout time.Duration
	// Retries is the number of resends after the first attempt; zero means
	// DefaultRetries and a negative value means none.
	Retries int
	// MaxRepetitions is the GETBULK max-repetitions (RFC 3416 §4.2.3);
	// zero means DefaultMaxRepetitions. SNMPv1 ignores it.
	MaxRepetitions uint32
	// Profiles names the profiles to poll (see ProfileNames). "auto", the
	// default when Profiles is empty, adds every profile whose Match
	// section fits the agent.
	Profiles []string
	// ProfileDirs are directories of profile files that override and
	// extend the built-in profiles; see LoadProfiles.
	ProfileDirs []string
	// Now is the clock that stamps samples; nil means time.Now.
	Now func() time.Time
}

// Poller polls one target. It is safe for concurrent use; polls of the same
// target run one at a time, as gosnmp's client is not concurrent.
type Poller struct {
	target string // "name (address)" for errors
	v3     bool
	user   string
	now    func() time.Time
	set    *profileSet
	fixed  []*compiledProfile // named in Opts.Profiles
	auto   bool

	mu        sync.Mutex
	client    snmpClient
	setCtx    func(context.Context) // binds gosnmp's per-request context; nil for fakes
	connected bool
	closed    bool
	req       requester

	// What the agent said about itself in the last poll.
	sysObjectID string
	sysDescr    []byte
	clock       agentClock

	detected   bool
	detectedAt time.Time
	active     []*compiledProfile
	states     map[*compiledTable]*tableState
	scalars    []*tableState // scalar tables of the active profiles
	tables     []*tableState // walked tables of the active profiles
	getOIDs    []string      // system objects, then the scalars
	// sizeHint is the sample count of the last poll, to size the next
	// result in one allocation.
	sizeHint int
}

// Errors a poll may wrap.
var (
	// ErrClosed is returned by Poll after Close.
	ErrClosed = errors.New("snmppoll: poller closed")
	// ErrNoMatch means autodetection found no profile for the agent.
	ErrNoMatch = errors.New("no profile matches the agent")
	// ErrNoData means the agent has none of the objects of the profiles
	// polled: every table was empty and every scalar absent.
	ErrNoData = errors.New("the agent has none of the objects of the profiles")
)

// SNMPv2-MIB system group (RFC 3418), read at the start of every poll.
const (
	sysDescr0    = ".1.3.6.1.2.1.1.1.0"
	sysObjectID0 = ".1.3.6.1.2.1.1.2.0"
	sysUpTime0   = ".1.3.6.1.2.1.1.3.0"
	nSystem      = 3
)

// New checks opts and returns a Poller with its own gosnmp client. No packet
// is sent until the first Poll.
func New(opts *Opts) (*Poller, error) {
	if opts == nil {
		return nil, errors.New("snmppoll: nil opts")
	}
	fail := func(err error) (*Poller, error) {
		return nil, fmt.Errorf("snmppoll: target %q: %w", opts.Name, err)
	}
	host, port, err := splitAddress(opts.Address)
	if err != nil {
		return fail(err)
	}
	g := &gosnmp.GoSNMP{
		Target:         host,
		Port:           port,
		Transport:      "udp",
		Community:      opts.Community,
		Timeout:        opts.Timeout,
		Retries:        opts.Retries,
		MaxRepetitions: opts.MaxRepetitions,
		MaxOids:        gosnmp.MaxOids,
		Context:        context.Background(),
	}
	switch {
	case g.Timeout == 0:
		g.Timeout = DefaultTimeout
	case g.Timeout < 0:
		return fail(fmt.Errorf("negative timeout %v", opts.Timeout))
	}
	switch {
	case g.Retries == 0:
		g.Retries = DefaultRetries
	case g.Retries < 0:
		g.Retries = 0
	}
	if g.MaxRepetitions == 0 {
		g.MaxRepetitions = DefaultMaxRepetitions
	}
	switch opts.Version {
	case "", DefaultVersion, "1":
		if opts.User != "" || opts.AuthProtocol != "" || opts.PrivProtocol != "" {
			return fail(errors.New("user, auth and privacy settings are for SNMPv3: set version \"3\""))
		}
		g.Version = gosnmp.Version2c
		if opts.Version == "1" {
			g.Version = gosnmp.Version1
		}
		if g.Community == "" {
			g.Community = DefaultCommunity
		}
	case "3":
		if err := configureV3(g, opts); err != nil {
			return fail(err)
		}
	default:
		return fail(fmt.Errorf("unsupported SNMP version %q (want \"1\", \"2c\" or \"3\")", opts.Version))
	}
	set, err := loadSet(opts.ProfileDirs)
	if err != nil {
		return fail(err)
	}
	ac := newAgentClient(g)
	var c snmpClient = ac
	if g.Version == gosnmp.Version3 {
		c = &usmClient{agentClient: ac}
	}
	p, err := newPoller(opts, c, set)
	if err != nil {
		return nil, err
	}
	p.req.reps = g.MaxRepetitions
	p.setCtx = ac.setContext
	return p, nil
}

// newPoller builds a Poller around any client; New supplies gosnmp's.
func newPoller(opts *Opts, c snmpClient, set *profileSet) (*Poller, error) {
	name := opts.Name
	if name == "" {
		name = opts.Address
	}
	p := &Poller{
		target: name + " (" + opts.Address + ")",
		v3:     opts.Version == "3",
		user:   opts.User,
		now:    opts.Now,
		set:    set,
		client: c,
		states: map[*compiledTable]*tableState{},
		req:    requester{client: c, bulk: opts.Version != "1", reps: opts.MaxRepetitions, batch: gosnmp.MaxOids},
	}
	if p.req.reps == 0 {
		p.req.reps = DefaultMaxRepetitions
	}
	if p.now == nil {
		p.now = time.Now
	}
	names := opts.Profiles
	if len(names) == 0 {
		names = []string{AutoProfile}
	}
	for i, n := range names {
		if slices.Contains(names[:i], n) {
			return nil, fmt.Errorf("snmppoll: target %q: profile %q listed twice", name, n)
		}
		if n == AutoProfile {
			p.auto = true
			continue
		}
		cp := set.lookup(n)
		if cp == nil {
			return nil, fmt.Errorf("snmppoll: target %q: unknown profile %q (have %v)", name, n, append([]string{AutoProfile}, set.names()...))
		}
		p.fixed = append(p.fixed, cp)
	}
	p.activate(nil)
	return p, nil
}

// activate makes the fixed profiles and the detected ones the profiles
// polled, keeping the state (rows, counters) of tables that stay.
func (p *Poller) activate(detected []*compiledProfile) {
	active := slices.Clone(p.fixed)
	for _, cp := range detected {
		if !slices.Contains(active, cp) {
			active = append(active, cp)
		}
	}
	slices.SortFunc(active, func(a, b *compiledProfile) int { return strings.Compare(a.name, b.name) })
	p.active = active
	states := map[*compiledTable]*tableState{}
	p.scalars, p.tables = p.scalars[:0], p.tables[:0]
	p.getOIDs = append(p.getOIDs[:0], sysUpTime0, sysObjectID0, sysDescr0)
	for _, cp := range active {
		for _, t := range cp.tables {
			ts := p.states[t]
			if ts == nil {
				ts = newTableState(t, p.target)
			}
			states[t] = ts
			if t.scalar {
				p.scalars = append(p.scalars, ts)
				p.getOIDs = append(p.getOIDs, t.cols[0].root+".0")
			} else {
				p.tables = append(p.tables, ts)
			}
		}
	}
	p.states = states
}

// splitAddress accepts "host:port", "[v6]:port", a bare host and a bare IP.
func splitAddress(addr string) (string, uint16, error) {
	if addr == "" {
		return "", 0, errors.New("empty address")
	}
	if _, err := netip.ParseAddr(addr); err == nil {
		return addr, defaultPort, nil
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		var aerr *net.AddrError
		if errors.As(err, &aerr) && aerr.Err == "missing port in address" {
			return addr, defaultPort, nil
		}
		return "", 0, fmt.Errorf("address %q: %w", addr, err)
	}
	if host == "" {
		return "", 0, fmt.Errorf("address %q: empty host", addr)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return "", 0, fmt.Errorf("address %q: bad port %q", addr, portStr)
	}
	return host, uint16(port), nil
}

// String names the target as errors do: "tor1 (127.0.0.1:1161)".
func (p *Poller) String() string { return p.target }

// ActiveProfiles returns the names of the profiles the last poll read,
// sorted: the named ones and, with "auto", the detected ones.
func (p *Poller) ActiveProfiles() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, len(p.active))
	for i, cp := range p.active {
		out[i] = cp.name
	}
	return out
}

// Poll reads the target once: sysUpTime, sysObjectID, sysDescr and the
// profiles' scalars in one GET (split when too many), then each table of the
// active profiles with GETBULK (GETNEXT on SNMPv1), its columns walked
// together, then the table's lookup columns with GET.
//
// The returned samples are valid even when err != nil. A value that cannot
// be used (wrong type, out of range, a row without its label) is skipped and
// reported as a *ValueError inside err, joined with errors.Join, while every
// other value still yields its sample. A failed request (timeout, USM
// failure, malformed answer, canceled ctx) stops the poll: the samples of
// the tables completed before it are returned with the error, which names
// the target and the table and wraps the cause (errors.Is(err,
// context.Canceled) works).
//
// ctx is checked before each request, and its deadline bounds each request.
// Samples are stamped with one instant, taken when the poll starts. Their
// Labels may be shared between samples and across polls, and must not be
// modified.
func (p *Poller) Poll(ctx context.Context) ([]sample.Sample, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("snmppoll: %s: %w", p.target, err)
	}
	if p.setCtx != nil {
		p.setCtx(ctx)
		// Do not keep the caller's context alive between polls.
		defer p.setCtx(context.Background())
	}
	if !p.connected {
		if err := p.client.Connect(); err != nil {
			return nil, fmt.Errorf("snmppoll: %s: connect: %w", p.target, err)
		}
		p.connected = true
	}
	now := p.now()
	clk, sysChanged, err := p.readScalars(ctx, now)
	if err != nil {
		return nil, err
	}
	if p.auto && (!p.detected || sysChanged || p.clock.restarted(clk) || now.Sub(p.detectedAt) >= redetectEvery) {
		detected, err := p.detect(ctx)
		if err != nil {
			return nil, err
		}
		before := slices.Clone(p.scalars)
		p.activate(detected)
		p.detected, p.detectedAt = true, now
		if len(p.scalars) > 0 && !slices.Equal(before, p.scalars) {
			// Read the scalars of the profiles just detected.
			if clk, _, err = p.readScalars(ctx, now); err != nil {
				return nil, err
			}
		}
	}
	p.clock = clk
	if len(p.active) == 0 {
		return nil, fmt.Errorf("snmppoll: %s: %w (sysObjectID %s, sysDescr %q)", p.target, ErrNoMatch, orNone(p.sysObjectID), p.sysDescr)
	}
	out := make([]sample.Sample, 0, p.sizeHint)
	var probs problems
	rows := 0
	for _, ts := range p.scalars {
		out = ts.build(out, now, clk, &probs)
		rows += len(ts.rows)
	}
	for _, ts := range p.tables {
		ts.begin()
		if err := p.req.walk(ctx, ts.walk, 0, ts.add); err != nil {
			return out, probs.join(fmt.Errorf("snmppoll: %s: walk %s: %w", p.target, ts.t.name, p.explain(err)))
		}
		ts.sortRows()
		if ts.planLookups(); len(ts.lookupOIDs) > 0 {
			if err := p.req.get(ctx, ts.lookupOIDs, ts.setLookup); err != nil {
				return out, probs.join(fmt.Errorf("snmppoll: %s: get %s lookups: %w", p.target, ts.t.name, p.explain(err)))
			}
		}
		out = ts.build(out, now, clk, &probs)
		rows += len(ts.rows)
	}
	p.sizeHint = len(out)
	if rows == 0 {
		names := make([]string, len(p.active))
		for i, cp := range p.active {
			names[i] = cp.name
		}
		return out, probs.join(fmt.Errorf("snmppoll: %s: %w %v", p.target, ErrNoData, names))
	}
	return out, probs.join(nil)
}

// readScalars reads the system group and the active profiles' scalars,
// and reports whether sysObjectID or sysDescr changed.
func (p *Poller) readScalars(ctx context.Context, now time.Time) (agentClock, bool, error) {
	for _, ts := range p.scalars {
		ts.begin()
	}
	clk := agentClock{wall: now}
	changed := false
	err := p.req.get(ctx, p.getOIDs, func(i int, pdu *gosnmp.SnmpPDU) {
		switch i {
		case 0:
			if u, ok := asUint64(pdu.Value); ok && pdu.Type == gosnmp.TimeTicks && u <= 1<<32-1 {
				clk.ticks, clk.ok = uint32(u), true
			}
		case 1:
			oid, _ := pdu.Value.(string)
			if pdu.Type != gosnmp.ObjectIdentifier {
				oid = ""
			}
			if oid != p.sysObjectID {
				p.sysObjectID, changed = oid, true
			}
		case 2:
			b, _ := pdu.Value.([]byte)
			if pdu.Type != gosnmp.OctetString {
				b = nil
			}
			if !bytes.Equal(b, p.sysDescr) || (b == nil) != (p.sysDescr == nil) {
				p.sysDescr, changed = bytes.Clone(b), true
			}
		default:
			if present(pdu) {
				p.scalars[i-nSystem].add(0, pdu)
			}
		}
	})
	if err != nil {
		return clk, false, fmt.Errorf("snmppoll: %s: get sysUpTime, sysObjectID, sysDescr: %w", p.target, p.explain(err))
	}
	return clk, changed, nil
}

func orNone(s string) string {
	if s == "" {
		return "absent"
	}
	return s
}

// Close releases the socket. Poll returns ErrClosed afterwards.
func (p *Poller) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	if !p.connected {
		return nil
	}
	if err := p.client.Close(); err != nil {
		return fmt.Errorf("snmppoll: %s: close: %w", p.target, err)
	}
	return nil
}

// ValueError reports one value of a poll that could not be used. The rest of
// the poll is unaffected.
type ValueError struct {
	// Target is "name (address)".
	Target string
	// Table and Column name the MIB objects; Column is empty when the
	// problem concerns the whole row.
	Table, Column string
	// Index is the row's instance, such as "10101" or "1.3".
	Index string
	Err   error
}

func (e *ValueError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("snmppoll: %s: %s row %s: %v", e.Target, e.Table, e.Index, e.Err)
	}
	return fmt.Sprintf("snmppoll: %s: %s %s.%s: %v", e.Target, e.Table, e.Column, e.Index, e.Err)
}

func (e *ValueError) Unwrap() error { return e.Err }

// maxProblems bounds the errors kept per poll: a device that sends garbage
// in every row should not produce an error of unbounded size.
const maxProblems = 16

type problems struct {
	errs    []error
	dropped int
}

func (p *problems) add(err error) {
	if len(p.errs) >= maxProblems {
		p.dropped++
		return
	}
	p.errs = append(p.errs, err)
}

// join returns first (if any) followed by the collected problems.
func (p *problems) join(first error) error {
	switch {
	case p.dropped == 0 && len(p.errs) == 0:
		return first
	case p.dropped == 0 && first == nil && len(p.errs) == 1:
		return p.errs[0]
	}
	errs := make([]error, 0, len(p.errs)+2)
	if first != nil {
		errs = append(errs, first)
	}
	errs = append(errs, p.errs...)
	if p.dropped > 0 {
		errs = append(errs, fmt.Errorf("snmppoll: %d more problems not shown", p.dropped))
	}
	return errors.Join(errs...)
}

// IfName returns the name the last poll gave the interface with ifIndex
// (the "ifname" label of its IF-MIB row), for traps, which carry only the
// index.
func (p *Poller) IfName(ifIndex int) (string, bool) {
	idx := strconv.Itoa(ifIndex)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ts := range p.tables {
		i, ok := ts.byIndex[idx]
		if !ok {
			continue
		}
		if name := ts.rows[i].labels.Get("ifname"); name != "" {
			return name, true
		}
	}
	return "", false
}
