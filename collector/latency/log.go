package latency

import (
	"time"

	"github.com/rackwatch/rackwatch/collector/haplog"
)

// Log is the request-log source: the server's p95 over the log window.
// HAProxy logs name backend and server, not the instance, so every
// instance logging to one listener must use distinct backend names, or
// each its own listener.
type Log struct{ L *haplog.Listener }

// Name implements Source.
func (Log) Name() string { return "haproxy-log" }

// Latency implements Source.
func (s Log) Latency(_, backend, server string) (Reading, bool) {
	st, ok := s.L.Server(backend, server)
	if !ok || st.Requests == 0 {
		return Reading{}, false
	}
	return Reading{Latency: st.P95, Samples: int(st.Requests)}, true
}

// BackendP99 implements BackendSource.
func (s Log) BackendP99(_, backend string) (time.Duration, bool) {
	st, ok := s.L.Backend(backend)
	if !ok || st.Requests == 0 {
		return 0, false
	}
	return st.P99, true
}
