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

	"github.com/gosnmp/gosnmp"
	"github.com/rackwatch/rackwatch/edge/sample"
)

func TestPollIfMIB(t *testing.T) {
	t.Parallel()
	const (
		inErr  = "1.3.6.1.2.1.2.2.1.14"
		outErr = "1.3.6.1.2.1.2.2.1.20"
		name   = "1.3.6.1.2.1.31.1.1.1.1"
		descr  = "1.3.6.1.2.1.2.2.1.2"
		fcs    = "1.3.6.1.2.1.10.7.2.1.3"
	)
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
			// Counter64 values above 2^53 must not pass through float64:
			// 2^53+1 would come back as 2^53.
			name: "counter64 exact",
			pdus: ifRows(port{index: 7, descr: "swp1", name: "swp1", noFCS: true}),
			extra: []gosnmp.SnmpPDU{
				counter64(inErr+".7", math.MaxUint64),
				counter64(outErr+".7", 1<<53+1),
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
			extra: []gosnmp.SnmpPDU{octets(name+".2", "\x00")},
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
			extra: []gosnmp.SnmpPDU{octets(inErr+".2", "garbage")},
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
			name:  "counter32 out of range",
			pdus:  ifRows(port{index: 1, descr: "a", name: "a", noFCS: true}),
			extra: []gosnmp.SnmpPDU{counter32(outErr+".1", 1<<32)},
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
			extra: []gosnmp.SnmpPDU{integer(name+".3", 5)},
			want: []string{
				`if_in_discards_total{ifname="eth3"} uint 0 packets`,
				`if_in_errors_total{ifname="eth3"} uint 0 packets`,
				`if_oper_up{ifname="eth3"} bool false bool`,
				`if_out_errors_total{ifname="eth3"} uint 0 packets`,
			},
			wantErrs: []string{"ifXTable ifName.3: wrong type: want OctetString, got Integer"},
		},
		{
			name: "row without a name skipped",
			pdus: append(ifRows(port{index: 1, descr: "a", name: "a", noFCS: true}),
				counter32(fcs+".9", 1)),
			want: []string{
				`if_in_discards_total{ifname="a"} uint 0 packets`,
				`if_in_errors_total{ifname="a"} uint 0 packets`,
				`if_oper_up{ifname="a"} bool false bool`,
				`if_out_errors_total{ifname="a"} uint 0 packets`,
			},
			wantErrs: []string{"ifTable ifName/ifDescr.9: no value for label ifname"},
		},
		{
			name: "duplicate name skipped",
			pdus: ifRows(
				port{index: 1, descr: "a", name: "same", inErr: 1, noFCS: true},
				port{index: 2, descr: "b", name: "same", inErr: 2, noFCS: true},
			),
			want: []string{
				`if_in_discards_total{ifname="same"} uint 0 packets`,
				`if_in_errors_total{ifname="same"} uint 1 packets`,
				`if_oper_up{ifname="same"} bool false bool`,
				`if_out_errors_total{ifname="same"} uint 0 packets`,
			},
			wantErrs: []string{`ifTable row 2: same labels as row 1: {ifname="same"}`},
		},
		{
			name:  "label cleaned",
			pdus:  ifRows(port{index: 1, descr: "x", name: " Gi1/0/1 \x00\x00", noFCS: true}),
			extra: []gosnmp.SnmpPDU{counter32(inErr+".1", 9)},
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
	const (
		lmName  = "1.3.6.1.4.1.2021.13.16.2.1.2"
		lmValue = "1.3.6.1.4.1.2021.13.16.2.1.3"
		drName  = "1.3.6.1.4.1.674.10892.5.4.700.20.1.8"
		drRead  = "1.3.6.1.4.1.674.10892.5.4.700.20.1.6"
		drCrit  = "1.3.6.1.4.1.674.10892.5.4.700.20.1.10"
	)
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
				octets(lmName+".1", "Package id 0"), gauge32(lmValue+".1", 43000),
				// -5 °C as net-snmp sends it: a Gauge32 wrapped modulo 2^32.
				octets(lmName+".2", "outside"), gauge32(lmValue+".2", 4294962296),
				octets(lmName+".3", "Core 0"), gauge32(lmValue+".3", 48125),
				// Some agents send it as INTEGER, already signed.
				octets(lmName+".4", "pch"), integer(lmValue+".4", -1500),
				octets(lmName+".5", "bad"), octets(lmValue+".5", "43000"),
			},
			want: map[string]float64{
				`temperature_celsius{sensor="Package id 0"}`: 43,
				`temperature_celsius{sensor="outside"}`:      -5,
				`temperature_celsius{sensor="Core 0"}`:       48.125,
				`temperature_celsius{sensor="pch"}`:          -1.5,
			},
			wantErrs: []string{"lmTempSensorsTable lmTempSensorsValue.5: wrong type: want Integer or Gauge32, got OctetString"},
		},
		{
			name:    "idrac",
			profile: "idrac",
			pdus: []gosnmp.SnmpPDU{
				octets(drName+".1.1", "CPU1 Temp"), integer(drRead+".1.1", 550), integer(drCrit+".1.1", 980),
				octets(drName+".1.3", "System Board Inlet Temp"), integer(drRead+".1.3", 253), integer(drCrit+".1.3", 470),
				// A probe without a reading (absent sensor) yields only its
				// threshold.
				octets(drName+".1.4", "Exhaust"), integer(drCrit+".1.4", 800),
			},
			want: map[string]float64{
				`temperature_celsius{sensor="CPU1 Temp"}`:                    55,
				`temperature_crit_celsius{sensor="CPU1 Temp"}`:               98,
				`temperature_celsius{sensor="System Board Inlet Temp"}`:      25.3,
				`temperature_crit_celsius{sensor="System Board Inlet Temp"}`: 47,
				`temperature_crit_celsius{sensor="Exhaust"}`:                 80,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newTestPoller(t, newFakeAgent(tt.pdus...), "2c", tt.profile)
			got, err := p.Poll(context.Background())
			checkErrs(t, err, tt.wantErrs)
			checkFloats(t, got, tt.want)
		})
	}
}

// checkFloats compares exactly: the conversions promise the float64 nearest
// the decimal reading, which is what the literal in want is.
func checkFloats(t *testing.T, got []sample.Sample, want map[string]float64) {
	t.Helper()
	seen := map[string]bool{}
	for _, s := range got {
		k := s.Series()
		if seen[k] {
			t.Errorf("%s: repeated", k)
		}
		seen[k] = true
		w, ok := want[k]
		switch {
		case !ok:
			t.Errorf("unexpected sample %s = %v", k, s.Value)
		case s.Value.Kind() != sample.KindFloat || s.Value.Float() != w:
			t.Errorf("%s = %v %v, want float %v", k, s.Value.Kind(), s.Value, w)
		case s.Unit != "celsius":
			t.Errorf("%s: unit %q", k, s.Unit)
		}
	}
	for k := range want {
		if !seen[k] {
			t.Errorf("missing sample %s", k)
		}
	}
}

func TestGaugeConversions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		m       Metric
		pdu     gosnmp.SnmpPDU
		want    float64
		wantErr string
	}{
		{"text reading", Metric{Conv: Gauge, Text: true}, octets("1.1", " 32.000 "), 32, ""},
		{"text garbage", Metric{Conv: Gauge, Text: true}, octets("1.1", "n/a"), 0, `reading "n/a" is not a number`},
		{"text NaN", Metric{Conv: Gauge, Text: true}, octets("1.1", "NaN"), 0, "not a number"},
		{"text not allowed", Metric{Conv: Gauge}, octets("1.1", "32"), 0, "wrong type"},
		{"positive exponent", Metric{Conv: Gauge, Exp: 3}, integer("1.1", 2), 2000, ""},
		{"gauge32 unsigned", Metric{Conv: Gauge}, gauge32("1.1", 4294967295), 4294967295, ""},
		{"gauge32 signed", Metric{Conv: Gauge, Signed32: true}, gauge32("1.1", 4294967295), -1, ""},
		{"gauge32 too wide", Metric{Conv: Gauge}, gauge32("1.1", 1<<32), 0, "out of range"},
		{"unsigned32", Metric{Conv: Gauge, Exp: -1}, gosnmp.SnmpPDU{Name: ".1.1", Type: gosnmp.Uinteger32, Value: uint32(255)}, 25.5, ""},
		{"counter is no gauge", Metric{Conv: Gauge}, counter32("1.1", 1), 0, "wrong type: want Integer or Gauge32, got Counter32"},
		{"null", Metric{Conv: Gauge}, gosnmp.SnmpPDU{Name: ".1.1", Type: gosnmp.Null}, 0, "wrong type"},
		{"integer with a bad Go type", Metric{Conv: Gauge}, gosnmp.SnmpPDU{Name: ".1.1", Type: gosnmp.Integer, Value: "7"}, 0, "integer value string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.m.Name = sample.TemperatureCelsius
			cm, err := compileMetric(tt.m)
			if err != nil {
				t.Fatal(err)
			}
			v, err := cm.value(&tt.pdu)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || v.Kind() != sample.KindFloat || v.Float() != tt.want {
				t.Fatalf("value = %v %v, %v; want %v", v.Kind(), v, err, tt.want)
			}
		})
	}
}

func TestStatusConversion(t *testing.T) {
	t.Parallel()
	cm, err := compileMetric(Metric{Name: sample.IfOperUp, Conv: Status, True: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		pdu  gosnmp.SnmpPDU
		want bool
		err  bool
	}{
		{integer("1", 1), true, false},
		{integer("1", 2), false, false},
		{integer("1", 7), false, false}, // lowerLayerDown
		{gauge32("1", 1), false, true},
		{octets("1", "up"), false, true},
	} {
		v, err := cm.value(&tt.pdu)
		if (err != nil) != tt.err || (err == nil && (v.Kind() != sample.KindBool || v.Bool() != tt.want)) {
			t.Errorf("%v %v: got %v, %v; want %v (error %v)", tt.pdu.Type, tt.pdu.Value, v, err, tt.want, tt.err)
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
	const want = "snmppoll: tor1 (127.0.0.1:1161): walk ifTable: request timeout (after 1 retries): max retries exceeded"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	if !errors.Is(err, gosnmp.ErrMaxRetriesExceeded) {
		t.Errorf("errors.Is(%v, ErrMaxRetriesExceeded) = false", err)
	}
	// One timeout is enough: the rest of the poll would wait out the same.
	if w := f.walked(); len(w) != 1 {
		t.Errorf("walks = %q, want a single one", w)
	}
}

func TestPollStopsAtFailedTable(t *testing.T) {
	t.Parallel()
	f := newFakeAgent(append(ifRows(port{index: 1, descr: "a", name: "a", inErr: 1, noFCS: true}),
		octets(lmTempSensorsDevice.OID+".1", "x"), octets(lmTempSensorsValue.OID+".1", "bad"))...)
	f.errFor["1.3.6.1.4.1.674.10892.5.4.700.20.1.8"] = errors.New("request timeout")
	p := newTestPoller(t, f, "2c", "if-mib", "lm-sensors", "idrac")
	got, err := p.Poll(context.Background())
	// The completed tables keep their samples and their problems.
	checkErrs(t, err, []string{
		"snmppoll: tor1 (127.0.0.1:1161): walk temperatureProbeTable: request timeout",
		"lmTempSensorsValue.1: wrong type",
	})
	if len(got) != 4 {
		t.Errorf("samples = %q, want the four of the ifTable", render(got))
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
		if w := f.walked(); len(w) != 0 || f.connects != 0 {
			t.Errorf("walks %q, connects %d; want none", w, f.connects)
		}
	})
	t.Run("canceled during a walk", func(t *testing.T) {
		t.Parallel()
		f := newFakeAgent(ifRows(port{index: 1, descr: "a", name: "a"}, port{index: 2, descr: "b", name: "b"})...)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		f.onPDU = func(gosnmp.SnmpPDU) { cancel() }
		p := newTestPoller(t, f, "2c", "if-mib")
		got, err := p.Poll(ctx)
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "walk ifTable") {
			t.Errorf("err = %v, want context.Canceled in the ifTable walk", err)
		}
		if len(got) != 0 {
			t.Errorf("samples %q, want none", render(got))
		}
		if w := f.walked(); len(w) != 1 {
			t.Errorf("walks %q, want the first only", w)
		}
	})
}

func TestPollVersionPicksWalk(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ version, want string }{
		{"1", "next 1.3.6.1.4.1.2021.13.16.2.1.3"},
		{"2c", "bulk 1.3.6.1.4.1.2021.13.16.2.1.3"},
		{"", "bulk 1.3.6.1.4.1.2021.13.16.2.1.3"},
	} {
		f := newFakeAgent()
		p := newTestPoller(t, f, tt.version, "lm-sensors")
		if _, err := p.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		want := []string{tt.want, strings.Replace(tt.want, ".2.1.3", ".2.1.2", 1)}
		if w := f.walked(); !slices.Equal(w, want) {
			t.Errorf("version %q: walks %q, want %q", tt.version, w, want)
		}
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
	f.remove("1.3.6.1.2.1.2.2.1.2.2", "1.3.6.1.2.1.2.2.1.8.2", "1.3.6.1.2.1.2.2.1.13.2", "1.3.6.1.2.1.2.2.1.14.2", "1.3.6.1.2.1.2.2.1.20.2", "1.3.6.1.2.1.31.1.1.1.1.2")
	f.set(octets(ifName.OID+".3", "c-renamed"), counter32(ifInErrors.OID+".1", 10))
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
		pdus = append(pdus, octets(fmt.Sprintf("%s.%d", lmTempSensorsDevice.OID, i), fmt.Sprint("s", i)),
			octets(fmt.Sprintf("%s.%d", lmTempSensorsValue.OID, i), "garbage"))
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
		pdus = append(pdus, octets(lmTempSensorsDevice.OID+ix, "s"+ix), gauge32(lmTempSensorsValue.OID+ix, 1000))
	}
	p := newTestPoller(t, newFakeAgent(pdus...), "2c", "lm-sensors")
	got, err := p.Poll(context.Background())
	if len(got) != maxRows {
		t.Errorf("got %d samples, want %d", len(got), maxRows)
	}
	if err == nil || !strings.Contains(err.Error(), "lmTempSensorsTable: more than 8192 rows, 20 values ignored") {
		t.Errorf("err = %v", err)
	}
}

func TestPollerLifecycle(t *testing.T) {
	t.Parallel()
	f := newFakeAgent()
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
	tests := []struct {
		name    string
		edit    func(o *Opts)
		wantErr string
	}{
		{"minimal", func(*Opts) {}, ""},
		{"ipv6", func(o *Opts) { o.Address = "[::1]:161" }, ""},
		{"v1", func(o *Opts) { o.Version = "1" }, ""},
		{"all profiles", func(o *Opts) { o.Profiles = ProfileNames() }, ""},
		{"v3", func(o *Opts) { o.Version = "3" }, `unsupported SNMP version "3"`},
		{"no address", func(o *Opts) { o.Address = "" }, "empty address"},
		{"bad port", func(o *Opts) { o.Address = "h:99999" }, `bad port "99999"`},
		{"port zero", func(o *Opts) { o.Address = "h:0" }, `bad port "0"`},
		{"unbracketed ipv6 with port", func(o *Opts) { o.Address = "fe80::1::161" }, "too many colons"},
		{"no host", func(o *Opts) { o.Address = ":161" }, "empty host"},
		{"no profiles", func(o *Opts) { o.Profiles = nil }, "no profiles"},
		{"unknown profile", func(o *Opts) { o.Profiles = []string{"hpe"} }, `unknown profile "hpe" (have [idrac if-mib lm-sensors])`},
		{"twice", func(o *Opts) { o.Profiles = []string{"idrac", "idrac"} }, `profile "idrac" listed twice`},
		{"negative timeout", func(o *Opts) { o.Timeout = -1 }, "negative timeout"},
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
	// The settings land on the gosnmp client; read them back through the
	// closure New installs.
	p, err := New(&Opts{Name: "bmc1", Address: "[::1]:1161", Profiles: []string{"idrac"}, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	g := p.client.(*gosnmp.GoSNMP)
	if g == gosnmp.Default {
		t.Fatal("poller uses gosnmp.Default")
	}
	if g.Target != "::1" || g.Port != 1161 || g.Community != "public" || g.Version != gosnmp.Version2c ||
		g.Timeout != DefaultTimeout || g.Retries != 0 || g.MaxRepetitions != DefaultMaxRepetitions {
		t.Errorf("gosnmp settings %+v", g)
	}
	p2, err := New(&Opts{Address: "10.1.1.1", Community: "c", Version: "1", Timeout: 5e8, Retries: 3, MaxRepetitions: 10, Profiles: []string{"idrac"}})
	if err != nil {
		t.Fatal(err)
	}
	g2 := p2.client.(*gosnmp.GoSNMP)
	if g2 == g || g2.Community != "c" || g2.Version != gosnmp.Version1 || g2.Timeout != 5e8 || g2.Retries != 3 || g2.MaxRepetitions != 10 || g2.Port != 161 {
		t.Errorf("gosnmp settings %+v", g2)
	}
	if p2.String() != "10.1.1.1 (10.1.1.1)" || p2.bulk {
		t.Errorf("String() = %q, bulk %v", p2.String(), p2.bulk)
	}
}

func TestBuiltinProfiles(t *testing.T) {
	t.Parallel()
	for _, name := range ProfileNames() {
		prof, _ := LookupProfile(name)
		cp, err := compileProfile(prof)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for _, tbl := range cp.tables {
			if len(tbl.labels) == 0 {
				t.Errorf("%s %s: no labels", name, tbl.name)
			}
			for _, m := range tbl.metrics {
				d, _ := sample.Lookup(m.Name)
				// Keep label sets small and as the catalogue documents.
				var have []string
				for _, l := range tbl.labels {
					have = append(have, l.name)
				}
				if !slices.Equal(have, d.Labels) {
					t.Errorf("%s %s: labels %v, catalogue says %v", name, m.Name, have, d.Labels)
				}
			}
		}
	}
}

func TestCompileRejects(t *testing.T) {
	t.Parallel()
	col := Column{Name: "c", OID: "1.3.6.1.4.1.1.1"}
	lbl := []Label{{Name: "sensor", From: []Column{{Name: "n", OID: "1.3.6.1.4.1.1.2"}}}}
	for _, tt := range []struct {
		name string
		p    Profile
		want string
	}{
		{"no name", Profile{}, "profile without a name"},
		{"no tables", Profile{Name: "x"}, "no tables"},
		{"no metrics", Profile{Name: "x", Tables: []Table{{Name: "t"}}}, "no metrics"},
		{"unknown metric", Profile{Name: "x", Tables: []Table{{Name: "t", Metrics: []Metric{{Name: "nope", From: col, Conv: Gauge}}}}}, "not in the sample catalogue"},
		{"kind mismatch", Profile{Name: "x", Tables: []Table{{Name: "t", Metrics: []Metric{{Name: sample.IfInErrors, From: col, Conv: Gauge}}}}}, "yields float, the catalogue says uint"},
		{"no conversion", Profile{Name: "x", Tables: []Table{{Name: "t", Metrics: []Metric{{Name: sample.IfInErrors, From: col}}}}}, "unknown conversion"},
		{"bad oid", Profile{Name: "x", Tables: []Table{{Name: "t", Metrics: []Metric{{Name: sample.IfInErrors, From: Column{Name: "c", OID: ".1.3"}, Conv: Counter}}}}}, `oid ".1.3" is not numeric`},
		{"exponent", Profile{Name: "x", Tables: []Table{{Name: "t", Labels: lbl, Metrics: []Metric{{Name: sample.TemperatureCelsius, From: col, Conv: Gauge, Exp: -40}}}}}, "exponent -40 out of range"},
		{"label twice", Profile{Name: "x", Tables: []Table{{Name: "t", Labels: append(lbl, lbl...), Metrics: []Metric{{Name: sample.TemperatureCelsius, From: col, Conv: Gauge}}}}}, `repeated label name "sensor"`},
		{"label without columns", Profile{Name: "x", Tables: []Table{{Name: "t", Labels: []Label{{Name: "sensor"}}, Metrics: []Metric{{Name: sample.TemperatureCelsius, From: col, Conv: Gauge}}}}}, "label sensor: no columns"},
	} {
		if _, err := compileProfile(tt.p); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestCleanLabel(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", maxLabelLen-1) + "é" // é straddles the limit
	for _, tt := range []struct{ in, want string }{
		{"Gi1/0/1", "Gi1/0/1"},
		{"eth0\x00", "eth0"},
		{"  CPU1 Temp \x00\x00", "CPU1 Temp"},
		{"\x00", ""},
		{"bad\xffname", "bad\uFFFDname"},
		{long, strings.Repeat("a", maxLabelLen-1)},
		{strings.Repeat("b", 300), strings.Repeat("b", maxLabelLen)},
	} {
		if got := string(cleanLabel([]byte(tt.in))); got != tt.want {
			t.Errorf("cleanLabel(%q) = %q, want %q", tt.in, got, tt.want)
		}
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
			}
		})
	}
	wg.Wait()
}
