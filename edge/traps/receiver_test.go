package traps

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

func TestDevice(t *testing.T) {
	tor1 := netip.MustParseAddrPort("127.0.0.1:5000")
	tor2Mgmt := netip.MustParseAddr("192.0.2.7")
	stranger := netip.MustParseAddrPort("198.51.100.1:5000")
	v6 := netip.MustParseAddrPort("[2001:db8::1]:5000")
	trapAddress := func(a string) gosnmp.SnmpPDU {
		return gosnmp.SnmpPDU{Name: ".1.3.6.1.6.3.18.1.3.0", Type: gosnmp.IPAddress, Value: a}
	}
	tests := []struct {
		name    string
		peer    netip.AddrPort
		msg     func(t *testing.T) []byte
		device  string
		outcome string
	}{
		{"source address", tor1, func(t *testing.T) []byte { return v2cMsg(t, "public", gosnmp.SNMPv2Trap, 1, linkDownVBs) }, "tor1", "accepted=1"},
		{"IPv6 source address", v6, func(t *testing.T) []byte { return v2cMsg(t, "public", gosnmp.SNMPv2Trap, 1, linkDownVBs) }, "tor3", "accepted=1"},
		{"unknown sender", stranger, func(t *testing.T) []byte { return v2cMsg(t, "public", gosnmp.SNMPv2Trap, 1, linkDownVBs) }, "", "unknown-peer=1"},
		{"unknown sender, INFORM not acknowledged", stranger, func(t *testing.T) []byte { return v2cMsg(t, "public", gosnmp.InformRequest, 1, linkDownVBs) }, "", "unknown-peer=1"},
		{"snmpTrapAddress.0 names a target", stranger, func(t *testing.T) []byte {
			return v2cMsg(t, "public", gosnmp.SNMPv2Trap, 1, append(linkDownVBs[:len(linkDownVBs):len(linkDownVBs)], trapAddress(tor2Mgmt.String())))
		}, "tor2", "accepted=1"},
		{"snmpTrapAddress.0 names no target", stranger, func(t *testing.T) []byte {
			return v2cMsg(t, "public", gosnmp.SNMPv2Trap, 1, append(linkDownVBs[:len(linkDownVBs):len(linkDownVBs)], trapAddress("203.0.113.9")))
		}, "", "unknown-peer=1"},
		{"v1 agent-addr names a target", stranger, func(t *testing.T) []byte {
			return v1Msg(t, "public", ".1.3.6.1.4.1.8072.3.2.10", tor2Mgmt.String(), 2, 0, linkVarbinds(1, 1, 2))
		}, "tor2", "accepted=1"},
		{"bad community from a target", tor1, func(t *testing.T) []byte { return v2cMsg(t, "nope", gosnmp.SNMPv2Trap, 1, linkDownVBs) }, "", "bad-community=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{t: testStart}
			o := testOpts(c)
			o.Targets = map[netip.Addr]string{
				tor1.Addr(): "tor1",
				tor2Mgmt:    "tor2",
				// Targets given as IPv4-mapped addresses still match.
				netip.MustParseAddr("2001:db8::1"): "tor3",
			}
			r := newUnit(t, o)
			reply := r.handle(tc.msg(t), tc.peer, testStart)
			checkInvariant(t, r.Stats())
			if got := outcome(r.Stats()); got != tc.outcome {
				t.Errorf("outcome %s, want %s", got, tc.outcome)
			}
			evs := r.queued()
			if tc.device != "" {
				if len(evs) != 1 || evs[0].Device != tc.device {
					t.Fatalf("events %v, want one from %s", evs, tc.device)
				}
			} else if len(evs) != 0 {
				t.Fatalf("unexpected events %v", evs)
			}
			if reply != nil {
				t.Errorf("unexpected reply")
			}
		})
	}
}

func TestTargetsIPv4Mapped(t *testing.T) {
	c := &clock{t: testStart}
	o := testOpts(c)
	o.Targets = map[netip.Addr]string{netip.MustParseAddr("::ffff:192.0.2.8"): "tor8"}
	r := newUnit(t, o)
	r.handle(v2cMsg(t, "public", gosnmp.SNMPv2Trap, 1, linkDownVBs), netip.MustParseAddrPort("192.0.2.8:99"), testStart)
	if evs := r.queued(); len(evs) != 1 || evs[0].Device != "tor8" {
		t.Fatalf("events %v, want one from tor8; stats %+v", evs, r.Stats())
	}
}

func TestCountsPerDeviceAndName(t *testing.T) {
	c := &clock{t: testStart}
	o := testOpts(c)
	o.Targets = map[netip.Addr]string{netip.MustParseAddr("192.0.2.1"): "tor1", netip.MustParseAddr("192.0.2.2"): "tor2"}
	r := newUnit(t, o)
	tor1, tor2 := netip.MustParseAddrPort("192.0.2.1:1"), netip.MustParseAddrPort("192.0.2.2:1")
	up := v2cMsg(t, "public", gosnmp.SNMPv2Trap, 1, notificationVarbinds(OIDLinkUp, linkVarbinds(1, 1, 1)...))
	down := v2cMsg(t, "public", gosnmp.SNMPv2Trap, 1, linkDownVBs)
	sends := []struct {
		peer netip.AddrPort
		msg  []byte
		want string
	}{
		{tor1, down, "tor1/linkDown/1"},
		{tor1, down, "tor1/linkDown/2"},
		{tor1, up, "tor1/linkUp/1"},
		{tor2, down, "tor2/linkDown/1"},
		{tor1, down, "tor1/linkDown/3"},
	}
	for _, s := range sends {
		r.handle(s.msg, s.peer, testStart)
		evs := r.queued()
		if len(evs) != 1 {
			t.Fatalf("%d events", len(evs))
		}
		if got := fmt.Sprintf("%s/%s/%d", evs[0].Device, evs[0].Name, evs[0].Count); got != s.want {
			t.Errorf("got %s, want %s", got, s.want)
		}
	}
}

func TestQueueFull(t *testing.T) {
	c := &clock{t: testStart}
	o := testOpts(c)
	o.QueueSize = 1
	r := newUnit(t, o)
	trap := v2cMsg(t, "public", gosnmp.SNMPv2Trap, 1, linkDownVBs)
	inform := v2cMsg(t, "public", gosnmp.InformRequest, 2, linkDownVBs)
	if reply := r.handle(trap, peerA, testStart); reply != nil {
		t.Error("reply to a trap")
	}
	if reply := r.handle(inform, peerA, testStart); reply != nil {
		t.Error("an INFORM that was dropped was acknowledged")
	}
	r.handle(trap, peerA, testStart)
	s := r.Stats()
	checkInvariant(t, s)
	if s.Accepted != 1 || s.Dropped != 2 || s.InformsAcked != 0 {
		t.Errorf("stats %+v, want 1 accepted, 2 dropped, 0 acked", s)
	}
	evs := r.queued()
	if len(evs) != 1 || evs[0].Count != 1 {
		t.Fatalf("events %v", evs)
	}
	// Room again: the INFORM's retransmission is accepted and acknowledged,
	// and counted as the second.
	if reply := r.handle(inform, peerA, testStart); reply == nil {
		t.Error("INFORM not acknowledged once the queue had room")
	}
	if evs := r.queued(); len(evs) != 1 || evs[0].Count != 2 {
		t.Fatalf("events %v, want the INFORM counted second", evs)
	}
}

// TestHostileInput feeds every truncation and many corruptions of valid
// messages: the receiver must neither panic nor take any of them for an
// authenticated notification it would not otherwise accept.
func TestHostileInput(t *testing.T) {
	c := &clock{t: testStart}
	valid := map[string][]byte{
		"v2c inform":         v2cMsg(t, "public", gosnmp.InformRequest, 4242, linkDownVBs),
		"v1 trap":            v1Msg(t, "public", ".1.3.6.1.4.1.8072.3.2.10", "192.0.2.1", 2, 0, linkVarbinds(4, 1, 2)),
		"v3 authPriv trap":   aliceA.msg(t, gosnmp.SNMPv2Trap, 1, 2, linkDownVBs),
		"v3 authPriv inform": bobLocal.msg(t, gosnmp.InformRequest, 1, 2, linkDownVBs),
		"v3 noAuth trap":     openA.msg(t, gosnmp.SNMPv2Trap, 1, 2, linkDownVBs),
		"v3 discovery":       discoveryProbe(t, 1, 2),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for name, msg := range valid {
		t.Run(name, func(t *testing.T) {
			r := newUnit(t, testOpts(c))
			for n := range len(msg) {
				r.handle(append([]byte(nil), msg[:n]...), peerA, testStart)
			}
			if evs := r.queued(); len(evs) != 0 {
				t.Errorf("a truncated message gave %d events: %v", len(evs), evs[0])
			}
			s := r.Stats()
			checkInvariant(t, s)
			if s.Accepted != 0 || s.Discovery != 0 {
				t.Errorf("truncations accepted: %+v", s)
			}
			for range 2000 {
				b := append([]byte(nil), msg...)
				// Distinct positions, each changed: never a no-op.
				for _, i := range rng.Perm(len(b))[:1+rng.IntN(3)] {
					b[i] ^= byte(1 + rng.IntN(255))
				}
				r.handle(b, peerA, testStart)
			}
			checkInvariant(t, r.Stats())
			if strings.HasPrefix(name, "v3 authPriv") {
				// Authenticated messages survive no corruption: the digest
				// covers every byte.
				for _, e := range r.queued() {
					t.Errorf("corrupted %s accepted: %v", name, e)
				}
			}
			r.queued()
		})
	}
}

func FuzzHandle(f *testing.F) {
	f.Add(v2cMsg(f, "public", gosnmp.InformRequest, 4242, linkDownVBs))
	f.Add(v1Msg(f, "public", ".1.3.6.1.4.1.8072.3.2.10", "192.0.2.1", 2, 0, linkVarbinds(4, 1, 2)))
	f.Add(aliceA.msg(f, gosnmp.SNMPv2Trap, 1, 2, linkDownVBs))
	f.Add(openA.msg(f, gosnmp.SNMPv2Trap, 1, 2, linkDownVBs))
	f.Add(discoveryProbe(f, 1, 2))
	c := &clock{t: testStart}
	o := testOpts(c)
	crashes := &panicRecorder{}
	o.Logger = slog.New(crashes)
	r, err := New(&o)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// A second apart, so that the log limiter never hides a line.
		c.t = c.t.Add(time.Second)
		r.handle(b, peerA, c.t)
		r.queued()
		checkInvariant(t, r.Stats())
		if p := crashes.take(); p != "" {
			t.Fatalf("decoding % x panicked: %s", b, p)
		}
	})
}

// panicRecorder is a slog.Handler that keeps the panic the receiver logs
// when decoding a message crashes.
type panicRecorder struct {
	mu  sync.Mutex
	msg string
}

func (p *panicRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (p *panicRecorder) WithAttrs([]slog.Attr) slog.Handler       { return p }
func (p *panicRecorder) WithGroup(string) slog.Handler            { return p }
func (p *panicRecorder) Handle(_ context.Context, rec slog.Record) error {
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "panic" {
			p.mu.Lock()
			p.msg = a.Value.String()
			p.mu.Unlock()
		}
		return true
	})
	return nil
}

func (p *panicRecorder) take() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.msg
	p.msg = ""
	return m
}

func TestNewRejectsBadOpts(t *testing.T) {
	h := func(Event) {}
	tests := []struct {
		name string
		opts *Opts
		want string
	}{
		{"nil", nil, "nil opts"},
		{"no handler", &Opts{}, "no handler"},
		{"empty community", &Opts{Handler: h, Communities: []string{""}}, "empty community"},
		{"short engine ID", &Opts{Handler: h, EngineID: "80000001"}, "want 5 to 32"},
		{"engine ID not hex", &Opts{Handler: h, EngineID: "0xzz0000000000"}, "engine ID"},
		{"unknown auth", &Opts{Handler: h, Users: []User{{Name: "u", Auth: "SHA3", AuthPassphrase: "12345678"}}}, "unknown authentication protocol"},
		{"unknown priv", &Opts{Handler: h, Users: []User{{Name: "u", Auth: "SHA", AuthPassphrase: "12345678", Priv: "3DES", PrivPassphrase: "12345678"}}}, "unknown privacy protocol"},
		{"priv without auth", &Opts{Handler: h, Users: []User{{Name: "u", Priv: "AES", PrivPassphrase: "12345678"}}}, "privacy needs"},
		{"short passphrase", &Opts{Handler: h, Users: []User{{Name: "u", Auth: "SHA", AuthPassphrase: "1234567"}}}, "at least 8"},
		{"no user name", &Opts{Handler: h, Users: []User{{Auth: "SHA", AuthPassphrase: "12345678"}}}, "user name"},
		{"duplicate user", &Opts{Handler: h, Users: []User{{Name: "u"}, {Name: "u"}}}, "configured twice"},
		{"duplicate user under one engine", &Opts{Handler: h, EngineID: localEngineHex, Users: []User{{Name: "u"}, {Name: "u", EngineID: localEngineHex}}}, "configured twice"},
		{"bad notification OID", &Opts{Handler: h, OIDs: []Notification{{OID: "1.3.x", Name: "x"}}}, "numeric OID"},
		{"notification without name", &Opts{Handler: h, OIDs: []Notification{{OID: "1.3.6"}}}, "numeric OID and a name"},
		{"notification twice", &Opts{Handler: h, OIDs: []Notification{{OID: OIDLinkDown, Name: "down"}}}, "configured twice"},
		{"target without name", &Opts{Handler: h, Targets: map[netip.Addr]string{netip.MustParseAddr("192.0.2.1"): ""}}, "device name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "traps: ") {
				t.Fatalf("New: %v, want an error about %q", err, tc.want)
			}
		})
	}
}

func TestUserNeverPrintsPassphrases(t *testing.T) {
	u := User{Name: "bob", Auth: "SHA", AuthPassphrase: "s3cret-auth", Priv: "AES", PrivPassphrase: "s3cret-priv"}
	for _, s := range []string{u.String(), fmt.Sprint(u), fmt.Sprintf("%v", []User{u}), u.LogValue().String()} {
		if strings.Contains(s, "s3cret") {
			t.Errorf("%q shows a passphrase", s)
		}
	}
	_, err := New(&Opts{Handler: func(Event) {}, Users: []User{{Name: "bob", Auth: "SHA", AuthPassphrase: "s3cret", Priv: "AES", PrivPassphrase: "s3cret-priv"}}})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %v", err)
	}
}

func TestParseProtocols(t *testing.T) {
	auth := map[string]gosnmp.SnmpV3AuthProtocol{"": gosnmp.NoAuth, "md5": gosnmp.MD5, "SHA": gosnmp.SHA, "SHA-224": gosnmp.SHA224,
		"sha256": gosnmp.SHA256, "SHA-384": gosnmp.SHA384, "SHA_512": gosnmp.SHA512}
	for s, want := range auth {
		if got, err := ParseAuthProtocol(s); err != nil || got != want {
			t.Errorf("ParseAuthProtocol(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	priv := map[string]gosnmp.SnmpV3PrivProtocol{"": gosnmp.NoPriv, "DES": gosnmp.DES, "aes": gosnmp.AES, "AES-192": gosnmp.AES192,
		"AES-256": gosnmp.AES256, "AES-192-C": gosnmp.AES192C, "aes256c": gosnmp.AES256C}
	for s, want := range priv {
		if got, err := ParsePrivProtocol(s); err != nil || got != want {
			t.Errorf("ParsePrivProtocol(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
}

func TestEngineID(t *testing.T) {
	a, err := NewEngineID(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewEngineID(nil)
	if a == b || len(a) != 34 || !strings.HasPrefix(a, "8000000005") {
		t.Errorf("NewEngineID: %s, %s", a, b)
	}
	r := newUnit(t, Opts{Handler: func(Event) {}})
	if _, err := ParseEngineID(r.EngineID()); err != nil {
		t.Errorf("generated engine ID %s: %v", r.EngineID(), err)
	}
	if got, err := ParseEngineID("0x80:00:1F:88:80 01 02 03"); err != nil || got != "\x80\x00\x1f\x88\x80\x01\x02\x03" {
		t.Errorf("ParseEngineID with separators: %x, %v", got, err)
	}
}

func TestListenError(t *testing.T) {
	err := listenError(&net.OpError{Op: "listen", Net: "udp", Addr: &net.UDPAddr{IP: net.IPv4zero, Port: 162},
		Err: os.NewSyscallError("bind", syscall.EACCES)})
	want := "traps: listen udp 0.0.0.0:162: bind: permission denied (run as root or use CAP_NET_BIND_SERVICE, or listen on a port above 1023)"
	if err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}
	if !errors.Is(err, syscall.EACCES) {
		t.Error("cause lost")
	}
}

func TestRunPortInUse(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	r := newUnit(t, Opts{Addr: pc.LocalAddr().String(), Handler: func(Event) {}})
	err = r.Run(context.Background())
	if err == nil || !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "another trap receiver") {
		t.Fatalf("Run: %v", err)
	}
	select {
	case <-r.Ready():
		t.Error("Ready closed though the bind failed")
	default:
	}
}

func TestRunLifecycle(t *testing.T) {
	before := runtime.NumGoroutine()
	var handled []Event
	r, err := New(&Opts{Addr: "127.0.0.1:0", Communities: []string{"public"}, Handler: func(e Event) {
		time.Sleep(time.Millisecond) // events still queued when Run is stopped
		handled = append(handled, e)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Addr().IsValid() {
		t.Error("Addr valid before Run")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	<-r.Ready()
	if !r.Addr().IsValid() || r.Addr().Port() == 0 {
		t.Fatalf("Addr %v", r.Addr())
	}
	conn, err := net.Dial("udp", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msg := v2cMsg(t, "public", gosnmp.SNMPv2Trap, 1, linkDownVBs)
	for range 20 {
		if _, err := conn.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.Stats().Received < 20 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Run returned: the handler has finished every queued event.
	if s := r.Stats(); uint64(len(handled)) != s.Accepted || s.Accepted != 20 {
		t.Errorf("handled %d, stats %+v", len(handled), s)
	}
	if err := r.Run(context.Background()); err == nil {
		t.Error("second Run succeeded")
	}
	waitGoroutines(t, before)
}

// waitGoroutines fails if the goroutine count does not come back to n.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := runtime.NumGoroutine()
		if got <= n {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, %d before:\n%s", got, n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLogLimiter(t *testing.T) {
	l := logLimiter{burst: 3, every: time.Second}
	now := testStart
	var allowed int
	for range 10 {
		if ok, _ := l.allow(now); ok {
			allowed++
		}
	}
	if allowed != 3 {
		t.Errorf("allowed %d of a burst of 10, want 3", allowed)
	}
	ok, suppressed := l.allow(now.Add(1500 * time.Millisecond))
	if !ok || suppressed != 7 {
		t.Errorf("after 1.5s: ok %v, suppressed %d; want true, 7", ok, suppressed)
	}
	if ok, _ := l.allow(now.Add(1600 * time.Millisecond)); ok {
		t.Error("second line within the same second allowed")
	}
}

func TestDecoderPanicIsContained(t *testing.T) {
	c := &clock{t: testStart}
	o := testOpts(c)
	rec := &panicRecorder{}
	o.Logger = slog.New(rec)
	r := newUnit(t, o)
	r.peek = nil // any decoding now dereferences nil
	if reply := r.handle(v2cMsg(t, "public", gosnmp.InformRequest, 1, linkDownVBs), peerA, testStart); reply != nil {
		t.Error("reply after a panic")
	}
	if s := r.Stats(); s.Malformed != 1 || s.Received != 1 {
		t.Errorf("stats %+v, want the message counted as malformed", s)
	}
	if rec.take() == "" {
		t.Error("panic not logged")
	}
}
