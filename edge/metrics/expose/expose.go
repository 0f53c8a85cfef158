// Package expose is the Prometheus plumbing the edge's and the collector's
// /metrics share: a private registry with the Go runtime and process
// collectors, a handler with bounded scrapes, and constant metrics, which
// collectors build at each scrape from the snapshots the running parts
// already keep.
package expose

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// At most maxInFlight scrapes gather at once (more are answered 503 at
// once), each for at most gatherTimeout, so a scrape storm costs a bounded
// amount of memory and CPU.
const (
	maxInFlight   = 2
	gatherTimeout = 10 * time.Second
)

// NewRegistry returns a private registry (never the global default, so
// nothing a library registers on its own is exposed) holding cs and the Go
// runtime and process collectors.
func NewRegistry(cs ...prometheus.Collector) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	cs = append(cs, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	return reg, nil
}

// Handler serves reg in the Prometheus text exposition format at any path
// it is mounted on. Errors from a collector are logged and the rest is
// still served.
func Handler(reg *prometheus.Registry, log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: maxInFlight,
		Timeout:             gatherTimeout,
	})
}

// Counter sends the counter d with value v.
func Counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

// Gauge sends the gauge d with value v.
func Gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

// Bit is a flag as a gauge value: 1 for true.
func Bit(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
