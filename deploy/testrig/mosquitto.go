package testrig

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MosquittoOpts configures StartMosquitto. A nil *MosquittoOpts is valid.
type MosquittoOpts struct {
	// Config holds extra mosquitto.conf lines, written after the defaults
	// (anonymous access, no persistence, TCP_NODELAY), so a later line such
	// as "allow_anonymous false" overrides them. Files it names
	// (password_file, acl_file) must exist before the broker starts.
	Config string
}

// Mosquitto is a running Mosquitto 2 broker.
type Mosquitto struct {
	Addr string // "127.0.0.1:port"
	URL  string // "tcp://127.0.0.1:port"
	Port int
	// Dir is the broker's private directory; tests may put password and
	// ACL files there.
	Dir string

	s *service
}

// StartMosquitto starts a broker listening on a private loopback port.
func StartMosquitto(t testing.TB, opts *MosquittoOpts) *Mosquitto {
	t.Helper()
	bin := Require(t, "mosquitto", "mosquitto")
	if opts == nil {
		opts = &MosquittoOpts{}
	}
	s := newService(t, "mosquitto", bin, 0o755)
	m := &Mosquitto{Dir: s.dir, s: s}
	conf := filepath.Join(s.dir, "mosquitto.conf")
	s.launch(t, func() {
		m.Port = mustFreePort(t, "tcp")
		m.Addr = "127.0.0.1:" + strconv.Itoa(m.Port)
		m.URL = "tcp://" + m.Addr
		writeFile(t, conf, mosquittoConf(m.Port, opts.Config))
		s.args = []string{"-c", conf}
		addr := m.Addr
		s.ready = func(ctx context.Context) error { return dialReady(ctx, addr) }
	})
	return m
}

func mosquittoConf(port int, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listener %d 127.0.0.1\n", port)
	b.WriteString("allow_anonymous true\n")
	b.WriteString("persistence false\n")
	// Without TCP_NODELAY a QoS 1 publish and its PUBACK wait on Nagle and
	// delayed ACKs: about 43 ms per round trip instead of 0.36 ms.
	b.WriteString("set_tcp_nodelay true\n")
	b.WriteString("log_dest stdout\n")
	b.WriteString("log_timestamp_format %H:%M:%S\n")
	if os.Geteuid() == 0 {
		// As root, Mosquitto would switch to the "mosquitto" user, which
		// may not be able to read files the test wrote.
		b.WriteString("user root\n")
	}
	if extra != "" {
		b.WriteString(extra)
		b.WriteString("\n")
	}
	return b.String()
}

// Stop stops the broker; clients see the connection drop. Restart brings it
// back on the same port.
func (m *Mosquitto) Stop() { m.s.stop() }

// Restart stops the broker, if it runs, and starts it again on the same
// port with the same configuration. Retained messages and sessions are lost
// (persistence is off).
func (m *Mosquitto) Restart(t testing.TB) {
	t.Helper()
	m.s.stop()
	var err error
	for range 10 {
		if err = m.s.start(); err == nil || !errors.Is(err, errExited) {
			break
		}
		// The port may still be held by a connection being torn down.
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		m.s.reported.Store(true)
		t.Fatalf("testrig: restart mosquitto on %s: %v; last lines of its log:\n%s", m.Addr, err, m.s.tail(logTailLines))
	}
}
