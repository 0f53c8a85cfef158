package snmppoll

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/rackwatch/rackwatch/edge/sample"
)

var benchSink []sample.Sample

func benchPorts() []port {
	var ports []port
	for i := 1; i <= 48; i++ {
		ports = append(ports, port{index: 10100 + i, descr: "GigabitEthernet1/0/" + strings.Repeat("x", i%3), name: "Gi1/0/" + string(rune('a'+i%26)) + string(rune('a'+i/26)), up: i%2 == 0, inErr: uint(i)})
	}
	return ports
}

// BenchmarkBuildSamples converts a walked 48-port ifTable (with ifXTable and
// dot3StatsTable) into samples and rates. "steady" reuses the table state
// as a Poller does from its second poll on; "first" builds it from scratch.
func BenchmarkBuildSamples(b *testing.B) {
	set, err := builtinSet()
	if err != nil {
		b.Fatal(err)
	}
	ct := set.lookup("if-mib").tables[0]
	// Group the PDUs by column, as the walk delivers them.
	byCol := make([][]gosnmp.SnmpPDU, len(ct.cols))
	for _, pdu := range ifRows(benchPorts()...) {
		for c := range ct.cols {
			if strings.HasPrefix(pdu.Name, ct.cols[c].prefix) {
				byCol[c] = append(byCol[c], pdu)
			}
		}
	}
	run := func(b *testing.B, state func() *tableState, want int) {
		b.ReportAllocs()
		clk := agentClock{ticks: 1000, wall: testNow, ok: true}
		for b.Loop() {
			ts := state()
			ts.begin()
			for c, pdus := range byCol {
				for i := range pdus {
					ts.add(c, &pdus[i])
				}
			}
			clk.ticks += 6000
			clk.wall = clk.wall.Add(time.Minute)
			var probs problems
			out := ts.build(make([]sample.Sample, 0, want), testNow, clk, &probs)
			if len(out) != want || len(probs.errs) != 0 {
				b.Fatalf("%d samples, want %d, problems %v", len(out), want, probs.errs)
			}
			// Poll hands the slice to its caller: keep it on the heap.
			benchSink = out
		}
	}
	b.Run("steady", func(b *testing.B) {
		ts := newTableState(ct, "tor1 (127.0.0.1:161)")
		// One build to learn the rows and the counters.
		for c, pdus := range byCol {
			for i := range pdus {
				ts.add(c, &pdus[i])
			}
		}
		var probs problems
		ts.build(nil, testNow, agentClock{ticks: 1000, wall: testNow, ok: true}, &probs)
		// Five samples per port and the rates of its four counters.
		run(b, func() *tableState { return ts }, 48*9)
	})
	b.Run("first", func(b *testing.B) {
		run(b, func() *tableState { return newTableState(ct, "tor1 (127.0.0.1:161)") }, 48*5)
	})
}

// BenchmarkPoll polls a 48-port switch (IF-MIB, EtherLike-MIB) and an
// ENTITY-SENSOR-MIB with named sensors through the fake agent, whose
// answers are built for each request as gosnmp would decode them: the
// allocations include the fake's.
func BenchmarkPoll(b *testing.B) {
	pdus := ifRows(benchPorts()...)
	for i := 1; i <= 16; i++ {
		ix := "." + strconv.Itoa(i)
		pdus = append(pdus,
			intPDU("1.3.6.1.2.1.99.1.1.1.1"+ix, 8), intPDU("1.3.6.1.2.1.99.1.1.1.2"+ix, 9), intPDU("1.3.6.1.2.1.99.1.1.1.3"+ix, 1),
			intPDU("1.3.6.1.2.1.99.1.1.1.4"+ix, 300+i), intPDU("1.3.6.1.2.1.99.1.1.1.5"+ix, 1),
			octets("1.3.6.1.2.1.47.1.1.1.1.7"+ix, "Temp"+ix[1:]))
	}
	f := newFakeAgent(pdus...)
	clk := &testClock{t: testNow}
	p := newTestPollerOpts(b, f, &Opts{Profiles: []string{"if-mib", "entity-sensor"}, Now: clk.now})
	ticks := uint32(1000)
	poll := func() []sample.Sample {
		clk.advance(time.Minute)
		ticks += 6000
		f.set(timeticks("1.3.6.1.2.1.1.3.0", ticks))
		ss, err := p.Poll(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		return ss
	}
	poll()
	f.resetLog()
	b.ReportAllocs()
	for b.Loop() {
		benchSink = poll()
	}
	b.StopTimer()
	if want := 48*9 + 16*2; len(benchSink) != want {
		b.Fatalf("%d samples, want %d", len(benchSink), want)
	}
	b.ReportMetric(float64(len(f.requestLog()))/float64(b.N), "requests/op")
}
