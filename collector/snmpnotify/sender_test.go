package snmpnotify

import (
	"context"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/rackwatch/rackwatch/mibs"
)

func TestNewRejectsBadTargets(t *testing.T) {
	for _, tc := range []struct {
		name string
		tg   Target
		want string
	}{
		{"no address", Target{Version: "2c"}, "empty address"},
		{"bad port", Target{Address: "nms:0", Version: "2c"}, "want host or host:port"},
		{"bad version", Target{Address: "nms", Version: "1"}, `unsupported SNMP version "1"`},
		{"v2c with a user", Target{Address: "nms", Version: "2c", User: "u"}, "are for SNMPv3"},
		{"v3 without a user", Target{Address: "nms", Version: "3"}, "needs a user"},
		{"v3 with a community", Target{Address: "nms", Version: "3", User: "u", Community: "c"}, "community is for SNMPv2c"},
		{"unknown auth", Target{Address: "nms", Version: "3", User: "u", AuthProtocol: "SHA-3", AuthPassphrase: "12345678"}, "unknown authentication protocol"},
		{"unknown priv", Target{Address: "nms", Version: "3", User: "u", AuthProtocol: "SHA", AuthPassphrase: "12345678", PrivProtocol: "3DES", PrivPassphrase: "12345678"}, "unknown privacy protocol"},
		{"priv without auth", Target{Address: "nms", Version: "3", User: "u", PrivProtocol: "AES", PrivPassphrase: "12345678"}, "privacy needs authentication"},
		{"short auth passphrase", Target{Address: "nms", Version: "3", User: "u", AuthProtocol: "SHA", AuthPassphrase: "1234567"}, "auth passphrase shorter than 8"},
		{"short priv passphrase", Target{Address: "nms", Version: "3", User: "u", AuthProtocol: "SHA", AuthPassphrase: "12345678", PrivProtocol: "AES", PrivPassphrase: "x"}, "privacy passphrase shorter than 8"},
		{"negative timeout", Target{Address: "nms", Version: "2c", Timeout: -time.Second}, "negative timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(&Opts{Targets: []Target{tc.tg}})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "snmpnotify: ") {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := New(&Opts{Targets: []Target{{Address: "a", Version: "v2c"}, {Address: "a", Version: "2c"}}}); err == nil {
		t.Error("two targets of the same name accepted")
	}
	s, err := New(&Opts{Targets: []Target{
		{Address: "127.0.0.1", Version: "v2c"},
		{Name: "nms2", Address: "[::1]:1162", Version: "V3", User: "u", AuthProtocol: "sha-256", AuthPassphrase: "12345678", PrivProtocol: "aes-256-c", PrivPassphrase: "12345678"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	a, b := s.targets[0], s.targets[1]
	if a.port != DefaultPort || a.t.Community != "public" || a.inform || a.t.Retries != DefaultRetries || a.t.Timeout != DefaultTimeout {
		t.Errorf("v2c defaults: %+v", a.t)
	}
	if b.host != "::1" || b.port != 1162 || !b.inform || b.flags != gosnmp.AuthPriv || b.usm.PrivacyProtocol != gosnmp.AES256C {
		t.Errorf("v3 target: host %s port %d inform %v flags %v", b.host, b.port, b.inform, b.flags)
	}
	if _, err := New(nil); err != nil {
		t.Errorf("New(nil): %v", err)
	}
}

// TestSendNeverBlocks: without Run nothing leaves the queues, and Send
// still returns at once, counting what it drops per target.
func TestSendNeverBlocks(t *testing.T) {
	s, err := New(&Opts{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Targets: []Target{
		{Address: "127.0.0.1:1", Version: "2c", Queue: 2},
		{Address: "127.0.0.1:2", Version: "2c", Queue: 5},
	}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		for i := 0; i < 1000; i++ {
			s.Send(Alert{Notification: mibs.NodeShedOID})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Send blocked")
	}
	st := s.Stats()
	if st[0].Queued != 2 || st[0].Dropped != 998 || st[1].Queued != 5 || st[1].Dropped != 995 {
		t.Errorf("stats %+v", st)
	}
}

// syncBuffer is a log sink safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogRateLimited(t *testing.T) {
	var logs syncBuffer
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s, err := New(&Opts{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return now },
		LogEvery: time.Minute, Targets: []Target{{Address: "127.0.0.1:1", Version: "2c", Queue: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		s.Send(Alert{})
	}
	if n := strings.Count(logs.String(), "queue full"); n != 1 {
		t.Fatalf("%d log lines for 49 drops within a minute, want 1:\n%s", n, logs.String())
	}
	now = now.Add(time.Minute)
	s.Send(Alert{})
	if n := strings.Count(logs.String(), "queue full"); n != 2 || !strings.Contains(logs.String(), "not_logged=48") {
		t.Errorf("after a minute: %d lines, want 2 with not_logged=48:\n%s", n, logs.String())
	}
}

// TestTrapOnTheWire reads the v2c trap a Sender writes, with sysUpTime
// taken from the injected clock.
func TestTrapOnTheWire(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := start
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s, err := New(&Opts{Now: clock, Targets: []Target{{Address: pc.LocalAddr().String(), Version: "2c", Community: "nms"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	mu.Lock()
	now = start.Add(12345 * time.Millisecond)
	mu.Unlock()
	s.Send(Alert{Notification: mibs.EdgeOfflineOID, ID: 5, State: mibs.AlertActive, Severity: mibs.SeverityMajor, Edge: "rack1"})

	buf := make([]byte, 4096)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	pkt, err := (&gosnmp.GoSNMP{Version: gosnmp.Version2c}).SnmpDecodePacket(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	if pkt.PDUType != gosnmp.SNMPv2Trap || pkt.Community != "nms" || len(pkt.Variables) != 10 {
		t.Fatalf("packet %v community %q with %d varbinds", pkt.PDUType, pkt.Community, len(pkt.Variables))
	}
	if v := pkt.Variables[0]; v.Name != "."+sysUpTimeOID || v.Value != uint32(1234) {
		t.Errorf("sysUpTime %v = %v, want 1234", v.Name, v.Value)
	}
	if v := pkt.Variables[1]; v.Value != "."+mibs.EdgeOfflineOID {
		t.Errorf("snmpTrapOID = %v", v.Value)
	}
	if v := pkt.Variables[9]; v.Name != "."+mibs.EdgeOID+".0" || string(v.Value.([]byte)) != "rack1" {
		t.Errorf("last varbind %v = %v, want rwEdge.0 rack1", v.Name, v.Value)
	}
	if err := s.Run(ctx); err == nil {
		t.Error("a second Run did not fail")
	}
	waitStats(t, s, "trap counted", func(st Stats) bool { return st.Sent == 1 })
}

// TestRunStopsOnCancel: a send under way to a silent target is abandoned
// when the context ends; Run returns within the attempt, not after all
// the retries.
func TestRunStopsOnCancel(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0") // reads nothing, answers nothing
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s, err := New(&Opts{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Targets: []Target{{Address: pc.LocalAddr().String(), Version: "2c", Inform: true, Timeout: 10 * time.Second, Retries: 5}}})
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	s.Send(Alert{Notification: mibs.NodeShedOID})
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	// The per-target goroutine is gone with Run.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Run returned, %d before it started", n, before)
	}
}
