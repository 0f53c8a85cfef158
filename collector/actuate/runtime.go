package actuate

import (
	"context"

	"github.com/rackwatch/rackwatch/collector/haproxy"
)

// Runtime is one HAProxy's runtime API as the HAProxy actuator uses it:
// the two commands that set a server's state and weight, `show info` to
// notice restarts, and `show servers state` for each server's
// administrative state and raw weights. *haproxy.Client implements it;
// tests use fakes.
type Runtime interface {
	SetServerState(ctx context.Context, backend, server string, state haproxy.State) error
	SetWeight(ctx context.Context, backend, server string, pct int) error
	ShowServersState(ctx context.Context) ([]haproxy.ServerState, error)
	ShowInfo(ctx context.Context) (haproxy.Info, error)
}

var _ Runtime = (*haproxy.Client)(nil)

// observed returns what s shows as an observation.
func observed(s haproxy.ServerState) Observed {
	return Observed{Status: s.Status(), WeightPct: s.WeightPct(), Weight: s.Weight, InitialWeight: s.InitialWeight}
}
