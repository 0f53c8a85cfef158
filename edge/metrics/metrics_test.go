package metrics_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rackwatch/rackwatch/edge/agent"
	"github.com/rackwatch/rackwatch/edge/agentcheck"
	"github.com/rackwatch/rackwatch/edge/command"
	"github.com/rackwatch/rackwatch/edge/metrics"
	"github.com/rackwatch/rackwatch/edge/metrics/expose"
	"github.com/rackwatch/rackwatch/edge/publish"
	"github.com/rackwatch/rackwatch/edge/spool"
	"github.com/rackwatch/rackwatch/edge/traps"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func fullOpts() metrics.Opts {
	return metrics.Opts{
		Publisher: func() publish.Stats {
			return publish.Stats{Connected: true, Sessions: 2, Published: 1200, Dropped: 7, Queued: 35, Rebirths: 1, CommandsDropped: 3, ConnectErr: 4}
		},
		Spool: func() spool.Stats {
			return spool.Stats{DiskBytes: 4096, Segments: 2, Pending: 5, PendingSamples: 35, MemoryBytes: 512, Dropped: 1, DroppedSamples: 7,
				Corrupt: 2, Writes: 40, WrittenBytes: 8192, Fsyncs: 12, WriteErrors: 0, Failing: false}
		},
		SpoolCapacity: 64 << 20,
		Sources: func() []agent.SourceStats {
			return []agent.SourceStats{
				{Device: "inlet", Up: true, Collects: 10, Samples: 20, Duration: 1500 * time.Microsecond, Last: t0},
				{Device: "tor1", Up: false, Collects: 4, Failures: 4, Skipped: 6, BreakerOpen: true, Duration: 15 * time.Second, Last: t0.Add(-time.Minute)},
				{Device: "pdu1"}, // never due yet: left out
			}
		},
		Commands: func() command.Counters {
			return command.Counters{Applied: 3, Stale: 1, Refused: map[command.Reason]uint64{command.ReasonTopic: 2, command.ReasonMalformed: 1, command.ReasonForged: 4}}
		},
		Traps: func() (traps.Stats, bool) {
			return traps.Stats{Received: 9, Accepted: 5, Dropped: 1, Rejected: 3, BadCommunity: 2, UnknownPeer: 1, InformsAcked: 4}, true
		},
		AgentCheck:  func() (agentcheck.Stats, bool) { return agentcheck.Stats{Answered: 100, Overflow: 1}, true },
		ClockSynced: func() bool { return true },
	}
}

func TestCollectorExposesTheCounters(t *testing.T) {
	t.Parallel()
	c := metrics.New(fullOpts())
	const want = `
# HELP rackwatch_edge_samples_dropped_total Samples lost on the edge: dropped from the full spool, or refused by the queue or the Sparkplug session.
# TYPE rackwatch_edge_samples_dropped_total counter
rackwatch_edge_samples_dropped_total 7
# HELP rackwatch_edge_samples_queued Samples waiting in the spool for the broker's acknowledgement.
# TYPE rackwatch_edge_samples_queued gauge
rackwatch_edge_samples_queued 35
# HELP rackwatch_edge_spool_bytes Bytes in the spool's segment files.
# TYPE rackwatch_edge_spool_bytes gauge
rackwatch_edge_spool_bytes 4096
# HELP rackwatch_edge_spool_capacity_bytes The spool's bound (spool.max_mb); beyond it the oldest samples are dropped.
# TYPE rackwatch_edge_spool_capacity_bytes gauge
rackwatch_edge_spool_capacity_bytes 6.7108864e+07
# HELP rackwatch_edge_source_up Whether the source's last collect returned no error (1) or not (0).
# TYPE rackwatch_edge_source_up gauge
rackwatch_edge_source_up{source="inlet"} 1
rackwatch_edge_source_up{source="tor1"} 0
# HELP rackwatch_edge_source_collect_duration_seconds How long the source's last collect took.
# TYPE rackwatch_edge_source_collect_duration_seconds gauge
rackwatch_edge_source_collect_duration_seconds{source="inlet"} 0.0015
rackwatch_edge_source_collect_duration_seconds{source="tor1"} 15
# HELP rackwatch_edge_source_samples_total Samples the source's collects delivered.
# TYPE rackwatch_edge_source_samples_total counter
rackwatch_edge_source_samples_total{source="inlet"} 20
rackwatch_edge_source_samples_total{source="tor1"} 0
# HELP rackwatch_edge_source_breaker_open Whether the source's circuit breaker is open (1) or not (0).
# TYPE rackwatch_edge_source_breaker_open gauge
rackwatch_edge_source_breaker_open{source="inlet"} 0
rackwatch_edge_source_breaker_open{source="tor1"} 1
# HELP rackwatch_edge_source_last_collect_timestamp_seconds When the source's last collect ended, in seconds since the epoch.
# TYPE rackwatch_edge_source_last_collect_timestamp_seconds gauge
rackwatch_edge_source_last_collect_timestamp_seconds{source="inlet"} 1.7956944e+09
rackwatch_edge_source_last_collect_timestamp_seconds{source="tor1"} 1.79569434e+09
# HELP rackwatch_edge_commands_refused_total Commands refused, by reason.
# TYPE rackwatch_edge_commands_refused_total counter
rackwatch_edge_commands_refused_total{reason="forged"} 4
rackwatch_edge_commands_refused_total{reason="malformed"} 1
rackwatch_edge_commands_refused_total{reason="topic"} 2
# HELP rackwatch_edge_command_rejections_total Commands refused by the signature check (unsigned, forged, expired, replayed); also in commands_refused_total.
# TYPE rackwatch_edge_command_rejections_total counter
rackwatch_edge_command_rejections_total{reason="expired"} 0
rackwatch_edge_command_rejections_total{reason="forged"} 4
rackwatch_edge_command_rejections_total{reason="replayed"} 0
rackwatch_edge_command_rejections_total{reason="unsigned"} 0
# HELP rackwatch_edge_traps_datagrams_total Datagrams the notification receiver read, by outcome.
# TYPE rackwatch_edge_traps_datagrams_total counter
rackwatch_edge_traps_datagrams_total{outcome="accepted"} 5
rackwatch_edge_traps_datagrams_total{outcome="discovery"} 0
rackwatch_edge_traps_datagrams_total{outcome="dropped"} 1
rackwatch_edge_traps_datagrams_total{outcome="ignored"} 0
rackwatch_edge_traps_datagrams_total{outcome="malformed"} 0
rackwatch_edge_traps_datagrams_total{outcome="rejected"} 3
# HELP rackwatch_edge_agentcheck_answers_total Lines the agent-check responder wrote to HAProxy.
# TYPE rackwatch_edge_agentcheck_answers_total counter
rackwatch_edge_agentcheck_answers_total 100
# HELP rackwatch_edge_clock_synced Whether the system clock is synchronised (1) or not (0); while it is not, data is flagged.
# TYPE rackwatch_edge_clock_synced gauge
rackwatch_edge_clock_synced 1
`
	err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"rackwatch_edge_samples_dropped_total", "rackwatch_edge_samples_queued", "rackwatch_edge_spool_bytes",
		"rackwatch_edge_spool_capacity_bytes", "rackwatch_edge_source_up", "rackwatch_edge_source_collect_duration_seconds",
		"rackwatch_edge_source_samples_total", "rackwatch_edge_source_breaker_open", "rackwatch_edge_source_last_collect_timestamp_seconds",
		"rackwatch_edge_commands_refused_total", "rackwatch_edge_command_rejections_total", "rackwatch_edge_traps_datagrams_total", "rackwatch_edge_agentcheck_answers_total",
		"rackwatch_edge_clock_synced")
	if err != nil {
		t.Error(err)
	}
	// Every described metric is produced when every part runs.
	if n := testutil.CollectAndCount(c); n < 60 {
		t.Errorf("%d series, want every group present", n)
	}
}

func TestCollectorPassesLint(t *testing.T) {
	t.Parallel()
	problems, err := testutil.CollectAndLint(metrics.New(fullOpts()))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestPartsNotRunningAreLeftOut: an edge without a trap receiver or an
// agent-check responder exposes none of their series, rather than zeros
// that would read as "running, idle".
func TestPartsNotRunningAreLeftOut(t *testing.T) {
	t.Parallel()
	o := fullOpts()
	o.Traps = func() (traps.Stats, bool) { return traps.Stats{}, false }
	o.AgentCheck = nil
	o.Sources = nil
	c := metrics.New(o)
	for _, name := range []string{"rackwatch_edge_traps_datagrams_total", "rackwatch_edge_agentcheck_answers_total", "rackwatch_edge_source_up"} {
		if n := testutil.CollectAndCount(c, name); n != 0 {
			t.Errorf("%s: %d series from a part that is not running", name, n)
		}
	}
	if n := testutil.CollectAndCount(c, "rackwatch_edge_mqtt_connected"); n != 1 {
		t.Errorf("rackwatch_edge_mqtt_connected: %d series, want 1", n)
	}
}

// TestServerServesMetrics starts the endpoint on a loopback port, scrapes
// it, parses the exposition, and has promtool check it when present.
func TestServerServesMetrics(t *testing.T) {
	t.Parallel()
	reg, err := expose.NewRegistry(metrics.New(fullOpts()))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := metrics.Listen(ctx, "127.0.0.1:0", expose.Handler(reg, log), log)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	body := scrape(t, "http://"+srv.Addr()+"/metrics")
	fams := parse(t, body)
	for _, name := range []string{"rackwatch_edge_samples_published_total", "rackwatch_edge_spool_bytes", "go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("%s missing from the scrape", name)
		}
	}
	if got := fams["rackwatch_edge_samples_published_total"].GetMetric()[0].GetCounter().GetValue(); got != 1200 {
		t.Errorf("samples published = %v, want 1200", got)
	}
	promtoolCheck(t, body)

	for path, want := range map[string]int{"/": http.StatusOK, "/nope": http.StatusNotFound} {
		resp, err := http.Get("http://" + srv.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %s, want %d", path, resp.Status, want)
		}
	}
	resp, err := http.Post("http://"+srv.Addr()+"/metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %s, want 405", resp.Status)
	}
}

// TestServerCutsOffStalledClients: a client that opens a connection and
// sends nothing does not hold it past the header timeout, so idle sockets
// cannot pile up on a small board.
func TestServerCutsOffStalledClients(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the header timeout")
	}
	t.Parallel()
	reg := prometheus.NewRegistry()
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := metrics.Listen(ctx, "127.0.0.1:0", expose.Handler(reg, log), log)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ctx)
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET /metrics HTTP/1.1\r\n")) // and never the rest
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	start := time.Now()
	io.Copy(io.Discard, c) // returns when the server closes
	if d := time.Since(start); d > 12*time.Second {
		t.Errorf("a stalled client held its connection %s", d)
	}
}

func TestListenNamesTheKey(t *testing.T) {
	t.Parallel()
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	_, err = metrics.Listen(context.Background(), held.Addr().String(), http.NotFoundHandler(), nil)
	if err == nil || !strings.Contains(err.Error(), "metrics.listen") || !strings.Contains(err.Error(), "already in use") {
		t.Errorf("error = %v, want it to name metrics.listen and the address in use", err)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q, want the text exposition format", ct)
	}
	return string(b)
}

func parse(t *testing.T, body string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("the scrape does not parse: %v", err)
	}
	return fams
}

// promtoolCheck runs promtool check metrics on the exposition when
// promtool is installed (Debian: prometheus); the rig's test in
// deploy/prometheus requires it.
func promtoolCheck(t *testing.T, body string) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not installed: exposition not checked by it")
		return
	}
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
