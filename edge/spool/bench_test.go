package spool

import (
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/edge/sample"
)

// batch is a typical record: ten sensors read at one instant.
func batch(first uint64) Record {
	r := Record{Device: "rack12", First: first, Samples: make([]sample.Sample, 10)}
	ts := epoch.Add(time.Duration(first) * time.Second)
	for i := range r.Samples {
		r.Samples[i] = sample.Sample{
			Metric: sample.TemperatureCelsius, Labels: sample.L("sensor", "tmp102@0x4"+string(rune('0'+i))),
			Value: sample.Float(21.5 + float64(i)), Unit: "celsius", TS: ts,
		}
	}
	return r
}

func report(b *testing.B, records int) {
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(records*10)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkAppend measures Append alone: encoding and queueing in memory.
func BenchmarkAppend(b *testing.B) {
	o := testOpts()
	o.MemBytes = 1 << 30
	s := open(b, b.TempDir(), o)
	r := batch(0)
	b.SetBytes(int64(frameLen(r)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.First = uint64(i) * 10
		if err := s.Append(r); err != nil {
			b.Fatal(err)
		}
		if i%8192 == 8191 { // keep memory flat, outside the measurement
			b.StopTimer()
			s.mu.Lock()
			s.pending, s.pendingBytes, s.pendingSamples = s.pending[:0], 0, 0
			s.mu.Unlock()
			b.StartTimer()
		}
	}
	report(b, b.N)
}

// BenchmarkAppendDurable measures Append with the records written and
// synced, one flush per 100 records, as while the broker is away.
func BenchmarkAppendDurable(b *testing.B) {
	o := testOpts()
	o.MaxBytes = 1 << 30
	s := open(b, b.TempDir(), o)
	r := batch(0)
	b.SetBytes(int64(frameLen(r)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.First = uint64(i) * 10
		if err := s.Append(r); err != nil {
			b.Fatal(err)
		}
		if i%100 == 99 {
			if err := s.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
	report(b, b.N)
}

// BenchmarkOnline measures the path while connected: Append, Peek and Ack
// of each record before any flush, which never touches the disk.
func BenchmarkOnline(b *testing.B) {
	s := open(b, b.TempDir(), testOpts())
	r := batch(0)
	b.SetBytes(int64(frameLen(r)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.First = uint64(i) * 10
		if err := s.Append(r); err != nil {
			b.Fatal(err)
		}
		got, err := s.Peek(1)
		if err != nil || len(got) != 1 {
			b.Fatal(len(got), err)
		}
		if err := s.Ack(got[0].End()); err != nil {
			b.Fatal(err)
		}
	}
	report(b, b.N)
}

// BenchmarkReplay measures draining a backlog from disk after a restart:
// Open, then Peek and Ack 256 records at a time.
func BenchmarkReplay(b *testing.B) {
	const n = 20000
	dir := b.TempDir()
	o := testOpts()
	o.MaxBytes = 1 << 30
	s, err := Open(dir, o)
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		if err := s.Append(batch(uint64(i) * 10)); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			if err := s.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(frameLen(batch(0))) * n)
	b.ReportAllocs()
	for b.Loop() {
		s, err := Open(dir, o)
		if err != nil {
			b.Fatal(err)
		}
		got := 0
		for {
			rs, err := s.Peek(256)
			if err != nil {
				b.Fatal(err)
			}
			if len(rs) == 0 {
				break
			}
			got += len(rs)
			if err := s.Ack(rs[len(rs)-1].End()); err != nil {
				b.Fatal(err)
			}
		}
		if got != n {
			b.Fatalf("replayed %d records, want %d", got, n)
		}
		s.crash() // nothing saved: the next iteration replays the same
	}
	report(b, n*b.N)
}
