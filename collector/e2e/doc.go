// Package e2e holds the end-to-end test of the closed loop on real
// components: an edge polls BMCs (net-snmp snmpd) and a switch (snmpsim
// replaying a real Catalyst), publishes Sparkplug B through Mosquitto, and
// the collector drains the hot, slow node in a real HAProxy and restores it
// once it cools. Both sides run as the real binaries. Headless Chromium
// (Debian's chromium, driven with chromedp) watches the collector's status
// page follow the loop.
package e2e
