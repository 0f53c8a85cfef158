package snmppoll

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/gosnmp/gosnmp"
)

// TestVendorProfiles runs each built-in device profile against a fake
// agent holding the tables it reads, with the quirks the profile handles.
func TestVendorProfiles(t *testing.T) {
	t.Parallel()
	const (
		ent  = "1.3.6.1.2.1.99.1.1.1"
		name = "1.3.6.1.2.1.47.1.1.1.1.7"
		ilo  = "1.3.6.1.4.1.232.6.2.6.8.1"
		aten = "1.3.6.1.4.1.21317.1.3.1"
		sd   = "1.3.6.1.4.1.10876.2.1.1.1.1"
		env  = "1.3.6.1.4.1.9.9.13.1.3.1"
		cent = "1.3.6.1.4.1.9.9.91.1.1.1.1"
		rem  = "1.0.8802.1.1.2.1.4.1.1"
		loc  = "1.0.8802.1.1.2.1.3.7.1"
	)
	entRow := func(root, ix string, typ, scale, prec, value, status int) []gosnmp.SnmpPDU {
		return []gosnmp.SnmpPDU{
			intPDU(root+".1."+ix, typ), intPDU(root+".2."+ix, scale), intPDU(root+".3."+ix, prec),
			intPDU(root+".4."+ix, value), intPDU(root+".5."+ix, status),
		}
	}
	for _, tt := range []struct {
		name     string
		profile  string
		pdus     []gosnmp.SnmpPDU
		want     map[string]float64
		wantErrs []string
		// wantGets counts the OIDs asked with GET beyond the system group.
		wantGets int
	}{
		{
			name:    "ENTITY-SENSOR-MIB",
			profile: "entity-sensor",
			pdus: slices.Concat(
				entRow(ent, "100000001", 8, 9, 1, 390, 1),    // 39.0 °C
				entRow(ent, "100011001", 10, 9, 0, 10393, 1), // RPM
				entRow(ent, "100011002", 4, 8, 0, 12111, 1),  // milli-volts DC
				entRow(ent, "100011003", 6, 10, 2, 153, 1),   // 1.53 kW
				entRow(ent, "100011004", 8, 9, 1, 999, 3),    // nonoperational: health only
				entRow(ent, "100011005", 12, 9, 0, 1, 1),     // truthvalue: nothing
				entRow(ent, "100011006", 5, 8, 0, 1500, 1),   // no name: 1.5 A
				[]gosnmp.SnmpPDU{
					octets(name+".1", "chassis"), octets(name+".100000001", "Temp1"), octets(name+".100011001", "Fan1"),
					octets(name+".100011002", "PSU1 12V"), octets(name+".100011003", "PSU1"), octets(name+".100011004", "Temp9"),
					octets(name+".100011005", "Door"),
				},
			),
			want: map[string]float64{
				`temperature_celsius{sensor="Temp1"}`:        39,
				`sensor_health{sensor="Temp1"}`:              0,
				`fan_speed_rpm{sensor="Fan1"}`:               10393,
				`sensor_health{sensor="Fan1"}`:               0,
				`voltage_volts{sensor="PSU1 12V"}`:           12.111,
				`sensor_health{sensor="PSU1 12V"}`:           0,
				`power_watts{sensor="PSU1"}`:                 1530,
				`sensor_health{sensor="PSU1"}`:               0,
				`sensor_health{sensor="Temp9"}`:              2,
				`current_amperes{sensor="entity 100011006"}`: 1.5,
				`sensor_health{sensor="entity 100011006"}`:   0,
			},
			// entPhysicalName of the six sensors with a metric, not the
			// chassis nor the truthvalue.
			wantGets: 6,
		},
		{
			name:    "CISCO-ENTITY-SENSOR-MIB",
			profile: "cisco-entity-sensor",
			pdus: slices.Concat(
				entRow(cent, "1063", 8, 9, 1, 346, 1),
				entRow(cent, "1066", 14, 9, 1, -50, 1), // dBm
				entRow(cent, "1064", 4, 9, 2, 332, 1),
				[]gosnmp.SnmpPDU{octets(name+".1063", "Gi1/0/52 Module Temperature Sensor"), octets(name+".1064", "Gi1/0/52 Supply Voltage Sensor")},
			),
			want: map[string]float64{
				`temperature_celsius{sensor="Gi1/0/52 Module Temperature Sensor"}`: 34.6,
				`voltage_volts{sensor="Gi1/0/52 Supply Voltage Sensor"}`:           3.32,
			},
			wantGets: 2,
		},
		{
			name:    "HPE iLO",
			profile: "hpe-ilo",
			pdus: []gosnmp.SnmpPDU{
				intPDU(ilo+".2.0.1", 1), intPDU(ilo+".3.0.1", 11), intPDU(ilo+".4.0.1", 21), intPDU(ilo+".5.0.1", 42), intPDU(ilo+".6.0.1", 2),
				intPDU(ilo+".2.0.2", 2), intPDU(ilo+".3.0.2", 6), intPDU(ilo+".4.0.2", 40), intPDU(ilo+".5.0.2", 70), intPDU(ilo+".6.0.2", 3),
				// Unknown temperature, no threshold, other condition.
				intPDU(ilo+".2.0.10", 10), intPDU(ilo+".3.0.10", 10), intPDU(ilo+".4.0.10", -99), intPDU(ilo+".5.0.10", 0), intPDU(ilo+".6.0.10", 1),
				// A locale the MIB does not list.
				intPDU(ilo+".2.0.11", 11), intPDU(ilo+".3.0.11", 42), intPDU(ilo+".4.0.11", 30), intPDU(ilo+".5.0.11", -99), intPDU(ilo+".6.0.11", 4),
			},
			want: map[string]float64{
				`temperature_celsius{sensor="ambient 1"}`:      21,
				`temperature_crit_celsius{sensor="ambient 1"}`: 42,
				`sensor_health{sensor="ambient 1"}`:            0,
				`temperature_celsius{sensor="cpu 2"}`:          40,
				`temperature_crit_celsius{sensor="cpu 2"}`:     70,
				`sensor_health{sensor="cpu 2"}`:                1,
				`temperature_celsius{sensor="42 11"}`:          30,
				`sensor_health{sensor="42 11"}`:                2,
			},
		},
		{
			name:    "Supermicro BMC",
			profile: "supermicro-aten",
			pdus: []gosnmp.SnmpPDU{
				octets(aten+".2.1", "32.000"), octets(aten+".8.1", "96.000"), octets(aten+".9.1", "101.000"), octets(aten+".13.1", "CPU Temp"),
				// An empty slot: 0 and no thresholds.
				octets(aten+".2.9", "0.000"), octets(aten+".8.9", "0.000"), octets(aten+".9.9", "0.000"), octets(aten+".13.9", "M2NVMeSSD Temp"),
				octets(aten+".2.10", "8100.000"), octets(aten+".8.10", "25300.000"), octets(aten+".9.10", "25400.000"), octets(aten+".13.10", "FAN1"),
				// A stopped fan is a reading, not an empty slot.
				octets(aten+".2.12", "0.000"), octets(aten+".8.12", "25300.000"), octets(aten+".9.12", "25400.000"), octets(aten+".13.12", "FAN3"),
				octets(aten+".2.23", "12.111"), octets(aten+".8.23", "12.965"), octets(aten+".9.23", "13.331"), octets(aten+".13.23", "12V"),
				// Two sensors named alike, padded with spaces.
				octets(aten+".2.38", "67.000"), octets(aten+".8.38", "95.000"), octets(aten+".9.38", "100.000"), octets(aten+".13.38", "AOC_NIC Temp    "),
				octets(aten+".2.39", "73.000"), octets(aten+".8.39", "95.000"), octets(aten+".9.39", "100.000"), octets(aten+".13.39", "AOC_NIC Temp    "),
			},
			want: map[string]float64{
				`temperature_celsius{sensor="CPU Temp"}`:              32,
				`temperature_warn_celsius{sensor="CPU Temp"}`:         96,
				`temperature_crit_celsius{sensor="CPU Temp"}`:         101,
				`fan_speed_rpm{sensor="FAN1"}`:                        8100,
				`fan_speed_rpm{sensor="FAN3"}`:                        0,
				`temperature_celsius{sensor="AOC_NIC Temp"}`:          67,
				`temperature_warn_celsius{sensor="AOC_NIC Temp"}`:     95,
				`temperature_crit_celsius{sensor="AOC_NIC Temp"}`:     100,
				`temperature_celsius{sensor="AOC_NIC Temp #39"}`:      73,
				`temperature_warn_celsius{sensor="AOC_NIC Temp #39"}`: 95,
				`temperature_crit_celsius{sensor="AOC_NIC Temp #39"}`: 100,
			},
		},
		{
			name:    "Supermicro SuperDoctor",
			profile: "supermicro-superdoctor",
			pdus: []gosnmp.SnmpPDU{
				octets(sd+".2.1", "CPU Temperature"), intPDU(sd+".3.1", 2), intPDU(sd+".4.1", 45), intPDU(sd+".5.1", 85), intPDU(sd+".12.1", 0),
				octets(sd+".2.2", "FAN1 Fan Speed"), intPDU(sd+".3.2", 0), intPDU(sd+".4.2", 4200), intPDU(sd+".5.2", 0), intPDU(sd+".12.2", 1),
				octets(sd+".2.3", "Vcore Voltage"), intPDU(sd+".3.3", 1), intPDU(sd+".4.3", 1808), intPDU(sd+".5.3", 2000), intPDU(sd+".12.3", 2),
				octets(sd+".2.4", "Chassis Intrusion"), intPDU(sd+".3.4", 3), intPDU(sd+".4.4", 0), intPDU(sd+".12.4", 0),
			},
			want: map[string]float64{
				`temperature_celsius{sensor="CPU Temperature"}`:      45,
				`temperature_crit_celsius{sensor="CPU Temperature"}`: 85,
				`sensor_health{sensor="CPU Temperature"}`:            0,
				`fan_speed_rpm{sensor="FAN1 Fan Speed"}`:             4200,
				`sensor_health{sensor="FAN1 Fan Speed"}`:             1,
				`voltage_volts{sensor="Vcore Voltage"}`:              1.808,
				`sensor_health{sensor="Vcore Voltage"}`:              2,
				`sensor_health{sensor="Chassis Intrusion"}`:          0,
			},
		},
		{
			name:    "CISCO-ENVMON-MIB",
			profile: "cisco-envmon",
			pdus: []gosnmp.SnmpPDU{
				octets(env+".2.1008", "SW#1, Sensor#1, GREEN "), gauge32(env+".3.1008", 44), intPDU(env+".4.1008", 68), intPDU(env+".6.1008", 1),
				octets(env+".2.2008", "SW#2, Sensor#1, YELLOW"), gauge32(env+".3.2008", 61), intPDU(env+".4.2008", 68), intPDU(env+".6.2008", 2),
				octets(env+".2.3008", "SW#3, Sensor#1"), gauge32(env+".3.3008", 0), intPDU(env+".4.3008", 68), intPDU(env+".6.3008", 5),
			},
			want: map[string]float64{
				`temperature_celsius{sensor="SW#1, Sensor#1"}`:      44,
				`temperature_crit_celsius{sensor="SW#1, Sensor#1"}`: 68,
				`sensor_health{sensor="SW#1, Sensor#1"}`:            0,
				`temperature_celsius{sensor="SW#2, Sensor#1"}`:      61,
				`temperature_crit_celsius{sensor="SW#2, Sensor#1"}`: 68,
				`sensor_health{sensor="SW#2, Sensor#1"}`:            1,
			},
		},
		{
			name:    "LLDP",
			profile: "lldp",
			pdus: []gosnmp.SnmpPDU{
				// Local ports: swp1 by name; port 2 has a MAC as its ID and
				// a description; port 3 is not in the table.
				octets(loc+".3.1", "swp1"), octets(loc+".4.1", "to api1"),
				octets(loc+".3.2", "\x44\x38\x39\x00\x00\x02"), octets(loc+".4.2", "swp2"),
				// Neighbours, indexed timeMark.localPort.index.
				octets(rem+".5.0.1.1", "\x0c\xc4\x7a\x00\x00\x01"), octets(rem+".7.0.1.1", "eth0"), octets(rem+".8.0.1.1", "uplink"), octets(rem+".9.0.1.1", "api1"),
				// A neighbour without a system name, its port a MAC
				// without a description.
				octets(rem+".5.300.2.4", "\x0c\xc4\x7a\x00\x00\x02"), octets(rem+".7.300.2.4", "\x0c\xc4\x7a\x00\x00\x03"),
				octets(rem+".5.0.3.1", "\x0c\xc4\x7a\x00\x00\x09"), octets(rem+".7.0.3.1", "Ethernet1"), octets(rem+".9.0.3.1", "leaf2"),
			},
			want: map[string]float64{
				`lldp_neighbor_info{ifname="swp1",neighbor="api1",neighbor_port="eth0"}`:                           1,
				`lldp_neighbor_info{ifname="swp2",neighbor="0c:c4:7a:00:00:02",neighbor_port="0c:c4:7a:00:00:03"}`: 1,
				`lldp_neighbor_info{ifname="port 3",neighbor="leaf2",neighbor_port="Ethernet1"}`:                   1,
			},
			// Two lookup columns for each of three neighbours.
			wantGets: 6,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAgent(tt.pdus...)
			p := newTestPoller(t, f, "2c", tt.profile)
			for poll := range 2 {
				got, err := p.Poll(context.Background())
				checkErrs(t, err, tt.wantErrs)
				checkValues(t, got, tt.want)
				if poll == 0 {
					gets := 0
					for _, r := range f.requestLog()[1:] {
						if oids, ok := strings.CutPrefix(r, "get "); ok {
							gets += len(strings.Split(oids, ","))
						}
					}
					if gets != tt.wantGets {
						t.Errorf("%d OIDs asked with GET, want %d: %q", gets, tt.wantGets, f.requestLog())
					}
				}
			}
		})
	}
}
