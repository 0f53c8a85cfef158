package sample

// Type says how a metric's values relate over time.
type Type uint8

// Metric types.
const (
	Gauge Type = iota + 1
	// Counter is monotonic except at a wrap or a device reset.
	Counter
)

// Desc describes one metric in the catalogue.
type Desc struct {
	Name string
	Type Type
	Unit string
	Kind Kind
	Help string
	// Labels lists the labels the metric carries.
	Labels []string
}

// Names of the metrics in the catalogue. docs/wire.md documents each.
const (
	TemperatureCelsius  = "temperature_celsius"
	TemperatureCritical = "temperature_crit_celsius"
	IfInErrors          = "if_in_errors_total"
	IfOutErrors         = "if_out_errors_total"
	IfInDiscards        = "if_in_discards_total"
	IfFCSErrors         = "if_fcs_errors_total"
	IfOperUp            = "if_oper_up"
	CPUThrottleCount    = "cpu_throttle_count_total"
)

// Catalogue lists every metric an edge publishes.
var Catalogue = []Desc{
	{TemperatureCelsius, Gauge, "celsius", KindFloat, "Temperature read from a sensor.", []string{"sensor"}},
	{TemperatureCritical, Gauge, "celsius", KindFloat, "Critical threshold the device reports for the sensor.", []string{"sensor"}},
	{IfInErrors, Counter, "packets", KindUint, "Inbound packets with errors (IF-MIB ifInErrors).", []string{"ifname"}},
	{IfOutErrors, Counter, "packets", KindUint, "Outbound packets with errors (IF-MIB ifOutErrors).", []string{"ifname"}},
	{IfInDiscards, Counter, "packets", KindUint, "Inbound packets discarded (IF-MIB ifInDiscards).", []string{"ifname"}},
	{IfFCSErrors, Counter, "frames", KindUint, "Frames with a bad FCS (EtherLike-MIB dot3StatsFCSErrors).", []string{"ifname"}},
	{IfOperUp, Gauge, "bool", KindBool, "Whether the interface is operationally up (IF-MIB ifOperStatus = up).", []string{"ifname"}},
	{CPUThrottleCount, Counter, "events", KindUint, "CPU thermal throttling events since boot.", []string{"cpu"}},
}

// Lookup returns the catalogue entry for name.
func Lookup(name string) (Desc, bool) {
	for _, d := range Catalogue {
		if d.Name == name {
			return d, true
		}
	}
	return Desc{}, false
}
