package snmppoll

import (
	"strings"

	"github.com/rackwatch/rackwatch/edge/sample"
)

// Metric names the SNMP profiles produce beyond those of sample.Catalogue.
// docs/wire.md documents each; they belong in sample.Catalogue.
const (
	IfInOctets         = "if_in_octets_total"
	IfOutOctets        = "if_out_octets_total"
	IfOutDiscards      = "if_out_discards_total"
	IfAlignmentErrors  = "if_alignment_errors_total"
	IfLastChange       = "if_last_change_seconds"
	IfSpeed            = "if_speed_bps"
	TemperatureWarning = "temperature_warn_celsius"
	SensorHealth       = "sensor_health"
	LLDPNeighborInfo   = "lldp_neighbor_info"
)

// rateSuffix names the gauge a counter's rate is published as:
// if_in_errors_total becomes if_in_errors_per_second.
const rateSuffix = "_per_second"

// Metrics describes the metrics named above and the rates of every counter
// the built-in profiles read.
var Metrics = []sample.Desc{
	{Name: IfInOctets, Type: sample.Counter, Unit: "bytes", Kind: sample.KindUint, Help: "Octets received (IF-MIB ifHCInOctets, else ifInOctets).", Labels: []string{"ifname"}},
	{Name: IfOutOctets, Type: sample.Counter, Unit: "bytes", Kind: sample.KindUint, Help: "Octets sent (IF-MIB ifHCOutOctets, else ifOutOctets).", Labels: []string{"ifname"}},
	{Name: IfOutDiscards, Type: sample.Counter, Unit: "packets", Kind: sample.KindUint, Help: "Outbound packets discarded (IF-MIB ifOutDiscards).", Labels: []string{"ifname"}},
	{Name: IfAlignmentErrors, Type: sample.Counter, Unit: "frames", Kind: sample.KindUint, Help: "Frames that are not a whole number of octets and fail the FCS (EtherLike-MIB dot3HCStatsAlignmentErrors, else dot3StatsAlignmentErrors).", Labels: []string{"ifname"}},
	{Name: IfLastChange, Type: sample.Gauge, Unit: "seconds", Kind: sample.KindFloat, Help: "The agent's sysUpTime when the interface last changed state (IF-MIB ifLastChange); 0 means before the agent started.", Labels: []string{"ifname"}},
	{Name: IfSpeed, Type: sample.Gauge, Unit: "bits_per_second", Kind: sample.KindFloat, Help: "Nominal interface speed (IF-MIB ifHighSpeed × 10^6).", Labels: []string{"ifname"}},
	{Name: TemperatureWarning, Type: sample.Gauge, Unit: "celsius", Kind: sample.KindFloat, Help: "Upper warning (non-critical) threshold the device reports for the sensor.", Labels: []string{"sensor"}},
	{Name: SensorHealth, Type: sample.Gauge, Unit: "status", Kind: sample.KindUint, Help: "Health the device reports for its sensor: 0 ok, 1 warning or degraded, 2 critical or failed.", Labels: []string{"sensor"}},
	{Name: LLDPNeighborInfo, Type: sample.Gauge, Unit: "info", Kind: sample.KindUint, Help: "Always 1: an LLDP neighbour seen on a local port (LLDP-MIB lldpRemTable).", Labels: []string{"ifname", "neighbor", "neighbor_port"}},
	rateDesc(mustDesc(sample.IfInErrors)),
	rateDesc(mustDesc(sample.IfOutErrors)),
	rateDesc(mustDesc(sample.IfInDiscards)),
	rateDesc(mustDesc(sample.IfFCSErrors)),
	rateDesc(sample.Desc{Name: IfInOctets, Unit: "bytes", Labels: []string{"ifname"}}),
	rateDesc(sample.Desc{Name: IfOutOctets, Unit: "bytes", Labels: []string{"ifname"}}),
	rateDesc(sample.Desc{Name: IfOutDiscards, Unit: "packets", Labels: []string{"ifname"}}),
	rateDesc(sample.Desc{Name: IfAlignmentErrors, Unit: "frames", Labels: []string{"ifname"}}),
}

func mustDesc(name string) sample.Desc {
	d, ok := sample.Lookup(name)
	if !ok {
		panic("snmppoll: " + name + " is not in sample.Catalogue")
	}
	return d
}

// RateName returns the name of the gauge that carries the per-second rate
// of the counter called name.
func RateName(counter string) string {
	return strings.TrimSuffix(counter, "_total") + rateSuffix
}

// rateDesc describes the rate of the counter d.
func rateDesc(d sample.Desc) sample.Desc {
	return sample.Desc{
		Name:   RateName(d.Name),
		Type:   sample.Gauge,
		Unit:   d.Unit + rateSuffix,
		Kind:   sample.KindFloat,
		Help:   "Per-second rate of " + d.Name + " over the last poll interval, timed by the agent's sysUpTime; absent after a counter discontinuity.",
		Labels: d.Labels,
	}
}

// lookupDesc finds a metric in sample.Catalogue, then in Metrics; the rate
// of any known counter is known too.
func lookupDesc(name string) (sample.Desc, bool) {
	if d, ok := sample.Lookup(name); ok {
		return d, true
	}
	for _, d := range Metrics {
		if d.Name == name {
			return d, true
		}
	}
	if base, ok := strings.CutSuffix(name, rateSuffix); ok {
		if d, ok := lookupDesc(base + "_total"); ok && d.Type == sample.Counter {
			return rateDesc(d), true
		}
	}
	return sample.Desc{}, false
}
