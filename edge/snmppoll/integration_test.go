package snmppoll

import (
	"bufio"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/sample"
)

// recording is an snmprec file read back for expectations: OID (without a
// leading dot) to raw value, with hex-encoded values decoded.
type recording map[string]string

func readRecording(t *testing.T, path string) recording {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rec := recording{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		oid, rest, ok := strings.Cut(sc.Text(), "|")
		if !ok {
			continue
		}
		tag, val, _ := strings.Cut(rest, "|")
		if strings.HasSuffix(tag, "x") {
			b, err := hex.DecodeString(val)
			if err != nil {
				t.Fatalf("%s: %s: %v", path, oid, err)
			}
			val = string(b)
		}
		rec[oid] = val
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rec
}

// column returns index → value for the column OID.
func (r recording) column(oid string) map[string]string {
	out := map[string]string{}
	for k, v := range r {
		if ix, ok := strings.CutPrefix(k, oid+"."); ok {
			out[ix] = v
		}
	}
	return out
}

func (r recording) uintColumn(t *testing.T, oid string) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	for ix, v := range r.column(oid) {
		u, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("recording %s.%s: %v", oid, ix, err)
		}
		out[ix] = u
	}
	return out
}

// ifNames maps ifIndex to the name the if-mib profile must use: ifName,
// else ifDescr.
func (r recording) ifNames() map[string]string {
	names := r.column(ifDescr.OID)
	for ix, n := range r.column(ifName.OID) {
		if n = strings.TrimSpace(strings.TrimRight(n, "\x00")); n != "" {
			names[ix] = n
		}
	}
	return names
}

// startRecording serves the named recording with snmpsim and returns a
// poller for it and the recording's contents.
func startRecording(t *testing.T, name string, profiles ...string) (*Poller, recording) {
	t.Helper()
	path := testrig.Recording(t, name)
	agent := testrig.StartSnmpsim(t, filepath.Dir(path))
	p, err := New(&Opts{Name: name, Address: agent.Addr, Community: name, Timeout: 5 * time.Second, Profiles: profiles})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, readRecording(t, path)
}

func poll(t *testing.T, p *Poller) []sample.Sample {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ss, err := p.Poll(ctx)
	if err != nil {
		t.Fatalf("poll %s: %v", p, err)
	}
	if len(ss) == 0 {
		t.Fatalf("poll %s: no samples", p)
	}
	return ss
}

// byLabel indexes the samples of one metric by the value of one label.
func byLabel(t *testing.T, ss []sample.Sample, metric, label string) map[string]sample.Value {
	t.Helper()
	out := map[string]sample.Value{}
	for _, s := range ss {
		if s.Metric != metric {
			continue
		}
		k := s.Labels.Get(label)
		if _, dup := out[k]; dup {
			t.Errorf("%s: two samples for %s=%q", metric, label, k)
		}
		out[k] = s.Value
	}
	return out
}

func TestIntegrationIOS2960X(t *testing.T) {
	t.Parallel()
	p, rec := startRecording(t, "ios_2960x", "if-mib")
	ss := poll(t, p)
	names := rec.ifNames()
	wantErrs := rec.uintColumn(t, ifInErrors.OID)
	if len(wantErrs) == 0 {
		t.Fatal("recording has no ifInErrors")
	}
	got := byLabel(t, ss, sample.IfInErrors, "ifname")
	var nonZero int
	for ix, want := range wantErrs {
		name := names[ix]
		v, ok := got[name]
		if !ok {
			t.Errorf("ifIndex %s (%s): no if_in_errors_total", ix, name)
			continue
		}
		if v.Kind() != sample.KindUint || v.Uint() != want {
			t.Errorf("if_in_errors_total{ifname=%q} = %v %v, recording says %d", name, v.Kind(), v, want)
		}
		if want > 0 {
			nonZero++
			t.Logf("%s: %d input errors", name, want)
		}
	}
	if len(got) != len(wantErrs) {
		t.Errorf("%d if_in_errors_total samples, recording has %d rows", len(got), len(wantErrs))
	}
	// The recording is chosen for its errored ports; a zero here means the
	// expectations were not read.
	if nonZero == 0 {
		t.Error("no port with input errors in the recording")
	}

	up := byLabel(t, ss, sample.IfOperUp, "ifname")
	for ix, status := range rec.column(ifOperStatus.OID) {
		if v, ok := up[names[ix]]; !ok || v.Bool() != (status == "1") {
			t.Errorf("if_oper_up{ifname=%q} = %v (present %v), ifOperStatus %s", names[ix], v, ok, status)
		}
	}
	if n := len(rec.column(dot3FCSErrors.OID)); len(byLabel(t, ss, sample.IfFCSErrors, "ifname")) != n {
		t.Errorf("FCS samples differ from the %d dot3StatsFCSErrors rows", n)
	}
}

func TestIntegrationCumulusFCS(t *testing.T) {
	t.Parallel()
	p, rec := startRecording(t, "cumulus_bgp", "if-mib")
	ss := poll(t, p)
	names := rec.ifNames()
	want := rec.uintColumn(t, dot3FCSErrors.OID)
	got := byLabel(t, ss, sample.IfFCSErrors, "ifname")
	if len(want) == 0 || len(got) != len(want) {
		t.Fatalf("%d if_fcs_errors_total samples, recording has %d rows", len(got), len(want))
	}
	for ix, w := range want {
		if v, ok := got[names[ix]]; !ok || v.Uint() != w {
			t.Errorf("if_fcs_errors_total{ifname=%q} = %v (present %v), recording says %d", names[ix], v, ok, w)
		}
	}
}

func TestIntegrationDracR640(t *testing.T) {
	t.Parallel()
	p, rec := startRecording(t, "drac_r640", "idrac", "if-mib")
	ss := poll(t, p)
	names := rec.column(temperatureProbeLocationName.OID)
	if len(names) == 0 {
		t.Fatal("recording has no temperature probes")
	}
	for _, tt := range []struct {
		metric string
		col    Column
	}{
		{sample.TemperatureCelsius, temperatureProbeReading},
		{sample.TemperatureCritical, temperatureProbeUpperCriticalThreshold},
	} {
		got := byLabel(t, ss, tt.metric, "sensor")
		if len(got) != len(names) {
			t.Errorf("%d %s samples for %d probes", len(got), tt.metric, len(names))
		}
		for ix, tenths := range rec.column(tt.col.OID) {
			raw, err := strconv.Atoi(tenths)
			if err != nil {
				t.Fatal(err)
			}
			v, ok := got[names[ix]]
			if want := float64(raw) / 10; !ok || v.Float() != want {
				t.Errorf("%s{sensor=%q} = %v (present %v), recording says %d tenths", tt.metric, names[ix], v, ok, raw)
			}
		}
	}
	inlet, ok := byLabel(t, ss, sample.TemperatureCelsius, "sensor")["System Board Inlet Temp"]
	if !ok || inlet.Float() < 5 || inlet.Float() > 45 {
		t.Errorf("inlet temperature %v (present %v), want a room temperature", inlet, ok)
	}
	if len(byLabel(t, ss, sample.IfOperUp, "ifname")) == 0 {
		t.Error("no interfaces from the iDRAC's IF-MIB")
	}
}

func TestIntegrationQuantastor(t *testing.T) {
	t.Parallel()
	p, rec := startRecording(t, "quantastor", "lm-sensors", "if-mib")
	ss := poll(t, p)
	names := rec.column(lmTempSensorsDevice.OID)
	got := byLabel(t, ss, sample.TemperatureCelsius, "sensor")
	if len(names) == 0 || len(got) != len(names) {
		t.Fatalf("%d temperature samples for %d sensors", len(got), len(names))
	}
	for ix, milli := range rec.column(lmTempSensorsValue.OID) {
		raw, err := strconv.ParseUint(milli, 10, 32)
		if err != nil {
			t.Fatal(err)
		}
		want := float64(int32(uint32(raw))) / 1000
		if v, ok := got[names[ix]]; !ok || v.Float() != want {
			t.Errorf("temperature_celsius{sensor=%q} = %v (present %v), recording says %d m°C", names[ix], v, ok, raw)
		}
	}
	if _, ok := got["Package id 0"]; !ok {
		t.Error(`no sample for sensor "Package id 0"`)
	}
	errs := byLabel(t, ss, sample.IfInErrors, "ifname")
	names = rec.ifNames()
	for ix, w := range rec.uintColumn(t, ifInErrors.OID) {
		if v, ok := errs[names[ix]]; !ok || v.Uint() != w {
			t.Errorf("if_in_errors_total{ifname=%q} = %v, recording says %d", names[ix], v, w)
		}
	}
}

func TestIntegrationSnmpd(t *testing.T) {
	t.Parallel()
	agent := testrig.StartSnmpd(t, testrig.SnmpdOpts{})
	for _, version := range []string{"1", "2c"} {
		t.Run("v"+version, func(t *testing.T) {
			p, err := New(&Opts{Name: "host1", Address: agent.Addr, Community: agent.Community, Version: version, Profiles: []string{"if-mib"}})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			ss := poll(t, p)
			up := byLabel(t, ss, sample.IfOperUp, "ifname")
			if v, ok := up["lo"]; !ok || v.Kind() != sample.KindBool || !v.Bool() {
				t.Errorf("if_oper_up{ifname=\"lo\"} = %v (present %v), want true; got %v", v, ok, render(ss))
			}
			if _, ok := byLabel(t, ss, sample.IfInErrors, "ifname")["lo"]; !ok {
				t.Error("no if_in_errors_total for lo")
			}
		})
	}
}
