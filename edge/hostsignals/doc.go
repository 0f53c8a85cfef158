// Package hostsignals reads the signals of the Linux host an edge runs on
// when it runs on an API node itself ("host mode"): CPU thermal throttling,
// hwmon temperatures, CPU frequency, NIC error counters and carrier flaps,
// and the kernel log lines that explain latency (SYN floods, socket memory
// exhaustion, NIC link changes).
//
// Every reader takes a filesystem root, so tests run on fixtures under
// testdata/ and production passes "/". Attributes are read with a single
// read(2), as some hwmon drivers return EAGAIN forever to a reader that
// retries; a missing file is no data (ErrNoData), not an error, and one
// failing attribute never hides the others (errors.Join).
//
// # Throttling without throttle counters
//
// Intel CPUs count PROCHOT transitions in
// cpuN/thermal_throttle/{core,package}_throttle_count. AMD CPUs expose no
// such counter, so on a host without them throttling is inferred: a package
// is throttling while its CPUs run below InferFrequencyRatio (default 0.9)
// of their base frequency and its hottest hwmon sensor (k10temp Tctl, or
// coretemp's package sensor) is within InferMargin (default 5 °C) of its
// limit (tempN_crit, or InferLimit, default 95 °C, where the driver
// publishes none). Low frequency alone is power saving and heat alone is
// load; the two together are the thermal governor at work. Each
// not-throttling → throttling transition counts as one event in
// cpu_throttle_count_total{package="all",core="inferred"}, and the
// state as cpu_throttle_inferred{package="all"}. The inference is per host:
// sysfs does not tie a k10temp instance to a package reliably.
package hostsignals
