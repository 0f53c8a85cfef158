package metrics_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rackwatch/rackwatch/collector/actuate"
	"github.com/rackwatch/rackwatch/collector/audit"
	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/collector/haplog"
	"github.com/rackwatch/rackwatch/collector/ingest"
	"github.com/rackwatch/rackwatch/collector/lbwatch"
	"github.com/rackwatch/rackwatch/collector/metrics"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func fullOpts() metrics.Opts {
	return metrics.Opts{
		Ingest: func() ingest.Stats {
			return ingest.Stats{Connected: true, Messages: 500, Malformed: 1, Samples: 4000, SamplesLost: 12, Duplicates: 3, SeqGaps: 2, Rebirths: 1}
		},
		Audit: func() audit.Counters {
			return audit.Counters{Recorded: 4, Published: 4, Decisions: map[audit.Kind]uint64{
				{Action: decide.ActShed, Outcome: audit.OutcomeTaken}:     2,
				{Action: decide.ActDrain, Outcome: audit.OutcomeWithheld}: 1,
				{Action: decide.ActAlarm, Outcome: audit.OutcomeTaken}:    1,
			}}
		},
		Engine: func() metrics.Engine {
			return metrics.Engine{Passes: 1000, ActionsLastHour: 3, MaxActionsPerHour: 6}
		},
		Reconciler: func() actuate.Stats { return actuate.Stats{Passes: 10, Applied: 2, Failed: 1} },
		Actuators: func() []metrics.Actuator {
			return []metrics.Actuator{{Name: "haproxy", Applied: 3}, {Name: "webhook", Applied: 3, Failed: 1, Retries: 2}}
		},
		HAProxy: func() []lbwatch.InstanceStats {
			return []lbwatch.InstanceStats{{Name: "lb1", Up: true, Polls: 50, Duration: 4 * time.Millisecond}, {Name: "lb2", Polls: 50, Failures: 50, Duration: 2 * time.Second, Restarts: 1}}
		},
		RequestLog: func() haplog.Counters { return haplog.Counters{Lines: 100, Parsed: 98, Ignored: 2} },
		Sinks:      func() []metrics.Sink { return []metrics.Sink{{Name: "influxdb", Errors: 5, Dropped: 7}} },
		Notify:     func() []metrics.Notify { return []metrics.Notify{{Target: "nms1", Sent: 4, InformsAcked: 4}} },
		CommandRejections: func() map[string]uint64 {
			return map[string]uint64{"unsigned": 0, "forged": 2, "expired": 0, "replayed": 1}
		},
		Nodes: func() []metrics.Node {
			return []metrics.Node{
				{Name: "api-1", Rack: "r1", State: metrics.StateDrained, Since: t0, Servers: []metrics.Server{
					{LB: "lb1", Backend: "api", Server: "api-1", Known: true, Weight: 1},
					{LB: "lb2", Backend: "api", Server: "api-1"}, // unread: left out
				}},
				{Name: "api-2", Rack: "r1", State: metrics.StateOK, Servers: []metrics.Server{{LB: "lb1", Backend: "api", Server: "api-2", Known: true, Weight: 0.5}}},
			}
		},
	}
}

func TestCollectorExposesTheCounters(t *testing.T) {
	t.Parallel()
	const want = `
# HELP rackwatch_collector_command_rejections_total Commands the edges reported refusing as unsigned, forged, expired or replayed, by reason.
# TYPE rackwatch_collector_command_rejections_total counter
rackwatch_collector_command_rejections_total{reason="expired"} 0
rackwatch_collector_command_rejections_total{reason="forged"} 2
rackwatch_collector_command_rejections_total{reason="replayed"} 1
rackwatch_collector_command_rejections_total{reason="unsigned"} 0
# HELP rackwatch_collector_decisions_total Decisions recorded, by action and outcome (taken, withheld, dry_run).
# TYPE rackwatch_collector_decisions_total counter
rackwatch_collector_decisions_total{action="alarm",outcome="taken"} 1
rackwatch_collector_decisions_total{action="drain",outcome="withheld"} 1
rackwatch_collector_decisions_total{action="shed",outcome="taken"} 2
# HELP rackwatch_collector_actions_last_hour Sheds and drains taken in the last hour, against the safety budget.
# TYPE rackwatch_collector_actions_last_hour gauge
rackwatch_collector_actions_last_hour 3
# HELP rackwatch_collector_haproxy_up Whether the last read of the HAProxy runtime API succeeded (1) or not (0).
# TYPE rackwatch_collector_haproxy_up gauge
rackwatch_collector_haproxy_up{haproxy="lb1"} 1
rackwatch_collector_haproxy_up{haproxy="lb2"} 0
# HELP rackwatch_collector_sink_write_errors_total Writes a sink reported as failed.
# TYPE rackwatch_collector_sink_write_errors_total counter
rackwatch_collector_sink_write_errors_total{sink="influxdb"} 5
# HELP rackwatch_collector_samples_received_total Samples decoded and stored (births' current values included).
# TYPE rackwatch_collector_samples_received_total counter
rackwatch_collector_samples_received_total 4000
# HELP rackwatch_node_state The node's current state: 1 for the state it is in, 0 for the others.
# TYPE rackwatch_node_state gauge
rackwatch_node_state{node="api-1",rack="r1",state="drained"} 1
rackwatch_node_state{node="api-1",rack="r1",state="no_data"} 0
rackwatch_node_state{node="api-1",rack="r1",state="ok"} 0
rackwatch_node_state{node="api-1",rack="r1",state="pinned"} 0
rackwatch_node_state{node="api-1",rack="r1",state="restoring"} 0
rackwatch_node_state{node="api-1",rack="r1",state="shed"} 0
rackwatch_node_state{node="api-2",rack="r1",state="drained"} 0
rackwatch_node_state{node="api-2",rack="r1",state="no_data"} 0
rackwatch_node_state{node="api-2",rack="r1",state="ok"} 1
rackwatch_node_state{node="api-2",rack="r1",state="pinned"} 0
rackwatch_node_state{node="api-2",rack="r1",state="restoring"} 0
rackwatch_node_state{node="api-2",rack="r1",state="shed"} 0
# HELP rackwatch_node_state_since_timestamp_seconds When the engine put the node at its current level, in seconds since the epoch.
# TYPE rackwatch_node_state_since_timestamp_seconds gauge
rackwatch_node_state_since_timestamp_seconds{node="api-1",rack="r1"} 1.7956944e+09
# HELP rackwatch_node_weight_ratio The server's current weight in the load balancer as a fraction of its configured weight.
# TYPE rackwatch_node_weight_ratio gauge
rackwatch_node_weight_ratio{backend="api",haproxy="lb1",node="api-1",server="api-1"} 1
rackwatch_node_weight_ratio{backend="api",haproxy="lb1",node="api-2",server="api-2"} 0.5
`
	err := testutil.CollectAndCompare(metrics.New(fullOpts()), strings.NewReader(want),
		"rackwatch_collector_decisions_total", "rackwatch_collector_actions_last_hour", "rackwatch_collector_haproxy_up",
		"rackwatch_collector_sink_write_errors_total", "rackwatch_collector_samples_received_total",
		"rackwatch_collector_command_rejections_total", "rackwatch_node_state", "rackwatch_node_state_since_timestamp_seconds", "rackwatch_node_weight_ratio")
	if err != nil {
		t.Error(err)
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

// TestEveryStateIsExposed: a node's state is a set of series, one per
// state, so that a query for state="drained" finds 0 rather than nothing
// when the node is not drained.
func TestEveryStateIsExposed(t *testing.T) {
	t.Parallel()
	o := metrics.Opts{Nodes: func() []metrics.Node { return []metrics.Node{{Name: "n", State: metrics.StatePinned}} }}
	if n := testutil.CollectAndCount(metrics.New(o), "rackwatch_node_state"); n != len(metrics.States) {
		t.Errorf("%d series for one node, want %d", n, len(metrics.States))
	}
	if n := testutil.CollectAndCount(metrics.New(metrics.Opts{})); n != 0 {
		t.Errorf("%d series with no readers, want none", n)
	}
}
