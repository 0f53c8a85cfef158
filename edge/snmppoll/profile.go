package snmppoll

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/rackwatch/rackwatch/edge/sample"
)

// Profile describes what to read from one kind of device. It is plain data so
// that a new device family is a new Profile value, and so that profiles can
// later be loaded from configuration.
type Profile struct {
	// Name is what Opts.Profiles refers to, such as "if-mib".
	Name string
	// Tables are walked in order.
	Tables []Table
}

// Table is a set of columns that share one index. The columns may come from
// several MIB tables that extend one another: ifXTable AUGMENTS ifEntry
// (RFC 2863) and dot3StatsIndex is an ifIndex (RFC 3635), so ifName and
// dot3StatsFCSErrors belong to the same rows as ifInErrors.
type Table struct {
	// Name is the MIB table, used in errors ("walk ifTable: ...").
	Name string
	// Labels identify a row in its samples. A row for which a label has no
	// value is skipped and reported.
	Labels []Label
	// Metrics are the samples each row yields.
	Metrics []Metric
}

// Column is one columnar object of a MIB table.
type Column struct {
	// Name is the MIB object name, used in errors.
	Name string
	// OID is the numeric OID of the column, without a leading dot and
	// without an index.
	OID string
	// Table is the MIB table holding the column when it differs from the
	// enclosing Table's, such as "ifXTable" for ifName.
	Table string
}

// Label gives each sample of a row one label.
type Label struct {
	// Name is the label name, such as "ifname".
	Name string
	// From lists the columns the value may come from, in order of
	// preference: the first column with a non-empty string for the row
	// wins. ifName is preferred to ifDescr, which some agents fill with a
	// long vendor string.
	From []Column
}

// Conversion says how a column's raw value becomes a sample value.
type Conversion uint8

// Conversions.
const (
	// Counter takes a Counter32 or Counter64 exactly, as sample.Uint.
	Counter Conversion = iota + 1
	// Gauge takes an INTEGER, Gauge32 or Unsigned32 (or, with
	// Metric.Text, an OCTET STRING holding a decimal number) and yields
	// sample.Float of raw × 10^Metric.Exp.
	Gauge
	// Status takes an INTEGER enumeration and yields sample.Bool, true when
	// the value equals Metric.True.
	Status
)

func (c Conversion) String() string {
	switch c {
	case Counter:
		return "counter"
	case Gauge:
		return "gauge"
	case Status:
		return "status"
	}
	return fmt.Sprintf("conversion(%d)", uint8(c))
}

// Metric turns one column into one catalogue metric.
type Metric struct {
	// Name is the catalogue metric name; the unit comes from
	// sample.Lookup.
	Name string
	From Column
	Conv Conversion
	// Exp is the decimal exponent of a Gauge's raw value: -3 for
	// milli-degrees, -1 for tenths. The value is computed as raw / 10^-Exp
	// so that it is the float64 nearest the decimal reading.
	Exp int
	// Signed32 reinterprets an unsigned 32-bit Gauge as two's complement.
	// LM-SENSORS-MIB declares lmTempSensorsValue as Gauge32, so net-snmp
	// sends -5 °C as 4294962296.
	Signed32 bool
	// Text accepts a Gauge sent as an OCTET STRING such as "32.000"
	// (ATEN-IPMI-MIB sensorReading).
	Text bool
	// True is the Status value meaning true: up(1) for ifOperStatus.
	True int64
}

// compiled forms of the types above, checked once in New.
type compiledProfile struct {
	name   string
	tables []*compiledTable
}

type compiledTable struct {
	name string
	// cols are the distinct columns walked for the table, in walk order.
	cols    []compiledColumn
	labels  []compiledLabel // sorted by name, as sample.Labels expects
	metrics []compiledMetric
}

type compiledColumn struct {
	Column
	prefix string // ".OID." as gosnmp names the instances
	table  string // MIB table for errors
}

type compiledLabel struct {
	name string
	from []int // indexes into cols
}

type compiledMetric struct {
	Metric
	col  int
	unit string
	div  float64 // 10^-Exp when Exp < 0
	mul  float64 // 10^Exp when Exp > 0
}

// maxExp bounds Metric.Exp so that 10^|Exp| is an exact float64.
const maxExp = 22

func compileProfile(p Profile) (*compiledProfile, error) {
	if p.Name == "" {
		return nil, errors.New("profile without a name")
	}
	cp := &compiledProfile{name: p.Name}
	for i := range p.Tables {
		ct, err := compileTable(&p.Tables[i])
		if err != nil {
			return nil, fmt.Errorf("profile %s: %w", p.Name, err)
		}
		cp.tables = append(cp.tables, ct)
	}
	if len(cp.tables) == 0 {
		return nil, fmt.Errorf("profile %s: no tables", p.Name)
	}
	return cp, nil
}

func compileTable(t *Table) (*compiledTable, error) {
	if t.Name == "" {
		return nil, errors.New("table without a name")
	}
	if len(t.Metrics) == 0 {
		return nil, fmt.Errorf("table %s: no metrics", t.Name)
	}
	ct := &compiledTable{name: t.Name}
	colIndex := func(c Column) (int, error) {
		if err := checkOID(c.OID); err != nil {
			return 0, fmt.Errorf("table %s: column %s: %w", t.Name, c.Name, err)
		}
		for i, have := range ct.cols {
			if have.OID == c.OID {
				return i, nil
			}
		}
		mib := c.Table
		if mib == "" {
			mib = t.Name
		}
		ct.cols = append(ct.cols, compiledColumn{Column: c, prefix: "." + c.OID + ".", table: mib})
		return len(ct.cols) - 1, nil
	}
	// Metric columns are walked first: a table's own columns come before
	// the label columns of augmenting tables such as ifXTable.
	for _, m := range t.Metrics {
		cm, err := compileMetric(m)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", t.Name, err)
		}
		if cm.col, err = colIndex(m.From); err != nil {
			return nil, err
		}
		ct.metrics = append(ct.metrics, cm)
	}
	seen := map[string]bool{}
	for _, l := range t.Labels {
		if l.Name == "" || seen[l.Name] {
			return nil, fmt.Errorf("table %s: empty or repeated label name %q", t.Name, l.Name)
		}
		seen[l.Name] = true
		if len(l.From) == 0 {
			return nil, fmt.Errorf("table %s: label %s: no columns", t.Name, l.Name)
		}
		cl := compiledLabel{name: l.Name}
		for _, c := range l.From {
			i, err := colIndex(c)
			if err != nil {
				return nil, err
			}
			cl.from = append(cl.from, i)
		}
		ct.labels = append(ct.labels, cl)
	}
	sort.Slice(ct.labels, func(i, j int) bool { return ct.labels[i].name < ct.labels[j].name })
	return ct, nil
}

func compileMetric(m Metric) (compiledMetric, error) {
	d, ok := sample.Lookup(m.Name)
	if !ok {
		return compiledMetric{}, fmt.Errorf("metric %q is not in the sample catalogue", m.Name)
	}
	want := map[Conversion]sample.Kind{Counter: sample.KindUint, Gauge: sample.KindFloat, Status: sample.KindBool}[m.Conv]
	if want == sample.KindInvalid {
		return compiledMetric{}, fmt.Errorf("metric %s: unknown conversion %v", m.Name, m.Conv)
	}
	if d.Kind != want {
		return compiledMetric{}, fmt.Errorf("metric %s: conversion %v yields %v, the catalogue says %v", m.Name, m.Conv, want, d.Kind)
	}
	if m.Exp < -maxExp || m.Exp > maxExp {
		return compiledMetric{}, fmt.Errorf("metric %s: exponent %d out of range", m.Name, m.Exp)
	}
	cm := compiledMetric{Metric: m, unit: d.Unit}
	switch {
	case m.Exp < 0:
		cm.div = math.Pow10(-m.Exp)
	case m.Exp > 0:
		cm.mul = math.Pow10(m.Exp)
	}
	return cm, nil
}

// checkOID accepts a dotted numeric OID without a leading dot.
func checkOID(oid string) error {
	if oid == "" {
		return errors.New("empty oid")
	}
	for _, arc := range strings.Split(oid, ".") {
		if arc == "" || strings.Trim(arc, "0123456789") != "" {
			return fmt.Errorf("oid %q is not numeric", oid)
		}
	}
	return nil
}
