package haproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

// Opts configures a Client.
type Opts struct {
	// Name identifies the HAProxy instance in errors and logs. Empty means
	// "default".
	Name string
	// Addr is the runtime API socket: a unix socket path ("/run/haproxy/
	// admin.sock", or "unix:/run/haproxy/admin.sock"), or a TCP address
	// ("tcp:127.0.0.1:9999" or "127.0.0.1:9999"). Required. Draining needs
	// a socket declared with "level admin".
	Addr string
	// Timeout bounds one command: dial, write and read. Zero means
	// DefaultOpts.Timeout.
	Timeout time.Duration
}

// DefaultOpts holds the defaults that New fills in.
var DefaultOpts = Opts{
	Name:    "default",
	Timeout: 2 * time.Second,
}

// maxReply bounds the answer read for one command. `show stat` takes
// about 600 bytes a row, so this allows tens of thousands of servers while
// keeping a misbehaving peer from exhausting memory.
const maxReply = 32 << 20

// Client sends commands to one HAProxy's runtime API. It holds no
// connection: each command dials, writes one line and reads the answer
// until HAProxy closes the connection (the CLI's non-interactive mode,
// HAProxy management guide section 9.3). A Client is safe for concurrent
// use.
type Client struct {
	name    string
	addr    string // as configured, for errors
	network string // "unix" or "tcp"
	address string // what is dialled
	timeout time.Duration
}

// New returns a Client for opts. Addr is required; a nil opts is an error,
// since there is no default socket to fall back to.
func New(opts *Opts) (*Client, error) {
	if opts == nil {
		return nil, errors.New("haproxy: new: missing opts: Addr (runtime API socket) is required")
	}
	o := *opts
	if o.Name == "" {
		o.Name = DefaultOpts.Name
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultOpts.Timeout
	}
	if o.Timeout < 0 {
		return nil, fmt.Errorf("haproxy: new %s: negative timeout %v", o.Name, o.Timeout)
	}
	network, address, err := splitAddr(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("haproxy: new %s: %w", o.Name, err)
	}
	return &Client{
		name:    o.Name,
		addr:    o.Addr,
		network: network,
		address: address,
		timeout: o.Timeout,
	}, nil
}

// splitAddr tells a unix socket path from a TCP address. An address that
// parses as host:port with a numeric port is TCP; anything else is a path.
func splitAddr(addr string) (network, address string, err error) {
	switch {
	case addr == "":
		return "", "", errors.New("missing Addr (runtime API socket)")
	case strings.HasPrefix(addr, "unix:"):
		network, address = "unix", strings.TrimPrefix(addr, "unix:")
	case strings.HasPrefix(addr, "tcp:"):
		network, address = "tcp", strings.TrimPrefix(addr, "tcp:")
	case strings.HasPrefix(addr, "/"), strings.HasPrefix(addr, "."):
		network, address = "unix", addr
	default:
		if _, port, err := net.SplitHostPort(addr); err == nil && port != "" && isDigits(port) {
			network, address = "tcp", addr
		} else {
			network, address = "unix", addr
		}
	}
	if address == "" {
		return "", "", fmt.Errorf("address %q: empty after %s:", addr, network)
	}
	if network == "tcp" {
		if _, _, err := net.SplitHostPort(address); err != nil {
			return "", "", fmt.Errorf("address %q: %w", addr, err)
		}
	}
	return network, address, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String names the instance and its socket.
func (c *Client) String() string { return c.name + " (" + c.addr + ")" }

// errorf prefixes err with the instance, its address and the operation.
func (c *Client) errorf(op string, err error) error {
	return fmt.Errorf("haproxy: %s (%s): %s: %w", c.name, c.addr, op, err)
}

// do sends one command line and returns the whole answer. It is bounded by
// ctx and by the client's timeout, whichever ends first.
func (c *Client) do(ctx context.Context, cmd string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	reply, err := c.roundTrip(ctx, cmd)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// The socket deadline is ctx's deadline, and the socket can
			// see it pass a moment before ctx's own timer does.
			<-ctx.Done()
		}
		if cerr := ctx.Err(); cerr != nil {
			// Report the deadline or cancellation rather than the bare
			// i/o timeout it caused, keeping both.
			return nil, fmt.Errorf("%w: %w", cerr, err)
		}
		return nil, err
	}
	return reply, nil
}

// roundTrip runs one exchange on a new connection. ctx must have a deadline.
func (c *Client) roundTrip(ctx context.Context, cmd string) ([]byte, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, c.network, c.address)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	if err := conn.SetDeadline(dl); err != nil {
		return nil, err
	}
	// A cancelled ctx must unblock the read before the deadline.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	return exchange(conn, cmd)
}

func exchange(conn net.Conn, cmd string) ([]byte, error) {
	if _, err := io.WriteString(conn, cmd+"\n"); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	reply, err := io.ReadAll(io.LimitReader(conn, maxReply+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if len(reply) > maxReply {
		return nil, fmt.Errorf("read: answer longer than %d bytes", maxReply)
	}
	return reply, nil
}

// ShowStat returns every row of `show stat`: frontends, backends, servers
// and listeners. Use Servers to keep only servers.
func (c *Client) ShowStat(ctx context.Context) ([]Stat, error) {
	const op = "show stat"
	reply, err := c.do(ctx, op)
	if err != nil {
		return nil, c.errorf(op, err)
	}
	stats, err := parseStat(reply)
	if err != nil {
		return nil, malformed(c.errorf(op, err))
	}
	return stats, nil
}
