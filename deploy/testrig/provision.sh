#!/usr/bin/env bash
# Installs the real components that the integration tests start on private
# loopback ports (see deploy/testrig). Safe to run repeatedly: when every
# binary is already present it does nothing.
#
# Environment:
#   RACKWATCH_CACHE  where InfluxDB is built (default $HOME/.cache/rackwatch)
set -euo pipefail

INFLUXD_VERSION=1.8.10
CACHE="${RACKWATCH_CACHE:-$HOME/.cache/rackwatch}"
INFLUXD_DIR="$CACHE/influxd-$INFLUXD_VERSION"
INFLUXD="$INFLUXD_DIR/influxd"

# binary:package pairs. Daemons live in /usr/sbin, which is not on every
# user's PATH, so the lookup below also searches the sbin directories.
COMPONENTS=(
	mosquitto:mosquitto
	mosquitto_pub:mosquitto-clients
	mosquitto_sub:mosquitto-clients
	haproxy:haproxy
	snmpd:snmpd
	snmptrapd:snmptrapd
	snmpget:snmp
	snmpwalk:snmp
	snmpsimd:snmpsim
	smilint:smitools
	socat:socat
	systemd-analyze:systemd
	qemu-arm-static:qemu-user-static
	# Checks and unit-tests the alerting rules of deploy/prometheus.
	promtool:prometheus
	# The peer of edge/snmppoll's BenchmarkVsSnmpExporter (make bench).
	prometheus-snmp-exporter:prometheus-snmp-exporter
	# Headless browser of collector/e2e's status page test.
	chromium:chromium
)

have() {
	PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" command -v "$1" >/dev/null 2>&1
}

is_debian_like() {
	[ -r /etc/os-release ] || return 1
	# shellcheck disable=SC1091
	. /etc/os-release
	case " ${ID:-} ${ID_LIKE:-} " in
	*" debian "* | *" ubuntu "*) return 0 ;;
	esac
	return 1
}

missing_bins=()
missing_pkgs=()
for pair in "${COMPONENTS[@]}"; do
	bin="${pair%%:*}"
	pkg="${pair#*:}"
	if ! have "$bin"; then
		missing_bins+=("$bin")
		case " ${missing_pkgs[*]:-} " in
		*" $pkg "*) ;;
		*) missing_pkgs+=("$pkg") ;;
		esac
	fi
done

if [ "${#missing_bins[@]}" -gt 0 ]; then
	if is_debian_like && [ "$(id -u)" -eq 0 ]; then
		echo "provision: installing ${missing_pkgs[*]} (missing: ${missing_bins[*]})"
		apt-get update
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing_pkgs[@]}"
	else
		echo "provision: missing test components:" >&2
		for pair in "${COMPONENTS[@]}"; do
			bin="${pair%%:*}"
			pkg="${pair#*:}"
			have "$bin" || echo "  $bin (Debian/Ubuntu: apt-get install $pkg)" >&2
		done
		echo "provision: run this script as root on Debian/Ubuntu, or install them yourself" >&2
		exit 1
	fi
fi

if [ ! -x "$INFLUXD" ]; then
	if ! command -v go >/dev/null 2>&1; then
		echo "provision: influxd $INFLUXD_VERSION is missing and go is not on PATH to build it" >&2
		exit 1
	fi
	echo "provision: building influxd $INFLUXD_VERSION into $INFLUXD_DIR (about a minute)"
	mkdir -p "$INFLUXD_DIR"
	# Run outside the module so its go.mod and go.work do not apply.
	(cd "$INFLUXD_DIR" &&
		GOBIN="$INFLUXD_DIR" GOFLAGS=-mod=mod GOWORK=off \
			go install "github.com/influxdata/influxdb/cmd/influxd@v$INFLUXD_VERSION")
	echo "provision: built $INFLUXD"
fi
