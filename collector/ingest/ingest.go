// Package ingest is the collector's side of MQTT: it is the Sparkplug
// primary host application. It announces itself with a retained STATE
// message (and the matching will), subscribes to the group, decodes every
// payload through sparkplug.Host, hands the samples to the telemetry store,
// and asks an edge for new births when its data cannot be decoded.
//
// Malformed payloads are counted and logged, never fatal.
package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/rackwatch/rackwatch/edge/sample"
	"github.com/rackwatch/rackwatch/edge/sparkplug"
)

// Sink receives decoded telemetry; the telemetry store implements it.
type Sink interface {
	Add(edge, device string, samples []sample.Sample)
	ForgetDevice(edge, device string)
	ForgetEdge(edge string)
}

// EdgeWatcher hears of edges going offline (a Sparkplug NDEATH that ends
// their session) and coming online (an NBIRTH, which an edge also sends
// when asked for a rebirth). It is called on the decode loop and must not
// block.
type EdgeWatcher interface {
	EdgeOffline(edge string, at time.Time)
	EdgeOnline(edge string, at time.Time)
}

// Opts configures an Ingester.
type Opts struct {
	Broker, ClientID   string
	Username, Password string
	// TLS, if not nil, is used for an ssl://, tls:// or wss:// broker.
	TLS           *tls.Config
	Group, HostID string
	Sink          Sink
	Logger        *slog.Logger
	Now           func() time.Time
	// Queue bounds the messages waiting to be decoded (default 4096).
	Queue int
	// RebirthInterval limits rebirth requests per edge (default 5s).
	RebirthInterval time.Duration
	// Edges, if not nil, hears of edges going offline and online.
	Edges EdgeWatcher
}

// Stats are the ingester's counters.
type Stats struct {
	Connected                    bool
	Messages, Malformed, Dropped uint64
	Rebirths                     uint64
	SamplesLost, Duplicates      uint64
	SeqGaps                      uint64
	// Samples counts the samples handed to the sink (births' current
	// values included).
	Samples uint64
}

type message struct {
	topic   string
	payload []byte
}

// Ingester is the primary host application.
type Ingester struct {
	opts Opts
	host *sparkplug.Host
	in   chan message

	connected                              atomic.Bool
	messages, malformed, dropped, rebirths atomic.Uint64
	lost, dups, gaps, samples              atomic.Uint64
	lastRebirth                            map[string]time.Time // owned by the decode loop

	mu     sync.Mutex
	client paho.Client
}

// New validates opts.
func New(opts Opts) (*Ingester, error) {
	if opts.Broker == "" || opts.Sink == nil {
		return nil, errors.New("ingest: broker and sink are required")
	}
	if err := sparkplug.ValidateID(opts.Group); err != nil {
		return nil, fmt.Errorf("ingest: group: %w", err)
	}
	if err := sparkplug.ValidateID(opts.HostID); err != nil {
		return nil, fmt.Errorf("ingest: host id: %w", err)
	}
	if opts.ClientID == "" {
		opts.ClientID = opts.HostID
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Queue <= 0 {
		opts.Queue = 4096
	}
	if opts.RebirthInterval <= 0 {
		opts.RebirthInterval = 5 * time.Second
	}
	return &Ingester{
		opts: opts, host: sparkplug.NewHost(sparkplug.HostOpts{}),
		in: make(chan message, opts.Queue), lastRebirth: map[string]time.Time{},
	}, nil
}

// Stats returns a snapshot of the counters.
func (g *Ingester) Stats() Stats {
	return Stats{
		Connected: g.connected.Load(), Messages: g.messages.Load(), Malformed: g.malformed.Load(),
		Dropped: g.dropped.Load(), Rebirths: g.rebirths.Load(), SamplesLost: g.lost.Load(),
		Duplicates: g.dups.Load(), SeqGaps: g.gaps.Load(), Samples: g.samples.Load(),
	}
}

// Run connects (paho retries in the background until the broker answers)
// and decodes messages until ctx ends; then it publishes STATE offline and
// disconnects.
func (g *Ingester) Run(ctx context.Context) error {
	// Sparkplug 3.0 §7.5: the birth and the will carry the same timestamp.
	born := g.opts.Now()
	state := sparkplug.StateTopic(g.opts.HostID).String()
	filter := sparkplug.GroupFilter(g.opts.Group)
	co := paho.NewClientOptions().
		AddBroker(g.opts.Broker).
		SetClientID(g.opts.ClientID).
		SetUsername(g.opts.Username).
		SetPassword(g.opts.Password).
		SetTLSConfig(g.opts.TLS).
		SetCleanSession(true).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(10*time.Second).
		// paho blocks a publish, before it returns the token, for
		// WriteTimeout (30 s when unset) when the connection drops as it
		// hands the packet over; rebirth requests go out on the decode loop.
		SetWriteTimeout(publishTimeout).
		// Births must be decoded before the data that follows them, so
		// messages are handed over in arrival order; receive only queues.
		SetOrderMatters(true).
		SetBinaryWill(state, sparkplug.StatePayload(false, born), 1, true).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			g.connected.Store(false)
			g.opts.Logger.Warn("mqtt connection lost; reconnecting", "broker", g.opts.Broker, "err", err)
		}).
		SetOnConnectHandler(func(c paho.Client) {
			// Subscribe before announcing STATE, so the births that edges
			// send on seeing it are not missed (spec §7.5).
			c.Subscribe(filter, 1, g.receive)
			c.Publish(state, 1, true, sparkplug.StatePayload(true, born))
			g.connected.Store(true)
			g.opts.Logger.Info("mqtt connected; primary host online", "broker", g.opts.Broker, "state", state)
		})
	c := paho.NewClient(co)
	g.mu.Lock()
	g.client = c
	g.mu.Unlock()
	c.Connect() // with ConnectRetry the token completes only once connected
	defer func() {
		if c.IsConnected() {
			t := c.Publish(state, 1, true, sparkplug.StatePayload(false, born))
			t.WaitTimeout(2 * time.Second)
			g.drainAfterOffline()
		}
		c.Disconnect(250)
		g.connected.Store(false)
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-g.in:
			g.handle(m)
		}
	}
}

// Bounds of the drain that follows STATE offline at shutdown.
const (
	drainQuiet = 300 * time.Millisecond
	drainMax   = 5 * time.Second
)

// drainAfterOffline handles what still arrives once STATE offline is
// announced, until nothing has come for drainQuiet (at most drainMax).
// Edges stop publishing when they see the STATE, but what they published
// before is on its way here, and the broker has acknowledged it, so their
// spools have let it go: dropping it would lose those samples on every
// restart of the collector. An edge publishes one message at a time and
// waits for its acknowledgement, so little is in flight.
func (g *Ingester) drainAfterOffline() {
	quiet := time.NewTimer(drainQuiet)
	defer quiet.Stop()
	deadline := time.NewTimer(drainMax)
	defer deadline.Stop()
	for {
		select {
		case m := <-g.in:
			g.handle(m)
			quiet.Reset(drainQuiet)
		case <-quiet.C:
			return
		case <-deadline.C:
			return
		}
	}
}

// receive runs on paho's goroutine: it only queues, so a slow decode never
// stalls the MQTT connection.
func (g *Ingester) receive(_ paho.Client, m paho.Message) {
	select {
	case g.in <- message{m.Topic(), m.Payload()}:
	default:
		g.dropped.Add(1)
	}
}

func (g *Ingester) handle(m message) {
	g.messages.Add(1)
	u, err := g.host.Handle(m.topic, m.payload, g.opts.Now())
	if err != nil {
		if !u.Rebirth {
			g.malformed.Add(1)
		}
		g.opts.Logger.Warn("ignoring payload", "err", err)
	}
	g.lost.Add(u.Lost)
	g.dups.Add(u.Duplicates)
	g.gaps.Add(uint64(u.SeqGap))
	if u.Lost > 0 {
		g.opts.Logger.Warn("samples lost", "edge", u.Topic.EdgeNode, "device", u.Topic.Device, "lost", u.Lost)
	}
	t := u.Topic
	switch t.Type {
	case sparkplug.NDEATH:
		if st, ok := g.host.Stats(t.Group, t.EdgeNode); ok && !st.Online {
			g.opts.Sink.ForgetEdge(t.EdgeNode)
			g.opts.Logger.Warn("edge offline", "edge", t.EdgeNode)
			if g.opts.Edges != nil {
				g.opts.Edges.EdgeOffline(t.EdgeNode, g.opts.Now())
			}
		}
	case sparkplug.DDEATH:
		g.opts.Sink.ForgetDevice(t.EdgeNode, t.Device)
	case sparkplug.NBIRTH:
		g.opts.Logger.Info("edge online", "edge", t.EdgeNode)
		if g.opts.Edges != nil && err == nil {
			g.opts.Edges.EdgeOnline(t.EdgeNode, g.opts.Now())
		}
	}
	if len(u.Samples) > 0 {
		g.samples.Add(uint64(len(u.Samples)))
		g.opts.Sink.Add(t.EdgeNode, t.Device, u.Samples)
	}
	if u.Rebirth {
		g.requestRebirth(t.Group, t.EdgeNode)
	}
}

// ErrNotConnected is returned by Publish while the broker is away.
var ErrNotConnected = errors.New("ingest: not connected to the broker")

// publishTimeout bounds the hand-over of a publish to paho, and the wait
// for the broker's acknowledgement.
const publishTimeout = 5 * time.Second

// Publish sends a message on the collector's MQTT connection, waiting at
// most publishTimeout for the broker's acknowledgement.
func (g *Ingester) Publish(topic string, qos byte, retained bool, payload []byte) error {
	g.mu.Lock()
	c := g.client
	g.mu.Unlock()
	if c == nil || !g.connected.Load() {
		return ErrNotConnected
	}
	t := c.Publish(topic, qos, retained, payload)
	if !t.WaitTimeout(publishTimeout) {
		return fmt.Errorf("ingest: publish %s: no acknowledgement within %s", topic, publishTimeout)
	}
	return t.Error()
}

func (g *Ingester) requestRebirth(group, edge string) {
	now := g.opts.Now()
	if last, ok := g.lastRebirth[edge]; ok && now.Sub(last) < g.opts.RebirthInterval {
		return
	}
	if len(g.lastRebirth) > 4096 {
		clear(g.lastRebirth) // bounded: names come from the network
	}
	g.lastRebirth[edge] = now
	msg, err := sparkplug.RebirthRequest(group, edge, now)
	if err != nil {
		return
	}
	g.mu.Lock()
	c := g.client
	g.mu.Unlock()
	c.Publish(msg.Topic.String(), 1, false, msg.Payload)
	g.rebirths.Add(1)
	g.opts.Logger.Info("asked edge for rebirth", "edge", edge)
}
