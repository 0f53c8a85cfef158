package snmppoll

import (
	"strings"
	"testing"

	"github.com/gosnmp/gosnmp"
	"github.com/rackwatch/rackwatch/edge/sample"
)

var benchSink []sample.Sample

// BenchmarkBuildSamples converts a walked 48-port ifTable (with ifXTable and
// dot3StatsTable) into samples. "steady" reuses the table state as a Poller
// does from its second poll on; "first" builds it from scratch.
func BenchmarkBuildSamples(b *testing.B) {
	cp, err := compileProfile(mustProfiles(b, "if-mib")[0])
	if err != nil {
		b.Fatal(err)
	}
	ct := cp.tables[0]
	var ports []port
	for i := 1; i <= 48; i++ {
		ports = append(ports, port{index: 10100 + i, descr: "GigabitEthernet1/0/" + strings.Repeat("x", i%3), name: "Gi1/0/" + string(rune('a'+i%26)) + string(rune('a'+i/26)), up: i%2 == 0, inErr: uint(i)})
	}
	// Group the PDUs by column, as the walks deliver them.
	byCol := make([][]gosnmp.SnmpPDU, len(ct.cols))
	for _, pdu := range ifRows(ports...) {
		for c := range ct.cols {
			if strings.HasPrefix(pdu.Name, ct.cols[c].prefix) {
				byCol[c] = append(byCol[c], pdu)
			}
		}
	}
	const want = 48 * 5
	run := func(b *testing.B, state func() *tableState) {
		b.ReportAllocs()
		for b.Loop() {
			ts := state()
			ts.begin()
			for c, pdus := range byCol {
				for _, pdu := range pdus {
					ts.add(c, pdu)
				}
			}
			var probs problems
			out := ts.build(make([]sample.Sample, 0, want), testNow, &probs)
			if len(out) != want || len(probs.errs) != 0 {
				b.Fatalf("%d samples, problems %v", len(out), probs.errs)
			}
			// Poll hands the slice to its caller: keep it on the heap.
			benchSink = out
		}
	}
	b.Run("steady", func(b *testing.B) {
		ts := newTableState(ct, "tor1 (127.0.0.1:161)")
		run(b, func() *tableState { return ts })
	})
	b.Run("first", func(b *testing.B) {
		run(b, func() *tableState { return newTableState(ct, "tor1 (127.0.0.1:161)") })
	})
}
