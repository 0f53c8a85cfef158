package sdnotify

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// listen plays systemd: a datagram socket of the test's own.
func listen(t *testing.T, name string) *net.UnixConn {
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func recv(t *testing.T, c *net.UnixConn) string {
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	b := make([]byte, 256)
	n, err := c.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(b[:n])
}

func TestNotifications(t *testing.T) {
	for _, tc := range []struct{ name, env, listen string }{
		{"path", "", ""},
		{"abstract", "@rackwatch-test-" + strconv.Itoa(os.Getpid()), "\x00rackwatch-test-" + strconv.Itoa(os.Getpid())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env == "" {
				tc.listen = filepath.Join(t.TempDir(), "notify.sock")
				tc.env = tc.listen
			}
			c := listen(t, tc.listen)
			t.Setenv("NOTIFY_SOCKET", tc.env)
			n := FromEnv()
			if !n.Enabled() {
				t.Fatal("not enabled with NOTIFY_SOCKET set")
			}
			for _, f := range []struct {
				send func() error
				want string
			}{
				{n.Ready, "READY=1"},
				{func() error { return n.Status("publishing to tcp://broker:1883") }, "STATUS=publishing to tcp://broker:1883"},
				{n.Watchdog, "WATCHDOG=1"},
				{n.Stopping, "STOPPING=1"},
			} {
				if err := f.send(); err != nil {
					t.Fatal(err)
				}
				if got := recv(t, c); got != f.want {
					t.Errorf("got %q, want %q", got, f.want)
				}
			}
		})
	}
}

func TestWithoutSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	n := FromEnv()
	if n.Enabled() || n.Ready() != nil || n.Watchdog() != nil {
		t.Error("notifications without NOTIFY_SOCKET must be silent no-ops")
	}
}

func TestWatchdogInterval(t *testing.T) {
	for _, tc := range []struct {
		usec, pid string
		want      time.Duration
		err       bool
	}{
		{"", "", 0, false},
		{"20000000", "", 10 * time.Second, false},
		{"20000000", strconv.Itoa(os.Getpid()), 10 * time.Second, false},
		{"20000000", "1", 0, false}, // another process's watchdog
		{"soon", "", 0, true},
		{"0", "", 0, true},
	} {
		t.Setenv("WATCHDOG_USEC", tc.usec)
		t.Setenv("WATCHDOG_PID", tc.pid)
		got, err := WatchdogInterval()
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: %v, %v", tc.usec, tc.pid, got, err)
		}
	}
}

func TestDeadSocketIsAnError(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "gone.sock"))
	if err := FromEnv().Ready(); err == nil {
		t.Error("no error for a socket nobody listens on")
	}
}
