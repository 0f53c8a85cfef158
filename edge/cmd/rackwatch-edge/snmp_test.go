package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/sample"
)

func runSNMP(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(append([]string{"snmp", "poll"}, args...), &o, &e)
	return code, o.String(), e.String()
}

func TestSNMPPollUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no target", []string{"--community", "public"}, "--target is required"},
		{"community and user", []string{"--target", "127.0.0.1:1", "--community", "public", "--v3-user", "u1"}, "exclude each other"},
		{"no credentials", []string{"--target", "127.0.0.1:1"}, "one of --community or --v3-user is required"},
		{"unknown format", []string{"--target", "127.0.0.1:1", "--community", "public", "--format", "xml"}, `unknown --format "xml"`},
		{"unknown profile", []string{"--target", "127.0.0.1:1", "--community", "public", "--profile", "idrack"}, `unknown profile "idrack" (have auto, `},
		{"unknown version", []string{"--target", "127.0.0.1:1", "--community", "public", "--version", "2"}, `unknown --version "2"`},
		{"v3 without user", []string{"--target", "127.0.0.1:1", "--community", "public", "--version", "3"}, "--version 3 needs --v3-user"},
		{"user with v2c", []string{"--target", "127.0.0.1:1", "--v3-user", "u1", "--version", "2c"}, "--v3-user is for SNMPv3"},
		{"auth without user", []string{"--target", "127.0.0.1:1", "--community", "public", "--auth-proto", "SHA"}, "are for SNMPv3"},
		{"bad auth protocol", []string{"--target", "127.0.0.1:1", "--v3-user", "u1", "--auth-proto", "SHA-3", "--auth-pass", "authpassphrase"}, `unknown auth protocol "SHA-3"`},
		{"bad address", []string{"--target", "127.0.0.1:99999", "--community", "public"}, "bad port"},
		{"zero timeout", []string{"--target", "127.0.0.1:1", "--community", "public", "--timeout", "0s"}, "must be positive"},
		{"extra argument", []string{"--target", "127.0.0.1:1", "--community", "public", "now"}, `unexpected argument "now"`},
		{"unknown flag", []string{"--target", "127.0.0.1:1", "--communty", "public"}, "flag provided but not defined"},
		{"passphrase without protocol", []string{"--target", "127.0.0.1:1", "--v3-user", "u1", "--auth-pass", "authpassphrase"}, "--auth-pass needs --auth-proto"},
		// The passphrase is the stray argument: it is not echoed.
		{"stray passphrase", []string{"--target", "127.0.0.1:1", "--v3-user", "u1", "--auth-proto", "SHA", "--auth-pass", "authpassphrase", "authpassphrase"}, `unexpected argument "<secret>"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runSNMP(t, tc.args...)
			if code != 2 || stdout != "" || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, stdout, stderr, tc.want)
			}
			if strings.Contains(stdout+stderr, "authpassphrase") {
				t.Errorf("the passphrase was echoed: %q", stderr)
			}
		})
	}
	t.Run("no subcommand", func(t *testing.T) {
		var o, e bytes.Buffer
		if code := run([]string{"snmp"}, &o, &e); code != 2 || !strings.Contains(e.String(), "usage:") {
			t.Errorf("exit %d, %q; want 2 and the usage", code, e.String())
		}
	})
}

// recording is a device recording (shared/snmprec, OID|tag|value lines):
// OID without a leading dot → value, hex-decoded.
type recording map[string]string

func readRecording(t *testing.T, path string) recording {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := recording{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), "|", 3)
		if len(parts) != 3 {
			continue
		}
		oid, tag, val := strings.TrimPrefix(parts[0], "."), parts[1], parts[2]
		if strings.Contains(tag, ":") {
			// A variation module, such as "65:writecache" with "value=N".
			for _, kv := range strings.Split(val, ",") {
				if v, ok := strings.CutPrefix(kv, "value="); ok {
					val = v
				}
			}
		} else if strings.HasSuffix(tag, "x") {
			b, err := hex.DecodeString(val)
			if err != nil {
				t.Fatalf("%s: %s: %v", path, oid, err)
			}
			val = string(b)
		}
		r[oid] = val
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return r
}

// col returns a column: index → value.
func (r recording) col(oid string) map[string]string {
	out := map[string]string{}
	for k, v := range r {
		if ix, ok := strings.CutPrefix(k, oid+"."); ok {
			out[ix] = v
		}
	}
	return out
}

func (r recording) num(t *testing.T, oid string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for ix, v := range r.col(oid) {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			t.Fatalf("recording %s.%s: %v", oid, ix, err)
		}
		out[ix] = f
	}
	return out
}

// rows returns the union of the indexes of columns, in OID order.
func rows(cols ...map[string]string) []string {
	var out []string
	for _, c := range cols {
		for ix := range c {
			if !slices.Contains(out, ix) {
				out = append(out, ix)
			}
		}
	}
	slices.SortFunc(out, compareIndex)
	return out
}

func compareIndex(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, _ := strconv.ParseUint(as[i], 10, 64)
		y, _ := strconv.ParseUint(bs[i], 10, 64)
		if x != y {
			return cmpUint(x, y)
		}
	}
	return len(as) - len(bs)
}

func cmpUint(x, y uint64) int {
	if x < y {
		return -1
	}
	return 1
}

// label is a device string as a label keeps it: no padding, and nothing
// when it is not printable text.
func label(s string) string {
	s = strings.TrimLeft(strings.TrimRight(s, "\x00 \t\r\n"), " \t")
	if !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return ""
	}
	return s
}

// names labels rows in index order; a name already taken gets " #<index>".
func names(ixs []string, name func(ix string) string) map[string]string {
	out, taken := map[string]string{}, map[string]bool{}
	for _, ix := range ixs {
		n := name(ix)
		if taken[n] {
			n += " #" + ix
		}
		taken[n] = true
		out[ix] = n
	}
	return out
}

// pow10 scales v by 10^e with one rounding, as profiles do.
func pow10(v float64, e int) float64 {
	if e < 0 {
		return v / math.Pow10(-e)
	}
	return v * math.Pow10(e)
}

// ifInErrors computes ifname → ifInErrors (IF-MIB, RFC 2863): rows named by
// ifName, else ifDescr, among every row with a counter or status.
func ifInErrors(t *testing.T, r recording) map[string]float64 {
	var cols []map[string]string
	for _, c := range []string{"2.2.1.8", "2.2.1.9", "2.2.1.10", "2.2.1.13", "2.2.1.14", "2.2.1.16", "2.2.1.19", "2.2.1.20",
		"31.1.1.1.6", "31.1.1.1.10", "31.1.1.1.15", "10.7.2.1.2", "10.7.2.1.3", "10.7.11.1.1", "10.7.11.1.2"} {
		cols = append(cols, r.col("1.3.6.1.2.1."+c))
	}
	ifName, ifDescr := r.col("1.3.6.1.2.1.31.1.1.1.1"), r.col("1.3.6.1.2.1.2.2.1.2")
	name := names(rows(cols...), func(ix string) string {
		if n := label(ifName[ix]); n != "" {
			return n
		}
		return label(ifDescr[ix])
	})
	out := map[string]float64{}
	for ix, v := range r.num(t, "1.3.6.1.2.1.2.2.1.14") {
		out[name[ix]] = v
	}
	return out
}

// entitySensors computes the temperatures of an ENTITY-SENSOR-MIB table
// (RFC 3433, or Cisco's of the same layout): celsius(8) rows that are ok(1)
// or have no status, value × 10^(3·(scale−9) − precision), named by
// entPhysicalName.
func entitySensors(t *testing.T, r recording, tbl string, out map[string]float64) {
	phys := r.col("1.3.6.1.2.1.47.1.1.1.1.7")
	typ, scale, prec, val, status := r.num(t, tbl+".1"), r.num(t, tbl+".2"), r.num(t, tbl+".3"), r.num(t, tbl+".4"), r.col(tbl+".5")
	var ixs []string
	for _, ix := range rows(r.col(tbl + ".1")) {
		if slices.Contains([]float64{3, 4, 5, 6, 8, 10}, typ[ix]) {
			ixs = append(ixs, ix)
		}
	}
	name := names(ixs, func(ix string) string {
		if n := label(phys[ix]); n != "" {
			return n
		}
		return "entity " + ix
	})
	for _, ix := range ixs {
		if st, ok := status[ix]; typ[ix] == 8 && (!ok || st == "1") {
			out[name[ix]] = pow10(val[ix], 3*int(scale[ix]-9)-int(prec[ix]))
		}
	}
}

var atenTemp = regexp.MustCompile(`(?i)\btemp(erature)?\s*$`)

// temperatures computes, per recording, sensor → °C as the device's
// profiles read it.
var temperatures = map[string]func(t *testing.T, r recording) map[string]float64{
	// IDRAC-MIB-SMIv2 temperatureProbeTable: tenths of a degree.
	"drac_r640": func(t *testing.T, r recording) map[string]float64 {
		const tbl = "1.3.6.1.4.1.674.10892.5.4.700.20.1"
		loc := r.col(tbl + ".8")
		name := names(rows(r.col(tbl+".5"), r.col(tbl+".6"), loc, r.col(tbl+".10"), r.col(tbl+".11")), func(ix string) string { return label(loc[ix]) })
		out := map[string]float64{}
		for ix, v := range r.num(t, tbl+".6") {
			out[name[ix]] = pow10(v, -1)
		}
		return out
	},
	// CPQHLTH-MIB cpqHeTemperatureTable: named "<locale> <index>"; -99
	// is no reading.
	"hpe-ilo_4": func(t *testing.T, r recording) map[string]float64 {
		const tbl = "1.3.6.1.4.1.232.6.2.6.8.1"
		locales := []string{1: "other", 2: "unknown", 3: "system", 4: "systemBoard", 5: "ioBoard", 6: "cpu", 7: "memory", 8: "storage",
			9: "removableMedia", 10: "powerSupply", 11: "ambient", 12: "chassis", 13: "bridgeCard"}
		locale, index := r.num(t, tbl+".3"), r.col(tbl+".2")
		out := map[string]float64{}
		for ix, v := range r.num(t, tbl+".4") {
			if v != -99 {
				out[locales[int(locale[ix])]+" "+index[ix]] = v
			}
		}
		return out
	},
	// ATEN-IPMI-MIB sensorTable: readings as text; temperatures by name;
	// empty slots (no reading, no threshold) skipped.
	"supermicro-bmc_x11": func(t *testing.T, r recording) map[string]float64 {
		const tbl = "1.3.6.1.4.1.21317.1.3.1"
		reading, uc, id := r.num(t, tbl+".2"), r.num(t, tbl+".9"), r.col(tbl+".13")
		var ixs []string
		for _, ix := range rows(r.col(tbl+".2"), r.col(tbl+".9"), id) {
			if reading[ix] != 0 || uc[ix] != 0 {
				ixs = append(ixs, ix)
			}
		}
		name := names(ixs, func(ix string) string { return label(id[ix]) })
		out := map[string]float64{}
		for _, ix := range ixs {
			if atenTemp.MatchString(id[ix]) {
				out[name[ix]] = reading[ix]
			}
		}
		return out
	},
	// CISCO-ENTITY-SENSOR-MIB (transceivers), and CISCO-ENVMON-MIB
	// (chassis, whole degrees; notPresent(5) skipped, the state
	// trimmed off the name).
	"ios_2960x": func(t *testing.T, r recording) map[string]float64 {
		out := map[string]float64{}
		entitySensors(t, r, "1.3.6.1.4.1.9.9.91.1.1.1.1", out)
		const env = "1.3.6.1.4.1.9.9.13.1.3.1"
		descr, state := r.col(env+".2"), r.col(env+".6")
		var ixs []string
		for _, ix := range rows(descr, r.col(env+".3"), r.col(env+".4"), state) {
			if state[ix] != "5" {
				ixs = append(ixs, ix)
			}
		}
		name := names(ixs, func(ix string) string {
			n := label(descr[ix])
			for _, sfx := range []string{", GREEN", ", YELLOW", ", RED"} {
				n = strings.TrimSpace(strings.TrimSuffix(n, sfx))
			}
			return n
		})
		for ix, v := range r.num(t, env+".3") {
			if state[ix] != "5" {
				out[name[ix]] = v
			}
		}
		return out
	},
	// UCD-SNMP LM-SENSORS-MIB: thousandths of a degree, in a Gauge32 that
	// carries negative readings wrapped.
	"quantastor": func(t *testing.T, r recording) map[string]float64 {
		const tbl = "1.3.6.1.4.1.2021.13.16.2.1"
		dev, val := r.col(tbl+".2"), r.num(t, tbl+".3")
		name := names(rows(dev, r.col(tbl+".3")), func(ix string) string { return label(dev[ix]) })
		out := map[string]float64{}
		for ix, v := range val {
			out[name[ix]] = pow10(float64(int32(uint32(v))), -3)
		}
		return out
	},
	"cumulus_bgp": func(t *testing.T, r recording) map[string]float64 {
		out := map[string]float64{}
		entitySensors(t, r, "1.3.6.1.2.1.99.1.1.1", out)
		return out
	},
}

// parseJSONLines decodes the output of --format json with the samples'
// own strict decoder: metric → the label's value → value.
func parseJSONLines(t *testing.T, out string, labelName string) (map[string]map[string]sample.Value, int) {
	t.Helper()
	got := map[string]map[string]sample.Value{}
	n := 0
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var s sample.Sample
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		n++
		d, ok := sample.Lookup(s.Metric)
		if ok && d.Unit != s.Unit {
			t.Errorf("%s: unit %q, want %q", s.Series(), s.Unit, d.Unit)
		}
		k := s.Labels.Get(labelName)
		if k == "" {
			continue
		}
		if got[s.Metric] == nil {
			got[s.Metric] = map[string]sample.Value{}
		}
		if _, dup := got[s.Metric][k]; dup {
			t.Errorf("%s: two samples with %s=%q", s.Metric, labelName, k)
		}
		got[s.Metric][k] = s.Value
	}
	return got, n
}

// compareSeries checks that got holds exactly the series of want, with
// want's values. A device may lack a metric only where optional.
func compareSeries(t *testing.T, metric string, got map[string]sample.Value, want map[string]float64, kind sample.Kind, optional bool) {
	t.Helper()
	if len(want) == 0 && !optional {
		t.Fatalf("%s: the recording has none: the expectations were not read", metric)
	}
	for k, w := range want {
		if v, ok := got[k]; !ok || v.Kind() != kind || v.Float() != w {
			t.Errorf("%s{%q} = %v (present %v), recording says %v", metric, k, v, ok, w)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s{%q} = %v, not in the recording", metric, k, v)
		}
	}
}

// TestSNMPPollRecordings polls each recorded device of shared/snmprec,
// served by snmpsim, and checks every temperature and interface error
// counter printed against the recording, then the table.
func TestSNMPPollRecordings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		profiles string // as the table's header lists them
	}{
		{"drac_r640", "idrac, if-mib"},
		{"hpe-ilo_4", "hpe-ilo, if-mib"},
		{"supermicro-bmc_x11", "if-mib, supermicro-aten"},
		{"ios_2960x", "cisco-entity-sensor, cisco-envmon, if-mib"},
		{"quantastor", "if-mib, lm-sensors"},
		{"cumulus_bgp", "entity-sensor, if-mib"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := testrig.Recording(t, tc.name)
			rec := readRecording(t, path)
			agent := testrig.StartSnmpsim(t, filepath.Dir(path))
			base := []string{"--target", agent.Addr, "--community", tc.name, "--timeout", "5s"}

			code, stdout, stderr := runSNMP(t, append(base, "--format", "json")...)
			if code != 0 || stderr != "" {
				t.Fatalf("json: exit %d, stderr %q", code, stderr)
			}
			bySensor, n := parseJSONLines(t, stdout, "sensor")
			wantTemps := temperatures[tc.name](t, rec)
			compareSeries(t, sample.TemperatureCelsius, bySensor[sample.TemperatureCelsius], wantTemps, sample.KindFloat, false)
			byIf, _ := parseJSONLines(t, stdout, "ifname")
			// The Supermicro BMC has an ifTable without ifInErrors.
			compareSeries(t, sample.IfInErrors, byIf[sample.IfInErrors], ifInErrors(t, rec), sample.KindUint, tc.name == "supermicro-bmc_x11")

			code, stdout, stderr = runSNMP(t, base...)
			if code != 0 || stderr != "" {
				t.Fatalf("table: exit %d, stderr %q", code, stderr)
			}
			lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
			header := fmt.Sprintf("%s (SNMPv2c), profiles %s: %d samples in ", agent.Addr, tc.profiles, n)
			if !strings.HasPrefix(lines[0], header) || lines[1] != "" || !regexp.MustCompile(`^METRIC +LABELS +VALUE +UNIT$`).MatchString(lines[2]) {
				t.Fatalf("table starts %q, want header %q…, a blank line and the column names", lines[:3], header)
			}
			if len(lines) != n+3 {
				t.Errorf("table has %d rows, want the %d samples", len(lines)-3, n)
			}
			metrics := make([]string, 0, n)
			for _, l := range lines[3:] {
				metrics = append(metrics, strings.Fields(l)[0])
			}
			if !slices.IsSorted(metrics) {
				t.Error("table rows are not sorted by metric")
			}
			for sensor, v := range wantTemps {
				row := regexp.MustCompile(`(?m)^temperature_celsius +sensor=` + regexp.QuoteMeta(strconv.Quote(sensor)) +
					` +` + regexp.QuoteMeta(strconv.FormatFloat(v, 'g', -1, 64)) + ` +celsius$`)
				if !row.MatchString(stdout) {
					t.Errorf("no table row for sensor %q = %v in\n%s", sensor, v, stdout)
				}
				break
			}
		})
	}
}

// TestSNMPPollNoProfile polls an agent that has nothing but the system
// group.
func TestSNMPPollNoProfile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rec := "1.3.6.1.2.1.1.1.0|4|a toaster\n1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.99999\n1.3.6.1.2.1.1.3.0|67|100\n"
	if err := os.WriteFile(filepath.Join(dir, "toaster.snmprec"), []byte(rec), 0o644); err != nil {
		t.Fatal(err)
	}
	agent := testrig.StartSnmpsim(t, dir)
	code, stdout, stderr := runSNMP(t, "--target", agent.Addr, "--community", "toaster")
	if code != 1 || stdout != "" || !strings.Contains(stderr, agent.Addr) || !strings.Contains(stderr, "no profile matches the agent") {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and no profile, naming %s", code, stdout, stderr, agent.Addr)
	}
}

// TestSNMPPollSnmpd polls net-snmp's snmpd with SNMPv3 (RFC 7860 SHA-256,
// AES-256), with wrong passphrases, and with a profile of which one value
// cannot be read.
func TestSNMPPollSnmpd(t *testing.T) {
	t.Parallel()
	agent := testrig.StartSnmpd(t, testrig.SnmpdOpts{Config: "createUser u1 SHA-256 authpassphrase AES-256 privpassphrase\nrouser u1 priv\n"})
	v3 := func(auth, priv string, more ...string) []string {
		return append([]string{"--target", agent.Addr, "--v3-user", "u1", "--auth-proto", "SHA-256", "--auth-pass", auth,
			"--priv-proto", "AES-256", "--priv-pass", priv, "--timeout", "1s", "--retries", "0"}, more...)
	}
	noSecrets := func(t *testing.T, out ...string) {
		t.Helper()
		for _, o := range out {
			for _, secret := range []string{"authpassphrase", "privpassphrase", "wrongpassphrase"} {
				if strings.Contains(o, secret) {
					t.Errorf("output shows the passphrase %q:\n%s", secret, o)
				}
			}
		}
	}
	t.Run("v3 json", func(t *testing.T) {
		t.Parallel()
		code, stdout, stderr := runSNMP(t, v3("authpassphrase", "privpassphrase", "--format", "json")...)
		if code != 0 || stderr != "" {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		noSecrets(t, stdout, stderr)
		got, _ := parseJSONLines(t, stdout, "ifname")
		if v, ok := got[sample.IfInErrors]["lo"]; !ok || v.Kind() != sample.KindUint {
			t.Errorf("if_in_errors_total{ifname=\"lo\"} = %v (present %v); output:\n%s", v, ok, stdout)
		}
	})
	t.Run("v3 table", func(t *testing.T) {
		t.Parallel()
		code, stdout, stderr := runSNMP(t, v3("authpassphrase", "privpassphrase", "--profile", "if-mib")...)
		if code != 0 || !strings.HasPrefix(stdout, agent.Addr+" (SNMPv3), profiles if-mib: ") ||
			!regexp.MustCompile(`(?m)^if_oper_up +ifname="lo" +true +bool$`).MatchString(stdout) {
			t.Errorf("exit %d, stdout:\n%s\nstderr %q", code, stdout, stderr)
		}
		noSecrets(t, stdout, stderr)
	})
	for _, tc := range []struct {
		name       string
		auth, priv string
		want       string
	}{
		{"wrong auth passphrase", "wrongpassphrase", "privpassphrase", `authentication failed for user "u1"`},
		// net-snmp drops what it cannot decrypt, without a report.
		{"wrong privacy passphrase", "authpassphrase", "wrongpassphrase", "no answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runSNMP(t, v3(tc.auth, tc.priv)...)
			if code != 1 || stdout != "" || !strings.Contains(stderr, agent.Addr) || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and %q naming %s", code, stdout, stderr, tc.want, agent.Addr)
			}
			noSecrets(t, stdout, stderr)
		})
	}
	t.Run("partial", func(t *testing.T) {
		t.Parallel()
		// ifDescr read as a counter cannot be: each row still yields its
		// ifInErrors, and the poll reports the bad values.
		dir := t.TempDir()
		prof := `version: 1
name: if-partial
description: Interface errors, and a counter that is text.
match:
  exists: [1.3.6.1.2.1.2.2.1]
tables:
  - name: ifTable
    columns:
      - {name: ifDescr, oid: 1.3.6.1.2.1.2.2.1.2}
      - {name: ifInErrors, oid: 1.3.6.1.2.1.2.2.1.14}
    labels:
      - {name: ifname, from: ifDescr}
    metrics:
      - {name: if_in_errors_total, from: ifInErrors, type: counter}
      - {name: if_out_errors_total, from: ifDescr, type: counter}
`
		if err := os.WriteFile(filepath.Join(dir, "if-partial.yaml"), []byte(prof), 0o644); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := runSNMP(t, "--target", agent.Addr, "--community", agent.Community, "--profile-dir", dir, "--profile", "if-partial", "--format", "json")
		got, _ := parseJSONLines(t, stdout, "ifname")
		if _, ok := got[sample.IfInErrors]["lo"]; code != 1 || !ok || len(got[sample.IfOutErrors]) != 0 ||
			!strings.Contains(stderr, agent.Addr) || !strings.Contains(stderr, "ifTable ifDescr.1") {
			t.Errorf("exit %d, stdout:\n%s\nstderr %q; want exit 1, lo's errors and the bad value", code, stdout, stderr)
		}
	})
}

func TestSNMPPollSortsNaturally(t *testing.T) {
	t.Parallel()
	var ss []sample.Sample
	for _, n := range []string{"swp10", "swp2", "eth0", "swp1", "swp02"} {
		ss = append(ss, sample.Sample{Metric: sample.IfInErrors, Labels: sample.L("ifname", n)})
	}
	ss = append(ss, sample.Sample{Metric: sample.IfOperUp, Labels: sample.L("ifname", "eth0")})
	slices.SortFunc(ss, compareSamples)
	var got []string
	for _, s := range ss {
		got = append(got, s.Metric+" "+s.Labels.Get("ifname"))
	}
	want := []string{"if_in_errors_total eth0", "if_in_errors_total swp1", "if_in_errors_total swp02", "if_in_errors_total swp2", "if_in_errors_total swp10", "if_oper_up eth0"}
	if !slices.Equal(got, want) {
		t.Errorf("sorted %q, want %q", got, want)
	}
}
