package demo

import (
	"fmt"
	"strings"
	"time"
)

// The demo's site: three racks of three API nodes, each rack with a
// controller (an edge), a top-of-rack switch and a BMC per node, behind one
// load balancer.
const (
	racks        = 3
	nodesPerRack = 3
	group        = "demo"
	hostID       = "rackwatch-collector"
	lbName       = "lb1"
	backend      = "api"
	community    = "public"
)

func rackName(r int) string    { return fmt.Sprintf("r%d", r) }
func edgeName(r int) string    { return fmt.Sprintf("rack%d", r) }
func nodeName(r, n int) string { return fmt.Sprintf("r%dn%d", r, n) }
func bmcName(r, n int) string  { return nodeName(r, n) + "-bmc" }
func portName(n int) string    { return fmt.Sprintf("swp%d", n) }

// Timings are the demo's short periods and holds, chosen so that a fault,
// its shed and drain, and the graded restore fit in a minute. A production
// configuration uses the defaults of docs/configuration.md (a 30 s hold, a
// 2 min drain delay and restore hold), which ride out the blips these
// would act on.
var Timings = []struct {
	Key   string
	Value time.Duration
	Why   string
}{
	{"sensor and SNMP periods", time.Second, "fresh readings every second"},
	{"HAProxy stats period", 250 * time.Millisecond, "state and weights read four times a second"},
	{"haproxy_log.window", 5 * time.Second, "latency percentiles of the request log over 5 s"},
	{"correlation.window", 5 * time.Second, "rates and counts over 5 s"},
	{"policy.hold", 2 * time.Second, "a cause must last 2 s before a shed"},
	{"policy.drain_after", 6 * time.Second, "and 6 s more before a drain"},
	{"policy.restore_hold", 4 * time.Second, "gone 4 s before the restore starts"},
	{"policy.step_hold", 3 * time.Second, "each ramp step (25 %, 50 %, 100 %) held 3 s"},
}

// edgeConfig is rack r's controller: the rack's own sensors on an
// emulated I2C bus, and SNMP to its switch and its nodes' BMCs.
func edgeConfig(r int, stateDir, brokerURL, torAddr string, bmcAddrs []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nedge: {group: %s, node: %s, state_dir: %q}\n", group, edgeName(r), stateDir)
	fmt.Fprintf(&b, "mqtt: {broker: %q, primary_host: %s, backoff_max: 1s}\n", brokerURL, hostID)
	// The emulated switches and BMCs speak v2c only.
	b.WriteString("snmp_security: {allow_community: true}\n")
	b.WriteString(`i2c:
  - bus: emulated
    sensors:
      - {name: inlet, chip: tmp102, address: 0x48, period: 1s}
      - {name: outlet, chip: tmp102, address: 0x49, period: 1s}
      - {name: climate, chip: sht3x, address: 0x44, period: 2s}
      - {name: power, chip: ina226, address: 0x40, period: 1s, shunt_ohms: 0.002}
      - {name: fans, chip: max31790, address: 0x20, period: 2s}
snmp:
`)
	fmt.Fprintf(&b, "  - {name: tor, address: %q, community: %s, profiles: [if-mib], period: 1s, timeout: 1s}\n", torAddr, community)
	for n, a := range bmcAddrs {
		fmt.Fprintf(&b, "  - {name: %s, address: %q, community: %s, profiles: [idrac], period: 1s, timeout: 1s}\n", bmcName(r, n+1), a, community)
	}
	b.WriteString("log: {level: warn}\n")
	return b.String()
}

// collectorConfig is the collector's configuration: the embedded broker,
// the inventory of the three racks, and the demo's timings.
func collectorConfig(stateDir, mqttListen, listen, lbAddress, logAddr string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nstate_dir: %q\n", stateDir)
	fmt.Fprintf(&b, "mqtt: {listen: %q, group: %s, host_id: %s}\n", mqttListen, group, hostID)
	fmt.Fprintf(&b, "api: {listen: %q}\n", listen)
	fmt.Fprintf(&b, "haproxy:\n  - {name: %s, address: %q, period: 250ms, timeout: 1s}\n", lbName, lbAddress)
	fmt.Fprintf(&b, "haproxy_log: {listen: %q, window: 5s}\n", logAddr)
	b.WriteString("racks:\n")
	for r := 1; r <= racks; r++ {
		fmt.Fprintf(&b, "  - {name: %s, edge: %s, inlet: inlet}\n", rackName(r), edgeName(r))
	}
	b.WriteString("nodes:\n")
	for r := 1; r <= racks; r++ {
		for n := 1; n <= nodesPerRack; n++ {
			fmt.Fprintf(&b, "  - {name: %s, rack: %s, edge: %s, bmc: %s, switch: {device: tor, ifname: %s}, lb: [{haproxy: %s, backend: %s, server: %s}]}\n",
				nodeName(r, n), rackName(r), edgeName(r), bmcName(r, n), portName(n), lbName, backend, nodeName(r, n))
		}
	}
	b.WriteString(`correlation: {window: 5s, baseline: 60s}
policy:
  inlet_hot_celsius: 32
  fcs_rate: 5
  latency_ratio: 1.5
  latency_min_delta: 3ms
  min_samples: 20
  hold: 2s
  drain_after: 6s
  restore_hold: 4s
  step_hold: 3s
  stale_after: 5s
  verify_window: 20s
  rack_hot_min: 2
  max_actions_per_hour: 1000
  tick: 200ms
log: {level: warn}
`)
	return b.String()
}
