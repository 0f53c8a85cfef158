package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// DefaultAddr is where the embedded broker listens unless told otherwise:
// MQTT's registered port, on loopback.
const DefaultAddr = "127.0.0.1:1883"

// Limits that bound what clients can make the broker hold. The edges
// reconnect with a fresh session and keep their own durable spool, so a
// session need not outlive a short outage.
const (
	maxClients         = 1024
	sessionExpiry      = time.Hour
	maxInflightPerPeer = 8192 // QoS 1 messages held per client
)

// Opts configures a Broker.
type Opts struct {
	// Addr is the TCP "host:port" to listen on; "" means DefaultAddr. The
	// host must be a loopback address or "localhost"; port 0 picks a free
	// port.
	Addr string
	// Logger receives the broker's warnings and errors; nil means
	// slog.Default(). Client connections are not logged.
	Logger *slog.Logger
}

// Broker is an embedded MQTT broker. Listen binds it; Start serves; Close
// stops it and disconnects every client.
type Broker struct {
	srv   *mqtt.Server
	addr  string
	close sync.Once
}

// ErrNotLoopback is returned for a listen address that other machines
// could reach.
var ErrNotLoopback = errors.New("the embedded broker authenticates nobody, so it listens on loopback only; edges on other machines need an external broker (mqtt.broker) with TLS and ACLs")

// Listen checks opts and binds the listener, so that a port already in use
// is reported before anything else starts.
func Listen(opts Opts) (*Broker, error) {
	addr := opts.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	if err := CheckAddr(addr); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumClients = maxClients
	caps.MaximumSessionExpiryInterval = uint32(sessionExpiry / time.Second)
	caps.MaximumInflight = maxInflightPerPeer
	srv := mqtt.New(&mqtt.Options{
		Capabilities: caps,
		Logger:       slog.New(minLevel{log.With("component", "embedded broker").Handler(), slog.LevelWarn}),
	})
	// Loopback only (CheckAddr): every local client may connect and use
	// every topic, as with a broker that has no password file.
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	l := listeners.NewTCP(listeners.Config{Type: listeners.TypeTCP, ID: "tcp", Address: addr})
	if err := srv.AddListener(l); err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("broker: listen %s: the port is in use (another MQTT broker?): point mqtt.broker at that broker, or move the embedded one with mqtt.listen: %w", addr, err)
		}
		return nil, fmt.Errorf("broker: listen %s: %w", addr, err)
	}
	return &Broker{srv: srv, addr: l.Address()}, nil
}

// CheckAddr reports whether addr is a "host:port" the embedded broker may
// listen on.
func CheckAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("broker: listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("broker: listen address %q: %w", addr, ErrNotLoopback)
	}
	return nil
}

// Addr is the address the broker listens on, with the port it got.
func (b *Broker) Addr() string { return b.addr }

// URL is the broker's address as the MQTT clients take it.
func (b *Broker) URL() string { return "tcp://" + b.addr }

// Start accepts clients in the background until Close.
func (b *Broker) Start() error {
	if err := b.srv.Serve(); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	return nil
}

// Run serves until ctx is done, then closes the broker.
func (b *Broker) Run(ctx context.Context) error {
	if err := b.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	return b.Close()
}

// Close disconnects every client and stops listening. It may be called more
// than once, and without Start.
func (b *Broker) Close() error {
	var err error
	b.close.Do(func() { err = b.srv.Close() })
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	return nil
}

// minLevel drops records below min: mochi logs every connection at info.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}
