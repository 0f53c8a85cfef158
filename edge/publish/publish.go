// Package publish owns the edge's MQTT connection: it keeps a Sparkplug B
// session on it (will, births, rebirth on request), numbers the samples the
// sources produce, queues them in the durable spool, and publishes them,
// acknowledging a record in the spool only once the broker acknowledged it,
// so that a reconnect, a crash or a restart resends rather than loses.
//
// The spool is bounded: when it is full the oldest samples are dropped and
// counted, and because samples are numbered when queued the collector sees
// exactly how many were lost. Records replayed after a reconnect or a
// restart are marked is_historical.
package publish

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/rackwatch/rackwatch/edge/sample"
	"github.com/rackwatch/rackwatch/edge/sparkplug"
	"github.com/rackwatch/rackwatch/edge/spool"
)

// SeqStore numbers samples and connections durably (see package seqstore).
type SeqStore interface {
	Reserve(n int) (uint64, error)
	Peek() uint64
	NextBdSeq() (uint8, error)
}

// Opts configures a Publisher.
type Opts struct {
	Broker   string
	ClientID string
	Username string
	Password string
	// TLS, if not nil, is used for an ssl://, tls:// or wss:// broker.
	TLS      *tls.Config
	Group    string
	EdgeNode string
	// PrimaryHost is the host ID of the collector. When set, the edge
	// publishes births and data only while that host's STATE says online,
	// and queues otherwise (spec §7.5), so a collector restart loses nothing.
	PrimaryHost string
	// QoS for births and data: 1 by default in rackwatch, 0 under strict
	// Sparkplug. The will is always QoS 1 (spec §7.1).
	QoS            byte
	KeepAlive      time.Duration
	ConnectTimeout time.Duration
	AckTimeout     time.Duration
	BackoffMin     time.Duration
	BackoffMax     time.Duration
	// Queue holds the samples until the broker acknowledges them: the
	// spool (package spool).
	Queue  Queue
	Store  SeqStore
	Logger *slog.Logger
	Now    func() time.Time
	// ClockSynced reports whether the clock that stamps samples is
	// synchronised; data published while it is not is flagged (see
	// sparkplug.MetricClockUnsynced). nil means always synchronised.
	ClockSynced func() bool
}

func (o *Opts) setDefaults() {
	if o.KeepAlive == 0 {
		o.KeepAlive = 30 * time.Second
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.AckTimeout == 0 {
		o.AckTimeout = 10 * time.Second
	}
	if o.BackoffMin == 0 {
		o.BackoffMin = 500 * time.Millisecond
	}
	if o.BackoffMax == 0 {
		o.BackoffMax = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Queue is the durable store-and-forward queue (implemented by
// spool.Spool): Append never blocks on the disk; Peek returns the oldest
// records not yet acknowledged; Ack(n) acknowledges every sample numbered
// below n.
type Queue interface {
	Append(spool.Record) error
	Peek(max int) ([]spool.Record, error)
	Ack(upTo uint64) error
	Stats() spool.Stats
}

// Stats are the publisher's counters.
type Stats struct {
	Connected bool
	Sessions  uint64 // successful connections
	Published uint64 // samples acknowledged (or written, at QoS 0)
	Dropped   uint64 // samples dropped from the full queue
	Queued    int    // samples waiting
	Rebirths  uint64 // rebirth requests answered
	// CommandsDropped counts commands that arrived faster than they were
	// handled.
	CommandsDropped uint64
	LastError       string
	ConnectErr      uint64
}

// Publisher publishes samples. Enqueue may be called from any goroutine;
// Run owns the connection.
type Publisher struct {
	opts Opts
	sess *sparkplug.Session

	mu      sync.Mutex // serialises numbering with appending, and guards lastErr
	lastErr string
	wake    chan struct{}
	// sessionStart is the first sample number of the current connection:
	// records below it are replayed history.
	sessionStart atomic.Uint64

	alive                        atomic.Int64 // unix nanoseconds of the last loop turn
	connected                    atomic.Bool
	sessions, published, dropped atomic.Uint64
	rebirths, connectErrs        atomic.Uint64
	commandsDropped              atomic.Uint64
	commands                     chan Inbound
}

// New checks opts and returns a Publisher that has not connected yet.
func New(opts Opts) (*Publisher, error) {
	opts.setDefaults()
	if opts.Broker == "" || opts.ClientID == "" || opts.Store == nil || opts.Queue == nil {
		return nil, errors.New("publish: broker, client ID, store and queue are required")
	}
	if opts.QoS > 1 {
		return nil, fmt.Errorf("publish: QoS %d: must be 0 or 1", opts.QoS)
	}
	sess, err := sparkplug.NewSession(sparkplug.SessionOpts{Group: opts.Group, EdgeNode: opts.EdgeNode, Now: opts.Now, ClockSynced: opts.ClockSynced})
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	return &Publisher{opts: opts, sess: sess, wake: make(chan struct{}, 1), commands: make(chan Inbound, 64)}, nil
}

// Inbound is a command message for the edge: an NCMD or a DCMD.
type Inbound struct {
	Topic   sparkplug.Topic
	Payload []byte
}

// Commands delivers the NCMD and DCMD messages received, for the command
// manager. The channel is bounded: when its reader falls behind, messages
// are dropped and counted (the collector resends by desired state).
func (p *Publisher) Commands() <-chan Inbound { return p.commands }

func (p *Publisher) command(m paho.Message) {
	t, err := sparkplug.ParseTopic(m.Topic())
	if err != nil {
		return
	}
	select {
	case p.commands <- Inbound{Topic: t, Payload: m.Payload()}:
	default:
		p.commandsDropped.Add(1)
	}
}

// Stats returns a snapshot of the counters.
func (p *Publisher) Stats() Stats {
	q := p.opts.Queue.Stats()
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{
		Connected: p.connected.Load(), Sessions: p.sessions.Load(), Published: p.published.Load(),
		Dropped: p.dropped.Load() + q.DroppedSamples, Queued: int(q.PendingSamples), Rebirths: p.rebirths.Load(),
		CommandsDropped: p.commandsDropped.Load(), LastError: p.lastErr, ConnectErr: p.connectErrs.Load(),
	}
}

// Enqueue numbers samples and appends them to the queue for device. It
// never blocks on the network or the disk.
func (p *Publisher) Enqueue(device string, samples []sample.Sample) error {
	if len(samples) == 0 {
		return nil
	}
	p.mu.Lock()
	first, err := p.opts.Store.Reserve(len(samples))
	if err == nil {
		err = p.opts.Queue.Append(spool.Record{Device: device, First: first, Samples: samples})
	}
	p.mu.Unlock()
	if err != nil {
		p.dropped.Add(uint64(len(samples)))
		return fmt.Errorf("publish: queue samples: %w", err)
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return nil
}

// Run connects and publishes until ctx ends, reconnecting with capped,
// jittered exponential backoff. On the way out it publishes the NDEATH
// itself, as an intentional disconnect does not trigger the will.
func (p *Publisher) Run(ctx context.Context) error {
	backoff := p.opts.BackoffMin
	for {
		p.beat()
		bd, err := p.opts.Store.NextBdSeq()
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		p.sess.Reconnected(bd)
		connected, err := p.connection(ctx)
		if ctx.Err() != nil {
			return nil
		}
		p.setErr(err)
		if connected {
			backoff = p.opts.BackoffMin
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		p.opts.Logger.Warn("mqtt connection ended; reconnecting", "broker", p.opts.Broker, "err", err, "retry_in", wait.Round(time.Millisecond))
		p.beat()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(2*backoff, p.opts.BackoffMax)
	}
}

func (p *Publisher) setErr(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.lastErr = err.Error()
	}
}

// connection runs one MQTT connection. It reports whether it connected.
func (p *Publisher) connection(ctx context.Context) (bool, error) {
	will, err := p.sess.Will()
	if err != nil {
		return false, err
	}
	lost := make(chan error, 1)
	rebirth := make(chan struct{}, 1)
	c := paho.NewClient(p.clientOptions(will, lost))
	if err := call(ctx, p.opts.ConnectTimeout+time.Second, c.Connect); err != nil {
		p.connectErrs.Add(1)
		return false, fmt.Errorf("publish: connect %s: %w", p.opts.Broker, err)
	}
	p.connected.Store(true)
	p.sessions.Add(1)
	closing := true // false once the broker dropped us: no goodbye possible
	defer func() {
		p.connected.Store(false)
		if closing && c.IsConnected() {
			// An intentional disconnect does not fire the will: publish the
			// NDEATH ourselves (spec §7.1). The goodbye is a bounded wait
			// of its own.
			p.beat()
			call(context.Background(), goodbyeTimeout, func() paho.Token {
				return c.Publish(will.Topic.String(), 1, false, will.Payload)
			})
			c.Disconnect(250)
			return
		}
		c.Disconnect(0)
	}()
	ncmd := sparkplug.NodeTopic(p.opts.Group, sparkplug.NCMD, p.opts.EdgeNode).String()
	if err := p.subscribe(ctx, c, ncmd, func(_ paho.Client, m paho.Message) {
		ok, err := sparkplug.IsRebirthRequest(m.Payload())
		if err != nil {
			p.opts.Logger.Warn("ignoring malformed NCMD", "topic", m.Topic(), "err", err)
			return
		}
		if ok {
			select {
			case rebirth <- struct{}{}:
			default:
			}
		}
		p.command(m) // it may carry commands besides the rebirth request
	}); err != nil {
		return true, err
	}
	dcmd := sparkplug.DeviceTopic(p.opts.Group, sparkplug.DCMD, p.opts.EdgeNode, "+").String()
	if err := p.subscribe(ctx, c, dcmd, func(_ paho.Client, m paho.Message) { p.command(m) }); err != nil {
		return true, err
	}
	states, err := p.watchHost(ctx, c)
	if err != nil {
		return true, err
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	if p.opts.PrimaryHost != "" {
		p.opts.Logger.Info("waiting for the primary host", "host", p.opts.PrimaryHost)
		for online := false; !online; {
			p.beat()
			select {
			case <-tick.C:
			case <-ctx.Done():
				return true, nil
			case err := <-lost:
				closing = false
				return true, fmt.Errorf("publish: connection lost: %w", err)
			case online = <-states:
			}
		}
	}
	if err := p.births(ctx, c); err != nil {
		return true, err
	}
	p.opts.Logger.Info("mqtt connected; births published", "broker", p.opts.Broker, "bdSeq", p.sess.BdSeq())
	for {
		p.beat()
		if err := p.drain(ctx, c); err != nil {
			return true, err
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return true, nil
		case err := <-lost:
			closing = false
			return true, fmt.Errorf("publish: connection lost: %w", err)
		case online := <-states:
			if !online {
				return true, ErrHostOffline
			}
		case <-rebirth:
			p.rebirths.Add(1)
			if err := p.births(ctx, c); err != nil {
				return true, err
			}
		case <-p.wake:
		}
	}
}

func (p *Publisher) beat() { p.alive.Store(p.opts.Now().UnixNano()) }

// Alive returns when the publisher's loop last turned. Every wait in the
// loop is bounded, so a loop that has not turned for StallAfter is hung.
func (p *Publisher) Alive() time.Time { return time.Unix(0, p.alive.Load()) }

// StallAfter is the longest the loop may legitimately go without turning:
// the longest of its bounded waits, with a margin.
func (p *Publisher) StallAfter() time.Duration {
	return max(p.opts.BackoffMax, p.opts.ConnectTimeout+time.Second, p.opts.AckTimeout) + 10*time.Second
}

// ErrHostOffline ends a connection when the primary host goes offline: the
// edge says goodbye and reconnects to wait for it (spec §7.5), queueing
// samples meanwhile.
var ErrHostOffline = errors.New("publish: primary host offline")

// watchHost subscribes to the primary host's STATE and reports each change
// of its online flag. STATE messages older than one already seen are stale
// retained copies and ignored (spec §7.5.2).
func (p *Publisher) watchHost(ctx context.Context, c paho.Client) (<-chan bool, error) {
	states := make(chan bool, 8)
	if p.opts.PrimaryHost == "" {
		return states, nil
	}
	var mu sync.Mutex
	var newest int64
	topic := sparkplug.StateTopic(p.opts.PrimaryHost).String()
	err := p.subscribe(ctx, c, topic, func(_ paho.Client, m paho.Message) {
		st, err := sparkplug.ParseState(m.Payload())
		if err != nil {
			p.opts.Logger.Warn("ignoring malformed STATE", "topic", m.Topic(), "err", err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if st.Timestamp < newest {
			return
		}
		newest = st.Timestamp
		for { // the latest state wins over unread older ones
			select {
			case states <- st.Online:
				return
			default:
				select {
				case <-states:
				default:
				}
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return states, nil
}

// births publishes NBIRTH and the DBIRTHs. They announce the number of the
// oldest queued sample, which is the next one the collector will receive;
// everything queued before this connection is replayed as history.
func (p *Publisher) births(ctx context.Context, c paho.Client) error {
	p.mu.Lock()
	next := p.opts.Store.Peek()
	p.mu.Unlock()
	p.sessionStart.Store(next)
	if recs, err := p.opts.Queue.Peek(1); err == nil && len(recs) > 0 {
		next = recs[0].First
	}
	msgs, err := p.sess.Births(next)
	if err != nil {
		return err
	}
	return p.publish(ctx, c, msgs)
}

func (p *Publisher) publish(ctx context.Context, c paho.Client, msgs []sparkplug.Message) error {
	for _, m := range msgs {
		if err := call(ctx, p.opts.AckTimeout, func() paho.Token {
			return c.Publish(m.Topic.String(), p.opts.QoS, false, m.Payload)
		}); err != nil {
			return fmt.Errorf("publish: %s: %w", m.Topic, err)
		}
	}
	return nil
}

func (p *Publisher) subscribe(ctx context.Context, c paho.Client, topic string, h paho.MessageHandler) error {
	if err := call(ctx, p.opts.AckTimeout, func() paho.Token { return c.Subscribe(topic, 1, h) }); err != nil {
		return fmt.Errorf("publish: subscribe %s: %w", topic, err)
	}
	return nil
}

// drain publishes queued records oldest first; a record is acknowledged in
// the queue only once the broker acknowledged its messages.
func (p *Publisher) drain(ctx context.Context, c paho.Client) error {
	for ctx.Err() == nil {
		p.beat()
		recs, err := p.opts.Queue.Peek(64)
		if err != nil {
			return fmt.Errorf("publish: read queue: %w", err)
		}
		if len(recs) == 0 {
			return nil
		}
		start := p.sessionStart.Load()
		for _, r := range recs {
			msgs, err := p.sess.Data(r.Device, r.Samples, r.First, r.Replayed || r.First < start)
			if err != nil {
				// A record the session refuses (a bad device name, too many
				// series) would block the queue forever: drop and count it.
				p.opts.Logger.Error("dropping samples the session refuses", "device", r.Device, "err", err)
				p.dropped.Add(uint64(len(r.Samples)))
			} else if err := p.publish(ctx, c, msgs); err != nil {
				return err
			} else {
				p.published.Add(uint64(len(r.Samples)))
			}
			if err := p.opts.Queue.Ack(r.End()); err != nil {
				return fmt.Errorf("publish: acknowledge queue: %w", err)
			}
		}
	}
	return nil
}

// ErrTimeout is returned when the broker does not answer in time.
var ErrTimeout = errors.New("timed out waiting for the broker")

// goodbyeTimeout bounds the NDEATH published on an intentional disconnect.
const goodbyeTimeout = 2 * time.Second

// clientOptions configures one connection: lost receives why it was lost.
func (p *Publisher) clientOptions(will sparkplug.Message, lost chan<- error) *paho.ClientOptions {
	return paho.NewClientOptions().
		AddBroker(p.opts.Broker).
		SetClientID(p.opts.ClientID).
		SetUsername(p.opts.Username).
		SetPassword(p.opts.Password).
		SetTLSConfig(p.opts.TLS).
		SetCleanSession(true).
		SetAutoReconnect(false). // each connection needs a new bdSeq in its will
		SetConnectRetry(false).
		SetKeepAlive(p.opts.KeepAlive).
		SetConnectTimeout(p.opts.ConnectTimeout).
		// paho hands each publish and subscribe to its writer before it
		// returns the token, and waits WriteTimeout (30 s when unset) if
		// the connection drops in between: bound that by the wait for the
		// broker's answer, which call counts it in.
		SetWriteTimeout(p.opts.AckTimeout).
		SetOrderMatters(false).
		SetBinaryWill(will.Topic.String(), will.Payload, 1, false).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			select {
			case lost <- err:
			default:
			}
		})
}

// call makes one request of paho and waits for its outcome, within d in
// all: the time paho takes to hand the request over counts.
func call(ctx context.Context, d time.Duration, request func() paho.Token) error {
	deadline := time.Now().Add(d)
	t := request()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-t.Done():
		return t.Error()
	case <-timer.C:
		select {
		case <-t.Done(): // paho's own hand-over timeout says more
			return t.Error()
		default:
			return ErrTimeout
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}
