package snmpemu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
)

// Defaults applied by Start to zero fields of Opts.
const (
	DefaultAddr      = "127.0.0.1:0"
	DefaultCommunity = "public"
	// DefaultMaxMessageSize is the largest UDP payload over IPv4
	// (65535 − 20 − 8), the limit net-snmp's agent applies too.
	DefaultMaxMessageSize = 65507
	// MinMaxMessageSize is the message size every SNMP entity must accept
	// (RFC 3417 §3.2).
	MinMaxMessageSize = 484
	// DefaultMaxVarbinds bounds the variable bindings of one GETBULK
	// response, whatever max-repetitions asks for, so that a request costs
	// bounded work.
	DefaultMaxVarbinds = 2048
	DefaultWorkers     = 2
)

// Opts configures an Agent.
type Opts struct {
	// Table is the MIB view served. Required.
	Table *Table
	// Addr is the UDP address to listen on; DefaultAddr when empty. Give
	// each emulated device its own loopback address (127.0.0.2, ...) when
	// a trap receiver must tell them apart: receivers match senders by
	// address, not port.
	Addr string
	// Community is the SNMPv1/v2c community answered; requests with any
	// other are dropped and counted, as real agents do.
	Community string
	// MaxMessageSize bounds a response in bytes (RFC 3416 §4.2.3 tooBig
	// and GETBULK truncation); at least MinMaxMessageSize.
	MaxMessageSize int
	// MaxVarbinds bounds the variable bindings of one GETBULK response.
	MaxVarbinds int
	// TrapAddr is where Notify sends SNMPv2 traps, "host:port"; empty
	// disables them.
	TrapAddr string
	// Workers is the number of goroutines answering requests.
	Workers int
	// Logger receives start and stop messages; nil discards.
	Logger *slog.Logger
}

// Stats counts what the agent did. Every datagram read is counted in
// Received and in exactly one of Answered, Malformed, BadVersion,
// BadCommunity, BadPDU, SilentDrops or Panics, or in WriteErrors when the
// socket refused the response.
type Stats struct {
	Received     uint64
	Answered     uint64 // responses sent, including error responses
	Malformed    uint64 // undecodable datagrams (snmpInASNParseErrs)
	BadVersion   uint64 // SNMPv3 and unknown versions (snmpInBadVersions)
	BadCommunity uint64 // snmpInBadCommunityNames
	BadPDU       uint64 // PDU types an agent does not answer: responses, traps, reports, GETBULK in SNMPv1
	SilentDrops  uint64 // responses too big even as tooBig (snmpSilentDrops)
	TooBig       uint64 // tooBig responses sent (snmpOutTooBigs)
	Truncated    uint64 // GETBULK responses cut to fit
	Panics       uint64 // requests dropped because answering them panicked: a bug, in a value function or here
	TrapsSent    uint64
	WriteErrors  uint64 // responses and traps the socket refused
}

type counters struct {
	received, answered, malformed, badVersion, badCommunity, badPDU atomic.Uint64
	silentDrops, tooBig, truncated, trapsSent, writeErrors, panics  atomic.Uint64
}

// Agent is an SNMPv1/v2c agent on UDP answering GET, GETNEXT and GETBULK
// from a Table. SET is refused: the MIB view is read-only to the network
// and changed by models.
type Agent struct {
	table     *Table
	community string
	maxSize   int
	maxVBs    int
	log       *slog.Logger
	conn      net.PacketConn
	trapAddr  net.Addr
	trapID    atomic.Uint32
	stats     counters

	stopCtx func() bool
	wg      sync.WaitGroup
	once    sync.Once
}

// Start binds opts.Addr and serves until ctx is cancelled or Close is
// called. The Agent owns its goroutines; Close waits for them.
func Start(ctx context.Context, opts *Opts) (*Agent, error) {
	if opts == nil || opts.Table == nil {
		return nil, errors.New("snmpemu: start: no table")
	}
	a := &Agent{table: opts.Table, community: opts.Community, maxSize: opts.MaxMessageSize, maxVBs: opts.MaxVarbinds, log: opts.Logger}
	if a.community == "" {
		a.community = DefaultCommunity
	}
	switch {
	case a.maxSize == 0:
		a.maxSize = DefaultMaxMessageSize
	case a.maxSize < MinMaxMessageSize || a.maxSize > DefaultMaxMessageSize:
		return nil, fmt.Errorf("snmpemu: start: max message size %d outside %d..%d", a.maxSize, MinMaxMessageSize, DefaultMaxMessageSize)
	}
	if a.maxVBs <= 0 {
		a.maxVBs = DefaultMaxVarbinds
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	addr := opts.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	if opts.TrapAddr != "" {
		ta, err := net.ResolveUDPAddr("udp", opts.TrapAddr)
		if err != nil {
			return nil, fmt.Errorf("snmpemu: start: trap address: %w", err)
		}
		a.trapAddr = ta
	}
	var lc net.ListenConfig
	conn, err := lc.ListenPacket(ctx, "udp", addr)
	if err != nil {
		return nil, fmt.Errorf("snmpemu: start: %w", err)
	}
	a.conn = conn
	// Closing the socket is what stops the readers.
	a.stopCtx = context.AfterFunc(ctx, func() { conn.Close() })
	for range workers {
		a.wg.Add(1)
		go a.serve()
	}
	a.log.Info("snmpemu: listening", "addr", a.Addr(), "objects", a.table.Len())
	return a, nil
}

// Addr returns the bound address, "127.0.0.1:port".
func (a *Agent) Addr() string { return a.conn.LocalAddr().String() }

// Close stops the agent and waits for its goroutines.
func (a *Agent) Close() error {
	var err error
	a.once.Do(func() {
		a.stopCtx()
		err = a.conn.Close()
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
		a.wg.Wait()
		a.log.Info("snmpemu: stopped", "addr", a.Addr())
	})
	return err
}

// Stats returns the agent's counters.
func (a *Agent) Stats() Stats {
	c := &a.stats
	return Stats{
		Received: c.received.Load(), Answered: c.answered.Load(), Malformed: c.malformed.Load(),
		BadVersion: c.badVersion.Load(), BadCommunity: c.badCommunity.Load(), BadPDU: c.badPDU.Load(),
		SilentDrops: c.silentDrops.Load(), TooBig: c.tooBig.Load(), Truncated: c.truncated.Load(), Panics: c.panics.Load(),
		TrapsSent: c.trapsSent.Load(), WriteErrors: c.writeErrors.Load(),
	}
}

func (a *Agent) serve() {
	defer a.wg.Done()
	h := newHandler(a)
	buf := make([]byte, 65536)
	for {
		n, from, err := a.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient error (an ICMP unreachable reported on the
			// socket) must not stop the agent.
			continue
		}
		a.stats.received.Add(1)
		if out := h.handle(buf[:n]); out != nil {
			if _, err := a.conn.WriteTo(out, from); err != nil {
				a.stats.writeErrors.Add(1)
				continue
			}
			a.stats.answered.Add(1)
		}
	}
}
