package spool

import (
	"bytes"
	"encoding/hex"
	"math"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/edge/sample"
)

func TestRecordEncodingIsExact(t *testing.T) {
	t.Parallel()
	ts := time.Date(2025, 11, 26, 12, 0, 0, 123456789, time.UTC)
	tests := []struct {
		name string
		s    []sample.Sample
	}{
		{"uint64 beyond float precision", []sample.Sample{
			{Metric: sample.IfInErrors, Labels: sample.L("ifname", "Gi1/0/1"), Value: sample.Uint(math.MaxUint64), Unit: "packets", TS: ts},
			{Metric: sample.IfInErrors, Labels: sample.L("ifname", "Gi1/0/2"), Value: sample.Uint(1<<53 + 1), Unit: "packets", TS: ts},
			{Metric: sample.IfInErrors, Labels: sample.L("ifname", "Gi1/0/3"), Value: sample.Uint(0), Unit: "packets", TS: ts},
		}},
		{"signed extremes", []sample.Sample{
			{Metric: "m", Value: sample.Int(math.MinInt64), TS: ts},
			{Metric: "m", Value: sample.Int(math.MaxInt64), TS: ts},
			{Metric: "m", Value: sample.Int(-1), TS: ts},
		}},
		{"float bits", []sample.Sample{
			{Metric: "f", Value: sample.Float(math.Copysign(0, -1)), TS: ts},
			{Metric: "f", Value: sample.Float(math.Inf(-1)), TS: ts},
			{Metric: "f", Value: sample.Float(math.Float64frombits(0x7ff8_0000_dead_beef)), TS: ts}, // a NaN with a payload
			{Metric: "f", Value: sample.Float(math.SmallestNonzeroFloat64), TS: ts},
			{Metric: "f", Value: sample.Float(23.4375), TS: ts},
		}},
		{"bools and the invalid value", []sample.Sample{
			{Metric: sample.IfOperUp, Value: sample.Bool(true), TS: ts},
			{Metric: sample.IfOperUp, Value: sample.Bool(false), TS: ts},
			{Metric: "unset", Value: sample.Value{}, TS: ts},
		}},
		{"timestamps", []sample.Sample{
			{Metric: "t", Value: sample.Uint(1), TS: time.Time{}},
			{Metric: "t", Value: sample.Uint(1), TS: time.Unix(-1, 999999999)},
			{Metric: "t", Value: sample.Uint(1), TS: time.Unix(1<<40, 1)},
			{Metric: "t", Value: sample.Uint(1), TS: ts.In(time.FixedZone("CET", 3600))},
			{Metric: "t", Value: sample.Uint(1), TS: ts.Add(-time.Nanosecond)},
		}},
		{"strings", []sample.Sample{
			{Metric: "", Labels: sample.L("", ""), Value: sample.Uint(1), Unit: "", TS: ts},
			{Metric: "température", Labels: sample.L("capteur", "entrée \"A\"\n", "z", "\x00\xff"), Value: sample.Uint(2), Unit: "°C", TS: ts},
			{Metric: "température", Labels: sample.L("capteur", "entrée \"A\"\n", "z", "\x00\xff"), Value: sample.Uint(3), Unit: "°C", TS: ts},
		}},
		{"many labels, shared names", []sample.Sample{
			{Metric: sample.Voltage, Labels: sample.L("sensor", "ina219@0x40", "channel", "bus", "rack", "r12", "unit", "u7"), Value: sample.Float(11.98), Unit: "volts", TS: ts},
			{Metric: sample.Voltage, Labels: sample.L("sensor", "ina219@0x40", "channel", "shunt"), Value: sample.Float(0.01), Unit: "volts", TS: ts},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := Record{Device: "rack12-pdu", First: math.MaxUint64 - uint64(len(tt.s)), Samples: tt.s}
			var e encoder
			f := e.frame(&in)
			var d decoder
			var out Record
			if _, _, err := d.decode(f[frameHeader:], &out, true); err != nil {
				t.Fatalf("decode: %v (frame %s)", err, hex.EncodeToString(f))
			}
			if diff := diffRecord(out, in); diff != "" {
				t.Fatal(diff)
			}
			for i := range out.Samples {
				g, w := out.Samples[i].Value, in.Samples[i].Value
				if g.Kind() == sample.KindFloat && math.Float64bits(g.Float()) != math.Float64bits(w.Float()) {
					t.Errorf("sample %d: float bits %#x, want %#x", i, math.Float64bits(g.Float()), math.Float64bits(w.Float()))
				}
			}
			if first, n, err := d.check(f[frameHeader:]); err != nil || first != in.First || n != len(in.Samples) {
				t.Errorf("check = %d, %d, %v; want %d, %d, nil", first, n, err, in.First, len(in.Samples))
			}
		})
	}
}

// TestEncodingIsCompact pins the size of a typical batch: ten temperature
// sensors read at one instant. Names and units repeat and cost a byte each
// after their first use; the distinct sensor labels and the float values
// make up most of the rest. The write rate in doc.go follows from it.
func TestEncodingIsCompact(t *testing.T) {
	t.Parallel()
	ts := time.Date(2025, 11, 26, 12, 0, 0, 0, time.UTC)
	r := Record{Device: "rack12", First: 1 << 30}
	for i := range 10 {
		r.Samples = append(r.Samples, sample.Sample{
			Metric: sample.TemperatureCelsius, Labels: sample.L("sensor", "tmp102@0x4"+string(rune('0'+i))),
			Value: sample.Float(21.5 + float64(i)), Unit: "celsius", TS: ts,
		})
	}
	var e encoder
	n := len(e.frame(&r))
	t.Logf("10 temperature samples: %d bytes, %.1f per sample", n, float64(n)/10)
	if n > 340 {
		t.Errorf("10 samples take %d bytes, want at most 340", n)
	}
}

func TestDecodeRejectsDamage(t *testing.T) {
	t.Parallel()
	var e encoder
	r := rec(7, 4)
	p := bytes.Clone(e.frame(&r)[frameHeader:])
	var d decoder
	var out Record
	// Every strict prefix is malformed.
	for n := range len(p) {
		if _, _, err := d.decode(p[:n], &out, true); err == nil {
			t.Errorf("prefix of %d/%d bytes decoded", n, len(p))
		}
	}
	tests := []struct {
		name string
		p    []byte
	}{
		{"trailing byte", append(bytes.Clone(p), 0)},
		{"no samples", []byte{7, 0, 0, 0}},
		{"sample count beyond the payload", []byte{7, 0, 0x80, 0x80, 0x04, 0}},
		{"label count beyond the payload", []byte{7, 0, 1, 0xff, 0x7f, 0, 0, 0, 0, 0, 0}},
		{"string reference to nothing", []byte{7, 0, 1, 0, 3, 0, 1, 0, 0, 0}},
		{"bad value kind", []byte{7, 0, 1, 0, 0, 0, 0, 9, 0, 0}},
		{"bad bool", []byte{7, 0, 1, 0, 0, 0, 0, valBool, 2, 0, 0}},
		{"nanoseconds out of range", []byte{7, 0, 1, 0, 0, 0, 0, valInvalid, 0, 0x80, 0xa8, 0xd6, 0xb9, 0x07}},
		{"numbers wrap", append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 0, 1, 0, 0, 0, 0, valInvalid, 0, 0)},
	}
	for _, tt := range tests {
		if _, _, err := d.decode(tt.p, &out, true); err == nil {
			t.Errorf("%s: decoded", tt.name)
		}
	}
	// The smallest valid payload, to show the cases above fail for the
	// reason they name.
	if _, _, err := d.decode([]byte{7, 0, 1, 0, 0, 0, 0, valInvalid, 0, 0}, &out, true); err != nil {
		t.Errorf("minimal payload: %v", err)
	}
}
