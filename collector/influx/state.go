package influx

import (
	"math"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api/write"
)

// Measurements the collector writes besides the edges' samples.
const (
	NodeMeasurement = "rackwatch_node"
	EdgeMeasurement = "rackwatch_edge"
)

// NodeStateName is a node's state as the dashboards show it.
type NodeStateName string

// Node states, in the order of their codes (field state_code), which is
// the order of the collector's Prometheus node states.
const (
	NodeOK        NodeStateName = "ok"        // full service, with fresh data
	NodeShed      NodeStateName = "shed"      // weight lowered
	NodeDrained   NodeStateName = "drained"   // no new traffic
	NodeRestoring NodeStateName = "restoring" // on the ramp back to full service
	NodePinned    NodeStateName = "pinned"    // an operator holds it: pinned in the API or changed in the load balancer
	NodeNoData    NodeStateName = "no_data"   // in full service, but without a fresh CPU temperature to protect it by
)

var nodeCodes = map[NodeStateName]int64{NodeOK: 0, NodeShed: 1, NodeDrained: 2, NodeRestoring: 3, NodePinned: 4, NodeNoData: 5}

// Code returns the state's integer code: ok 0, shed 1, drained 2,
// restoring 3, pinned 4, no_data 5, unknown -1.
func (n NodeStateName) Code() int64 {
	if c, ok := nodeCodes[n]; ok {
		return c
	}
	return -1
}

// NodeState is what the collector knows of a node after a decision pass.
// A float that is NaN is unknown: its field is left out of the point, so a
// dashboard shows a gap rather than a zero.
type NodeState struct {
	TS         time.Time
	Node, Rack string
	State      NodeStateName
	// WeightPct is the weight the collector wants, as a percentage of the
	// configured one (0 when drained), for the most reduced of the node's
	// load-balancer entries.
	WeightPct int
	// CPUTemp is the hottest CPU or BMC sensor, CPUTempLimit its critical
	// limit, InletTemp the rack inlet; °C.
	CPUTemp, CPUTempLimit, InletTemp float64
	// ThrottleRate (events/s) and FCSRate (frames/s) are rates over the
	// correlation window; Flaps counts link changes in it.
	ThrottleRate, FCSRate, Flaps float64
	// Latency is the node's current latency, Baseline its own normal and
	// BackendP99 its backend's p99, in seconds; the worst of its entries.
	Latency, Baseline, BackendP99 float64
}

// WriteNode queues n as a point of the measurement rackwatch_node. It never
// blocks.
func (s *Sink) WriteNode(n NodeState) {
	if n.Node == "" || n.State.Code() < 0 {
		s.dropped.Add(1)
		return
	}
	s.enqueue(s.nodePoint(n))
}

func (s *Sink) nodePoint(n NodeState) *write.Point {
	p := write.NewPointWithMeasurement(NodeMeasurement).
		AddTag("node", n.Node).
		AddTag("rack", n.Rack).
		AddField("state", string(n.State)).
		AddField("state_code", n.State.Code()).
		AddField("weight_pct", int64(n.WeightPct)).
		SetTime(s.timestamp(n.TS))
	for _, f := range []struct {
		key string
		v   float64
	}{
		{"cpu_temp_celsius", n.CPUTemp},
		{"cpu_temp_limit_celsius", n.CPUTempLimit},
		{"inlet_temp_celsius", n.InletTemp},
		{"throttle_per_second", n.ThrottleRate},
		{"fcs_errors_per_second", n.FCSRate},
		{"link_flaps", n.Flaps},
		{"latency_seconds", n.Latency},
		{"latency_baseline_seconds", n.Baseline},
		{"backend_p99_seconds", n.BackendP99},
	} {
		if !math.IsNaN(f.v) && !math.IsInf(f.v, 0) {
			p.AddField(f.key, f.v)
		}
	}
	return p
}

// WriteEdge queues a point of the measurement rackwatch_edge: the edge came
// online (its NBIRTH) or went offline (its NDEATH). It never blocks.
func (s *Sink) WriteEdge(ts time.Time, edge string, online bool) {
	if edge == "" {
		s.dropped.Add(1)
		return
	}
	var v int64
	if online {
		v = 1
	}
	// An integer rather than a boolean: a dashboard sums it over edges.
	s.enqueue(write.NewPointWithMeasurement(EdgeMeasurement).
		AddTag("edge", edge).
		AddField("online", v).
		SetTime(s.timestamp(ts)))
}
