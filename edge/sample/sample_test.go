package sample

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	goldenfile "github.com/rackwatch/rackwatch/deploy/testrig/golden"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func goldenSamples() []Sample {
	return []Sample{
		{Metric: TemperatureCelsius, Labels: L("sensor", "inlet"), Value: Float(25.0625), Unit: "celsius", TS: t0},
		{Metric: TemperatureCelsius, Labels: L("sensor", `CPU "1"`), Value: Float(-40), Unit: "celsius", TS: t0},
		{Metric: IfInErrors, Labels: L("ifname", "Gi1/0/1"), Value: Uint(math.MaxUint64), Unit: "packets", TS: t0},
		{Metric: IfOperUp, Labels: L("ifname", "swp1"), Value: Bool(false), Unit: "bool", TS: t0},
		{Metric: "delta", Value: Int(-3), TS: t0.Add(1500 * time.Millisecond)},
		{Metric: "odd", Labels: L("name", "tab\there\x01 é"), Value: Float(1e21), TS: t0},
	}
}

func TestJSONGolden(t *testing.T) {
	var buf bytes.Buffer
	for _, s := range goldenSamples() {
		buf.Write(AppendJSON(nil, s))
		buf.WriteByte('\n')
	}
	goldenfile.Check(t, "samples.golden.jsonl", buf.Bytes())
}

func TestJSONRoundTrip(t *testing.T) {
	for _, want := range goldenSamples() {
		b, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		var got Sample
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if got.Series() != want.Series() || got.Value != want.Value || got.Unit != want.Unit || !got.TS.Equal(want.TS) {
			t.Errorf("round trip of %s = %+v, want %+v", b, got, want)
		}
	}
}

func TestJSONRejects(t *testing.T) {
	for _, in := range []string{
		`{"metric":"m","labels":{},"value":1,"unit":"","ts":0,"extra":true}`,
		`{"labels":{},"value":1,"unit":"","ts":0}`,
		`{"metric":"m","labels":{},"value":1,"unit":""}`,
		`{"metric":"m","labels":{},"value":18446744073709551616,"unit":"","ts":0}`,
		`{"metric":"m","labels":{},"value":"1","unit":"","ts":0}`,
		`[]`,
	} {
		var s Sample
		if err := json.Unmarshal([]byte(in), &s); err == nil {
			t.Errorf("accepted %s", in)
		}
	}
}

func TestJSONAlwaysValid(t *testing.T) {
	for _, l := range []string{"\xff\xfe", "\x00", "\u2028", `\"`} {
		b := AppendJSON(nil, Sample{Metric: l, Labels: L(l, l), Unit: l, Value: Float(math.Inf(1))})
		if !json.Valid(b) {
			t.Errorf("invalid JSON for %q: %s", l, b)
		}
	}
}

func TestValueConversions(t *testing.T) {
	for _, tc := range []struct {
		v    Value
		kind Kind
		text string
		f    float64
	}{
		{Float(1.5), KindFloat, "1.5", 1.5},
		{Uint(1 << 63), KindUint, "9223372036854775808", 9223372036854775808},
		{Int(-7), KindInt, "-7", -7},
		{Bool(true), KindBool, "true", 1},
	} {
		if tc.v.Kind() != tc.kind || tc.v.String() != tc.text || tc.v.Float() != tc.f {
			t.Errorf("%v: kind %v text %q float %v", tc.v, tc.v.Kind(), tc.v.String(), tc.v.Float())
		}
	}
}

func TestSeriesName(t *testing.T) {
	s := Sample{Metric: "m", Labels: L("b", "2", "a", `x"y`)}
	if got, want := s.Series(), `m{a="x\"y",b="2"}`; got != want {
		t.Errorf("Series() = %s, want %s", got, want)
	}
}

func TestCatalogueComplete(t *testing.T) {
	for _, name := range []string{TemperatureCelsius, IfInErrors, IfOutErrors, IfInDiscards, IfFCSErrors, IfOperUp, CPUThrottleCount} {
		if _, ok := Lookup(name); !ok {
			t.Errorf("%s missing from Catalogue", name)
		}
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	s := goldenSamples()[2]
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendJSON(buf[:0], s)
	}
}
