package apinode

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"periph.io/x/conn/v3/physic"
)

// Params are the thermal and performance parameters of a node. Zero
// fields take the value of DefaultParams.
type Params struct {
	// InletCelsius is the air at the server's inlet, °C.
	InletCelsius float64
	// IdleWatts is the CPU package power at no load, W.
	IdleWatts float64
	// DynamicWatts is the power added at full load and base frequency, W.
	// It scales with utilisation and with the square of the frequency
	// ratio, which is why throttling cools a CPU.
	DynamicWatts float64
	// ThermalResistance is the rise of the CPU over the inlet per watt
	// with healthy cooling, °C/W.
	ThermalResistance float64
	// TimeConstant is how fast the CPU temperature follows its
	// steady state (first-order lag; 63 % of a step in one constant).
	TimeConstant time.Duration
	// ThrottleCelsius is the temperature at which the CPU throttles
	// (PROCHOT), °C; it stops throttling HysteresisCelsius below it.
	ThrottleCelsius   float64
	HysteresisCelsius float64
	// CriticalCelsius is the limit hwmon and the BMC report (tempN_crit,
	// TjMax), °C.
	CriticalCelsius float64
	// BaseFrequency is the frequency at which the node serves in
	// ServiceTime; MaxFrequency is cpuinfo_max_freq. Hz.
	BaseFrequency physic.Frequency
	MaxFrequency  physic.Frequency
	// ThrottleRatio is the fraction of BaseFrequency a throttled CPU runs
	// at (0 < ratio < 1).
	ThrottleRatio float64
	// ThrottleEvery is the PROCHOT duty cycle while throttled: the
	// throttle counters count one event per period (the flag toggles as
	// the governor holds the temperature), the first at the onset.
	ThrottleEvery time.Duration
	// ServiceTime is a request's CPU time at BaseFrequency; it scales with
	// BaseFrequency / current frequency.
	ServiceTime time.Duration
	// Workers bounds concurrent requests, like a server's worker pool;
	// Queue bounds those waiting for a worker (more are refused with 503).
	Workers int
	Queue   int
	// CPUs is the number of logical CPUs written to sysfs (one package,
	// one core per CPU).
	CPUs int
}

// DefaultParams model a 1U server CPU: 37 °C idle and 72 °C at full
// load with a 22 °C inlet; PROCHOT at 95 °C, TjMax 100 °C.
var DefaultParams = Params{
	InletCelsius:      22,
	IdleWatts:         60,
	DynamicWatts:      140,
	ThermalResistance: 0.25,
	TimeConstant:      15 * time.Second,
	ThrottleCelsius:   95,
	HysteresisCelsius: 3,
	CriticalCelsius:   100,
	BaseFrequency:     2400 * physic.MegaHertz,
	MaxFrequency:      3500 * physic.MegaHertz,
	ThrottleRatio:     0.5,
	ThrottleEvery:     time.Second,
	ServiceTime:       5 * time.Millisecond,
	Workers:           8,
	Queue:             256,
	CPUs:              4,
}

func (p *Params) fill() error {
	d := DefaultParams
	p.InletCelsius = cmp.Or(p.InletCelsius, d.InletCelsius)
	p.IdleWatts = cmp.Or(p.IdleWatts, d.IdleWatts)
	p.DynamicWatts = cmp.Or(p.DynamicWatts, d.DynamicWatts)
	p.ThermalResistance = cmp.Or(p.ThermalResistance, d.ThermalResistance)
	p.ThrottleCelsius = cmp.Or(p.ThrottleCelsius, d.ThrottleCelsius)
	p.HysteresisCelsius = cmp.Or(p.HysteresisCelsius, d.HysteresisCelsius)
	p.CriticalCelsius = cmp.Or(p.CriticalCelsius, d.CriticalCelsius)
	p.ThrottleRatio = cmp.Or(p.ThrottleRatio, d.ThrottleRatio)
	p.TimeConstant = cmp.Or(p.TimeConstant, d.TimeConstant)
	p.BaseFrequency = cmp.Or(p.BaseFrequency, d.BaseFrequency)
	p.MaxFrequency = cmp.Or(p.MaxFrequency, max(d.MaxFrequency, p.BaseFrequency))
	p.ThrottleEvery = cmp.Or(p.ThrottleEvery, d.ThrottleEvery)
	p.ServiceTime = cmp.Or(p.ServiceTime, d.ServiceTime)
	p.Workers = cmp.Or(p.Workers, d.Workers)
	p.Queue = cmp.Or(p.Queue, d.Queue)
	p.CPUs = cmp.Or(p.CPUs, d.CPUs)
	switch {
	case p.ThrottleRatio <= 0 || p.ThrottleRatio >= 1:
		return fmt.Errorf("apinode: throttle ratio %v outside (0, 1)", p.ThrottleRatio)
	case p.ThermalResistance < 0 || p.IdleWatts < 0 || p.DynamicWatts < 0:
		return errors.New("apinode: negative power or thermal resistance")
	case p.TimeConstant < 0 || p.ThrottleEvery < 0 || p.ServiceTime < 0:
		return errors.New("apinode: negative duration")
	case p.Workers < 0 || p.Queue < 0 || p.CPUs < 0 || p.CPUs > 1024:
		return errors.New("apinode: workers, queue or CPUs out of range")
	case p.MaxFrequency < p.BaseFrequency:
		return errors.New("apinode: max frequency below base frequency")
	}
	return nil
}

// step bounds one integration step: the steady state depends on the
// frequency, which depends on the temperature, so long intervals are cut.
const step = 100 * time.Millisecond

// Model is the thermal and performance state of one node, advanced lazily
// to the time each reader passes: a first-order thermal lag towards
// inlet + power × resistance / cooling, throttling with hysteresis, and
// service time that scales with 1/frequency. It is safe for concurrent
// use.
type Model struct {
	p Params

	mu          sync.Mutex
	at          time.Time // the time the state is at
	temp        float64   // °C
	inlet       float64   // °C
	heat        float64   // injected W
	cooling     float64   // 1 healthy, lower worse
	background  float64   // utilisation added to the measured one
	work        time.Duration
	throttled   bool
	since       time.Duration // throttled time since the last event
	events      uint64        // throttle events (PROCHOT 0→1 transitions)
	throttledMs float64       // total throttled time, ms
	util        float64       // utilisation of the last step
}

// NewModel returns a model at its idle steady state at time now.
func NewModel(p Params, now time.Time) (*Model, error) {
	if err := p.fill(); err != nil {
		return nil, err
	}
	m := &Model{p: p, at: now, inlet: p.InletCelsius, cooling: 1}
	m.temp = m.steady(0, 1)
	return m, nil
}

// Params returns the model's parameters, defaults filled in.
func (m *Model) Params() Params { return m.p }

// steady is the steady-state temperature at utilisation u and frequency
// ratio r.
func (m *Model) steady(u, r float64) float64 {
	watts := m.p.IdleWatts + m.p.DynamicWatts*u*r*r + m.heat
	return m.inlet + watts*m.p.ThermalResistance/m.cooling
}

func (m *Model) ratio() float64 {
	if m.throttled {
		return m.p.ThrottleRatio
	}
	return 1
}

// advance integrates to now; the caller holds mu. Work done since the last
// advance is spread evenly over the interval.
func (m *Model) advance(now time.Time) {
	total := now.Sub(m.at)
	if total <= 0 {
		return
	}
	workers := float64(max(m.p.Workers, 1))
	u := min(1, m.background+m.work.Seconds()/(workers*total.Seconds()))
	m.work = 0
	m.util = u
	for left := total; left > 0; {
		dt := min(left, step)
		left -= dt
		ss := m.steady(u, m.ratio())
		if m.p.TimeConstant > 0 {
			m.temp = ss + (m.temp-ss)*math.Exp(-dt.Seconds()/m.p.TimeConstant.Seconds())
		} else {
			m.temp = ss
		}
		switch {
		case !m.throttled && m.temp >= m.p.ThrottleCelsius:
			m.throttled, m.since = true, 0
			m.events++
		case m.throttled && m.temp <= m.p.ThrottleCelsius-m.p.HysteresisCelsius:
			m.throttled = false
		case m.throttled:
			m.since += dt
			if m.p.ThrottleEvery > 0 && m.since >= m.p.ThrottleEvery {
				m.since -= m.p.ThrottleEvery
				m.events++
			}
		}
		if m.throttled {
			m.throttledMs += float64(dt) / float64(time.Millisecond)
		}
	}
	m.at = now
}

// State is a snapshot of the model.
type State struct {
	At          time.Time
	CPU         physic.Temperature
	Inlet       physic.Temperature
	Critical    physic.Temperature
	Frequency   physic.Frequency
	Throttled   bool
	Throttles   uint64  // throttle events since start (thermal_throttle counts)
	ThrottledMs uint64  // time spent throttled (…_throttle_total_time_ms)
	Utilisation float64 // 0..1 over the last interval advanced
	ServiceTime time.Duration
}

// State advances the model to now and returns its state.
func (m *Model) State(now time.Time) State {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.advance(now)
	r := m.ratio()
	return State{
		At:          m.at,
		CPU:         celsius(m.temp),
		Inlet:       celsius(m.inlet),
		Critical:    celsius(m.p.CriticalCelsius),
		Frequency:   physic.Frequency(float64(m.p.BaseFrequency) * r),
		Throttled:   m.throttled,
		Throttles:   m.events,
		ThrottledMs: uint64(m.throttledMs),
		Utilisation: m.util,
		ServiceTime: time.Duration(float64(m.p.ServiceTime) / r),
	}
}

func celsius(c float64) physic.Temperature {
	return physic.ZeroCelsius + physic.Temperature(math.Round(c*float64(physic.Celsius)))
}

// CPUTemperature is the CPU temperature at now; with InletTemperature it
// lets a BMC model read the node (snmpemu.Thermometer).
func (m *Model) CPUTemperature(now time.Time) physic.Temperature { return m.State(now).CPU }

// InletTemperature is the inlet air at now.
func (m *Model) InletTemperature(now time.Time) physic.Temperature { return m.State(now).Inlet }

// ServiceTime returns the CPU time of one request started at now.
func (m *Model) ServiceTime(now time.Time) time.Duration { return m.State(now).ServiceTime }

// AddWork records CPU time spent serving, which heats the CPU over the
// interval in which it was done.
func (m *Model) AddWork(d time.Duration) {
	m.mu.Lock()
	m.work += d
	m.mu.Unlock()
}

// mutate advances to now, then changes an input: an input changes the
// future, never the past.
func (m *Model) mutate(now time.Time, f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.advance(now)
	f()
}

// SetInlet sets the inlet air temperature, °C: a rack's cooling failure
// raises it for every node of the rack.
func (m *Model) SetInlet(now time.Time, c float64) { m.mutate(now, func() { m.inlet = c }) }

// SetHeat injects extra power into the CPU package, W: a runaway process
// or a hot spot on one node.
func (m *Model) SetHeat(now time.Time, watts float64) {
	m.mutate(now, func() { m.heat = max(0, watts) })
}

// SetCooling scales the cooling: 1 is healthy, 0.5 is half the airflow
// (a failed fan doubles the thermal resistance). Values are clamped to
// [0.05, 10].
func (m *Model) SetCooling(now time.Time, factor float64) {
	m.mutate(now, func() { m.cooling = min(10, max(0.05, factor)) })
}

// SetBackgroundLoad adds a utilisation (0..1) to the one measured from
// served requests: load that does not go through the HTTP server.
func (m *Model) SetBackgroundLoad(now time.Time, u float64) {
	m.mutate(now, func() { m.background = min(1, max(0, u)) })
}
