package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/rackwatch/rackwatch/edge/edgenode"
	"github.com/rackwatch/rackwatch/edge/hostsignals"
	"github.com/rackwatch/rackwatch/edge/sample"
	"github.com/rackwatch/rackwatch/edge/snmppoll"
	"github.com/rackwatch/rackwatch/edge/traps"
)

// TestWireDocCatalogue keeps the metric catalogue of docs/wire.md and the
// code in step, both ways.
func TestWireDocCatalogue(t *testing.T) {
	b, err := os.ReadFile("../../../docs/wire.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start := strings.Index(doc, "## Metric catalogue")
	end := strings.Index(doc, "## InfluxDB")
	if start < 0 || end < start {
		t.Fatal("docs/wire.md: no metric catalogue section before the InfluxDB section")
	}
	documented := map[string]bool{}
	row := regexp.MustCompile("(?m)^\\| `([a-z0-9_]+)` \\|")
	for _, m := range row.FindAllStringSubmatch(doc[start:end], -1) {
		documented[m[1]] = true
	}

	known := map[string]bool{}
	for _, d := range sample.Catalogue {
		known[d.Name] = true
	}
	for _, d := range snmppoll.Metrics {
		if !strings.HasSuffix(d.Name, "_per_second") { // one row covers the rates
			known[d.Name] = true
		}
	}
	for _, n := range []string{
		hostsignals.CPUFrequency, hostsignals.CPUThrottleActive, hostsignals.IfCarrierChanges,
		hostsignals.KernelSynFlood, hostsignals.KernelSocketOOM, hostsignals.KernelLinkEvents,
		edgenode.EdgeQueued, edgenode.EdgeDropped, edgenode.EdgePublished,
		edgenode.EdgeCommands, edgenode.EdgeCommandVersion, edgenode.EdgeCommandActive, edgenode.EdgeCommandRejections,
		edgenode.EdgeSourceUp, edgenode.EdgeSourceDuration, edgenode.EdgeSourceFailures,
		edgenode.EdgeSourceSkipped, edgenode.EdgeSourceBreakerOpen, edgenode.EdgeClockSynced,
		traps.MetricTraps,
	} {
		known[n] = true
	}

	for n := range known {
		if !documented[n] {
			t.Errorf("docs/wire.md: metric %s is published but not in the catalogue", n)
		}
	}
	for n := range documented {
		if !known[n] {
			t.Errorf("docs/wire.md: catalogue lists %s, which nothing publishes", n)
		}
	}
}
