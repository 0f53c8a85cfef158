// Package sdnotify speaks systemd's notification protocol (sd_notify(3)):
// READY=1 once a service is up, STOPPING=1 on the way down, STATUS= for
// systemctl status, and WATCHDOG=1 pings when the unit sets WatchdogSec=,
// so that systemd restarts a process whose main loop has hung.
//
// Without $NOTIFY_SOCKET (not started by systemd, or Type= is not notify)
// every call is a no-op, so the binaries behave the same anywhere.
package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// Notifier sends notifications to one socket.
type Notifier struct {
	addr *net.UnixAddr // nil: not under systemd
}

// FromEnv returns a notifier for $NOTIFY_SOCKET. An abstract socket is
// written "@name" in the variable (sd_notify(3)).
func FromEnv() *Notifier {
	p := os.Getenv("NOTIFY_SOCKET")
	if p == "" {
		return &Notifier{}
	}
	if p[0] == '@' {
		p = "\x00" + p[1:]
	}
	return &Notifier{addr: &net.UnixAddr{Name: p, Net: "unixgram"}}
}

// Enabled reports whether notifications go anywhere.
func (n *Notifier) Enabled() bool { return n.addr != nil }

// Send sends one notification, such as "READY=1" or "STATUS=publishing".
func (n *Notifier) Send(state string) error {
	if n.addr == nil {
		return nil
	}
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	return nil
}

// Ready tells systemd the service is up.
func (n *Notifier) Ready() error { return n.Send("READY=1") }

// Stopping tells systemd the service is shutting down.
func (n *Notifier) Stopping() error { return n.Send("STOPPING=1") }

// Status sets the status line shown by systemctl status.
func (n *Notifier) Status(s string) error { return n.Send("STATUS=" + s) }

// Watchdog pings the service manager's watchdog.
func (n *Notifier) Watchdog() error { return n.Send("WATCHDOG=1") }

// WatchdogInterval returns how often to ping: half of $WATCHDOG_USEC, as
// sd_watchdog_enabled(3) recommends, or 0 when the watchdog is off or meant
// for another process ($WATCHDOG_PID).
func WatchdogInterval() (time.Duration, error) {
	us := os.Getenv("WATCHDOG_USEC")
	if us == "" {
		return 0, nil
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0, nil
	}
	v, err := strconv.ParseUint(us, 10, 63)
	if err != nil || v == 0 {
		return 0, errors.New("sdnotify: invalid WATCHDOG_USEC " + strconv.Quote(us))
	}
	return time.Duration(v) * time.Microsecond / 2, nil
}
