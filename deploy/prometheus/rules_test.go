// Package prometheus_test checks the Prometheus files shipped in
// deploy/prometheus with promtool, and that they and docs/metrics.md
// name only metrics the binaries expose.
package prometheus_test

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	collector "github.com/rackwatch/rackwatch/collector/metrics"
	"github.com/rackwatch/rackwatch/deploy/testrig"
	edge "github.com/rackwatch/rackwatch/edge/metrics"
)

func promtool(t *testing.T, args ...string) {
	t.Helper()
	bin := testrig.Require(t, "promtool", "prometheus")
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestRulesCheck(t *testing.T) {
	t.Parallel()
	promtool(t, "check", "rules", "rackwatch.rules.yml")
}

func TestRulesUnitTests(t *testing.T) {
	t.Parallel()
	promtool(t, "test", "rules", "rackwatch.rules.test.yml")
}

func TestScrapeConfigCheck(t *testing.T) {
	t.Parallel()
	promtool(t, "check", "config", "prometheus.example.yml")
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// exposed lists the names of the metrics the two binaries' collectors
// describe.
func exposed(t *testing.T) []string {
	t.Helper()
	ch := make(chan *prometheus.Desc, 256)
	edge.New(edge.Opts{}).Describe(ch)
	collector.New(collector.Opts{}).Describe(ch)
	close(ch)
	var names []string
	for d := range ch {
		m := fqName.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read the name of %s", d)
		}
		names = append(names, m[1])
	}
	return names
}

var metricName = regexp.MustCompile(`\brackwatch_[a-z0-9_]+`)

// TestRulesNameExposedMetrics catches a rule left behind by a renamed
// metric: promtool accepts any name, and such a rule never fires.
func TestRulesNameExposedMetrics(t *testing.T) {
	t.Parallel()
	names := exposed(t)
	for _, f := range []string{"rackwatch.rules.yml", "rackwatch.rules.test.yml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range metricName.FindAllString(string(b), -1) {
			if !slices.Contains(names, n) {
				t.Errorf("%s names %s, which neither binary exposes", f, n)
			}
		}
	}
}

// TestMetricsAreDocumented keeps docs/metrics.md complete.
func TestMetricsAreDocumented(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, n := range exposed(t) {
		if !strings.Contains(doc, "`"+n+"`") {
			t.Errorf("docs/metrics.md does not list %s", n)
		}
	}
	for _, n := range metricName.FindAllString(doc, -1) {
		if !slices.Contains(exposed(t), n) && !strings.HasSuffix(n, "_") {
			t.Errorf("docs/metrics.md lists %s, which neither binary exposes", n)
		}
	}
}
