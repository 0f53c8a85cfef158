package influx

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/sample"
)

// BenchmarkInfluxDBWrite measures the points per second that a Sink gets
// acknowledged by a real influxd 1.8 on loopback: the clock runs from the
// first WriteSample until Close returns, which is once the last batch was
// answered, and the points are then counted back with InfluxQL (the run
// fails unless every one is there). The queue holds all b.N points, so that
// the figure is the writer's and influxd's throughput rather than how fast
// the benchmark loop can fill a queue. Each point is a temperature sample
// of one of 1000 series, with the tags edge, device and sensor, like an
// edge's. Run with -benchtime=500000x (or more): influxd's cost per request
// dominates small runs.
func BenchmarkInfluxDBWrite(b *testing.B) {
	const series = 1000
	for _, bc := range []struct {
		batch int
		gzip  bool
		flush time.Duration
	}{
		{1000, false, time.Second},
		{5000, false, time.Second},
		{10000, false, time.Second},
		{20000, false, time.Second},
		{5000, true, time.Second},
		{10000, true, time.Second},
	} {
		b.Run(fmt.Sprintf("batch=%d/gzip=%t", bc.batch, bc.gzip), func(b *testing.B) {
			// A fresh influxd for each run: the compactions of an earlier
			// run's data would take CPU from this one.
			influx := testrig.StartInfluxDB(b)
			const db = "bench"
			influx.CreateDatabase(b, db)
			samples := make([]sample.Sample, b.N)
			labels := make([]sample.Labels, series)
			for i := range labels {
				labels[i] = sample.L("sensor", "inlet-"+strconv.Itoa(i))
			}
			base := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
			for i := range samples {
				samples[i] = sample.Sample{Metric: sample.TemperatureCelsius, Labels: labels[i%series],
					Value: sample.Float(20 + float64(i%200)/10), Unit: "celsius", TS: base.Add(time.Duration(i/series) * time.Second)}
			}
			s, err := New(&Opts{URL: influx.URL, Database: db, BatchSize: uint(bc.batch), FlushInterval: bc.flush,
				Gzip: bc.gzip, QueueSize: b.N, Timeout: time.Minute})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := range samples {
				s.WriteSample("edge-r12", "tmp102-48", samples[i])
			}
			s.Close()
			elapsed := time.Since(start)
			b.StopTimer()
			if st := s.Stats(); st.Dropped != 0 || st.Errors != 0 || st.RetryDropped != 0 {
				b.Fatalf("Stats() = %+v, want no drops or errors", st)
			}
			if got := countPoints(b, influx, db); got != int64(b.N) {
				b.Fatalf("%d points read back, want %d", got, b.N)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "points/s")
		})
	}
}

// countPoints returns the number of temperature_celsius points in db.
func countPoints(b *testing.B, influx *testrig.InfluxDB, db string) int64 {
	b.Helper()
	var r struct {
		Results []struct {
			Series []struct {
				Values [][]any `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	raw := influx.Query(b, db, `SELECT count("value") FROM "temperature_celsius"`)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		b.Fatalf("decode %s: %v", raw, err)
	}
	if len(r.Results) == 0 || len(r.Results[0].Series) == 0 || len(r.Results[0].Series[0].Values) == 0 {
		return 0
	}
	// values: [[time, count]]
	n, ok := r.Results[0].Series[0].Values[0][1].(json.Number)
	if !ok {
		b.Fatalf("count in %s is not a number", raw)
	}
	c, err := n.Int64()
	if err != nil {
		b.Fatal(err)
	}
	return c
}
