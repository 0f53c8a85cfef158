package snmppoll

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gosnmp/gosnmp"
	"github.com/rackwatch/rackwatch/edge/sample"
)

func writeProfile(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBuiltinProfiles checks every embedded profile: it compiles, its
// labels are the catalogue's, and every metric it names is described.
func TestBuiltinProfiles(t *testing.T) {
	t.Parallel()
	set, err := builtinSet()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"cisco-entity-sensor", "cisco-envmon", "entity-sensor", "hpe-ilo", "idrac", "if-mib", "lldp", "lm-sensors", "supermicro-aten", "supermicro-superdoctor"}
	if got := set.names(); !slices.Equal(got, want) {
		t.Errorf("profiles %v, want %v", got, want)
	}
	if got := ProfileNames(); got[0] != AutoProfile || !slices.Equal(got[1:], want) {
		t.Errorf("ProfileNames() = %v", got)
	}
	for _, cp := range set.profiles {
		if len(cp.match.exists)+len(cp.match.sysObjectID)+len(cp.match.sysDescr) == 0 {
			t.Errorf("%s: autodetection can never pick it", cp.name)
		}
		if cp.src.Description == "" {
			t.Errorf("%s: no description", cp.name)
		}
		for _, tbl := range cp.tables {
			if len(tbl.labels) == 0 {
				t.Errorf("%s %s: no labels", cp.name, tbl.name)
			}
			for _, m := range tbl.metrics {
				d, ok := lookupDesc(m.name)
				if !ok {
					t.Fatalf("%s: %s not described", cp.name, m.name)
				}
				// Keep label sets small and as the catalogue documents.
				for _, l := range tbl.labels {
					if !slices.Contains(d.Labels, l.name) {
						t.Errorf("%s %s: label %s, catalogue says %v", cp.name, m.name, l.name, d.Labels)
					}
				}
				if m.rate >= 0 {
					if _, ok := lookupDesc(m.rateName); !ok {
						t.Errorf("%s: rate %s not described", cp.name, m.rateName)
					}
				}
			}
		}
	}
}

// TestMetricsDescribed checks the catalogue entries this package adds.
func TestMetricsDescribed(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, d := range Metrics {
		if seen[d.Name] {
			t.Errorf("%s twice", d.Name)
		}
		seen[d.Name] = true
		if _, inSample := sample.Lookup(d.Name); inSample {
			t.Errorf("%s is in sample.Catalogue already", d.Name)
		}
		if d.Help == "" || d.Unit == "" || d.Kind == sample.KindInvalid || len(d.Labels) == 0 {
			t.Errorf("%s: incomplete %+v", d.Name, d)
		}
		if (d.Type == sample.Counter) != strings.HasSuffix(d.Name, "_total") {
			t.Errorf("%s: counters end in _total, and only counters", d.Name)
		}
	}
	if got := RateName("if_in_errors_total"); got != "if_in_errors_per_second" {
		t.Errorf("RateName = %q", got)
	}
	d, ok := lookupDesc("cpu_throttle_count_per_second")
	if !ok || d.Unit != "events_per_second" || d.Kind != sample.KindFloat || d.Type != sample.Gauge {
		t.Errorf("derived rate %+v, %v", d, ok)
	}
}

func TestLoadProfiles(t *testing.T) {
	t.Parallel()
	dir1, dir2 := t.TempDir(), t.TempDir()
	// Replaces the built-in idrac profile.
	writeProfile(t, dir1, "my-idrac.yml", `version: 1
name: idrac
description: inlet only
match: {sys_object_id: [1.3.6.1.4.1.674.10892.5]}
tables:
  - name: temperatureProbeTable
    columns:
      - {name: reading, oid: 1.3.6.1.4.1.674.10892.5.4.700.20.1.6}
      - {name: name, oid: 1.3.6.1.4.1.674.10892.5.4.700.20.1.8}
    filter: [{column: name, match: Inlet}]
    labels: [{name: sensor, from: name}]
    metrics: [{name: temperature_celsius, from: reading, type: gauge, exp: -1}]
`)
	writeProfile(t, dir1, "README.txt", "not a profile")
	// Adds a profile, and replaces it again from a later directory.
	writeProfile(t, dir1, "pdu.yaml", `version: 1
name: pdu
description: first
tables:
  - name: t
    columns: [{name: w, oid: 1.3.6.1.4.1.1.1}]
    labels: [{name: sensor, template: "outlet {index}"}]
    metrics: [{name: power_watts, from: w, type: gauge}]
`)
	writeProfile(t, dir2, "pdu.yaml", strings.Replace(mustRead(t, filepath.Join(dir1, "pdu.yaml")), "first", "second", 1))
	ps, err := LoadProfiles(dir1, dir2)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Profile{}
	var names []string
	for _, p := range ps {
		byName[p.Name] = p
		names = append(names, p.Name)
	}
	if !slices.IsSorted(names) || len(names) != 11 {
		t.Errorf("profiles %v", names)
	}
	if byName["idrac"].Description != "inlet only" || byName["pdu"].Description != "second" || byName["if-mib"].Description == "" {
		t.Errorf("idrac %q, pdu %q", byName["idrac"].Description, byName["pdu"].Description)
	}
	// The built-in set is unchanged.
	if set, _ := builtinSet(); strings.Contains(set.lookup("idrac").src.Description, "inlet only") {
		t.Error("LoadProfiles changed the built-in profiles")
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLoadProfilesRejects checks that each mistake is reported with the
// file, the line and the key.
func TestLoadProfilesRejects(t *testing.T) {
	t.Parallel()
	const head = "version: 1\nname: x\n"
	table := func(body string) string {
		return head + "tables:\n  - name: t\n" + body
	}
	const cols = "    columns:\n      - {name: v, oid: 1.3.6.1.4.1.1.1}\n      - {name: n, oid: 1.3.6.1.4.1.1.2}\n    labels: [{name: sensor, from: n}]\n"
	for _, tt := range []struct {
		name, text string
		want       []string
	}{
		{"no version", "name: x\n", []string{"x.yaml:1: version: missing format version"}},
		{"unknown key", head + "tabels: []\n", []string{`x.yaml:3: tabels: unknown key "tabels"`}},
		{"unknown key deep", table(cols + "    metrics: [{name: temperature_celsius, from: v, type: gauge, scale: 2}]\n"),
			[]string{`x.yaml:9: tables[0].metrics: unknown key "scale"`}},
		{"bad oid", table("    columns: [{name: v, oid: .1.3.6}]\n    labels: [{name: sensor, from: v}]\n    metrics: [{name: temperature_celsius, from: v, type: gauge}]\n"),
			[]string{`x.yaml:5: tables[0].columns[0].oid: oid ".1.3.6" is not numeric`}},
		{"unknown metric", table(cols + "    metrics: [{name: temp, from: v, type: gauge}]\n"),
			[]string{`x.yaml:9: tables[0].metrics[0].name: metric "temp" is not in the sample catalogue`}},
		{"unknown column", table(cols + "    metrics: [{name: temperature_celsius, from: value, type: gauge}]\n"),
			[]string{`x.yaml:9: tables[0].metrics[0].from[0]: no column "value" in this table`, "x.yaml:6: tables[0].columns[0]: column v is not used"}},
		{"kind mismatch", table(cols + "    metrics: [{name: temperature_celsius, from: v, type: counter}]\n"),
			[]string{"tables[0].metrics[0].type: counter yields uint, the catalogue says temperature_celsius is float", "temperature_celsius is a gauge in the catalogue"}},
		{"wrong label", table("    columns: [{name: v, oid: 1.3.6.1.4.1.1.1}]\n    labels: [{name: port, template: '{index}'}]\n    metrics: [{name: temperature_celsius, from: v, type: gauge}]\n"),
			[]string{"tables[0].metrics[0].name: temperature_celsius carries the labels [sensor], not port"}},
		{"exponent", table(cols + "    metrics: [{name: temperature_celsius, from: v, type: gauge, exp: -40}]\n"),
			[]string{"tables[0].metrics[0].exp: exponent -40 out of range"}},
		{"bad regexp", table(cols + "    metrics: [{name: temperature_celsius, from: v, type: gauge, when: [{column: n, match: '('}]}]\n"),
			[]string{"x.yaml:9: tables[0].metrics[0].when[0].match: error parsing regexp"}},
		{"status without true", table(cols + "    metrics: [{name: if_oper_up, from: v, type: status}]\n"),
			[]string{"x.yaml:9: tables[0].metrics[0].true: a status, and only a status, needs true values"}},
		{"bad template", table("    columns: [{name: v, oid: 1.3.6.1.4.1.1.1}]\n    labels: [{name: sensor, template: 'a {v'}]\n    metrics: [{name: temperature_celsius, from: v, type: gauge}]\n"),
			[]string{`tables[0].labels[0].template: unclosed { in "a {v"`}},
		{"bad index", table("    columns: [{name: v, oid: 1.3.6.1.4.1.1.1}, {name: n, oid: 1.3.6.1.4.1.1.2, index: '0'}]\n    labels: [{name: sensor, from: n}]\n    metrics: [{name: temperature_celsius, from: v, type: gauge}]\n"),
			[]string{"tables[0].columns[1].index: index \"0\": want all, N or N-M"}},
		{"auto", "version: 1\nname: auto\nscalars: [{name: temperature_celsius, oid: 1.3.6.1.4.1.1.0, type: gauge}]\n",
			[]string{`x.yaml:2: name: "auto" is not a usable profile name`}},
		{"scalar oid", head + "scalars: [{name: temperature_celsius, oid: 1.3.6.1.4.1.1, type: gauge}]\n",
			[]string{"x.yaml:3: scalars[0].oid: want the numeric OID of a scalar instance, ending in .0"}},
		{"rate on a gauge", table(cols + "    metrics: [{name: temperature_celsius, from: v, type: gauge, rate: true}]\n"),
			[]string{"tables[0].metrics[0].rate: only a counter has a rate"}},
		{"empty", head, []string{"x.yaml: tables: a profile needs tables or scalars"}},
		{"scalar type", head + "scalars:\n  - {name: if_in_errors_total, oid: 1.3.6.1.4.1.1.0, type: gauge}\n",
			[]string{"x.yaml:4: scalars[0].type: gauge yields float, the catalogue says if_in_errors_total is uint"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeProfile(t, dir, "x.yaml", tt.text)
			_, err := LoadProfiles(dir)
			if err == nil {
				t.Fatal("loaded")
			}
			if !strings.HasPrefix(err.Error(), "snmppoll: profiles") || !strings.Contains(err.Error(), filepath.Join(dir, "x.yaml")) {
				t.Errorf("err = %v, want it to name the file", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v\nwant it to contain %q", err, w)
				}
			}
		})
	}
	t.Run("same name twice in a directory", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		const p = "version: 1\nname: dup\nscalars: [{name: temperature_celsius, oid: 1.3.6.1.4.1.1.0, type: gauge}]\n"
		writeProfile(t, dir, "a.yaml", p)
		writeProfile(t, dir, "b.yaml", p)
		if _, err := LoadProfiles(dir); err == nil || !strings.Contains(err.Error(), `b.yaml:2: name: profile "dup" is also defined in `) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestGaugeConversions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cv      compiledConv
		extra   int
		pdu     gosnmp.SnmpPDU
		want    float64
		skip    bool
		wantErr string
	}{
		{"text reading", compiledConv{text: true}, 0, octets("1.1", " 32.000 "), 32, false, ""},
		{"text garbage", compiledConv{text: true}, 0, octets("1.1", "n/a"), 0, false, `reading "n/a" is not a number`},
		{"text NaN", compiledConv{text: true}, 0, octets("1.1", "NaN"), 0, false, "not a number"},
		{"text not allowed", compiledConv{}, 0, octets("1.1", "32"), 0, false, "wrong type"},
		{"positive exponent", compiledConv{exp: 3}, 0, intPDU("1.1", 2), 2000, false, ""},
		{"gauge32 unsigned", compiledConv{}, 0, gauge32("1.1", 4294967295), 4294967295, false, ""},
		{"gauge32 signed", compiledConv{signed32: true}, 0, gauge32("1.1", 4294967295), -1, false, ""},
		{"gauge32 too wide", compiledConv{}, 0, gauge32("1.1", 1<<32), 0, false, "out of range"},
		{"unsigned32", compiledConv{exp: -1}, 0, gosnmp.SnmpPDU{Name: ".1.1", Type: gosnmp.Uinteger32, Value: uint32(255)}, 25.5, false, ""},
		{"timeticks", compiledConv{exp: -2}, 0, timeticks("1.1", 12345), 123.45, false, ""},
		{"counter is no gauge", compiledConv{}, 0, counter32("1.1", 1), 0, false, "wrong type: want Integer or Gauge32, got Counter32"},
		{"null", compiledConv{}, 0, gosnmp.SnmpPDU{Name: ".1.1", Type: gosnmp.Null}, 0, false, "wrong type"},
		{"integer with a bad Go type", compiledConv{}, 0, gosnmp.SnmpPDU{Name: ".1.1", Type: gosnmp.Integer, Value: "7"}, 0, false, "integer value string"},
		{"skipped", compiledConv{skip: []float64{-99}}, 0, intPDU("1.1", -99), 0, true, ""},
		{"skipped text", compiledConv{text: true, skip: []float64{0}}, 0, octets("1.1", "0.000"), 0, true, ""},
		// Arista's example in RFC 3433 terms: 533, units, precision 1.
		{"entity sensor", compiledConv{}, -1, intPDU("1.1", 533), 53.3, false, ""},
		{"entity sensor milli", compiledConv{}, -3, intPDU("1.1", 12111), 12.111, false, ""},
		{"exponent overflow", compiledConv{exp: -20}, -10, intPDU("1.1", 1), 0, false, "exponent -30 out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.cv.typ = convGauge
			v, ok, err := tt.cv.value(&tt.pdu, tt.extra)
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case ok == tt.skip:
				t.Fatalf("ok = %v, want skip %v", ok, tt.skip)
			case ok && (v.Kind() != sample.KindFloat || v.Float() != tt.want):
				t.Fatalf("value = %v %v; want %v", v.Kind(), v, tt.want)
			}
		})
	}
}

func TestStatusAndEnum(t *testing.T) {
	t.Parallel()
	status := compiledConv{typ: convStatus, truth: []int64{1}}
	enum := compiledConv{typ: convEnum, enum: map[int64]uint64{2: 0, 3: 1, 4: 2}}
	for _, tt := range []struct {
		cv   compiledConv
		pdu  gosnmp.SnmpPDU
		want sample.Value
		ok   bool
		err  bool
	}{
		{status, intPDU("1", 1), sample.Bool(true), true, false},
		{status, intPDU("1", 2), sample.Bool(false), true, false},
		{status, intPDU("1", 7), sample.Bool(false), true, false}, // lowerLayerDown
		{status, gauge32("1", 1), sample.Value{}, false, true},
		{status, octets("1", "up"), sample.Value{}, false, true},
		{enum, intPDU("1", 3), sample.Uint(1), true, false},
		{enum, intPDU("1", 4), sample.Uint(2), true, false},
		{enum, intPDU("1", 1), sample.Value{}, false, false}, // other(1): no sample
	} {
		v, ok, err := tt.cv.value(&tt.pdu, 0)
		if (err != nil) != tt.err || ok != tt.ok || (ok && v != tt.want) {
			t.Errorf("%v %v %v: got %v, %v, %v; want %v, %v (error %v)", tt.cv.typ, tt.pdu.Type, tt.pdu.Value, v, ok, err, tt.want, tt.ok, tt.err)
		}
	}
}

func TestAppendClean(t *testing.T) {
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
		if got := string(appendClean(nil, []byte(tt.in))); got != tt.want {
			t.Errorf("appendClean(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, tt := range []struct {
		in   string
		want bool
	}{{"swp1", true}, {"é", true}, {"\x00\x1b\x21\x9c\x6e\x88", false}, {"a\tb", false}, {"\xff", false}} {
		if got := printable([]byte(tt.in)); got != tt.want {
			t.Errorf("printable(%q) = %v", tt.in, got)
		}
	}
}

func TestConfigureV3(t *testing.T) {
	t.Parallel()
	base := Opts{Version: "3", User: "u", AuthProtocol: "sha-512", AuthPassphrase: "authpass1", PrivProtocol: "AES256C", PrivPassphrase: "privpass1"}
	for _, tt := range []struct {
		name    string
		edit    func(*Opts)
		flags   gosnmp.SnmpV3MsgFlags
		auth    gosnmp.SnmpV3AuthProtocol
		priv    gosnmp.SnmpV3PrivProtocol
		wantErr string
	}{
		{"authPriv derived", func(*Opts) {}, gosnmp.AuthPriv, gosnmp.SHA512, gosnmp.AES256C, ""},
		{"Blumenthal", func(o *Opts) { o.PrivProtocol = "AES-192" }, gosnmp.AuthPriv, gosnmp.SHA512, gosnmp.AES192, ""},
		{"Reeder", func(o *Opts) { o.PrivProtocol = "AES-192-C" }, gosnmp.AuthPriv, gosnmp.SHA512, gosnmp.AES192C, ""},
		{"DES and MD5", func(o *Opts) { o.AuthProtocol, o.PrivProtocol = "MD5", "DES" }, gosnmp.AuthPriv, gosnmp.MD5, gosnmp.DES, ""},
		{"authNoPriv derived", func(o *Opts) { o.PrivProtocol = "" }, gosnmp.AuthNoPriv, gosnmp.SHA512, gosnmp.NoPriv, ""},
		{"authNoPriv explicit", func(o *Opts) { o.PrivProtocol, o.SecurityLevel = "", "authnopriv" }, gosnmp.AuthNoPriv, gosnmp.SHA512, gosnmp.NoPriv, ""},
		{"noAuthNoPriv", func(o *Opts) { o.AuthProtocol, o.PrivProtocol = "", "" }, gosnmp.NoAuthNoPriv, gosnmp.NoAuth, gosnmp.NoPriv, ""},
		{"level too low", func(o *Opts) { o.SecurityLevel = "authNoPriv" }, 0, 0, 0, "security level authNoPriv does not fit"},
		{"priv without auth", func(o *Opts) { o.AuthProtocol = "" }, 0, 0, 0, "privacy needs authentication"},
		{"unknown auth", func(o *Opts) { o.AuthProtocol = "SHA3" }, 0, 0, 0, `unknown auth protocol "SHA3"`},
		{"unknown priv", func(o *Opts) { o.PrivProtocol = "3DES" }, 0, 0, 0, `unknown privacy protocol "3DES"`},
		{"short passphrase", func(o *Opts) { o.AuthPassphrase = "short" }, 0, 0, 0, "auth passphrase shorter than 8"},
		{"unknown level", func(o *Opts) { o.SecurityLevel = "paranoid" }, 0, 0, 0, `unknown security level "paranoid"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := base
			tt.edit(&o)
			g := &gosnmp.GoSNMP{Community: "public"}
			err := configureV3(g, &o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			usm := g.SecurityParameters.(*gosnmp.UsmSecurityParameters)
			if g.Version != gosnmp.Version3 || g.MsgFlags != tt.flags || usm.AuthenticationProtocol != tt.auth || usm.PrivacyProtocol != tt.priv ||
				usm.UserName != "u" || g.Community != "" || g.SecurityModel != gosnmp.UserSecurityModel {
				t.Errorf("gosnmp %+v, usm %+v", g, usm)
			}
		})
	}
}

// TestConversionAllocs checks that converting values allocates nothing: a
// poll converts every value of every row.
func TestConversionAllocs(t *testing.T) {
	text := compiledConv{typ: convGauge, text: true}
	reading := octets("1.1", "  101.000 ")
	gauge := compiledConv{typ: convGauge, exp: -1}
	tenths := intPDU("1.1", 253)
	var sum float64
	n := testing.AllocsPerRun(100, func() {
		v, _, _ := text.value(&reading, 0)
		w, _, _ := gauge.value(&tenths, 0)
		sum += v.Float() + w.Float()
	})
	if n != 0 || sum == 0 {
		t.Errorf("%v allocations per conversion", n)
	}
}
