// Package testrig starts real infrastructure components for integration
// tests: Mosquitto, HAProxy, net-snmp's snmpd and snmptrapd, snmpsim
// (replaying recorded devices), InfluxDB 1.8 and smilint.
//
// Each component runs in the foreground as a child of the test binary, in its
// own process group, on a private loopback port, with its configuration and
// data in its own temporary directory. It is ready when a Start function
// returns, and it is stopped (SIGTERM, then SIGKILL) in t.Cleanup. If the test
// failed, the last lines of each component's log are written to the test log.
//
// A missing binary skips the test with a message naming the Debian package
// to install; when the environment variable CI is true it fails the test
// instead, so CI never passes by skipping. `make test` runs provision.sh,
// which installs the packages and builds InfluxDB 1.8.10 into
// ${RACKWATCH_CACHE:-$HOME/.cache/rackwatch}/influxd-1.8.10/influxd.
// RACKWATCH_INFLUXD overrides the path of influxd.
//
// Several components can be started in parallel from parallel tests; ports
// are chosen by the kernel and a start is retried on other ports when a
// component exits during start-up (usually a port taken in between).
package testrig
