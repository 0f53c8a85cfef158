package snmppoll

import (
	"sort"

	"github.com/rackwatch/rackwatch/edge/sample"
)

// IF-MIB (RFC 2863) and EtherLike-MIB (RFC 3635) columns.
var (
	ifDescr       = Column{Name: "ifDescr", OID: "1.3.6.1.2.1.2.2.1.2"}
	ifOperStatus  = Column{Name: "ifOperStatus", OID: "1.3.6.1.2.1.2.2.1.8"}
	ifInDiscards  = Column{Name: "ifInDiscards", OID: "1.3.6.1.2.1.2.2.1.13"}
	ifInErrors    = Column{Name: "ifInErrors", OID: "1.3.6.1.2.1.2.2.1.14"}
	ifOutErrors   = Column{Name: "ifOutErrors", OID: "1.3.6.1.2.1.2.2.1.20"}
	ifName        = Column{Name: "ifName", OID: "1.3.6.1.2.1.31.1.1.1.1", Table: "ifXTable"}
	dot3FCSErrors = Column{Name: "dot3StatsFCSErrors", OID: "1.3.6.1.2.1.10.7.2.1.3", Table: "dot3StatsTable"}
)

const (
	// IF-MIB ifOperStatus up(1).
	ifOperStatusUp = 1
	// lmTempSensorsValue is in thousandths of a degree Celsius.
	lmSensorsMilliCelsius = -3
	// temperatureProbeReading and its thresholds are in tenths of a degree
	// Celsius.
	idracTenthsOfCelsius = -1
)

// UCD-SNMP LM-SENSORS-MIB lmTempSensorsTable (1.3.6.1.4.1.2021.13.16.2.1).
var (
	lmTempSensorsDevice = Column{Name: "lmTempSensorsDevice", OID: "1.3.6.1.4.1.2021.13.16.2.1.2"}
	lmTempSensorsValue  = Column{Name: "lmTempSensorsValue", OID: "1.3.6.1.4.1.2021.13.16.2.1.3"}
)

// Dell IDRAC-MIB-SMIv2 temperatureProbeTable
// (1.3.6.1.4.1.674.10892.5.4.700.20.1), indexed by chassis.probe.
var (
	temperatureProbeReading                = Column{Name: "temperatureProbeReading", OID: "1.3.6.1.4.1.674.10892.5.4.700.20.1.6"}
	temperatureProbeLocationName           = Column{Name: "temperatureProbeLocationName", OID: "1.3.6.1.4.1.674.10892.5.4.700.20.1.8"}
	temperatureProbeUpperCriticalThreshold = Column{Name: "temperatureProbeUpperCriticalThreshold", OID: "1.3.6.1.4.1.674.10892.5.4.700.20.1.10"}
)

// builtin holds the profiles Opts.Profiles may name.
var builtin = []Profile{
	{
		Name: "if-mib",
		Tables: []Table{{
			Name:   "ifTable",
			Labels: []Label{{Name: "ifname", From: []Column{ifName, ifDescr}}},
			Metrics: []Metric{
				{Name: sample.IfOperUp, From: ifOperStatus, Conv: Status, True: ifOperStatusUp},
				{Name: sample.IfInErrors, From: ifInErrors, Conv: Counter},
				{Name: sample.IfOutErrors, From: ifOutErrors, Conv: Counter},
				{Name: sample.IfInDiscards, From: ifInDiscards, Conv: Counter},
				// Absent on agents without EtherLike-MIB, which then
				// simply yield no FCS samples.
				{Name: sample.IfFCSErrors, From: dot3FCSErrors, Conv: Counter},
			},
		}},
	},
	{
		Name: "lm-sensors",
		Tables: []Table{{
			Name:   "lmTempSensorsTable",
			Labels: []Label{{Name: "sensor", From: []Column{lmTempSensorsDevice}}},
			Metrics: []Metric{
				{Name: sample.TemperatureCelsius, From: lmTempSensorsValue, Conv: Gauge, Exp: lmSensorsMilliCelsius, Signed32: true},
			},
		}},
	},
	{
		Name: "idrac",
		Tables: []Table{{
			Name:   "temperatureProbeTable",
			Labels: []Label{{Name: "sensor", From: []Column{temperatureProbeLocationName}}},
			Metrics: []Metric{
				{Name: sample.TemperatureCelsius, From: temperatureProbeReading, Conv: Gauge, Exp: idracTenthsOfCelsius},
				{Name: sample.TemperatureCritical, From: temperatureProbeUpperCriticalThreshold, Conv: Gauge, Exp: idracTenthsOfCelsius},
			},
		}},
	},
}

// LookupProfile returns the built-in profile called name. The Profile shares
// its slices with the package and must not be modified.
func LookupProfile(name string) (Profile, bool) {
	for _, p := range builtin {
		if p.Name == name {
			return p, true
		}
	}
	return Profile{}, false
}

// ProfileNames lists the built-in profiles, sorted.
func ProfileNames() []string {
	names := make([]string, 0, len(builtin))
	for _, p := range builtin {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	return names
}
