package traps

import (
	"context"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

const burst = 10000

// TestBurst sends 10k traps as fast as the socket takes them, then 10k
// more while the handler is stuck, and checks that every datagram read is
// accounted for, that a stuck handler costs drops and nothing else, and
// that the receiver leaves no goroutine behind.
func TestBurst(t *testing.T) {
	before := runtime.NumGoroutine()
	const queue = 64
	var handled atomic.Uint64
	stuck := make(chan struct{})
	started := make(chan struct{}, 1)
	block := atomic.Bool{}
	r, err := New(&Opts{
		Addr:        "127.0.0.1:0",
		Communities: []string{"public"},
		QueueSize:   queue,
		Handler: func(Event) {
			if block.Load() {
				select {
				case started <- struct{}{}:
				default:
				}
				<-stuck
			}
			handled.Add(1)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	<-r.Ready()
	conn, err := net.Dial("udp", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	msg := v2cMsg(t, "public", gosnmp.SNMPv2Trap, 1, linkDownVBs)

	// 1. An unpaced burst: the kernel may drop some when its socket buffer
	// fills, but what is read is either queued or counted as dropped.
	for range burst {
		if _, err := conn.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	s := settle(t, r)
	if s.Received == 0 || s.Received > burst || s.Received != s.Accepted+s.Dropped {
		t.Fatalf("unpaced burst: %+v", s)
	}
	t.Logf("unpaced burst of %d: received %d (the kernel dropped %d), accepted %d, dropped %d",
		burst, s.Received, burst-s.Received, s.Accepted, s.Dropped)
	waitFor(t, "handler to catch up", func() bool { return handled.Load() == r.Stats().Accepted })

	// 2. A stuck handler: one event in its hands, the queue full, the rest
	// dropped. Sending is paced by what the receiver has read, so the
	// kernel drops nothing and the counts are exact.
	block.Store(true)
	base := r.Stats()
	if _, err := conn.Write(msg); err != nil {
		t.Fatal(err)
	}
	<-started
	sent := uint64(1)
	for sent < burst {
		n := min(200, burst-sent)
		for range n {
			if _, err := conn.Write(msg); err != nil {
				t.Fatal(err)
			}
		}
		sent += n
		waitFor(t, "receiver to read the chunk", func() bool {
			s := r.Stats()
			return s.Received-base.Received == sent && s.outcomes() == s.Received
		})
	}
	s = r.Stats()
	if got := s.Accepted - base.Accepted; got != queue+1 {
		t.Errorf("stuck handler: accepted %d, want %d (queue + the one in the handler)", got, queue+1)
	}
	if got := s.Dropped - base.Dropped; got != burst-queue-1 {
		t.Errorf("stuck handler: dropped %d, want %d", got, burst-queue-1)
	}
	checkInvariant(t, s)
	close(stuck)

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	conn.Close()
	if got, want := handled.Load(), r.Stats().Accepted; got != want {
		t.Errorf("handled %d events, accepted %d", got, want)
	}
	waitGoroutines(t, before)
}

// settle waits until the receiver has read nothing new for 200ms.
func settle(t *testing.T, r *Receiver) Stats {
	t.Helper()
	last := r.Stats()
	for {
		time.Sleep(200 * time.Millisecond)
		s := r.Stats()
		if s.Received == last.Received {
			return s
		}
		last = s
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func BenchmarkHandle(b *testing.B) {
	msgs := map[string][]byte{
		"v2c":         v2cMsg(b, "public", gosnmp.SNMPv2Trap, 1, linkDownVBs),
		"v3-authPriv": aliceA.msg(b, gosnmp.SNMPv2Trap, 1, 2, linkDownVBs),
	}
	for name, msg := range msgs {
		b.Run(name, func(b *testing.B) {
			c := &clock{t: testStart}
			o := testOpts(c)
			o.QueueSize = 1
			r, err := New(&o)
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, len(msg))
			b.ReportAllocs()
			for b.Loop() {
				copy(buf, msg) // decryption works in place
				r.handle(buf, peerA, testStart)
				<-r.queue
			}
		})
	}
}
