package snmppoll

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestPollUnreachable polls, through gosnmp, a UDP socket that reads every
// request and never answers, as a target that drops SNMP would.
func TestPollUnreachable(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ network, addr string }{
		{"udp4", "127.0.0.1:0"},
		{"udp6", "[::1]:0"},
	} {
		t.Run(tt.network, func(t *testing.T) {
			t.Parallel()
			pc, err := net.ListenPacket(tt.network, tt.addr)
			if err != nil {
				if tt.network == "udp6" {
					t.Skipf("no IPv6 loopback: %v", err)
				}
				t.Fatal(err)
			}
			var requests atomic.Int32
			done := make(chan struct{})
			go func() {
				defer close(done)
				buf := make([]byte, 65536)
				for {
					if _, _, err := pc.ReadFrom(buf); err != nil {
						return
					}
					requests.Add(1)
				}
			}()
			defer func() {
				pc.Close()
				<-done
			}()
			addr := pc.LocalAddr().String()
			p, err := New(&Opts{Name: "tor1", Address: addr, Timeout: 100 * time.Millisecond, Retries: 1, Profiles: []string{"if-mib"}})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			got, err := p.Poll(context.Background())
			want := fmt.Sprintf("snmppoll: tor1 (%s): get sysUpTime, sysObjectID, sysDescr: no answer (wrong community, or target down): request timeout", addr)
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("err = %v, want %q...", err, want)
			}
			if len(got) != 0 {
				t.Errorf("samples %q, want none", render(got))
			}
			// One request and one retry, then the poll stops.
			if n := requests.Load(); n != 2 {
				t.Errorf("agent saw %d requests, want 2", n)
			}
		})
	}
}

// TestPollDeadline checks that the context's deadline, shorter than the
// request timeout, ends the poll.
func TestPollDeadline(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	p, err := New(&Opts{Name: "tor1", Address: pc.LocalAddr().String(), Timeout: 10 * time.Second, Profiles: []string{"idrac"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = p.Poll(ctx)
	if err == nil || !strings.Contains(err.Error(), "get sysUpTime, sysObjectID, sysDescr: context deadline exceeded") {
		t.Errorf("err = %v, want the deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("poll took %v despite a 200ms deadline", d)
	}
}
