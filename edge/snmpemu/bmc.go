package snmpemu

import (
	"fmt"
	"math"
	"sync"
	"time"

	"periph.io/x/conn/v3/physic"
)

// Dell IDRAC-MIB-SMIv2: temperatureProbeTable and coolingDeviceTable,
// indexed by chassisIndex.probeIndex.
const (
	idracObjectID          = ".1.3.6.1.4.1.674.10892.5"
	oidTemperatureProbe    = ".1.3.6.1.4.1.674.10892.5.4.700.20.1"
	oidCoolingDevice       = ".1.3.6.1.4.1.674.10892.5.4.700.12.1"
	colProbeStatus         = oidTemperatureProbe + ".5"
	colProbeReading        = oidTemperatureProbe + ".6"
	colProbeType           = oidTemperatureProbe + ".7"
	colProbeLocationName   = oidTemperatureProbe + ".8"
	colProbeUpperCritical  = oidTemperatureProbe + ".10"
	colProbeUpperNonCrit   = oidTemperatureProbe + ".11"
	colCoolingReading      = oidCoolingDevice + ".6"
	colCoolingLocationName = oidCoolingDevice + ".8"

	// StatusProbeEnum (IDRAC-MIB-SMIv2).
	probeOK               = 3
	probeNonCriticalUpper = 4
	probeCriticalUpper    = 5
)

// Thermometer reports a temperature at a time. A BMC reads a bound
// Thermometer at each poll, so a CPU model drives the BMC's sensor
// without a copying loop.
type Thermometer interface {
	Temperature(now time.Time) physic.Temperature
}

// TemperatureFunc adapts a function to Thermometer.
type TemperatureFunc func(now time.Time) physic.Temperature

// Temperature implements Thermometer.
func (f TemperatureFunc) Temperature(now time.Time) physic.Temperature { return f(now) }

// BMC defaults and the thresholds of a PowerEdge R640's iDRAC9 (the
// LibreNMS recording drac_r640).
var (
	DefaultCPUTemperature     = physic.ZeroCelsius + 45*physic.Celsius
	DefaultInletTemperature   = physic.ZeroCelsius + 22*physic.Celsius
	DefaultExhaustTemperature = physic.ZeroCelsius + 35*physic.Celsius

	cpuCritical     = physic.ZeroCelsius + 98*physic.Celsius
	inletCritical   = physic.ZeroCelsius + 47*physic.Celsius
	inletWarning    = physic.ZeroCelsius + 43*physic.Celsius
	exhaustCritical = physic.ZeroCelsius + 80*physic.Celsius
	exhaustWarning  = physic.ZeroCelsius + 75*physic.Celsius
)

// BMCOpts configures NewBMC.
type BMCOpts struct {
	// Name is sysName.0; "idrac" when empty.
	Name string
	// CPUs is the number of CPU probes, "CPU1 Temp".."CPUn Temp"; 2 when
	// 0.
	CPUs int
	// Fans is the number of fans, "System Board Fan1".."Fann"; 4 when 0.
	Fans int
	// Now is the BMC's clock: sysUpTime and the time bound Thermometers
	// are read at. nil means time.Now.
	Now func() time.Time
}

// probe is one temperature probe.
type probe struct {
	name       string
	temp       physic.Temperature
	src        Thermometer
	crit, warn physic.Temperature // 0: none
}

// BMC is a Dell iDRAC, which edge/snmppoll's idrac profile recognises by
// its sysObjectID and reads: one probe per CPU ("CPU1 Temp", ...), "System
// Board Inlet Temp" and "System Board Exhaust Temp", in tenths of a degree
// Celsius with their thresholds and a status that follows them, and fan
// speeds. Temperatures are set, or bound to a Thermometer read at poll
// time. All methods are safe for concurrent use.
type BMC struct {
	table *Table
	sys   *system
	cpus  int

	mu     sync.Mutex
	probes []probe // CPUs, then inlet, then exhaust
	fans   []int
}

// NewBMC returns an iDRAC with its CPUs at DefaultCPUTemperature, the
// inlet at DefaultInletTemperature and fans at 6000 RPM.
func NewBMC(opts *BMCOpts) (*BMC, error) {
	var o BMCOpts
	if opts != nil {
		o = *opts
	}
	if o.Name == "" {
		o.Name = "idrac"
	}
	if o.CPUs == 0 {
		o.CPUs = 2
	}
	if o.Fans == 0 {
		o.Fans = 4
	}
	if o.CPUs < 0 || o.CPUs > 16 || o.Fans < 0 || o.Fans > 32 {
		return nil, fmt.Errorf("snmpemu: bmc: %d CPUs, %d fans", o.CPUs, o.Fans)
	}
	t := NewTable(o.Now)
	sys, err := newSystem(t, "Dell Out-of-band SNMP Agent for Remote Access Controller (emulated by rackwatch)", idracObjectID, o.Name)
	if err != nil {
		return nil, err
	}
	b := &BMC{table: t, sys: sys, cpus: o.CPUs}
	for i := 1; i <= o.CPUs; i++ {
		b.probes = append(b.probes, probe{name: fmt.Sprintf("CPU%d Temp", i), temp: DefaultCPUTemperature, crit: cpuCritical})
	}
	b.probes = append(b.probes,
		probe{name: "System Board Inlet Temp", temp: DefaultInletTemperature, crit: inletCritical, warn: inletWarning},
		probe{name: "System Board Exhaust Temp", temp: DefaultExhaustTemperature, crit: exhaustCritical, warn: exhaustWarning})
	for i, p := range b.probes {
		ix := fmt.Sprintf(".1.%d", i+1)
		sets := []struct {
			col string
			v   Value
		}{
			{colProbeType, Integer(3)}, // temperatureProbeTypeIsAmbientESM
			{colProbeLocationName, OctetString(p.name)},
			{colProbeUpperCritical, Integer(tenths(p.crit))},
		}
		if p.warn != 0 {
			sets = append(sets, struct {
				col string
				v   Value
			}{colProbeUpperNonCrit, Integer(tenths(p.warn))})
		}
		for _, s := range sets {
			if err := t.Set(s.col+ix, s.v); err != nil {
				return nil, err
			}
		}
		if err := t.SetFunc(colProbeReading+ix, func(now time.Time) Value { return Integer(tenths(b.read(i, now))) }); err != nil {
			return nil, err
		}
		if err := t.SetFunc(colProbeStatus+ix, func(now time.Time) Value { return Integer(b.status(i, now)) }); err != nil {
			return nil, err
		}
	}
	for i := 1; i <= o.Fans; i++ {
		b.fans = append(b.fans, 6000)
		ix := fmt.Sprintf(".1.%d", i)
		if err := t.Set(colCoolingLocationName+ix, OctetString(fmt.Sprintf("System Board Fan%d", i))); err != nil {
			return nil, err
		}
		if err := t.SetFunc(colCoolingReading+ix, func(time.Time) Value {
			b.mu.Lock()
			defer b.mu.Unlock()
			return Integer(b.fans[i-1])
		}); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// tenths converts to the MIB's tenths of a degree Celsius, rounded and
// clamped to an Integer32.
func tenths(t physic.Temperature) int {
	v := math.Round(float64(t-physic.ZeroCelsius) / float64(100*physic.MilliKelvin))
	return int(max(math.MinInt32, min(math.MaxInt32, v)))
}

// read returns probe i's temperature, from its Thermometer if bound. The
// Thermometer runs outside the BMC's lock.
func (b *BMC) read(i int, now time.Time) physic.Temperature {
	b.mu.Lock()
	p := b.probes[i]
	b.mu.Unlock()
	if p.src != nil {
		return p.src.Temperature(now)
	}
	return p.temp
}

// status follows the reading against the thresholds, as the iDRAC does.
func (b *BMC) status(i int, now time.Time) int {
	t := b.read(i, now)
	b.mu.Lock()
	p := b.probes[i]
	b.mu.Unlock()
	switch {
	case t >= p.crit:
		return probeCriticalUpper
	case p.warn != 0 && t >= p.warn:
		return probeNonCriticalUpper
	}
	return probeOK
}

// Table returns the BMC's MIB view, for an Agent.
func (b *BMC) Table() *Table { return b.table }

func (b *BMC) cpu(cpu int) (int, error) {
	if cpu < 1 || cpu > b.cpus {
		return 0, fmt.Errorf("snmpemu: bmc: no CPU %d (have 1..%d)", cpu, b.cpus)
	}
	return cpu - 1, nil
}

func (b *BMC) set(i int, t physic.Temperature, src Thermometer) {
	b.mu.Lock()
	b.probes[i].temp, b.probes[i].src = t, src
	b.mu.Unlock()
}

// SetCPUTemperature sets CPU cpu's (1-based) temperature, unbinding it.
func (b *BMC) SetCPUTemperature(cpu int, t physic.Temperature) error {
	i, err := b.cpu(cpu)
	if err != nil {
		return err
	}
	b.set(i, t, nil)
	return nil
}

// BindCPU makes CPU cpu's (1-based) probe read src at each poll.
func (b *BMC) BindCPU(cpu int, src Thermometer) error {
	i, err := b.cpu(cpu)
	if err != nil {
		return err
	}
	b.set(i, 0, src)
	return nil
}

// SetInletTemperature sets the inlet probe, unbinding it.
func (b *BMC) SetInletTemperature(t physic.Temperature) { b.set(b.cpus, t, nil) }

// BindInlet makes the inlet probe read src at each poll.
func (b *BMC) BindInlet(src Thermometer) { b.set(b.cpus, 0, src) }

// SetExhaustTemperature sets the exhaust probe, unbinding it.
func (b *BMC) SetExhaustTemperature(t physic.Temperature) { b.set(b.cpus+1, t, nil) }

// BindExhaust makes the exhaust probe read src at each poll.
func (b *BMC) BindExhaust(src Thermometer) { b.set(b.cpus+1, 0, src) }

// SetFanSpeed sets fan fan's (1-based) speed in RPM.
func (b *BMC) SetFanSpeed(fan, rpm int) error {
	if rpm < 0 || rpm > math.MaxInt32 {
		return fmt.Errorf("snmpemu: bmc: fan speed %d RPM", rpm)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if fan < 1 || fan > len(b.fans) {
		return fmt.Errorf("snmpemu: bmc: no fan %d (have 1..%d)", fan, len(b.fans))
	}
	b.fans[fan-1] = rpm
	return nil
}

// Restart makes the BMC look rebooted (sysUpTime from 0).
func (b *BMC) Restart() { b.sys.restart() }
