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
	Humidity            = "humidity_percent"
	Pressure            = "pressure_pascals"
	Voltage             = "voltage_volts"
	Current             = "current_amperes"
	Power               = "power_watts"
	FanSpeed            = "fan_speed_rpm"
	FanDuty             = "fan_duty_ratio"
	FanFault            = "fan_fault"
	SensorStatus        = "sensor_status"
	SensorFailures      = "sensor_read_failures_total"
	SensorDiscarded     = "sensor_discarded_total"
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
	{CPUThrottleCount, Counter, "events", KindUint, "CPU thermal throttling events since boot: per core, per package (core=\"package\"), or inferred (core=\"inferred\").", []string{"package", "core"}},
	{Humidity, Gauge, "percent", KindFloat, "Relative humidity.", []string{"sensor"}},
	{Pressure, Gauge, "pascals", KindFloat, "Barometric pressure.", []string{"sensor"}},
	{Voltage, Gauge, "volts", KindFloat, "Voltage; channel shunt or bus on power monitors.", []string{"sensor", "channel"}},
	{Current, Gauge, "amperes", KindFloat, "Current through a power monitor's shunt.", []string{"sensor"}},
	{Power, Gauge, "watts", KindFloat, "Power measured by a power monitor.", []string{"sensor"}},
	{FanSpeed, Gauge, "rpm", KindFloat, "Fan speed from its tachometer; channel is the fan.", []string{"sensor", "channel"}},
	{FanDuty, Gauge, "ratio", KindFloat, "PWM duty cycle driving the fan, 0 to 1.", []string{"sensor", "channel"}},
	{FanFault, Gauge, "bool", KindBool, "The fan controller reports a fault for the fan.", []string{"sensor", "channel"}},
	{SensorStatus, Gauge, "status", KindUint, "Sensor health: 0 ok, 1 failing, 2 faulted (no values published).", []string{"sensor"}},
	{SensorFailures, Counter, "reads", KindUint, "Failed or discarded reads of the sensor.", []string{"sensor"}},
	{SensorDiscarded, Counter, "reads", KindUint, "Reads discarded for a bad checksum, an implausible or a stuck value.", []string{"sensor"}},
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
