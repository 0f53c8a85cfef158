package snmppoll

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/rackwatch/rackwatch/edge/sample"
)

func TestPollIfMIB(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		pdus []gosnmp.SnmpPDU
		// extra replaces PDUs after the rows are built.
		extra []gosnmp.SnmpPDU
		want  []string
		// wantErrs are substrings, one per joined error, in order.
		wantErrs []string
	}{
		{
			name: "two ports",
			pdus: ifRows(
				port{index: 1, descr: "GigabitEthernet1/0/1", name: "Gi1/0/1", up: true, inErr: 3, outErr: 4, inDisc: 5, fcs: 6},
				port{index: 2, descr: "GigabitEthernet1/0/2", name: "Gi1/0/2"},
			),
			want: []string{
				`if_fcs_errors_total{ifname="Gi1/0/1"} uint 6 frames`,
				`if_fcs_errors_total{ifname="Gi1/0/2"} uint 0 frames`,
				`if_in_discards_total{ifname="Gi1/0/1"} uint 5 packets`,
				`if_in_discards_total{ifname="Gi1/0/2"} uint 0 packets`,
				`if_in_errors_total{ifname="Gi1/0/1"} uint 3 packets`,
				`if_in_errors_total{ifname="Gi1/0/2"} uint 0 packets`,
				`if_oper_up{ifname="Gi1/0/1"} bool true bool`,
				`if_oper_up{ifname="Gi1/0/2"} bool false bool`,
				`if_out_errors_total{ifname="Gi1/0/1"} uint 4 packets`,
				`if_out_errors_total{ifname="Gi1/0/2"} uint 0 packets`,
			},
		},
		{
			name: "every column",
			pdus: append(ifRows(port{index: 7, descr: "swp1", name: "swp1", up: true, noFCS: true}),
				timeticks(oidIfLastChange+".7", 12345),
				counter32(oidIfInOctets+".7", 1000),
				counter32(oidIfOutOctets+".7", 2000),
				counter64(oidIfHCInOctets+".7", 1<<40),
				counter64(oidIfHCOutOctets+".7", 1<<41),
				counter32(oidIfOutDiscards+".7", 8),
				gauge32(oidIfHighSpeed+".7", 25000),
				timeticks(oidIfDiscTime+".7", 0),
				counter32(oidDot3Align+".7", 1),
				counter32(oidDot3FCS+".7", 2),
				counter64(oidDot3HCAlign+".7", 11),
				counter64(oidDot3HCFCS+".7", 12),
			),
			want: []string{
				`if_alignment_errors_total{ifname="swp1"} uint 11 frames`,
				`if_fcs_errors_total{ifname="swp1"} uint 12 frames`,
				`if_in_discards_total{ifname="swp1"} uint 0 packets`,
				`if_in_errors_total{ifname="swp1"} uint 0 packets`,
				`if_in_octets_total{ifname="swp1"} uint 1099511627776 bytes`,
				`if_last_change_seconds{ifname="swp1"} float 123.45 seconds`,
				`if_oper_up{ifname="swp1"} bool true bool`,
				`if_out_discards_total{ifname="swp1"} uint 8 packets`,
				`if_out_errors_total{ifname="swp1"} uint 0 packets`,
				`if_out_octets_total{ifname="swp1"} uint 2199023255552 bytes`,
				`if_speed_bps{ifname="swp1"} float 2.5e+10 bits_per_second`,
			},
		},
		{
			name: "32-bit columns when the 64-bit ones are absent",
			pdus: append(ifRows(port{index: 7, descr: "eth0", noFCS: true}),
				counter32(oidIfInOctets+".7", 1000),
				counter32(oidDot3Align+".7", 3),
				counter32(oidDot3FCS+".7", 4),
			),
			want: []string{
				`if_alignment_errors_total{ifname="eth0"} uint 3 frames`,
				`if_fcs_errors_total{ifname="eth0"} uint 4 frames`,
				`if_in_discards_total{ifname="eth0"} uint 0 packets`,
				`if_in_errors_total{ifname="eth0"} uint 0 packets`,
				`if_in_octets_total{ifname="eth0"} uint 1000 bytes`,
				`if_oper_up{ifname="eth0"} bool false bool`,
				`if_out_errors_total{ifname="eth0"} uint 0 packets`,
			},
		},
		{
			// Counter64 values above 2^53 must not pass through float64:
			// 2^53+1 would come back as 2^53.
			name: "counter64 exact",
			pdus: ifRows(port{index: 7, descr: "swp1", name: "swp1", noFCS: true}),
			extra: []gosnmp.SnmpPDU{
				counter64(oidIfInErrors+".7", math.MaxUint64),
				counter64(oidIfOutErrors+".7", 1<<53+1),
			},
			want: []string{
				`if_in_discards_total{ifname="swp1"} uint 0 packets`,
				`if_in_errors_total{ifname="swp1"} uint 18446744073709551615 packets`,
				`if_oper_up{ifname="swp1"} bool false bool`,
				`if_out_errors_total{ifname="swp1"} uint 9007199254740993 packets`,
			},
		},
		{
			name: "ifName missing or empty falls back to ifDescr",
			pdus: ifRows(
				port{index: 1, descr: "lo", up: true, noFCS: true},
				port{index: 2, descr: "eth0", name: "", up: true, noFCS: true},
			),
			extra: []gosnmp.SnmpPDU{octets(oidIfName+".2", "\x00")},
			want: []string{
				`if_in_discards_total{ifname="eth0"} uint 0 packets`,
				`if_in_discards_total{ifname="lo"} uint 0 packets`,
				`if_in_errors_total{ifname="eth0"} uint 0 packets`,
				`if_in_errors_total{ifname="lo"} uint 0 packets`,
				`if_oper_up{ifname="eth0"} bool true bool`,
				`if_oper_up{ifname="lo"} bool true bool`,
				`if_out_errors_total{ifname="eth0"} uint 0 packets`,
				`if_out_errors_total{ifname="lo"} uint 0 packets`,
			},
		},
		{
			name: "wrong type skipped and reported",
			pdus: ifRows(
				port{index: 1, descr: "a", name: "a", inErr: 1, noFCS: true},
				port{index: 2, descr: "b", name: "b", inErr: 2, noFCS: true},
			),
			extra: []gosnmp.SnmpPDU{octets(oidIfInErrors+".2", "garbage")},
			want: []string{
				`if_in_discards_total{ifname="a"} uint 0 packets`,
				`if_in_discards_total{ifname="b"} uint 0 packets`,
				`if_in_errors_total{ifname="a"} uint 1 packets`,
				`if_oper_up{ifname="a"} bool false bool`,
				`if_oper_up{ifname="b"} bool false bool`,
				`if_out_errors_total{ifname="a"} uint 0 packets`,
				`if_out_errors_total{ifname="b"} uint 0 packets`,
			},
			wantErrs: []string{"snmppoll: tor1 (127.0.0.1:1161): ifTable ifInErrors.2: wrong type: want Counter32 or Counter64, got OctetString"},
		},
		{
			// A counter that an agent sends as a negative INTEGER.
			name:  "negative counter skipped and reported",
			pdus:  ifRows(port{index: 1, descr: "a", name: "a", noFCS: true}),
			extra: []gosnmp.SnmpPDU{intPDU(oidIfOutErrors+".1", -5)},
			want: []string{
				`if_in_discards_total{ifname="a"} uint 0 packets`,
				`if_in_errors_total{ifname="a"} uint 0 packets`,
				`if_oper_up{ifname="a"} bool false bool`,
			},
			wantErrs: []string{"ifTable ifOutErrors.1: wrong type: want Counter32 or Counter64, got Integer -5"},
		},
		{
			name:  "counter32 out of range",
			pdus:  ifRows(port{index: 1, descr: "a", name: "a", noFCS: true}),
			extra: []gosnmp.SnmpPDU{counter32(oidIfOutErrors+".1", 1<<32)},
			want: []string{
				`if_in_discards_total{ifname="a"} uint 0 packets`,
				`if_in_errors_total{ifname="a"} uint 0 packets`,
				`if_oper_up{ifname="a"} bool false bool`,
			},
			wantErrs: []string{"ifTable ifOutErrors.1: Counter32 value 4294967296 out of range"},
		},
		{
			name:  "ifName of the wrong type falls back and is reported",
			pdus:  ifRows(port{index: 3, descr: "eth3", name: "x", noFCS: true}),
			extra: []gosnmp.SnmpPDU{{Name: "." + oidIfName + ".3", Type: gosnmp.IPAddress, Value: "10.0.0.1"}},
			want: []string{
				`if_in_discards_total{ifname="eth3"} uint 0 packets`,
				`if_in_errors_total{ifname="eth3"} uint 0 packets`,
				`if_oper_up{ifname="eth3"} bool false bool`,
				`if_out_errors_total{ifname="eth3"} uint 0 packets`,
			},
			wantErrs: []string{"ifXTable ifName.3: wrong type: want OctetString, got IPAddress"},
		},
		{
			name: "row without a name skipped",
			pdus: append(ifRows(port{index: 1, descr: "a", name: "a", noFCS: true}),
				counter32(oidDot3FCS+".9", 1)),
			want: []string{
				`if_in_discards_total{ifname="a"} uint 0 packets`,
				`if_in_errors_total{ifname="a"} uint 0 packets`,
				`if_oper_up{ifname="a"} bool false bool`,
				`if_out_errors_total{ifname="a"} uint 0 packets`,
			},
			wantErrs: []string{"ifTable ifName/ifDescr.9: no value for label ifname"},
		},
		{
			// Windows hosts name several interfaces alike: the later rows
			// get their index appended.
			name: "duplicate names made unique",
			pdus: ifRows(
				port{index: 1, descr: "a", name: "same", inErr: 1, noFCS: true},
				port{index: 2, descr: "b", name: "same", inErr: 2, noFCS: true},
			),
			want: []string{
				`if_in_discards_total{ifname="same #2"} uint 0 packets`,
				`if_in_discards_total{ifname="same"} uint 0 packets`,
				`if_in_errors_total{ifname="same #2"} uint 2 packets`,
				`if_in_errors_total{ifname="same"} uint 1 packets`,
				`if_oper_up{ifname="same #2"} bool false bool`,
				`if_oper_up{ifname="same"} bool false bool`,
				`if_out_errors_total{ifname="same #2"} uint 0 packets`,
				`if_out_errors_total{ifname="same"} uint 0 packets`,
			},
		},
		{
			name:  "label cleaned",
			pdus:  ifRows(port{index: 1, descr: "x", name: " Gi1/0/1 \x00\x00", noFCS: true}),
			extra: []gosnmp.SnmpPDU{counter32(oidIfInErrors+".1", 9)},
			want: []string{
				`if_in_discards_total{ifname="Gi1/0/1"} uint 0 packets`,
				`if_in_errors_total{ifname="Gi1/0/1"} uint 9 packets`,
				`if_oper_up{ifname="Gi1/0/1"} bool false bool`,
				`if_out_errors_total{ifname="Gi1/0/1"} uint 0 packets`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAgent(tt.pdus...)
			f.set(tt.extra...)
			p := newTestPoller(t, f, "2c", "if-mib")
			got, err := p.Poll(context.Background())
			checkErrs(t, err, tt.wantErrs)
			checkSamples(t, got, tt.want)
			if tt.name == "wrong type skipped and reported" {
				var ve *ValueError
				if !errors.As(err, &ve) || ve.Column != "ifInErrors" || ve.Index != "2" || !errors.Is(err, errWrongType) {
					t.Errorf("errors.As(%v) = %+v, want ValueError for ifInErrors.2 wrapping errWrongType", err, ve)
				}
			}
		})
	}
}

func checkSamples(t *testing.T, got []sample.Sample, want []string) {
	t.Helper()
	for _, s := range got {
		if !s.TS.Equal(testNow) {
			t.Errorf("%s: TS %v, want %v", s.Series(), s.TS, testNow)
		}
	}
	lines := render(got)
	slices.Sort(lines)
	if !slices.Equal(lines, want) {
		t.Errorf("samples:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// checkErrs compares the joined errors of err with substrings, in order.
func checkErrs(t *testing.T, err error, want []string) {
	t.Helper()
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else if err != nil {
		errs = []error{err}
	}
	if len(errs) != len(want) {
		t.Fatalf("error %v: got %d errors, want %d: %q", err, len(errs), len(want), want)
	}
	for i, e := range errs {
		if !strings.Contains(e.Error(), want[i]) {
			t.Errorf("error %d = %q, want it to contain %q", i, e, want[i])
		}
	}
}

func TestPollSensors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		profile  string
		pdus     []gosnmp.SnmpPDU
		want     map[string]float64
		wantErrs []string
	}{
		{
			name:    "lm-sensors",
			profile: "lm-sensors",
			pdus: []gosnmp.SnmpPDU{
				octets(oidLmTempDevice+".1", "Package id 0"), gauge32(oidLmTempValue+".1", 43000),
				// -5 °C as net-snmp sends it: a Gauge32 wrapped modulo 2^32.
				octets(oidLmTempDevice+".2", "outside"), gauge32(oidLmTempValue+".2", 4294962296),
				octets(oidLmTempDevice+".3", "Core 0"), gauge32(oidLmTempValue+".3", 48125),
				// Some agents send it as INTEGER, already signed.
				octets(oidLmTempDevice+".4", "pch"), intPDU(oidLmTempValue+".4", -1500),
				octets(oidLmTempDevice+".5", "bad"), octets(oidLmTempValue+".5", "43000"),
				// Fans in RPM, voltages in mV.
				octets("1.3.6.1.4.1.2021.13.16.3.1.2.1", "fan1"), gauge32("1.3.6.1.4.1.2021.13.16.3.1.3.1", 1200),
				octets("1.3.6.1.4.1.2021.13.16.4.1.2.1", "in0"), gauge32("1.3.6.1.4.1.2021.13.16.4.1.3.1", 1104),
				octets("1.3.6.1.4.1.2021.13.16.4.1.2.2", "-12V"), gauge32("1.3.6.1.4.1.2021.13.16.4.1.3.2", 4294955296),
			},
			want: map[string]float64{
				`temperature_celsius{sensor="Package id 0"}`: 43,
				`temperature_celsius{sensor="outside"}`:      -5,
				`temperature_celsius{sensor="Core 0"}`:       48.125,
				`temperature_celsius{sensor="pch"}`:          -1.5,
				`fan_speed_rpm{sensor="fan1"}`:               1200,
				`voltage_volts{sensor="in0"}`:                1.104,
				`voltage_volts{sensor="-12V"}`:               -12,
			},
			wantErrs: []string{"lmTempSensorsTable lmTempSensorsValue.5: wrong type: want Integer or Gauge32, got OctetString"},
		},
		{
			name:    "idrac",
			profile: "idrac",
			pdus: []gosnmp.SnmpPDU{
				octets(oidDracName+".1.1", "CPU1 Temp"), intPDU(oidDracReading+".1.1", 550), intPDU(oidDracCrit+".1.1", 980), intPDU(oidDracStatus+".1.1", 3),
				octets(oidDracName+".1.3", "System Board Inlet Temp"), intPDU(oidDracReading+".1.3", 253), intPDU(oidDracCrit+".1.3", 470), intPDU(oidDracWarn+".1.3", 430), intPDU(oidDracStatus+".1.3", 4),
				// A probe without a reading (absent sensor) yields only its
				// threshold; unknown(2) status yields no health.
				octets(oidDracName+".1.4", "Exhaust"), intPDU(oidDracCrit+".1.4", 800), intPDU(oidDracStatus+".1.4", 2),
				octets("1.3.6.1.4.1.674.10892.5.4.700.12.1.8.1.1", "System Board Fan1A"), intPDU("1.3.6.1.4.1.674.10892.5.4.700.12.1.6.1.1", 4080),
			},
			want: map[string]float64{
				`temperature_celsius{sensor="CPU1 Temp"}`:                    55,
				`temperature_crit_celsius{sensor="CPU1 Temp"}`:               98,
				`sensor_health{sensor="CPU1 Temp"}`:                          0,
				`temperature_celsius{sensor="System Board Inlet Temp"}`:      25.3,
				`temperature_crit_celsius{sensor="System Board Inlet Temp"}`: 47,
				`temperature_warn_celsius{sensor="System Board Inlet Temp"}`: 43,
				`sensor_health{sensor="System Board Inlet Temp"}`:            1,
				`temperature_crit_celsius{sensor="Exhaust"}`:                 80,
				`fan_speed_rpm{sensor="System Board Fan1A"}`:                 4080,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newTestPoller(t, newFakeAgent(tt.pdus...), "2c", tt.profile)
			got, err := p.Poll(context.Background())
			checkErrs(t, err, tt.wantErrs)
			checkValues(t, got, tt.want)
		})
	}
}

// checkValues compares exactly: the conversions promise the float64 nearest
// the decimal reading, which is what the literal in want is.
func checkValues(t *testing.T, got []sample.Sample, want map[string]float64) {
	t.Helper()
	seen := map[string]bool{}
	for _, s := range got {
		k := s.Series()
		if seen[k] {
			t.Errorf("%s: repeated", k)
		}
		seen[k] = true
		w, ok := want[k]
		d, _ := lookupDesc(s.Metric)
		switch {
		case !ok:
			t.Errorf("unexpected sample %s = %v", k, s.Value)
		case s.Value.Kind() != d.Kind || s.Value.Float() != w:
			t.Errorf("%s = %v %v, want %v %v", k, s.Value.Kind(), s.Value, d.Kind, w)
		case s.Unit != d.Unit:
			t.Errorf("%s: unit %q, catalogue says %q", k, s.Unit, d.Unit)
		}
	}
	for k := range want {
		if !seen[k] {
			t.Errorf("missing sample %s", k)
		}
	}
}

func TestPollTimeoutNamesTarget(t *testing.T) {
	t.Parallel()
	f := newFakeAgent(ifRows(port{index: 1, descr: "a"})...)
	// The error gosnmp returns when every attempt timed out.
	f.errFor["*"] = fmt.Errorf("request timeout (after 1 retries): %w", gosnmp.ErrMaxRetriesExceeded)
	p := newTestPoller(t, f, "2c", "if-mib", "lm-sensors")
	got, err := p.Poll(context.Background())
	if len(got) != 0 {
		t.Errorf("samples %v, want none", render(got))
	}
	const want = "snmppoll: tor1 (127.0.0.1:1161): get sysUpTime, sysObjectID, sysDescr: no answer (wrong community, or target down): request timeout (after 1 retries): max retries exceeded"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	if !errors.Is(err, gosnmp.ErrMaxRetriesExceeded) {
		t.Errorf("errors.Is(%v, ErrMaxRetriesExceeded) = false", err)
	}
	// One timeout is enough: the rest of the poll would wait out the same.
	if w := f.requestLog(); len(w) != 1 {
		t.Errorf("requests = %q, want a single one", w)
	}
}

func TestPollStopsAtFailedTable(t *testing.T) {
	t.Parallel()
	f := newFakeAgent(append(ifRows(port{index: 1, descr: "a", name: "a", inErr: 1, noFCS: true}),
		octets(oidLmTempDevice+".1", "x"), octets(oidLmTempValue+".1", "bad"))...)
	f.errFor[oidLmTempDevice] = errors.New("request timeout")
	p := newTestPoller(t, f, "2c", "idrac", "if-mib", "lm-sensors")
	got, err := p.Poll(context.Background())
	// The completed tables keep their samples and their problems; the
	// poll stops at the first failed walk.
	checkErrs(t, err, []string{"snmppoll: tor1 (127.0.0.1:1161): walk lmTempSensorsTable: request timeout"})
	if len(got) != 4 {
		t.Errorf("samples = %q, want the four of the ifTable", render(got))
	}
	for _, r := range f.requestLog() {
		if strings.Contains(r, "1.3.6.1.4.1.2021.13.16.3") {
			t.Errorf("request %q after the failed walk", r)
		}
	}
}

func TestPollContext(t *testing.T) {
	t.Parallel()
	t.Run("canceled before", func(t *testing.T) {
		t.Parallel()
		f := newFakeAgent(ifRows(port{index: 1, descr: "a"})...)
		p := newTestPoller(t, f, "2c", "if-mib")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := p.Poll(ctx)
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "tor1 (127.0.0.1:1161)") {
			t.Errorf("err = %v, want context.Canceled naming the target", err)
		}
		if w := f.requestLog(); len(w) != 0 || f.connects != 0 {
			t.Errorf("requests %q, connects %d; want none", w, f.connects)
		}
	})
	t.Run("canceled during a walk", func(t *testing.T) {
		t.Parallel()
		f := newFakeAgent(ifRows(port{index: 1, descr: "a", name: "a"}, port{index: 2, descr: "b", name: "b"})...)
		f.maxVarbinds = 4 // several requests per walk
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		f.onRequest = func(kind string, _ []string) {
			if kind == "bulk" {
				cancel()
			}
		}
		p := newTestPoller(t, f, "2c", "if-mib")
		got, err := p.Poll(ctx)
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "walk ifTable") {
			t.Errorf("err = %v, want context.Canceled in the ifTable walk", err)
		}
		if len(got) != 0 {
			t.Errorf("samples %q, want none", render(got))
		}
		var bulks int
		for _, r := range f.requestLog() {
			if strings.HasPrefix(r, "bulk") {
				bulks++
			}
		}
		if bulks != 1 {
			t.Errorf("%d GETBULK requests, want the first only", bulks)
		}
	})
}

// TestPollRequests checks what goes on the wire: one GET for the system
// group, and the columns of a table walked together, with GETBULK or, on
// SNMPv1, GETNEXT.
func TestPollRequests(t *testing.T) {
	t.Parallel()
	temps := []gosnmp.SnmpPDU{
		octets(oidLmTempDevice+".1", "a"), gauge32(oidLmTempValue+".1", 1000),
		octets(oidLmTempDevice+".2", "b"), gauge32(oidLmTempValue+".2", 2000),
	}
	const sys = "get .1.3.6.1.2.1.1.3.0,.1.3.6.1.2.1.1.2.0,.1.3.6.1.2.1.1.1.0"
	const cols = ".1.3.6.1.4.1.2021.13.16.2.1.2,.1.3.6.1.4.1.2021.13.16.2.1.3"
	for _, tt := range []struct {
		version string
		want    []string
	}{
		{"1", []string{sys,
			"next " + cols,
			"next .1.3.6.1.4.1.2021.13.16.2.1.2.1,.1.3.6.1.4.1.2021.13.16.2.1.3.1",
			"next .1.3.6.1.4.1.2021.13.16.2.1.2.2,.1.3.6.1.4.1.2021.13.16.2.1.3.2",
			// Nothing follows lmTempSensorsValue.2: noSuchName for it
			// fails the request (RFC 1157 §4.1.3), asked again without.
			"next .1.3.6.1.4.1.2021.13.16.2.1.2.2",
		}},
		{"2c", []string{sys, "bulk " + cols}},
	} {
		t.Run("v"+tt.version, func(t *testing.T) {
			t.Parallel()
			f := newFakeAgent(temps...)
			f.v1 = tt.version == "1"
			p := newTestPoller(t, f, tt.version, "lm-sensors")
			got, err := p.Poll(context.Background())
			if err != nil || len(got) != 2 {
				t.Fatalf("poll: %v, %v", render(got), err)
			}
			var log []string
			for _, r := range f.requestLog() {
				// The fan and voltage tables are empty.
				if !strings.Contains(r, "13.16.3.1") && !strings.Contains(r, "13.16.4.1") {
					log = append(log, r)
				}
			}
			if !slices.Equal(log, tt.want) {
				t.Errorf("requests\n%s\nwant\n%s", strings.Join(log, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestPollAcrossPolls(t *testing.T) {
	t.Parallel()
	f := newFakeAgent(ifRows(
		port{index: 1, descr: "a", name: "a", inErr: 1, noFCS: true},
		port{index: 2, descr: "b", name: "b", inErr: 2, noFCS: true},
		port{index: 3, descr: "c", name: "c", inErr: 3, noFCS: true},
	)...)
	p := newTestPoller(t, f, "2c", "if-mib")
	first, err := p.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	labelsOf := func(ss []sample.Sample, name string) sample.Labels {
		for _, s := range ss {
			if s.Labels.Get("ifname") == name {
				return s.Labels
			}
		}
		t.Fatalf("no sample for %s", name)
		return nil
	}
	// Port 2 is removed, port 3 renamed, port 4 added.
	f.remove(oidIfDescr+".2", oidIfOperStatus+".2", oidIfInDiscards+".2", oidIfInErrors+".2", oidIfOutErrors+".2", oidIfName+".2")
	f.set(octets(oidIfName+".3", "c-renamed"), counter32(oidIfInErrors+".1", 10))
	f.set(ifRows(port{index: 4, descr: "d", name: "d", inErr: 4, noFCS: true})...)
	second, err := p.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkSamples(t, second, []string{
		`if_in_discards_total{ifname="a"} uint 0 packets`,
		`if_in_discards_total{ifname="c-renamed"} uint 0 packets`,
		`if_in_discards_total{ifname="d"} uint 0 packets`,
		`if_in_errors_total{ifname="a"} uint 10 packets`,
		`if_in_errors_total{ifname="c-renamed"} uint 3 packets`,
		`if_in_errors_total{ifname="d"} uint 4 packets`,
		`if_oper_up{ifname="a"} bool false bool`,
		`if_oper_up{ifname="c-renamed"} bool false bool`,
		`if_oper_up{ifname="d"} bool false bool`,
		`if_out_errors_total{ifname="a"} uint 0 packets`,
		`if_out_errors_total{ifname="c-renamed"} uint 0 packets`,
		`if_out_errors_total{ifname="d"} uint 0 packets`,
	})
	// Unchanged labels are reused; the renamed row got a new slice and the
	// samples of the first poll still carry the old name.
	if a1, a2 := labelsOf(first, "a"), labelsOf(second, "a"); &a1[0] != &a2[0] {
		t.Error("labels of an unchanged row were reallocated")
	}
	if l := labelsOf(first, "c"); l.Get("ifname") != "c" {
		t.Errorf("first poll's labels changed to %v", l)
	}
	if ts := p.tables[0]; len(ts.rows) != 3 || len(ts.byIndex) != 3 || len(ts.cells) != 3*len(ts.t.cols) {
		t.Errorf("rows %d, index %d, cells %d; want 3 rows kept", len(ts.rows), len(ts.byIndex), len(ts.cells))
	}
}

func TestPollProblemsBounded(t *testing.T) {
	t.Parallel()
	var pdus []gosnmp.SnmpPDU
	for i := 1; i <= 100; i++ {
		pdus = append(pdus, octets(fmt.Sprintf("%s.%d", oidLmTempDevice, i), fmt.Sprint("s", i)),
			octets(fmt.Sprintf("%s.%d", oidLmTempValue, i), "garbage"))
	}
	p := newTestPoller(t, newFakeAgent(pdus...), "2c", "lm-sensors")
	got, err := p.Poll(context.Background())
	if len(got) != 0 {
		t.Errorf("got %d samples", len(got))
	}
	errs := err.(interface{ Unwrap() []error }).Unwrap()
	if len(errs) != maxProblems+1 || errs[maxProblems].Error() != "snmppoll: 84 more problems not shown" {
		t.Errorf("got %d errors, last %v", len(errs), errs[len(errs)-1])
	}
}

func TestPollRowLimit(t *testing.T) {
	t.Parallel()
	var pdus []gosnmp.SnmpPDU
	for i := 1; i <= maxRows+10; i++ {
		ix := fmt.Sprint(".", i)
		pdus = append(pdus, octets(oidLmTempDevice+ix, "s"+ix), gauge32(oidLmTempValue+ix, 1000))
	}
	p := newTestPoller(t, newFakeAgent(pdus...), "2c", "lm-sensors")
	got, err := p.Poll(context.Background())
	if len(got) != maxRows {
		t.Errorf("got %d samples, want %d", len(got), maxRows)
	}
	// The walk of each column stops at the first value over the limit.
	if err == nil || !strings.Contains(err.Error(), "lmTempSensorsTable: more than 8192 rows, 2 values ignored") {
		t.Errorf("err = %v", err)
	}
}

func TestPollNoData(t *testing.T) {
	t.Parallel()
	// An agent that has the system group and nothing the profile reads.
	f := newFakeAgent()
	p := newTestPoller(t, f, "2c", "idrac")
	got, err := p.Poll(context.Background())
	if len(got) != 0 || !errors.Is(err, ErrNoData) {
		t.Fatalf("poll: %v, %v; want ErrNoData", render(got), err)
	}
	if want := "snmppoll: tor1 (127.0.0.1:1161): the agent has none of the objects of the profiles [idrac]"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

func TestPollerLifecycle(t *testing.T) {
	t.Parallel()
	f := newFakeAgent(octets(oidLmTempDevice+".1", "a"), gauge32(oidLmTempValue+".1", 1000))
	p := newTestPoller(t, f, "2c", "lm-sensors")
	for range 2 {
		if _, err := p.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Poll(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Poll after Close: %v, want ErrClosed", err)
	}
	if f.connects != 1 || f.closes != 1 {
		t.Errorf("connects %d, closes %d; want 1 and 1", f.connects, f.closes)
	}
	if p.String() != "tor1 (127.0.0.1:1161)" {
		t.Errorf("String() = %q", p.String())
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	ok := Opts{Name: "tor1", Address: "127.0.0.1:1161", Profiles: []string{"if-mib"}}
	v3 := func(o *Opts) {
		o.Version, o.User = "3", "poller"
		o.AuthProtocol, o.AuthPassphrase = "SHA-256", "authpass1"
		o.PrivProtocol, o.PrivPassphrase = "AES-256-C", "privpass1"
	}
	tests := []struct {
		name    string
		edit    func(o *Opts)
		wantErr string
	}{
		{"minimal", func(*Opts) {}, ""},
		{"ipv6", func(o *Opts) { o.Address = "[::1]:161" }, ""},
		{"v1", func(o *Opts) { o.Version = "1" }, ""},
		{"auto", func(o *Opts) { o.Profiles = nil }, ""},
		{"all profiles", func(o *Opts) { o.Profiles = ProfileNames() }, ""},
		{"v3 authPriv", v3, ""},
		{"v3 noAuthNoPriv", func(o *Opts) { o.Version, o.User = "3", "u" }, ""},
		{"v4", func(o *Opts) { o.Version = "4" }, `unsupported SNMP version "4"`},
		{"v3 without user", func(o *Opts) { v3(o); o.User = "" }, "SNMPv3 needs a user"},
		{"v3 with community", func(o *Opts) { v3(o); o.Community = "public" }, "a community is for SNMPv1 and v2c"},
		{"user on v2c", func(o *Opts) { o.User = "u" }, `set version "3"`},
		{"no address", func(o *Opts) { o.Address = "" }, "empty address"},
		{"bad port", func(o *Opts) { o.Address = "h:99999" }, `bad port "99999"`},
		{"port zero", func(o *Opts) { o.Address = "h:0" }, `bad port "0"`},
		{"unbracketed ipv6 with port", func(o *Opts) { o.Address = "fe80::1::161" }, "too many colons"},
		{"no host", func(o *Opts) { o.Address = ":161" }, "empty host"},
		{"unknown profile", func(o *Opts) { o.Profiles = []string{"hpe"} }, `unknown profile "hpe" (have [auto cisco-entity-sensor`},
		{"twice", func(o *Opts) { o.Profiles = []string{"idrac", "idrac"} }, `profile "idrac" listed twice`},
		{"negative timeout", func(o *Opts) { o.Timeout = -1 }, "negative timeout"},
		{"missing profile dir", func(o *Opts) { o.ProfileDirs = []string{"/nonexistent"} }, "profiles in /nonexistent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := ok
			tt.edit(&o)
			p, err := New(&o)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if err := p.Close(); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), `snmppoll: target "tor1": `) {
				t.Fatalf("err = %v, want snmppoll: target \"tor1\": ...%s", err, tt.wantErr)
			}
		})
	}
	if _, err := New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
}

func TestSplitAddress(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		host string
		port uint16
	}{
		{"127.0.0.1:1161", "127.0.0.1", 1161},
		{"[::1]:161", "::1", 161},
		{"10.0.0.1", "10.0.0.1", 161},
		{"::1", "::1", 161},
		{"fe80::1%eth0", "fe80::1%eth0", 161},
		{"switch.example", "switch.example", 161},
		{"switch.example:10161", "switch.example", 10161},
	} {
		h, p, err := splitAddress(tt.in)
		if err != nil || h != tt.host || p != tt.port {
			t.Errorf("splitAddress(%q) = %q, %d, %v; want %q, %d", tt.in, h, p, err, tt.host, tt.port)
		}
	}
}

func TestNewAppliesDefaults(t *testing.T) {
	t.Parallel()
	// The settings land on the gosnmp client.
	p, err := New(&Opts{Name: "bmc1", Address: "[::1]:1161", Profiles: []string{"idrac"}, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	g := p.client.(*agentClient).cfg
	if g == gosnmp.Default {
		t.Fatal("poller uses gosnmp.Default")
	}
	if g.Target != "::1" || g.Port != 1161 || g.Community != "public" || g.Version != gosnmp.Version2c ||
		g.Timeout != DefaultTimeout || g.Retries != 0 || g.MaxRepetitions != DefaultMaxRepetitions || p.req.reps != DefaultMaxRepetitions {
		t.Errorf("gosnmp settings %+v", g)
	}
	if !p.req.bulk || p.auto || len(p.tables) != 2 {
		t.Errorf("bulk %v, auto %v, %d tables", p.req.bulk, p.auto, len(p.tables))
	}
	p2, err := New(&Opts{Address: "10.1.1.1", Community: "c", Version: "1", Timeout: 5e8, Retries: 3, MaxRepetitions: 10})
	if err != nil {
		t.Fatal(err)
	}
	g2 := p2.client.(*agentClient).cfg
	if g2 == g || g2.Community != "c" || g2.Version != gosnmp.Version1 || g2.Timeout != 5e8 || g2.Retries != 3 || g2.MaxRepetitions != 10 || g2.Port != 161 {
		t.Errorf("gosnmp settings %+v", g2)
	}
	if p2.String() != "10.1.1.1 (10.1.1.1)" || p2.req.bulk || !p2.auto || p2.req.reps != 10 {
		t.Errorf("String() = %q, bulk %v, auto %v", p2.String(), p2.req.bulk, p2.auto)
	}
}

// TestPollConcurrent polls one Poller from several goroutines; under -race it
// checks that polls of a target are serialized.
func TestPollConcurrent(t *testing.T) {
	t.Parallel()
	f := newFakeAgent(ifRows(port{index: 1, descr: "a", name: "a", inErr: 1}, port{index: 2, descr: "b", name: "b"})...)
	p := newTestPoller(t, f, "2c", "if-mib")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				ss, err := p.Poll(context.Background())
				if err != nil || len(ss) != 10 {
					t.Errorf("poll: %d samples, %v", len(ss), err)
					return
				}
				_ = p.ActiveProfiles()
			}
		})
	}
	wg.Wait()
}

// TestScalars reads a profile's scalar objects in the GET of the system
// group.
func TestScalars(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeProfile(t, dir, "thermal.yaml", `version: 1
name: thermal
tables: []
scalars:
  - {name: sensor_health, object: cpqHeThermalCondition, oid: 1.3.6.1.4.1.232.6.2.6.1.0, type: enum, map: {2: 0, 3: 1, 4: 2}, labels: {sensor: "thermal {system}"}}
  - {name: temperature_celsius, oid: 1.3.6.1.4.1.99999.1.0, type: gauge, labels: {sensor: inlet}}
  - {name: if_in_errors_total, oid: 1.3.6.1.4.1.99999.2.0, type: counter, rate: false}
`)
	f := newFakeAgent(intPDU("1.3.6.1.4.1.232.6.2.6.1.0", 3), intPDU("1.3.6.1.4.1.99999.1.0", 21))
	p := newTestPollerOpts(t, f, &Opts{Profiles: []string{"thermal"}, ProfileDirs: []string{dir}, Now: func() time.Time { return testNow }})
	got, err := p.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkSamples(t, got, []string{
		`sensor_health{sensor="thermal {system}"} uint 1 status`,
		`temperature_celsius{sensor="inlet"} float 21 celsius`,
	})
	want := "get .1.3.6.1.2.1.1.3.0,.1.3.6.1.2.1.1.2.0,.1.3.6.1.2.1.1.1.0,.1.3.6.1.4.1.232.6.2.6.1.0,.1.3.6.1.4.1.99999.1.0,.1.3.6.1.4.1.99999.2.0"
	if log := f.requestLog(); !slices.Equal(log, []string{want}) {
		t.Errorf("requests %q, want one GET %q", log, want)
	}
}

func TestIfName(t *testing.T) {
	f := newFakeAgent(append(systemPDUs("1.3.6.1.4.1.9.1.1208", "Cisco IOS", 100),
		ifRows(port{index: 3, descr: "GigabitEthernet1/0/3", name: "Gi1/0/3"}, port{index: 7, descr: "Vlan7"})...)...)
	p := newTestPoller(t, f, "2c", "if-mib")
	if _, ok := p.IfName(3); ok {
		t.Error("a name before any poll")
	}
	if _, err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		index int
		name  string
		ok    bool
	}{{3, "Gi1/0/3", true}, {7, "Vlan7", true}, {9, "", false}} {
		if name, ok := p.IfName(tc.index); name != tc.name || ok != tc.ok {
			t.Errorf("IfName(%d) = %q, %v; want %q, %v", tc.index, name, ok, tc.name, tc.ok)
		}
	}
}
