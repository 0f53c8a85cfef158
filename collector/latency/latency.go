// Package latency defines where the collector reads a server's latency. A
// Source answers for one server; the collector asks its sources in order
// and takes the first with enough requests behind its answer. HAProxy's
// `show stat` averages (collector/lbwatch) and its request log
// (collector/haplog, percentiles) are sources; another one — a Prometheus
// query, an MQTT latency topic — is one more type with these methods.
package latency

import "time"

// Reading is a server's latency over the recent requests.
type Reading struct {
	Latency time.Duration
	// Samples is the number of requests the value stands for.
	Samples int
	At      time.Time
}

// Source gives per-server latency.
type Source interface {
	Name() string
	Latency(lb, backend, server string) (Reading, bool)
}

// BackendSource also gives a backend's p99, for verifying that a shed
// helped the users of the whole backend.
type BackendSource interface {
	BackendP99(lb, backend string) (time.Duration, bool)
}

// First returns the reading of the first source with at least min samples,
// or the best-backed one when none has enough.
func First(sources []Source, min int, lb, backend, server string) (Reading, bool) {
	var best Reading
	found := false
	for _, s := range sources {
		r, ok := s.Latency(lb, backend, server)
		if !ok {
			continue
		}
		if r.Samples >= min {
			return r, true
		}
		if !found || r.Samples > best.Samples {
			best, found = r, true
		}
	}
	return best, found
}
