package snmppoll

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/sample"
)

// Conformance tests: each recorded device of shared/snmprec, served by
// snmpsim, polled with autodetection. The expectations are computed from
// the recording itself, so every temperature sensor and every interface
// counter the device exposes is checked, by name and value. Where a
// recording lacks something a profile handles (LLDP neighbours,
// SuperDoctor, dot3HCStatsTable, iLO's -99), the test edits its copy.

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

// series indexes samples by metric, then by the value of label.
func series(t *testing.T, ss []sample.Sample, label string) map[string]map[string]sample.Value {
	t.Helper()
	out := map[string]map[string]sample.Value{}
	for _, s := range ss {
		if !slices.ContainsFunc(s.Labels, func(l sample.Label) bool { return l.Name == label }) {
			continue
		}
		if out[s.Metric] == nil {
			out[s.Metric] = map[string]sample.Value{}
		}
		k := s.Labels.Get(label)
		if _, dup := out[s.Metric][k]; dup {
			t.Errorf("%s: two samples for %s=%q", s.Metric, label, k)
		}
		out[s.Metric][k] = s.Value
	}
	return out
}

// checkFloatSeries compares a metric's series with want exactly.
func checkFloatSeries(t *testing.T, metric string, got map[string]sample.Value, want map[string]float64) {
	t.Helper()
	for k, w := range want {
		v, ok := got[k]
		if !ok || v.Kind() != sample.KindFloat && v.Kind() != sample.KindUint || v.Float() != w {
			t.Errorf("%s{%q} = %v (present %v), recording says %v", metric, k, v, ok, w)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s{%q} = %v, not in the recording", metric, k, v)
		}
	}
}

// checkInterfaces compares every interface counter and link state with
// the recording.
func checkInterfaces(t *testing.T, rec *recording, ss []sample.Sample) {
	t.Helper()
	counters, up := wantInterfaces(t, rec)
	got := series(t, ss, "ifname")
	for m, want := range counters {
		g := got[m]
		if len(g) != len(want) {
			t.Errorf("%s: %d series, recording has %d", m, len(g), len(want))
		}
		for name, w := range want {
			if v, ok := g[name]; !ok || v.Kind() != sample.KindUint || v.Uint() != w {
				t.Errorf("%s{ifname=%q} = %v (present %v), recording says %d", m, name, v, ok, w)
			}
		}
	}
	if len(got[sample.IfOperUp]) != len(up) {
		t.Errorf("%d if_oper_up series, recording has %d", len(got[sample.IfOperUp]), len(up))
	}
	for name, w := range up {
		if v, ok := got[sample.IfOperUp][name]; !ok || v.Bool() != w {
			t.Errorf("if_oper_up{ifname=%q} = %v (present %v), want %v", name, v, ok, w)
		}
	}
}

// sensors collects expected sensor series: metric → sensor → value.
type sensors map[string]map[string]float64

func (s sensors) add(metric, sensor string, v float64) {
	if s[metric] == nil {
		s[metric] = map[string]float64{}
	}
	s[metric][sensor] = v
}

// check compares the metrics of s, and temperature_celsius always, with
// the samples.
func (s sensors) check(t *testing.T, ss []sample.Sample) {
	t.Helper()
	got := series(t, ss, "sensor")
	if len(s[sample.TemperatureCelsius]) == 0 {
		t.Error("the recording has no temperature sensors: the expectations were not read")
	}
	for _, m := range slices.Sorted(maps.Keys(s)) {
		checkFloatSeries(t, m, got[m], s[m])
	}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		profiles []string
		// edit changes the recording before snmpsim serves it.
		edit func(t *testing.T, r *recording)
		// sensors computes the expected sensor series from the recording.
		sensors func(t *testing.T, r *recording) sensors
		// extra checks more, such as LLDP.
		extra func(t *testing.T, r *recording, ss []sample.Sample)
	}{
		{name: "drac_r640", profiles: []string{"idrac", "if-mib"}, sensors: wantIDRAC},
		{name: "hpe-ilo_4", profiles: []string{"hpe-ilo", "if-mib"}, sensors: wantILO, edit: func(t *testing.T, r *recording) {
			// An unknown temperature (-99) yields no sample; its
			// threshold and condition still do.
			r.set("1.3.6.1.4.1.232.6.2.6.8.1.4.0.9", "2", "-99")
			r.set("1.3.6.1.4.1.232.6.2.6.8.1.5.0.8", "2", "-99")
		}},
		{name: "supermicro-bmc_x11", profiles: []string{"if-mib", "supermicro-aten"}, sensors: wantATEN},
		{name: "ios_2960x", profiles: []string{"cisco-entity-sensor", "cisco-envmon", "if-mib"}, sensors: wantCisco,
			extra: func(t *testing.T, r *recording, ss []sample.Sample) {
				// The recording is chosen for its errored ports.
				n := 0
				for _, v := range series(t, ss, "ifname")[sample.IfInErrors] {
					if v.Uint() > 0 {
						n++
					}
				}
				if n != 10 {
					t.Errorf("%d ports with input errors, want the recording's 10", n)
				}
			}},
		{name: "quantastor", profiles: []string{"if-mib", "lm-sensors", "supermicro-superdoctor"}, sensors: wantQuantastor, edit: addSuperDoctor},
		{name: "cumulus_bgp", profiles: []string{"entity-sensor", "if-mib", "lldp"}, sensors: wantEntitySensors, edit: editCumulus, extra: checkLLDP},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := testrig.Recording(t, tt.name)
			rec := readRecording(t, path)
			if tt.edit != nil {
				tt.edit(t, rec)
				rec.write(t)
			}
			agent := testrig.StartSnmpsim(t, filepath.Dir(path))
			p, err := New(&Opts{Name: tt.name, Address: agent.Addr, Community: tt.name, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			ss := poll(t, p)
			if got := p.ActiveProfiles(); !slices.Equal(got, tt.profiles) {
				t.Errorf("autodetected %v, want %v", got, tt.profiles)
			}
			checkInterfaces(t, rec, ss)
			tt.sensors(t, rec).check(t, ss)
			if tt.extra != nil {
				tt.extra(t, rec, ss)
			}
			// Every sample is described, with the catalogue's unit.
			for _, s := range ss {
				if d, ok := lookupDesc(s.Metric); !ok || d.Unit != s.Unit || d.Kind != s.Value.Kind() {
					t.Errorf("%s: %v %s, catalogue %+v", s.Series(), s.Value.Kind(), s.Unit, d)
				}
			}
			// A second poll reuses the rows and yields the rates, all 0:
			// the recording does not move.
			ss2 := poll(t, p)
			var rates int
			for _, s := range ss2 {
				if strings.HasSuffix(s.Metric, rateSuffix) {
					rates++
					if s.Value.Float() != 0 {
						t.Errorf("%s = %v, want 0", s.Series(), s.Value)
					}
				}
			}
			// snmpsim serves a constant sysUpTime: no interval, no rate.
			if rates != 0 {
				t.Errorf("%d rates over a sysUpTime that did not move", rates)
			}
		})
	}
}

func wantIDRAC(t *testing.T, r *recording) sensors {
	const probe, fan = "1.3.6.1.4.1.674.10892.5.4.700.20.1", "1.3.6.1.4.1.674.10892.5.4.700.12.1"
	health := map[int64]float64{3: 0, 4: 1, 7: 1, 5: 2, 6: 2, 8: 2, 9: 2, 10: 2}
	s := sensors{}
	names := r.text(t, probe+".8")
	for ix, v := range r.ints(t, probe+".6") {
		s.add(sample.TemperatureCelsius, names[ix], scaled(float64(v), -1))
	}
	for ix, v := range r.ints(t, probe+".10") {
		s.add(sample.TemperatureCritical, names[ix], scaled(float64(v), -1))
	}
	for ix, v := range r.ints(t, probe+".11") {
		s.add(TemperatureWarning, names[ix], scaled(float64(v), -1))
	}
	for ix, v := range r.ints(t, probe+".5") {
		if h, ok := health[v]; ok {
			s.add(SensorHealth, names[ix], h)
		}
	}
	fans := r.text(t, fan+".8")
	for ix, v := range r.ints(t, fan+".6") {
		s.add(sample.FanSpeed, fans[ix], float64(v))
	}
	return s
}

func wantILO(t *testing.T, r *recording) sensors {
	const tbl = "1.3.6.1.4.1.232.6.2.6.8.1"
	locales := map[int64]string{1: "other", 2: "unknown", 3: "system", 4: "systemBoard", 5: "ioBoard", 6: "cpu", 7: "memory", 8: "storage",
		9: "removableMedia", 10: "powerSupply", 11: "ambient", 12: "chassis", 13: "bridgeCard"}
	locale, index := r.ints(t, tbl+".3"), r.ints(t, tbl+".2")
	name := func(ix string) string { return fmt.Sprintf("%s %d", locales[locale[ix]], index[ix]) }
	s := sensors{}
	unknown := 0
	for ix, v := range r.ints(t, tbl+".4") {
		if v == -99 {
			unknown++
			continue
		}
		s.add(sample.TemperatureCelsius, name(ix), float64(v))
	}
	for ix, v := range r.ints(t, tbl+".5") {
		if v != 0 && v != -99 {
			s.add(sample.TemperatureCritical, name(ix), float64(v))
		}
	}
	for ix, v := range r.ints(t, tbl+".6") {
		if h, ok := map[int64]float64{2: 0, 3: 1, 4: 2}[v]; ok {
			s.add(SensorHealth, name(ix), h)
		}
	}
	if unknown == 0 {
		t.Error("no -99 reading in the recording: the edit did not take")
	}
	return s
}

func wantATEN(t *testing.T, r *recording) sensors {
	const tbl = "1.3.6.1.4.1.21317.1.3.1"
	num := func(col string) map[string]float64 {
		out := map[string]float64{}
		for ix, v := range r.text(t, tbl+"."+col) {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("recording %s.%s.%s: %v", tbl, col, ix, err)
			}
			out[ix] = f
		}
		return out
	}
	reading, unc, uc := num("2"), num("8"), num("9")
	raw := r.text(t, tbl+".13")
	fan := regexp.MustCompile(`(?i)^fan`)
	// Rows that pass the filter and that some metric takes.
	var rows []string
	for _, ix := range indexes(r.column(t, tbl+".13")) {
		if (reading[ix] != 0 || uc[ix] != 0) && (tempName.MatchString(raw[ix]) || fan.MatchString(raw[ix])) {
			rows = append(rows, ix)
		}
	}
	names := dedupe(rows, func(ix string) string { n, _ := cleanText(raw[ix]); return n })
	s := sensors{}
	for _, ix := range rows {
		if fan.MatchString(raw[ix]) {
			s.add(sample.FanSpeed, names[ix], reading[ix])
			continue
		}
		s.add(sample.TemperatureCelsius, names[ix], reading[ix])
		if uc[ix] != 0 {
			s.add(sample.TemperatureCritical, names[ix], uc[ix])
		}
		if unc[ix] != 0 {
			s.add(TemperatureWarning, names[ix], unc[ix])
		}
	}
	return s
}

// entitySensors computes an ENTITY-SENSOR-MIB style table (RFC 3433, or
// CISCO-ENTITY-SENSOR-MIB) with names from entPhysicalName, and with
// health the sensor_health of RFC 3433's EntitySensorStatus.
func entitySensors(t *testing.T, r *recording, tbl string, s sensors, health bool) {
	names := r.text(t, "1.3.6.1.2.1.47.1.1.1.1.7")
	typ, scale, prec, val, status := r.ints(t, tbl+".1"), r.ints(t, tbl+".2"), r.ints(t, tbl+".3"), r.ints(t, tbl+".4"), r.ints(t, tbl+".5")
	metrics := map[int64]string{3: sample.Voltage, 4: sample.Voltage, 5: sample.Current, 6: sample.Power, 8: sample.TemperatureCelsius, 10: sample.FanSpeed}
	var rows []string
	for _, ix := range indexes(r.column(t, tbl+".1")) {
		if metrics[typ[ix]] != "" {
			rows = append(rows, ix)
		}
	}
	label := dedupe(rows, func(ix string) string {
		if n, ok := cleanText(names[ix]); ok {
			return n
		}
		return "entity " + ix
	})
	for _, ix := range rows {
		st, ok := status[ix]
		if h, known := map[int64]float64{1: 0, 3: 2}[st]; health && ok && known {
			s.add(SensorHealth, label[ix], h)
		}
		if ok && st != 1 {
			continue
		}
		s.add(metrics[typ[ix]], label[ix], scaled(float64(val[ix]), 3*int(scale[ix]-9)-int(prec[ix])))
	}
}

func wantEntitySensors(t *testing.T, r *recording) sensors {
	s := sensors{}
	entitySensors(t, r, "1.3.6.1.2.1.99.1.1.1", s, true)
	return s
}

func wantCisco(t *testing.T, r *recording) sensors {
	const env = "1.3.6.1.4.1.9.9.13.1.3.1"
	s := sensors{}
	entitySensors(t, r, "1.3.6.1.4.1.9.9.91.1.1.1.1", s, false)
	state := r.ints(t, env+".6")
	name := func(ix string) string {
		n, _ := cleanText(r.text(t, env+".2")[ix])
		for _, sfx := range []string{", GREEN", ", YELLOW", ", RED"} {
			n = strings.TrimSpace(strings.TrimSuffix(n, sfx))
		}
		return n
	}
	for ix, v := range r.ints(t, env+".3") {
		if state[ix] != 5 {
			s.add(sample.TemperatureCelsius, name(ix), float64(v))
		}
	}
	for ix, v := range r.ints(t, env+".4") {
		if state[ix] != 5 {
			s.add(sample.TemperatureCritical, name(ix), float64(v))
		}
	}
	for ix, v := range state {
		if h, ok := map[int64]float64{1: 0, 2: 1, 3: 2, 4: 2, 6: 2}[v]; ok {
			s.add(SensorHealth, name(ix), h)
		}
	}
	if len(s[sample.TemperatureCelsius]) < 4 {
		t.Errorf("temperatures %v: want CISCO-ENVMON's and the transceivers'", s[sample.TemperatureCelsius])
	}
	return s
}

// addSuperDoctor adds a SuperDoctor 5 smHealthMonitorTable to a net-snmp
// host's recording, as SD5 does on a Supermicro server.
func addSuperDoctor(t *testing.T, r *recording) {
	const sd = "1.3.6.1.4.1.10876.2.1.1.1.1"
	for _, row := range []struct {
		ix                  string
		name                string
		typ, reading, limit int
		status              int
	}{
		{"1", "CPU Temperature", 2, 45, 85, 0},
		{"2", "System Temperature", 2, 31, 75, 1},
		{"3", "FAN1 Fan Speed", 0, 4200, 0, 0},
		{"4", "Vcore Voltage", 1, 1808, 2000, 2},
	} {
		r.set(sd+".2."+row.ix, "4", row.name)
		r.set(sd+".3."+row.ix, "2", strconv.Itoa(row.typ))
		r.set(sd+".4."+row.ix, "2", strconv.Itoa(row.reading))
		r.set(sd+".5."+row.ix, "2", strconv.Itoa(row.limit))
		r.set(sd+".12."+row.ix, "2", strconv.Itoa(row.status))
	}
}

func wantQuantastor(t *testing.T, r *recording) sensors {
	s := sensors{}
	names := r.text(t, oidLmTempDevice)
	for ix, v := range r.uints(t, oidLmTempValue) {
		s.add(sample.TemperatureCelsius, names[ix], scaled(float64(int32(uint32(v))), -3))
	}
	const sd = "1.3.6.1.4.1.10876.2.1.1.1.1"
	sdNames, typ, limit := r.text(t, sd+".2"), r.ints(t, sd+".3"), r.ints(t, sd+".5")
	for ix, v := range r.ints(t, sd+".4") {
		switch typ[ix] {
		case 0:
			s.add(sample.FanSpeed, sdNames[ix], float64(v))
		case 1:
			s.add(sample.Voltage, sdNames[ix], scaled(float64(v), -3))
		case 2:
			s.add(sample.TemperatureCelsius, sdNames[ix], float64(v))
			if limit[ix] != 0 {
				s.add(sample.TemperatureCritical, sdNames[ix], float64(limit[ix]))
			}
		}
	}
	for ix, v := range r.ints(t, sd+".12") {
		s.add(SensorHealth, sdNames[ix], float64(v))
	}
	if len(s[sample.Voltage]) == 0 {
		t.Error("no SuperDoctor rows: the edit did not take")
	}
	return s
}

const (
	lldpRem = "1.0.8802.1.1.2.1.4.1.1"
	lldpLoc = "1.0.8802.1.1.2.1.3.7.1"
)

// editCumulus adds what the Cumulus recording lacks: LLDP neighbours,
// dot3HCStatsTable 64-bit counters (preferred to dot3StatsTable), and
// error counters that are not zero.
func editCumulus(t *testing.T, r *recording) {
	// Local ports, numbered by ifIndex as lldpd does: swp1 is 4.
	r.set(lldpLoc+".2.4", "2", "5")
	r.set(lldpLoc+".3.4", "4", "swp1")
	r.set(lldpLoc+".4.4", "4", "swp1 to api1")
	// swp2's port ID is its MAC (subtype 3); its description names it.
	r.set(lldpLoc+".2.5", "2", "3")
	r.set(lldpLoc+".3.5", "4x", "443839000002")
	r.set(lldpLoc+".4.5", "4", "swp2")
	// Neighbours: timeMark.localPortNum.index.
	r.set(lldpRem+".5.0.4.1", "4x", "0cc47a000001")
	r.set(lldpRem+".7.0.4.1", "4", "eth0")
	r.set(lldpRem+".8.0.4.1", "4", "uplink")
	r.set(lldpRem+".9.0.4.1", "4", "api1")
	r.set(lldpRem+".5.7200.5.3", "4x", "0cc47a000002")
	r.set(lldpRem+".7.7200.5.3", "4x", "0cc47a000003")
	// A neighbour on a port lldpLocPortTable does not list.
	r.set(lldpRem+".5.0.6.1", "4x", "0cc47a000009")
	r.set(lldpRem+".7.0.6.1", "4", "Ethernet1")
	r.set(lldpRem+".9.0.6.1", "4", "leaf2")
	// 64-bit EtherLike counters beyond 2^32 for swp1..swp3, and 32-bit
	// ones that are not zero.
	for i, ix := range []string{"4", "5", "6"} {
		r.set(oidDot3HCFCS+"."+ix, "70", strconv.FormatUint(1<<33+uint64(i), 10))
		r.set(oidDot3HCAlign+"."+ix, "70", strconv.Itoa(100+i))
	}
	r.set(oidDot3FCS+".7", "65", "4294967295")
	r.set(oidDot3FCS+".8", "65", "17")
	r.set(oidIfInErrors+".9", "65", "3")
}

// checkLLDP compares the neighbours with those of the recording.
func checkLLDP(t *testing.T, r *recording, ss []sample.Sample) {
	locID, locDesc := r.column(t, lldpLoc+".3"), r.column(t, lldpLoc+".4")
	chassis, portID, portDesc, sysName := r.column(t, lldpRem+".5"), r.column(t, lldpRem+".7"), r.column(t, lldpRem+".8"), r.column(t, lldpRem+".9")
	type source struct {
		v   recValue
		ok  bool
		hex bool
	}
	// label mirrors a label's from list: the first printable text, else
	// the first value, in hex for a hex column.
	label := func(cands ...source) string {
		for _, c := range cands {
			if s, ok := cleanText(c.v.raw); c.ok && ok {
				return s
			}
		}
		for _, c := range cands {
			if c.ok && c.v.raw != "" {
				if !c.hex {
					s, _ := cleanText(c.v.raw)
					return s
				}
				parts := make([]string, len(c.v.raw))
				for i := range len(c.v.raw) {
					parts[i] = fmt.Sprintf("%02x", c.v.raw[i])
				}
				return strings.Join(parts, ":")
			}
		}
		return ""
	}
	src := func(col map[string]recValue, ix string, hex bool) source {
		v, ok := col[ix]
		return source{v, ok, hex}
	}
	want := map[string]bool{}
	for _, ix := range indexes(chassis, portID, portDesc, sysName) {
		port := strings.Split(ix, ".")[1]
		ifname := label(src(locID, port, true), src(locDesc, port, false))
		if ifname == "" {
			ifname = "port " + port
		}
		neighbor := label(src(sysName, ix, false), src(chassis, ix, true))
		neighborPort := label(src(portID, ix, true), src(portDesc, ix, false))
		want[fmt.Sprintf(`lldp_neighbor_info{ifname=%q,neighbor=%q,neighbor_port=%q}`, ifname, neighbor, neighborPort)] = true
	}
	got := map[string]bool{}
	for _, s := range ss {
		if s.Metric == LLDPNeighborInfo {
			got[s.Series()] = true
			if s.Value != sample.Uint(1) {
				t.Errorf("%s = %v, want 1", s.Series(), s.Value)
			}
		}
	}
	if !maps.Equal(got, want) || len(want) != 3 {
		t.Errorf("neighbours %v, want %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
	if !want[`lldp_neighbor_info{ifname="swp2",neighbor="0c:c4:7a:00:00:02",neighbor_port="0c:c4:7a:00:00:03"}`] {
		t.Errorf("expectations %v miss the MAC neighbour", want)
	}
}

// TestIntegrationSnmpd polls net-snmp's snmpd with each version.
func TestIntegrationSnmpd(t *testing.T) {
	t.Parallel()
	agent := testrig.StartSnmpd(t, testrig.SnmpdOpts{})
	for _, version := range []string{"1", "2c"} {
		t.Run("v"+version, func(t *testing.T) {
			p, err := New(&Opts{Name: "host1", Address: agent.Addr, Community: agent.Community, Version: version})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			ss := poll(t, p)
			if got := p.ActiveProfiles(); !slices.Contains(got, "if-mib") {
				t.Errorf("profiles %v, want if-mib", got)
			}
			checkLoopback(t, ss)
		})
	}
	t.Run("wrong community", func(t *testing.T) {
		p, err := New(&Opts{Name: "host1", Address: agent.Addr, Community: "wrong", Timeout: 200 * time.Millisecond, Retries: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		_, err = p.Poll(context.Background())
		want := "snmppoll: host1 (" + agent.Addr + "): get sysUpTime, sysObjectID, sysDescr: no answer (wrong community, or target down): request timeout"
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	})
}

// checkLoopback checks the samples of snmpd's lo interface.
func checkLoopback(t *testing.T, ss []sample.Sample) {
	t.Helper()
	got := series(t, ss, "ifname")
	if v, ok := got[sample.IfOperUp]["lo"]; !ok || v.Kind() != sample.KindBool || !v.Bool() {
		t.Errorf("if_oper_up{ifname=\"lo\"} = %v (present %v), want true; got %v", v, ok, render(ss))
	}
	for _, m := range []string{sample.IfInErrors, IfInOctets} {
		if _, ok := got[m]["lo"]; !ok {
			t.Errorf("no %s for lo", m)
		}
	}
}
