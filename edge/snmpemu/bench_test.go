package snmpemu_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/rackwatch/rackwatch/edge/snmpemu"
	"github.com/rackwatch/rackwatch/edge/snmppoll"
)

// Requests over loopback, one gosnmp client per goroutine: a GET of
// sysUpTime.0 and a GETBULK of 25 repetitions of six ifTable columns (the
// poller's request shape).
func BenchmarkAgent(b *testing.B) {
	sw := newSwitch48(b)
	a := start(b, snmpemu.Opts{Table: sw.Table()})
	cols := []string{".1.3.6.1.2.1.2.2.1.2", ".1.3.6.1.2.1.2.2.1.8", ".1.3.6.1.2.1.2.2.1.13", ".1.3.6.1.2.1.2.2.1.14", ".1.3.6.1.2.1.2.2.1.19", ".1.3.6.1.2.1.2.2.1.20"}
	for _, tt := range []struct {
		name string
		do   func(g *gosnmp.GoSNMP) error
	}{
		{"get", func(g *gosnmp.GoSNMP) error { _, err := g.Get([]string{".1.3.6.1.2.1.1.3.0"}); return err }},
		{"getbulk-6x25", func(g *gosnmp.GoSNMP) error { _, err := g.GetBulk(cols, 0, 25); return err }},
	} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				g := benchClient(b, a)
				defer g.Conn.Close()
				for pb.Next() {
					if err := tt.do(g); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

// Full polls of a 48-port switch by the real poller (if-mib and lldp
// profiles): what an edge costs the emulator.
func BenchmarkPollSwitch(b *testing.B) {
	sw := newSwitch48(b)
	a := start(b, snmpemu.Opts{Table: sw.Table()})
	p, err := snmppoll.New(&snmppoll.Opts{Name: "bench", Address: a.Addr()})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Poll(b.Context()); err != nil {
		b.Fatal(err)
	}
	before := a.Stats().Answered
	b.ResetTimer()
	for b.Loop() {
		if _, err := p.Poll(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(a.Stats().Answered-before)/float64(b.N), "req/poll")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "polls/s")
}

func benchClient(b *testing.B, a *snmpemu.Agent) *gosnmp.GoSNMP {
	var host string
	var port uint16
	if _, err := fmt.Sscanf(a.Addr(), "127.0.0.1:%d", &port); err != nil {
		b.Fatal(err)
	}
	host = "127.0.0.1"
	g := &gosnmp.GoSNMP{Target: host, Port: port, Community: "public", Version: gosnmp.Version2c, Timeout: 2 * time.Second, Retries: 1, MaxOids: gosnmp.MaxOids}
	if err := g.Connect(); err != nil {
		b.Fatal(err)
	}
	return g
}
