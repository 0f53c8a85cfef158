package spool

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/edge/sample"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// testOpts flush only when told, so tests decide what is on disk.
func testOpts() Opts {
	return Opts{FlushInterval: -1, Logger: quiet}
}

func open(t testing.TB, dir string, o Opts) *Spool {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quiet
	}
	s, err := Open(dir, o)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// crash abandons the spool as a killed process would: nothing more is
// written, the lock is released.
func (s *Spool) crash() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	s.ioMu.Lock()
	defer s.ioMu.Unlock()
	s.closeFiles()
}

var epoch = time.Date(2025, 11, 26, 12, 0, 0, 0, time.UTC)

// rec builds a record of n samples numbered from first whose content is a
// function of the sample number, so any record can be checked on its own.
func rec(first uint64, n int) Record {
	r := Record{Device: fmt.Sprintf("dev%d", first%3), First: first, Samples: make([]sample.Sample, n)}
	for i := range r.Samples {
		num := first + uint64(i)
		var v sample.Value
		switch num % 4 {
		case 0:
			v = sample.Float(float64(num) / 7)
		case 1:
			v = sample.Uint(math.MaxUint64 - num)
		case 2:
			v = sample.Int(-int64(num))
		case 3:
			v = sample.Bool(num%8 == 3)
		}
		r.Samples[i] = sample.Sample{
			Metric: sample.TemperatureCelsius,
			Labels: sample.L("sensor", fmt.Sprintf("s%d", num%5), "channel", "a"),
			Value:  v,
			Unit:   "celsius",
			TS:     epoch.Add(time.Duration(num) * 1234567 * time.Nanosecond),
		}
	}
	return r
}

// recs builds count records of n samples each, numbered from first.
func recs(first uint64, count, n int) []Record {
	var out []Record
	for i := range count {
		out = append(out, rec(first+uint64(i*n), n))
	}
	return out
}

func appendAll(t testing.TB, s *Spool, rs []Record) {
	t.Helper()
	for _, r := range rs {
		if err := s.Append(r); err != nil {
			t.Fatalf("Append(%d): %v", r.First, err)
		}
	}
}

// peekAll returns every pending record without acknowledging any.
func peekAll(t testing.TB, s *Spool) []Record {
	t.Helper()
	rs, err := s.Peek(math.MaxInt32)
	if err != nil {
		t.Fatalf("Peek: %v", err)
	}
	return rs
}

// diffRecords describes the first difference between got and want, or "".
// Replayed is compared too.
func diffRecords(got, want []Record) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d records %s, want %d %s", len(got), firsts(got), len(want), firsts(want))
	}
	for i := range got {
		if d := diffRecord(got[i], want[i]); d != "" {
			return fmt.Sprintf("record %d: %s", i, d)
		}
		if got[i].Replayed != want[i].Replayed {
			return fmt.Sprintf("record %d (first %d): Replayed %v, want %v", i, got[i].First, got[i].Replayed, want[i].Replayed)
		}
	}
	return ""
}

func diffRecord(g, w Record) string {
	if g.Device != w.Device || g.First != w.First || len(g.Samples) != len(w.Samples) {
		return fmt.Sprintf("got %q first %d n %d, want %q first %d n %d", g.Device, g.First, len(g.Samples), w.Device, w.First, len(w.Samples))
	}
	for j := range g.Samples {
		if d := diffSample(g.Samples[j], w.Samples[j]); d != "" {
			return fmt.Sprintf("first %d sample %d: %s", g.First, j, d)
		}
	}
	return ""
}

func diffSample(g, w sample.Sample) string {
	// Value is compared as a whole: kind and all 64 bits.
	if g.Metric != w.Metric || g.Unit != w.Unit || g.Value != w.Value || !g.TS.Equal(w.TS) ||
		len(g.Labels) != len(w.Labels) || len(g.Labels) > 0 && !slices.Equal(g.Labels, w.Labels) {
		return fmt.Sprintf("got %+v (%s %#x), want %+v (%s %#x)", g, g.Value.Kind(), math.Float64bits(g.Value.Float()), w, w.Value.Kind(), math.Float64bits(w.Value.Float()))
	}
	return ""
}

func firsts(rs []Record) string {
	var b []byte
	for i, r := range rs {
		if i == 12 {
			b = fmt.Appendf(b, " ...(%d)", len(rs))
			break
		}
		b = fmt.Appendf(b, " %d", r.First)
	}
	return "[" + string(b) + " ]"
}

func replayed(rs []Record) []Record {
	out := slices.Clone(rs)
	for i := range out {
		out[i].Replayed = true
	}
	return out
}

func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// frameLen is the encoded size of r on disk.
func frameLen(r Record) int {
	var e encoder
	return len(e.frame(&r))
}
