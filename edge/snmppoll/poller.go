package snmppoll

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
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
)

// Opts describes one target.
type Opts struct {
	// Name identifies the target in errors and logs, such as "tor1".
	Name string
	// Address is "host:port"; an IPv6 host is bracketed, "[::1]:161". The
	// port defaults to 161 when the address is a bare host or IP.
	Address string
	// Version is "1" or "2c" (the default).
	Version string
	// Community defaults to "public".
	Community string
	// Timeout bounds one request; zero means DefaultTimeout.
	Timeout time.Duration
	// Retries is the number of resends after the first attempt; zero means
	// DefaultRetries and a negative value means none.
	Retries int
	// MaxRepetitions is the GETBULK max-repetitions (RFC 3416 §4.2.3);
	// zero means DefaultMaxRepetitions. SNMPv1 ignores it.
	MaxRepetitions uint32
	// Profiles names the built-in profiles to poll, such as "if-mib"; see
	// ProfileNames.
	Profiles []string
	// Now is the clock that stamps samples; nil means time.Now.
	Now func() time.Time
}

// Poller polls one target. It is safe for concurrent use; polls of the same
// target run one at a time, as gosnmp's client is not concurrent.
type Poller struct {
	target string // "name (address)" for errors
	bulk   bool
	now    func() time.Time

	mu        sync.Mutex
	client    snmpClient
	setCtx    func(context.Context) // binds gosnmp's per-request context; nil for fakes
	connected bool
	closed    bool
	tables    []*tableState
	// sizeHint is the sample count of the last poll, to size the next
	// result in one allocation.
	sizeHint int
}

// ErrClosed is returned by Poll after Close.
var ErrClosed = errors.New("snmppoll: poller closed")

// New checks opts and returns a Poller with its own gosnmp client. No packet
// is sent until the first Poll.
func New(opts *Opts) (*Poller, error) {
	if opts == nil {
		return nil, errors.New("snmppoll: nil opts")
	}
	host, port, err := splitAddress(opts.Address)
	if err != nil {
		return nil, fmt.Errorf("snmppoll: target %q: %w", opts.Name, err)
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
	if g.Community == "" {
		g.Community = DefaultCommunity
	}
	switch {
	case g.Timeout == 0:
		g.Timeout = DefaultTimeout
	case g.Timeout < 0:
		return nil, fmt.Errorf("snmppoll: target %q: negative timeout %v", opts.Name, opts.Timeout)
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
	case "", DefaultVersion:
		g.Version = gosnmp.Version2c
	case "1":
		g.Version = gosnmp.Version1
	default:
		return nil, fmt.Errorf("snmppoll: target %q: unsupported SNMP version %q (want \"1\" or \"2c\")", opts.Name, opts.Version)
	}
	profiles, err := lookupProfiles(opts.Profiles)
	if err != nil {
		return nil, fmt.Errorf("snmppoll: target %q: %w", opts.Name, err)
	}
	p, err := newPoller(opts, g, profiles)
	if err != nil {
		return nil, err
	}
	p.setCtx = func(ctx context.Context) { g.Context = ctx }
	return p, nil
}

// newPoller builds a Poller around any client; New supplies gosnmp's.
func newPoller(opts *Opts, c snmpClient, profiles []Profile) (*Poller, error) {
	name := opts.Name
	if name == "" {
		name = opts.Address
	}
	p := &Poller{
		target: name + " (" + opts.Address + ")",
		bulk:   opts.Version != "1",
		now:    opts.Now,
		client: c,
	}
	if p.now == nil {
		p.now = time.Now
	}
	for _, prof := range profiles {
		cp, err := compileProfile(prof)
		if err != nil {
			return nil, fmt.Errorf("snmppoll: target %q: %w", name, err)
		}
		for _, t := range cp.tables {
			p.tables = append(p.tables, newTableState(t, p.target))
		}
	}
	return p, nil
}

func lookupProfiles(names []string) ([]Profile, error) {
	if len(names) == 0 {
		return nil, errors.New("no profiles")
	}
	out := make([]Profile, 0, len(names))
	for i, n := range names {
		for _, prev := range names[:i] {
			if prev == n {
				return nil, fmt.Errorf("profile %q listed twice", n)
			}
		}
		p, ok := LookupProfile(n)
		if !ok {
			return nil, fmt.Errorf("unknown profile %q (have %v)", n, ProfileNames())
		}
		out = append(out, p)
	}
	return out, nil
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

// Poll reads every table of the target's profiles once.
//
// The returned samples are valid even when err != nil. A value that cannot
// be used (wrong type, out of range, a row without its label) is skipped and
// reported as a *ValueError inside err, joined with errors.Join, while every
// other value still yields its sample. A failed request (timeout, unreachable
// target, canceled ctx) stops the poll: the samples of the tables completed
// before it are returned with the error, which names the target and the
// table, and wraps the cause (errors.Is(err, context.Canceled) works).
//
// ctx is checked before each walk and between the responses of a walk, and
// its deadline bounds each request. Samples are stamped with one instant,
// taken when the poll starts. Their Labels may be shared between samples and
// across polls, and must not be modified.
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
	out := make([]sample.Sample, 0, p.sizeHint)
	var probs problems
	for _, ts := range p.tables {
		if err := p.walkTable(ctx, ts); err != nil {
			return out, probs.join(err)
		}
		out = ts.build(out, now, &probs)
	}
	p.sizeHint = len(out)
	return out, probs.join(nil)
}

// walkTable walks each column of the table. Walking column by column,
// rather than the whole table, reads only the columns the profile uses: an
// ifEntry has 22 columns and the if-mib profile reads five of them.
func (p *Poller) walkTable(ctx context.Context, ts *tableState) error {
	ts.begin()
	for i := range ts.t.cols {
		col := &ts.t.cols[i]
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("snmppoll: %s: walk %s: %w", p.target, col.table, err)
		}
		fn := func(pdu gosnmp.SnmpPDU) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			ts.add(i, pdu)
			return nil
		}
		var err error
		if p.bulk {
			err = p.client.BulkWalk(col.OID, fn)
		} else {
			err = p.client.Walk(col.OID, fn)
		}
		if err != nil {
			return fmt.Errorf("snmppoll: %s: walk %s: %w", p.target, col.table, err)
		}
	}
	return nil
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
