// Package apinode emulates an API node for demos and load tests: an HTTP
// server on loopback whose service time follows a thermal model of its
// CPU, so that heat, cooling failures and throttling show up where
// rackwatch looks for them: as latency behind HAProxy, as the CPU
// temperature of the node's BMC (edge/snmpemu), and as throttle counters,
// temperatures and frequencies in a sysfs tree a host-mode edge reads
// (edge/hostsignals).
//
// # Thermal model
//
// Model advances lazily to the time each reader passes, in steps of at
// most 100 ms, on a clock the caller owns. With utilisation u (0..1: the
// CPU time of served requests over Workers × elapsed time, plus any
// background load), frequency ratio r (1, or ThrottleRatio while
// throttled) and injected heat H:
//
//	power P        = IdleWatts + DynamicWatts·u·r² + H                   [W]
//	steady state   = inlet + P·ThermalResistance / cooling               [°C]
//	temperature    → steady state with time constant TimeConstant        (first-order lag)
//	throttling     on at ≥ ThrottleCelsius, off at ≤ ThrottleCelsius − HysteresisCelsius
//	throttle count +1 at the onset and every ThrottleEvery while throttled
//	frequency      = BaseFrequency·r                                     [Hz]
//	service time   = ServiceTime / r
//
// The defaults (DefaultParams) give 37 °C idle and 72 °C at full load with
// a 22 °C inlet, throttling at 95 °C to half of 2.4 GHz, TjMax 100 °C.
// Scenario inputs: SetInlet (°C; a rack's cooling failure), SetCooling
// (airflow factor, 1 healthy; a failed fan), SetHeat (W; a hot node),
// SetBackgroundLoad (utilisation not served over HTTP). A hot node cycles
// through PROCHOT around its limit, counting an event per cycle; one whose
// throttled steady state is still above the limit stays throttled and
// counts one event per ThrottleEvery. The model has no shutdown at TjMax.
//
// # Node
//
// Start serves HTTP: /health for HAProxy's checks (SetHealthy), /state as
// JSON, and every other path as an API request. A request takes a place
// among Workers + Queue (503 beyond), then a worker, then sleeps the
// model's service time at that moment through a Sleeper (real time unless
// a test passes its own), so overload and throttling show as queueing
// latency, not unbounded goroutines. SetNetworkDelay adds a delay after
// the worker is released: a lossy link's retransmissions, which cost the
// client time but not the CPU.
//
// With Opts.SysfsRoot the node keeps the sysfs files hostsignals reads
// under that directory (see Sysfs), rewritten every SysfsEvery, each file
// replaced atomically. Model.CPUTemperature and Model.InletTemperature
// have the shape of snmpemu.TemperatureFunc, which binds them to an
// emulated BMC's probes.
package apinode
