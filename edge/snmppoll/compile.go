package snmppoll

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/rackwatch/rackwatch/edge/sample"
)

// profileSet is a set of compiled profiles, sorted by name.
type profileSet struct {
	profiles []*compiledProfile
}

func (s *profileSet) lookup(name string) *compiledProfile {
	for _, p := range s.profiles {
		if p.name == name {
			return p
		}
	}
	return nil
}

func (s *profileSet) names() []string {
	out := make([]string, len(s.profiles))
	for i, p := range s.profiles {
		out[i] = p.name
	}
	return out
}

// compiled forms of the types in profile.go, checked once.
type compiledProfile struct {
	name  string
	src   *Profile
	match compiledMatch
	// tables holds one table per Scalar (a single row, index "0", read
	// with GET), then the walked tables.
	tables []*compiledTable
}

type compiledMatch struct {
	sysObjectID []string // with a leading dot
	sysDescr    []*regexp.Regexp
	exists      []string // with a leading dot
}

type compiledTable struct {
	profile string
	name    string
	// scalar marks a table made of one Scalar: its only column is GET at
	// instance 0.
	scalar bool
	// cols holds the walked columns, then the lookup columns.
	cols    []compiledColumn
	nwalk   int
	labels  []compiledLabel // sorted by name, as sample.Labels expects
	filter  []compiledCond
	metrics []compiledMetric
	disc    int // discontinuity column, or -1
	dedupe  int // index into labels, or -1
	nrates  int // metrics with a rate
	// haveLookups is true when some column is a lookup.
	haveLookups bool
}

type compiledColumn struct {
	name   string
	root   string // ".OID" as gosnmp names objects
	prefix string // ".OID."
	table  string // MIB table for errors
	lookup bool
	// arcs of the row index that form a lookup column's instance, 1-based
	// and inclusive; 0, 0 is the whole index.
	arcFrom, arcTo int
	enum           map[int64]string
	hex            bool
	trimSuffix     [][]byte
}

type compiledLabel struct {
	name string
	from []int // indexes into cols
	tmpl []tmplPart
}

// tmplPart is literal text, a column (col >= 0), or the row index (arc 0
// for all of it, N for its N-th arc).
type tmplPart struct {
	text  string
	col   int
	index bool
	arc   int
}

type compiledCond struct {
	any      []compiledCond
	orAbsent bool
	col      int
	in       []int64
	notIn    []int64
	re       *regexp.Regexp
	nonZero  bool
}

type convType uint8

const (
	convCounter convType = iota + 1
	convGauge
	convStatus
	convEnum
	convInfo
)

var convTypes = map[string]convType{"counter": convCounter, "gauge": convGauge, "status": convStatus, "enum": convEnum, "info": convInfo}

var convKinds = map[convType]sample.Kind{convCounter: sample.KindUint, convGauge: sample.KindFloat, convStatus: sample.KindBool, convEnum: sample.KindUint, convInfo: sample.KindUint}

func (c convType) String() string {
	for name, t := range convTypes {
		if t == c {
			return name
		}
	}
	return fmt.Sprintf("conversion(%d)", uint8(c))
}

type compiledConv struct {
	typ      convType
	exp      int
	signed32 bool
	text     bool
	skip     []float64
	truth    []int64
	enum     map[int64]uint64
}

type compiledMetric struct {
	name     string
	unit     string
	from     []int
	conv     compiledConv
	scaleCol int // -1 when absent
	precCol  int
	when     []compiledCond
	// rate is the index of the metric's counter state in a row, or -1.
	rate               int
	rateName, rateUnit string
}

// maxExp bounds exponents so that 10^|exp| is an exact float64.
const maxExp = 22

// compiler collects the problems of one profile with the key they concern.
type compiler struct {
	p    *Profile
	errs []error
	// rewrite maps the keys of the table a Scalar compiles into back to
	// the Scalar's keys.
	rewrite *strings.Replacer
}

func (c *compiler) errf(key, format string, args ...any) {
	if c.rewrite != nil {
		key = c.rewrite.Replace(key)
	}
	if c.p.file != nil {
		c.errs = append(c.errs, c.p.file.Errorf(key, format, args...))
		return
	}
	c.errs = append(c.errs, fmt.Errorf("snmppoll: profile %s: %s: %s", c.p.Name, key, fmt.Sprintf(format, args...)))
}

func compileSet(ps []*Profile) (*profileSet, error) {
	set := &profileSet{}
	var errs []error
	for _, p := range ps {
		cp, err := compileProfile(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		set.profiles = append(set.profiles, cp)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.Slice(set.profiles, func(i, j int) bool { return set.profiles[i].name < set.profiles[j].name })
	return set, nil
}

// compileProfile checks p and returns its compiled form, or every problem
// found, joined.
func compileProfile(p *Profile) (*compiledProfile, error) {
	c := &compiler{p: p}
	cp := &compiledProfile{name: p.Name, src: p}
	if p.Name == "" {
		c.errf("name", "required")
	} else if p.Name == AutoProfile || strings.ContainsAny(p.Name, " \t/") {
		c.errf("name", "%q is not a usable profile name", p.Name)
	}
	cp.match = c.match(&p.Match)
	for i := range p.Scalars {
		if t := c.scalar(&p.Scalars[i], fmt.Sprintf("scalars[%d]", i)); t != nil {
			t.profile = p.Name
			cp.tables = append(cp.tables, t)
		}
	}
	for i := range p.Tables {
		if t := c.table(&p.Tables[i], fmt.Sprintf("tables[%d]", i)); t != nil {
			t.profile = p.Name
			cp.tables = append(cp.tables, t)
		}
	}
	if len(p.Tables) == 0 && len(p.Scalars) == 0 {
		c.errf("tables", "a profile needs tables or scalars")
	}
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	return cp, nil
}

func (c *compiler) match(m *Match) compiledMatch {
	var cm compiledMatch
	for i, o := range m.SysObjectID {
		if err := checkOID(o); err != nil {
			c.errf(fmt.Sprintf("match.sys_object_id[%d]", i), "%v", err)
			continue
		}
		cm.sysObjectID = append(cm.sysObjectID, "."+o)
	}
	for i, r := range m.SysDescr {
		re, err := regexp.Compile(r)
		if err != nil {
			c.errf(fmt.Sprintf("match.sys_descr[%d]", i), "%v", err)
			continue
		}
		cm.sysDescr = append(cm.sysDescr, re)
	}
	for i, o := range m.Exists {
		if err := checkOID(o); err != nil {
			c.errf(fmt.Sprintf("match.exists[%d]", i), "%v", err)
			continue
		}
		cm.exists = append(cm.exists, "."+o)
	}
	return cm
}

func (c *compiler) scalar(s *Scalar, key string) *compiledTable {
	if s.Name == "" {
		c.errf(key+".name", "required")
		return nil
	}
	root, ok := strings.CutSuffix(s.OID, ".0")
	if err := checkOID(s.OID); err != nil || !ok {
		c.errf(key+".oid", "want the numeric OID of a scalar instance, ending in .0, not %q", s.OID)
		return nil
	}
	obj := s.Object
	if obj == "" {
		obj = s.OID
	}
	t := &Table{
		Name:    obj,
		Columns: []Column{{Name: obj, OID: root}},
		Metrics: []Metric{{Name: s.Name, From: Names{obj}, Conversion: s.Conversion, Rate: s.Rate}},
	}
	names := make([]string, 0, len(s.Labels))
	for n := range s.Labels {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		// A template without a column is constant text.
		t.Labels = append(t.Labels, Label{Name: n, Template: strings.NewReplacer("{", "{{", "}", "}}").Replace(s.Labels[n])})
	}
	c.rewrite = strings.NewReplacer(key+".metrics[0].", key+".", key+".columns[0].", key+".", key+".metrics", key, key+".columns", key)
	defer func() { c.rewrite = nil }()
	ct := c.table(t, key)
	if ct != nil {
		ct.scalar = true
	}
	return ct
}

func (c *compiler) table(t *Table, key string) *compiledTable {
	nerr := len(c.errs)
	if t.Name == "" {
		c.errf(key+".name", "required")
	}
	ct := &compiledTable{name: t.Name, disc: -1, dedupe: -1}
	used := make([]bool, len(t.Columns))
	// Walked columns first, in the order given, then lookups.
	order := make([]int, 0, len(t.Columns))
	for i := range t.Columns {
		if t.Columns[i].Index == "" {
			order = append(order, i)
		}
	}
	ct.nwalk = len(order)
	for i := range t.Columns {
		if t.Columns[i].Index != "" {
			order = append(order, i)
		}
	}
	pos := make(map[string]int, len(t.Columns)) // name → index into ct.cols
	for _, i := range order {
		col := &t.Columns[i]
		ckey := fmt.Sprintf("%s.columns[%d]", key, i)
		if col.Name == "" {
			c.errf(ckey+".name", "required")
			continue
		}
		if _, dup := pos[col.Name]; dup {
			c.errf(ckey+".name", "column %s defined twice", col.Name)
			continue
		}
		if err := checkOID(col.OID); err != nil {
			c.errf(ckey+".oid", "%v", err)
		}
		cc := compiledColumn{name: col.Name, root: "." + col.OID, prefix: "." + col.OID + ".", table: col.Table,
			enum: col.Enum, hex: col.Hex}
		if cc.table == "" {
			cc.table = t.Name
		}
		for _, sfx := range col.TrimSuffix {
			if sfx == "" {
				c.errf(ckey+".trim_suffix", "empty suffix")
			}
			cc.trimSuffix = append(cc.trimSuffix, []byte(sfx))
		}
		if col.Index != "" {
			cc.lookup = true
			ct.haveLookups = true
			var err error
			if cc.arcFrom, cc.arcTo, err = parseArcs(col.Index); err != nil {
				c.errf(ckey+".index", "%v", err)
			}
		}
		pos[col.Name] = len(ct.cols)
		ct.cols = append(ct.cols, cc)
	}
	if ct.nwalk == 0 && len(t.Columns) > 0 {
		c.errf(key+".columns", "no column to walk: every column is a lookup")
	}
	// colRef resolves a column name, marking it used.
	colRef := func(k, name string) int {
		i, ok := pos[name]
		if !ok {
			c.errf(k, "no column %q in this table", name)
			return -1
		}
		for j := range t.Columns {
			if t.Columns[j].Name == name {
				used[j] = true
			}
		}
		return i
	}
	// valueRef resolves a column whose value a metric or a condition
	// reads: lookups are read after the rows are known, for labels only.
	valueRef := func(k, name string) int {
		i := colRef(k, name)
		if i >= 0 && ct.cols[i].lookup {
			c.errf(k, "%s is a lookup column, which serves labels only", name)
		}
		return i
	}
	seen := map[string]bool{}
	for i := range t.Labels {
		l := &t.Labels[i]
		lkey := fmt.Sprintf("%s.labels[%d]", key, i)
		if l.Name == "" || seen[l.Name] {
			c.errf(lkey+".name", "empty or repeated label name %q", l.Name)
			continue
		}
		seen[l.Name] = true
		cl := compiledLabel{name: l.Name}
		for j, n := range l.From {
			if ci := colRef(fmt.Sprintf("%s.from[%d]", lkey, j), n); ci >= 0 {
				cl.from = append(cl.from, ci)
			}
		}
		if l.Template != "" {
			parts, err := parseTemplate(l.Template)
			if err != nil {
				c.errf(lkey+".template", "%v", err)
			}
			for k := range parts {
				if parts[k].arc == colRefArc {
					parts[k].col = colRef(lkey+".template", parts[k].text)
					parts[k].text = ""
					parts[k].arc = 0
				}
			}
			cl.tmpl = parts
		}
		if len(l.From) == 0 && l.Template == "" {
			c.errf(lkey, "label %s needs from or template", l.Name)
		}
		ct.labels = append(ct.labels, cl)
	}
	sort.Slice(ct.labels, func(i, j int) bool { return ct.labels[i].name < ct.labels[j].name })
	if t.DedupeLabel != "" {
		ct.dedupe = slices.IndexFunc(ct.labels, func(l compiledLabel) bool { return l.name == t.DedupeLabel })
		if ct.dedupe < 0 {
			c.errf(key+".dedupe_label", "no label %q", t.DedupeLabel)
		}
	}
	if t.Discontinuity != "" {
		ct.disc = valueRef(key+".discontinuity", t.Discontinuity)
	}
	for i := range t.Filter {
		if cc, ok := c.cond(&t.Filter[i], fmt.Sprintf("%s.filter[%d]", key, i), valueRef); ok {
			ct.filter = append(ct.filter, cc)
		}
	}
	if len(t.Metrics) == 0 {
		c.errf(key+".metrics", "no metrics")
	}
	for i := range t.Metrics {
		mkey := fmt.Sprintf("%s.metrics[%d]", key, i)
		cm, ok := c.metric(&t.Metrics[i], mkey, valueRef)
		if !ok {
			continue
		}
		d, _ := lookupDesc(cm.name)
		for _, l := range ct.labels {
			if !slices.Contains(d.Labels, l.name) {
				c.errf(mkey+".name", "%s carries the labels %v, not %s", cm.name, d.Labels, l.name)
			}
		}
		if cm.rate >= 0 {
			cm.rate = ct.nrates
			ct.nrates++
		}
		ct.metrics = append(ct.metrics, cm)
	}
	for j, u := range used {
		if !u && t.Columns[j].Name != "" {
			c.errf(fmt.Sprintf("%s.columns[%d]", key, j), "column %s is not used", t.Columns[j].Name)
		}
	}
	if len(c.errs) > nerr {
		return nil
	}
	return ct
}

func (c *compiler) cond(cd *Condition, key string, colRef func(string, string) int) (compiledCond, bool) {
	if len(cd.Any) > 0 {
		cc := compiledCond{col: -1}
		if cd.Column != "" || len(cd.In)+len(cd.NotIn) > 0 || cd.Match != "" || cd.NonZero || cd.OrAbsent {
			c.errf(key+".any", "any takes no other test")
			return cc, false
		}
		ok := true
		for i := range cd.Any {
			sub, subOK := c.cond(&cd.Any[i], fmt.Sprintf("%s.any[%d]", key, i), colRef)
			ok = ok && subOK
			cc.any = append(cc.any, sub)
		}
		return cc, ok
	}
	cc := compiledCond{col: colRef(key+".column", cd.Column), in: cd.In, notIn: cd.NotIn, nonZero: cd.NonZero, orAbsent: cd.OrAbsent}
	n := 0
	if len(cd.In) > 0 || len(cd.NotIn) > 0 {
		n++
	}
	if cd.Match != "" {
		n++
		re, err := regexp.Compile(cd.Match)
		if err != nil {
			c.errf(key+".match", "%v", err)
			return cc, false
		}
		cc.re = re
	}
	if cd.NonZero {
		n++
	}
	if n != 1 {
		c.errf(key, "a condition needs exactly one test: in/not_in, match, nonzero or any")
		return cc, false
	}
	return cc, cc.col >= 0
}

func (c *compiler) metric(m *Metric, key string, colRef func(string, string) int) (compiledMetric, bool) {
	nerr := len(c.errs)
	cm := compiledMetric{name: m.Name, scaleCol: -1, precCol: -1, rate: -1}
	d, ok := lookupDesc(m.Name)
	if !ok {
		c.errf(key+".name", "metric %q is not in the sample catalogue", m.Name)
		return cm, false
	}
	cm.unit = d.Unit
	cm.conv = c.conversion(&m.Conversion, key, d)
	for j, n := range m.From {
		if ci := colRef(fmt.Sprintf("%s.from[%d]", key, j), n); ci >= 0 {
			cm.from = append(cm.from, ci)
		}
	}
	switch {
	case cm.conv.typ == convInfo && len(m.From) > 0:
		c.errf(key+".from", "an info metric takes its value from no column")
	case cm.conv.typ != convInfo && cm.conv.typ != 0 && len(m.From) == 0:
		c.errf(key+".from", "required")
	}
	if m.ScaleFrom != "" {
		cm.scaleCol = colRef(key+".scale_from", m.ScaleFrom)
	}
	if m.PrecisionFrom != "" {
		cm.precCol = colRef(key+".precision_from", m.PrecisionFrom)
	}
	if (m.ScaleFrom != "" || m.PrecisionFrom != "") && cm.conv.typ != convGauge {
		c.errf(key+".scale_from", "only a gauge is scaled")
	}
	for i := range m.When {
		if cc, ok := c.cond(&m.When[i], fmt.Sprintf("%s.when[%d]", key, i), colRef); ok {
			cm.when = append(cm.when, cc)
		}
	}
	if m.Rate != nil && cm.conv.typ != convCounter {
		c.errf(key+".rate", "only a counter has a rate")
	}
	if cm.conv.typ == convCounter && d.Type == sample.Counter && (m.Rate == nil || *m.Rate) {
		cm.rateName = RateName(m.Name)
		rd, ok := lookupDesc(cm.rateName)
		if !ok {
			c.errf(key+".name", "no rate metric %s in the catalogue", cm.rateName)
		}
		cm.rateUnit = rd.Unit
		cm.rate = 0 // numbered by the table
	}
	return cm, len(c.errs) == nerr
}

func (c *compiler) conversion(cv *Conversion, key string, d sample.Desc) compiledConv {
	cc := compiledConv{typ: convTypes[cv.Type], exp: cv.Exp, signed32: cv.Signed32, text: cv.Text,
		skip: cv.Skip, truth: cv.True, enum: cv.Map}
	if cc.typ == 0 {
		c.errf(key+".type", "unknown type %q (want counter, gauge, status, enum or info)", cv.Type)
		return cc
	}
	if k := convKinds[cc.typ]; k != d.Kind {
		c.errf(key+".type", "%s yields %v, the catalogue says %s is %v", cv.Type, k, d.Name, d.Kind)
	}
	if (cc.typ == convCounter) != (d.Type == sample.Counter) {
		c.errf(key+".type", "%s is a %s in the catalogue", d.Name, map[bool]string{true: "counter", false: "gauge"}[d.Type == sample.Counter])
	}
	if cv.Exp < -maxExp || cv.Exp > maxExp {
		c.errf(key+".exp", "exponent %d out of range", cv.Exp)
	}
	gaugeOnly := cv.Exp != 0 || cv.Signed32 || cv.Text || len(cv.Skip) > 0
	if gaugeOnly && cc.typ != convGauge {
		c.errf(key+".type", "exp, signed32, text and skip apply to a gauge")
	}
	if len(cv.True) > 0 != (cc.typ == convStatus) {
		c.errf(key+".true", "a status, and only a status, needs true values")
	}
	if len(cv.Map) > 0 != (cc.typ == convEnum) {
		c.errf(key+".map", "an enum, and only an enum, needs a map")
	}
	return cc
}

// parseArcs reads a lookup column's index: "all", "N" or "N-M".
func parseArcs(s string) (from, to int, err error) {
	if s == "all" {
		return 0, 0, nil
	}
	a, b, rng := strings.Cut(s, "-")
	from, err1 := strconv.Atoi(a)
	to = from
	var err2 error
	if rng {
		to, err2 = strconv.Atoi(b)
	}
	if err1 != nil || err2 != nil || from < 1 || to < from || to > 128 {
		return 0, 0, fmt.Errorf("index %q: want all, N or N-M (arcs of the row index, from 1)", s)
	}
	return from, to, nil
}

// colRefArc marks a template part that names a column, until the compiler
// resolves the name.
const colRefArc = -2

// parseTemplate splits "{a} text {index.2}" into parts. A column reference
// comes back with col -1, text set to the name and arc colRefArc, for the
// caller to resolve.
func parseTemplate(s string) ([]tmplPart, error) {
	var parts []tmplPart
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, tmplPart{text: lit.String(), col: -1})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '{' && i+1 < len(s) && s[i+1] == '{':
			lit.WriteByte('{')
			i++
		case ch == '}' && i+1 < len(s) && s[i+1] == '}':
			lit.WriteByte('}')
			i++
		case ch == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("unclosed { in %q", s)
			}
			ref := s[i+1 : i+end]
			i += end
			flush()
			switch {
			case ref == "index":
				parts = append(parts, tmplPart{col: -1, index: true})
			case strings.HasPrefix(ref, "index."):
				n, err := strconv.Atoi(ref[len("index."):])
				if err != nil || n < 1 || n > 128 {
					return nil, fmt.Errorf("bad index arc {%s}", ref)
				}
				parts = append(parts, tmplPart{col: -1, index: true, arc: n})
			case ref == "":
				return nil, fmt.Errorf("empty {} in %q", s)
			default:
				parts = append(parts, tmplPart{col: -1, text: ref, arc: colRefArc})
			}
		case ch == '}':
			return nil, fmt.Errorf("unmatched } in %q", s)
		default:
			lit.WriteByte(ch)
		}
	}
	flush()
	return parts, nil
}

// checkOID accepts a dotted numeric OID without a leading dot.
func checkOID(oid string) error {
	if oid == "" {
		return errors.New("empty oid")
	}
	arcs := strings.Split(oid, ".")
	if len(arcs) < 2 {
		return fmt.Errorf("oid %q is too short", oid)
	}
	for _, arc := range arcs {
		if arc == "" || strings.Trim(arc, "0123456789") != "" {
			return fmt.Errorf("oid %q is not numeric (no leading dot, no names)", oid)
		}
		if _, err := strconv.ParseUint(arc, 10, 32); err != nil {
			return fmt.Errorf("oid %q: arc %s out of range", oid, arc)
		}
	}
	return nil
}
