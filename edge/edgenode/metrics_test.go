package edgenode

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rackwatch/rackwatch/deploy/testrig"
)

// freePort returns a loopback port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func get(addr string) (string, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", resp.Status, b)
	}
	return string(b), nil
}

// TestMetricsRunnerMovesTheEndpoint covers every change a reload can make
// to metrics.listen, without a node.
func TestMetricsRunnerMovesTheEndpoint(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "up 1\n") })
	m := &metricsRunner{log: slog.New(slog.DiscardHandler), handler: h}
	defer m.stop()
	ctx := t.Context()
	serving := func(addr string) bool { _, err := get(addr); return err == nil }

	if err := m.set(ctx, ""); err != nil || m.boundAddr() != "" {
		t.Fatalf("empty address: %v, bound %q", err, m.boundAddr())
	}
	port := freePort(t)
	wild := "0.0.0.0:" + strconv.Itoa(port)
	if err := m.set(ctx, wild); err != nil {
		t.Fatal(err)
	}
	first := "127.0.0.1:" + strconv.Itoa(port)
	if !serving(first) {
		t.Fatalf("not serving on %s", wild)
	}

	// An address in use: the error names the key, and the old endpoint
	// keeps serving.
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	err = m.set(ctx, held.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "metrics.listen") {
		t.Errorf("moving to an address in use: %v, want an error naming metrics.listen", err)
	}
	if !serving(first) || m.boundAddr() != "[::]:"+strconv.Itoa(port) && m.boundAddr() != wild {
		t.Errorf("the old endpoint stopped after a failed move (bound %q)", m.boundAddr())
	}

	// An address that overlaps the one served: the old server must let go
	// of the port first.
	if err := m.set(ctx, first); err != nil {
		t.Fatalf("moving from %s to %s: %v", wild, first, err)
	}
	if m.boundAddr() != first || !serving(first) {
		t.Errorf("bound %q, want %s serving", m.boundAddr(), first)
	}

	// Another port: the old one closes.
	next := "127.0.0.1:" + strconv.Itoa(freePort(t))
	if err := m.set(ctx, next); err != nil {
		t.Fatal(err)
	}
	if !serving(next) || serving(first) {
		t.Errorf("after moving to %s: serving there %t, still on %s %t", next, serving(next), first, serving(first))
	}
	if err := m.set(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if serving(next) || m.boundAddr() != "" {
		t.Errorf("still serving after metrics.listen was removed")
	}
}

// TestNodeServesMetricsAndReloadsTheListener runs a node with the endpoint
// on, scrapes it, and moves and closes it by reloading the file.
func TestNodeServesMetricsAndReloadsTheListener(t *testing.T) {
	broker := testrig.StartMosquitto(t, nil)
	dir := t.TempDir()
	body := func(listen string) string {
		s := fmt.Sprintf("version: 1\nedge: {node: rack1, state_dir: %s}\nmqtt: {broker: %s, primary_host: \"\"}\n", dir, broker.URL)
		s += "spool: {max_mb: 8}\ni2c:\n  - bus: emulated\n    sensors: [{name: inlet, chip: tmp102, address: 0x48, period: 100ms}]\n"
		if listen != "" {
			s += "metrics: {listen: '" + listen + "'}\n"
		}
		return s
	}
	first := "127.0.0.1:" + strconv.Itoa(freePort(t))
	cfg, path := writeConfig(t, dir, body(first))
	logs := &testrig.Buffer{}
	n := runNode(t, cfg, Opts{Logger: slog.New(slog.NewTextHandler(logs, nil)), ClockSynced: func() bool { return true }})
	waitFor(t, 10*time.Second, "the metrics endpoint", func() bool { return n.MetricsAddr() == first })

	var text string
	waitFor(t, 10*time.Second, "published samples in the scrape", func() bool {
		s, err := get(first)
		if err != nil {
			return false
		}
		text = s
		return strings.Contains(text, "rackwatch_edge_source_samples_total{source=\"inlet\"}") &&
			!strings.Contains(text, "rackwatch_edge_samples_published_total 0\n")
	})
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("the scrape does not parse: %v", err)
	}
	for name, want := range map[string]float64{
		"rackwatch_edge_spool_capacity_bytes": 8 << 20,
		"rackwatch_edge_mqtt_connected":       1,
		"rackwatch_edge_clock_synced":         1,
	} {
		f, ok := fams[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if got := f.GetMetric()[0].GetGauge().GetValue(); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	for _, name := range []string{"rackwatch_edge_traps_datagrams_total", "rackwatch_edge_agentcheck_answers_total"} {
		if _, ok := fams[name]; ok {
			t.Errorf("%s exposed though the part does not run", name)
		}
	}
	if bin, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(bin, "check", "metrics")
		cmd.Stdin = strings.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	}

	reload := func(listen string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body(listen)), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := n.ReloadFile(t.Context(), path); err != nil {
			t.Fatalf("reload: %v", err)
		}
	}
	// An address in use: the reload applies the rest, logs why the
	// endpoint did not move, and the old one keeps serving.
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reload(held.Addr().String())
	held.Close()
	if _, err := get(first); err != nil || n.MetricsAddr() != first {
		t.Errorf("the endpoint moved or stopped after a failed move: %v (bound %q)", err, n.MetricsAddr())
	}
	if !strings.Contains(logs.String(), "metrics.listen not applied") {
		t.Errorf("the failed move is not logged:\n%s", logs.String())
	}

	second := "127.0.0.1:" + strconv.Itoa(freePort(t))
	reload(second)
	if _, err := get(second); err != nil || n.MetricsAddr() != second {
		t.Errorf("not serving on %s after the reload: %v", second, err)
	}
	if _, err := get(first); err == nil {
		t.Errorf("still serving on %s after moving", first)
	}
	reload("")
	if _, err := get(second); err == nil || n.MetricsAddr() != "" {
		t.Errorf("still serving after metrics.listen was removed")
	}
}
