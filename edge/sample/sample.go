package sample

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Kind says which representation a Value holds.
type Kind uint8

// The kinds of value a sample can carry.
const (
	KindInvalid Kind = iota
	KindFloat
	KindUint
	KindInt
	KindBool
)

func (k Kind) String() string {
	switch k {
	case KindFloat:
		return "float"
	case KindUint:
		return "uint"
	case KindInt:
		return "int"
	case KindBool:
		return "bool"
	}
	return "invalid"
}

// Value is a typed scalar. It is a small value type so that building a sample
// does not allocate.
type Value struct {
	kind Kind
	bits uint64
}

// Float returns a Value holding f.
func Float(f float64) Value { return Value{KindFloat, math.Float64bits(f)} }

// Uint returns a Value holding u exactly; counters use it.
func Uint(u uint64) Value { return Value{KindUint, u} }

// Int returns a Value holding i.
func Int(i int64) Value { return Value{KindInt, uint64(i)} }

// Bool returns a Value holding b.
func Bool(b bool) Value {
	if b {
		return Value{KindBool, 1}
	}
	return Value{KindBool, 0}
}

// Kind reports the representation of v.
func (v Value) Kind() Kind { return v.kind }

// Float returns v as a float64, converting integers (which may round above
// 2^53: use Uint or Int where exactness matters).
func (v Value) Float() float64 {
	switch v.kind {
	case KindFloat:
		return math.Float64frombits(v.bits)
	case KindUint, KindBool:
		return float64(v.bits)
	case KindInt:
		return float64(int64(v.bits))
	}
	return math.NaN()
}

// Uint returns the raw unsigned value for KindUint and KindBool, and a
// conversion for the other kinds.
func (v Value) Uint() uint64 {
	switch v.kind {
	case KindFloat:
		return uint64(math.Float64frombits(v.bits))
	case KindInt:
		return uint64(int64(v.bits))
	}
	return v.bits
}

// Int returns v as an int64.
func (v Value) Int() int64 {
	if v.kind == KindFloat {
		return int64(math.Float64frombits(v.bits))
	}
	return int64(v.bits)
}

// Bool reports whether v is non-zero.
func (v Value) Bool() bool {
	if v.kind == KindFloat {
		return math.Float64frombits(v.bits) != 0
	}
	return v.bits != 0
}

// String formats v without loss: integers in decimal, floats in the shortest
// representation that round-trips.
func (v Value) String() string { return string(v.AppendText(nil)) }

// AppendText appends the text form of v to b.
func (v Value) AppendText(b []byte) []byte {
	switch v.kind {
	case KindFloat:
		return strconv.AppendFloat(b, math.Float64frombits(v.bits), 'g', -1, 64)
	case KindUint:
		return strconv.AppendUint(b, v.bits, 10)
	case KindInt:
		return strconv.AppendInt(b, int64(v.bits), 10)
	case KindBool:
		return strconv.AppendBool(b, v.bits != 0)
	}
	return append(b, "null"...)
}

// Label is one name=value pair qualifying a metric, such as sensor="inlet".
type Label struct {
	Name, Value string
}

// Labels is a set of labels kept sorted by name.
type Labels []Label

// L builds Labels from name, value pairs. It panics on an odd count, which is
// a programming error, never input.
func L(pairs ...string) Labels {
	if len(pairs)%2 != 0 {
		panic("sample: L needs name, value pairs")
	}
	ls := make(Labels, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		ls = append(ls, Label{pairs[i], pairs[i+1]})
	}
	ls.Sort()
	return ls
}

// Sort orders ls by name, as every other method expects.
func (ls Labels) Sort() {
	sort.Slice(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name })
}

// Get returns the value of the label name, or "".
func (ls Labels) Get(name string) string {
	for _, l := range ls {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}

// Sample is one observation.
type Sample struct {
	Metric string
	Labels Labels
	Value  Value
	// Unit is the catalogue unit ("celsius", "errors", ...); see Catalogue.
	Unit string
	TS   time.Time
}

// Series names the time series the sample belongs to, in the Prometheus
// exposition style: metric{name="value",...}. It is unique per series and is
// the metric name used in Sparkplug births.
func (s Sample) Series() string { return SeriesName(s.Metric, s.Labels) }

// SeriesName renders metric and labels as metric{name="value",...}.
func SeriesName(metric string, ls Labels) string {
	if len(ls) == 0 {
		return metric
	}
	var b strings.Builder
	b.WriteString(metric)
	b.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.Name)
		b.WriteString(`="`)
		b.WriteString(escapeLabel(l.Value))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
