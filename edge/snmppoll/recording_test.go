package snmppoll

import (
	"bufio"
	"encoding/hex"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// recording is an snmprec file (OID|tag|value lines), read for the
// expectations of a test and editable before snmpsim serves it.
type recording struct {
	path  string
	lines map[string]string // OID without a leading dot → the whole line
}

// recValue is one value of a recording, hex-decoded.
type recValue struct {
	tag string // the BER tag, "2", "4", "65", ... without the x suffix
	raw string
}

func readRecording(t *testing.T, path string) *recording {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := &recording{path: path, lines: map[string]string{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		oid, _, ok := strings.Cut(sc.Text(), "|")
		if ok {
			r.lines[oid] = sc.Text()
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *recording) value(t *testing.T, oid string) (recValue, bool) {
	line, ok := r.lines[oid]
	if !ok {
		return recValue{}, false
	}
	_, rest, _ := strings.Cut(line, "|")
	tag, val, _ := strings.Cut(rest, "|")
	if t2, ok := strings.CutSuffix(tag, "x"); ok {
		b, err := hex.DecodeString(val)
		if err != nil {
			t.Fatalf("%s: %s: %v", r.path, oid, err)
		}
		tag, val = t2, string(b)
	}
	if t2, _, ok := strings.Cut(tag, ":"); ok {
		// A variation module: "65:writecache" with "value=N".
		tag = t2
		for _, kv := range strings.Split(val, ",") {
			if v, ok := strings.CutPrefix(kv, "value="); ok {
				val = v
			}
		}
	}
	return recValue{tag: tag, raw: val}, true
}

// column returns index → value for a column OID.
func (r *recording) column(t *testing.T, oid string) map[string]recValue {
	out := map[string]recValue{}
	for k := range r.lines {
		if ix, ok := strings.CutPrefix(k, oid+"."); ok {
			out[ix], _ = r.value(t, k)
		}
	}
	return out
}

// text returns a column's strings.
func (r *recording) text(t *testing.T, oid string) map[string]string {
	out := map[string]string{}
	for ix, v := range r.column(t, oid) {
		out[ix] = v.raw
	}
	return out
}

// ints returns a column's integers, of any integer type.
func (r *recording) ints(t *testing.T, oid string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for ix, v := range r.column(t, oid) {
		i, err := strconv.ParseInt(v.raw, 10, 64)
		if err != nil {
			t.Fatalf("recording %s.%s: %v", oid, ix, err)
		}
		out[ix] = i
	}
	return out
}

// uints returns a column's unsigned integers (counters).
func (r *recording) uints(t *testing.T, oid string) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	for ix, v := range r.column(t, oid) {
		u, err := strconv.ParseUint(v.raw, 10, 64)
		if err != nil {
			t.Fatalf("recording %s.%s: %v", oid, ix, err)
		}
		out[ix] = u
	}
	return out
}

// set writes one value; a string (tag "4") is written hex-encoded, and a
// value for tag "4x" is hex already.
func (r *recording) set(oid, tag, value string) {
	if tag == "4" {
		tag, value = "4x", hex.EncodeToString([]byte(value))
	}
	r.lines[oid] = oid + "|" + tag + "|" + value
}

// write saves the recording sorted by OID, as snmpsim requires.
func (r *recording) write(t *testing.T) {
	t.Helper()
	oids := make([]string, 0, len(r.lines))
	for k := range r.lines {
		oids = append(oids, k)
	}
	slices.SortFunc(oids, compareOID)
	var b strings.Builder
	for _, o := range oids {
		b.WriteString(r.lines[o])
		b.WriteByte('\n')
	}
	if err := os.WriteFile(r.path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// indexes returns the union of the indexes of the columns, in OID order.
func indexes(cols ...map[string]recValue) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range cols {
		for ix := range c {
			if !seen[ix] {
				seen[ix] = true
				out = append(out, ix)
			}
		}
	}
	slices.SortFunc(out, compareOID)
	return out
}

// cleanText is what a label keeps of a device string: no padding, and
// nothing when it is not printable.
func cleanText(s string) (string, bool) {
	s = strings.TrimLeft(strings.TrimRight(s, "\x00 \t\r\n"), " \t")
	return s, s != "" && printable([]byte(s))
}

// dedupe names rows as the profiles with dedupe_label do: in index order,
// a name already taken gets " #<index>".
func dedupe(ixs []string, name func(ix string) string) map[string]string {
	taken := map[string]bool{}
	out := map[string]string{}
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

// scaled is v × 10^e as the poller computes it: one rounding.
func scaled(v float64, e int) float64 {
	if e < 0 {
		return v / math.Pow10(-e)
	}
	return v * math.Pow10(e)
}

// wantInterfaces computes from a recording the interface series the if-mib
// profile must produce: metric → ifname → value.
func wantInterfaces(t *testing.T, r *recording) (counters map[string]map[string]uint64, up map[string]bool) {
	t.Helper()
	metricCols := map[string][]string{
		"if_in_errors_total":        {oidIfInErrors},
		"if_out_errors_total":       {oidIfOutErrors},
		"if_in_discards_total":      {oidIfInDiscards},
		"if_out_discards_total":     {oidIfOutDiscards},
		"if_in_octets_total":        {oidIfHCInOctets, oidIfInOctets},
		"if_out_octets_total":       {oidIfHCOutOctets, oidIfOutOctets},
		"if_fcs_errors_total":       {oidDot3HCFCS, oidDot3FCS},
		"if_alignment_errors_total": {oidDot3HCAlign, oidDot3Align},
	}
	// A row is labelled when some metric has a value.
	var cols []map[string]recValue
	for _, oid := range []string{oidIfOperStatus, oidIfLastChange, oidIfHighSpeed, oidIfInErrors, oidIfOutErrors, oidIfInDiscards, oidIfOutDiscards,
		oidIfHCInOctets, oidIfInOctets, oidIfHCOutOctets, oidIfOutOctets, oidDot3HCFCS, oidDot3FCS, oidDot3HCAlign, oidDot3Align} {
		cols = append(cols, r.column(t, oid))
	}
	names, descrs := r.text(t, oidIfName), r.text(t, oidIfDescr)
	ifname := dedupe(indexes(cols...), func(ix string) string {
		if n, ok := cleanText(names[ix]); ok {
			return n
		}
		n, _ := cleanText(descrs[ix])
		return n
	})
	counters = map[string]map[string]uint64{}
	for m, prefs := range metricCols {
		counters[m] = map[string]uint64{}
		var vals []map[string]uint64
		for _, oid := range prefs {
			vals = append(vals, r.uints(t, oid))
		}
		for ix := range ifname {
			for _, v := range vals {
				if u, ok := v[ix]; ok {
					counters[m][ifname[ix]] = u
					break
				}
			}
		}
	}
	up = map[string]bool{}
	for ix, st := range r.ints(t, oidIfOperStatus) {
		up[ifname[ix]] = st == 1
	}
	return counters, up
}

var tempName = regexp.MustCompile(`(?i)\btemp(erature)?\s*$`)
