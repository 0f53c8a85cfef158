package edgenode

import (
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/agent"
)

// TestUnsyncedClockFlagsData: while the clock is not synchronised the
// node's data carries the flag the collector reads as Update.ClockUnsynced,
// and the status device says so; once synchronised, data is plain again.
func TestUnsyncedClockFlagsData(t *testing.T) {
	broker := testrig.StartMosquitto(t, nil)
	w := watch(t, broker.URL)
	dir := t.TempDir()
	cfg, _ := writeConfig(t, dir, fmt.Sprintf(`version: 1
edge: {node: rack1, state_dir: %s}
mqtt: {broker: %s, primary_host: ""}
i2c:
  - bus: emulated
    sensors: [{name: inlet, chip: tmp102, address: 0x48, period: 100ms}]
`, dir, broker.URL))
	var synced atomic.Bool
	runNode(t, cfg, Opts{ClockSynced: synced.Load})

	waitFor(t, 15*time.Second, "flagged data from inlet", func() bool {
		u, ok := w.last("inlet")
		return ok && u.ClockUnsynced && len(u.Samples) > 0
	})
	waitFor(t, 15*time.Second, "the status device to report the clock", func() bool {
		s, ok := w.find(StatusDevice, EdgeClockSynced, "", "")
		return ok && !s.Value.Bool()
	})
	if u, _ := w.last(StatusDevice); !u.ClockUnsynced {
		t.Error("the status device's own data is not flagged")
	}
	synced.Store(true)
	seen := w.count("inlet")
	waitFor(t, 15*time.Second, "plain data once the clock is synchronised", func() bool {
		u, ok := w.last("inlet")
		return ok && w.count("inlet") > seen+1 && !u.ClockUnsynced
	})
	if _, ok := w.find("inlet", "rackwatch/clock_unsynced", "", ""); ok {
		t.Error("the flag reached the host as a sample")
	}
}

func TestClockWatchLogsChanges(t *testing.T) {
	var logs strings.Builder
	var ok atomic.Bool
	c := &clockWatch{check: ok.Load, log: slog.New(slog.NewTextHandler(&logs, nil))}
	for _, state := range []bool{false, false, true, true, false} {
		ok.Store(state)
		if got := c.synced(); got != state {
			t.Errorf("synced() = %v, want %v", got, state)
		}
	}
	if n := strings.Count(logs.String(), "not synchronised"); n != 2 {
		t.Errorf("%d warnings for two losses of synchronisation:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "clock synchronised"); n != 1 {
		t.Errorf("%d notices for one synchronisation:\n%s", n, logs.String())
	}
	var quiet atomic.Bool
	quiet.Store(true)
	silent := &strings.Builder{}
	c = &clockWatch{check: quiet.Load, log: slog.New(slog.NewTextHandler(silent, nil))}
	c.synced()
	if silent.Len() != 0 {
		t.Errorf("a clock synchronised from the start is logged: %s", silent)
	}
}

func TestSourceStatsSamples(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	got := appendSourceStats(nil, []agent.SourceStats{
		{Device: "inlet", Up: true, Collects: 10, Duration: 1500 * time.Microsecond},
		{Device: "tor1", Collects: 4, Failures: 4, Skipped: 7, Duration: 2 * time.Second, BreakerOpen: true},
		{Device: "late"}, // not due yet: no data rather than "down"
	}, now)
	want := []string{
		`edge_source_up{source="inlet"} true bool`,
		`edge_source_duration_seconds{source="inlet"} 0.0015 seconds`,
		`edge_source_failures_total{source="inlet"} 0 collects`,
		`edge_source_skipped_total{source="inlet"} 0 collects`,
		`edge_source_breaker_open{source="inlet"} false bool`,
		`edge_source_up{source="tor1"} false bool`,
		`edge_source_duration_seconds{source="tor1"} 2 seconds`,
		`edge_source_failures_total{source="tor1"} 4 collects`,
		`edge_source_skipped_total{source="tor1"} 7 collects`,
		`edge_source_breaker_open{source="tor1"} true bool`,
	}
	if len(got) != len(want) {
		t.Fatalf("%d samples, want %d: %v", len(got), len(want), got)
	}
	for i, s := range got {
		if line := fmt.Sprintf("%s %s %s", s.Series(), s.Value, s.Unit); line != want[i] || !s.TS.Equal(now) {
			t.Errorf("sample %d: %s at %v, want %s", i, line, s.TS, want[i])
		}
	}
}
