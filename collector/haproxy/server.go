package haproxy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// State is an administrative server state set through the runtime API
// (`set server <b>/<s> state`, HAProxy management guide section 9.3).
type State int

// Administrative states.
const (
	// Ready puts the server back in normal operation.
	Ready State = iota + 1
	// Drain sends the server no new connections, except persistent ones,
	// while its current sessions finish.
	Drain
	// Maint stops all traffic to the server, health checks included.
	Maint
)

// String returns the word HAProxy expects for s.
func (s State) String() string {
	switch s {
	case Ready:
		return "ready"
	case Drain:
		return "drain"
	case Maint:
		return "maint"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// MaxWeightPercent is the largest percentage SetWeight accepts. HAProxy
// caps the resulting weight at 256 (management guide, "set weight"), so
// beyond 256 times the smallest initial weight of 1 a percentage changes
// nothing and is taken for a caller's mistake.
const MaxWeightPercent = 256 * 100

var (
	// ErrInvalidName is returned, wrapped, for a backend or server name
	// that HAProxy would not accept and that could smuggle a second
	// command onto the line.
	ErrInvalidName = errors.New("haproxy: invalid name")
	// ErrNoSuchServer matches a CommandError whose answer says the backend
	// or the server does not exist: the configuration and the running
	// HAProxy disagree.
	ErrNoSuchServer = errors.New("haproxy: no such server")
)

// CommandError is HAProxy's answer to a command that it refused, such as
// "No such server." or "Require 'backend/server'.".
type CommandError struct {
	Command string // the command line sent, without its newline
	Reply   string // HAProxy's answer, trimmed
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("%q answered %q", e.Command, e.Reply)
}

// Is matches ErrNoSuchServer for HAProxy's answers about unknown backends
// and servers (cli_find_server in HAProxy's server.c).
func (e *CommandError) Is(target error) bool {
	return target == ErrNoSuchServer &&
		(strings.HasPrefix(e.Reply, "No such server") || strings.HasPrefix(e.Reply, "No such backend"))
}

// SetServerState sets the administrative state of backend/server, as in
// `set server be/s1 state drain`.
func (c *Client) SetServerState(ctx context.Context, backend, server string, state State) error {
	const op = "set server state"
	if err := checkServer(backend, server); err != nil {
		return c.errorf(op, err)
	}
	switch state {
	case Ready, Drain, Maint:
	default:
		return c.errorf(op, fmt.Errorf("unknown %v", state))
	}
	return c.command(ctx, op, fmt.Sprintf("set server %s/%s state %s", backend, server, state))
}

// SetWeight sets the weight of backend/server to pct percent of its
// initial weight, as in `set server be/s1 weight 50%`. HAProxy caps the
// result at 256, and backends with a static algorithm accept only 0% and
// 100%, which HAProxy reports as a CommandError.
func (c *Client) SetWeight(ctx context.Context, backend, server string, pct int) error {
	const op = "set weight"
	if err := checkServer(backend, server); err != nil {
		return c.errorf(op, err)
	}
	if pct < 0 || pct > MaxWeightPercent {
		return c.errorf(op, fmt.Errorf("weight %d%% out of range 0..%d%%", pct, MaxWeightPercent))
	}
	return c.command(ctx, op, fmt.Sprintf("set server %s/%s weight %d%%", backend, server, pct))
}

// GetWeight returns the current and initial weights of backend/server,
// from `get weight be/s1`, which answers "50 (initial 100)".
func (c *Client) GetWeight(ctx context.Context, backend, server string) (current, initial int, err error) {
	const op = "get weight"
	if err := checkServer(backend, server); err != nil {
		return 0, 0, c.errorf(op, err)
	}
	cmd := fmt.Sprintf("get weight %s/%s", backend, server)
	reply, err := c.do(ctx, cmd)
	if err != nil {
		return 0, 0, c.errorf(op, err)
	}
	text := strings.TrimSpace(string(reply))
	current, initial, ok := parseWeight(text)
	if !ok {
		return 0, 0, c.errorf(op, &CommandError{Command: cmd, Reply: text})
	}
	return current, initial, nil
}

// parseWeight reads "<current> (initial <initial>)".
func parseWeight(s string) (current, initial int, ok bool) {
	cur, rest, found := strings.Cut(s, " (initial ")
	if !found || !strings.HasSuffix(rest, ")") {
		return 0, 0, false
	}
	ini := strings.TrimSuffix(rest, ")")
	if !isDigits(cur) || !isDigits(ini) {
		return 0, 0, false
	}
	current, err1 := strconv.Atoi(cur)
	initial, err2 := strconv.Atoi(ini)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return current, initial, true
}

// command sends a command that HAProxy answers with an empty line on
// success; any other answer is a CommandError.
func (c *Client) command(ctx context.Context, op, cmd string) error {
	reply, err := c.do(ctx, cmd)
	if err != nil {
		return c.errorf(op, err)
	}
	if text := strings.TrimSpace(string(reply)); text != "" {
		return c.errorf(op, &CommandError{Command: cmd, Reply: text})
	}
	return nil
}

func checkServer(backend, server string) error {
	if err := checkName("backend", backend); err != nil {
		return err
	}
	return checkName("server", server)
}

// checkName accepts what HAProxy accepts for proxy and server names
// (letters, digits, '-', '_', '.', ':'; invalid_char() in HAProxy's
// tools.c), or a numeric id written "#<id>". Anything else, notably
// spaces, newlines, ';' and '/', would change the command line.
func checkName(kind, name string) error {
	if name == "" {
		return fmt.Errorf("empty %s name: %w", kind, ErrInvalidName)
	}
	if id, ok := strings.CutPrefix(name, "#"); ok {
		if id == "" || !isDigits(id) {
			return fmt.Errorf("%s id %q: want #<digits>: %w", kind, name, ErrInvalidName)
		}
		return nil
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case b == '-', b == '_', b == '.', b == ':':
		default:
			return fmt.Errorf("%s name %q: byte %q at %d: %w", kind, name, b, i, ErrInvalidName)
		}
	}
	return nil
}
