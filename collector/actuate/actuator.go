package actuate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/collector/haproxy"
)

// Actuator puts a desired load-balancer state in effect for one target.
// Apply is idempotent: applying the same state twice leaves the same
// result, so callers may repeat it freely. An actuator that does not serve
// a target (a load balancer it does not hold, a node without an edge
// responder) returns an error matching ErrNotHandled.
type Actuator interface {
	Name() string
	Apply(ctx context.Context, t decide.Target, d decide.Desired) error
}

// Observer is implemented by actuators that can read back the state they
// set. Observe returns what it could read for targets, and an error
// joining what it could not; a target absent from the map is unknown.
type Observer interface {
	Observe(ctx context.Context, targets []decide.Target) (map[decide.Target]Observed, error)
}

// Observed is the state a load balancer shows for one target.
type Observed struct {
	// Status is the administrative state: "ready", "drain" or "maint".
	Status string `json:"status"`
	// WeightPct is the current weight as a percentage of the initial
	// (configured) weight, rounded.
	WeightPct int `json:"weight_percent"`
	// Restarted is true on the first observation after the load balancer
	// restarted or reloaded, which loses every runtime change.
	Restarted bool `json:"restarted,omitempty"`
	// Weight and InitialWeight are the raw weights (HAProxy's uweight
	// and iweight), when known; zero otherwise.
	Weight        int `json:"weight,omitempty"`
	InitialWeight int `json:"initial_weight,omitempty"`
}

// Observed statuses: HAProxy's administrative states, which the other
// actuators report in the same terms.
const (
	StatusReady = haproxy.StatusReady
	StatusDrain = haproxy.StatusDrain
	StatusMaint = haproxy.StatusMaint
)

// Satisfies reports whether o shows d. A drain is satisfied by the drain
// state whatever the weight: a drained server takes no new traffic, and a
// restore sets the weight before the server returns to ready. Otherwise
// the server must be ready at the weight HAProxy computes for the
// percentage: initial × pct / 100 in integer arithmetic, capped at 256
// (server_parse_weight_change_request in HAProxy's server.c), so that a
// small initial weight, where 50 % of 3 is 1, compares exactly.
func (o Observed) Satisfies(d decide.Desired) bool {
	if d.Drain {
		return o.Status == StatusDrain
	}
	if o.Status != StatusReady {
		return false
	}
	if o.InitialWeight > 0 {
		return o.Weight == expectedWeight(o.InitialWeight, d.Weight)
	}
	diff := o.WeightPct - d.Weight
	return diff >= -1 && diff <= 1
}

func (o Observed) String() string {
	s := o.Status
	if o.Status != StatusDrain && o.Status != StatusMaint {
		s = fmt.Sprintf("%s %d%%", o.Status, o.WeightPct)
	}
	if o.Restarted {
		s += " (after a restart)"
	}
	return s
}

// expectedWeight is the user weight HAProxy sets for "weight pct%".
func expectedWeight(initial, pct int) int {
	if pct > 25600 { // HAProxy clamps before multiplying
		pct = 25600
	}
	return min(initial*pct/100, 256)
}

// ErrNotHandled is returned, wrapped, by an actuator for a target it does
// not serve. The reconciler skips such targets silently.
var ErrNotHandled = errors.New("actuate: target not handled by this actuator")

// validDesired refuses states no level produces, before any command is
// sent. A zero Desired (weight 0, not drained) is one: it is what a
// decision without a load-balancer action carries, and sending it would
// take the server out of rotation by accident.
func validDesired(d decide.Desired) error {
	if d.Weight < 1 || d.Weight > 100 {
		return fmt.Errorf("weight %d%% not in 1-100", d.Weight)
	}
	return nil
}

type decisionKey struct{}

// WithDecision attaches the decision that caused an Apply, for actuators
// that report it (the webhook). Re-applications by the reconcile loop
// carry none.
func WithDecision(ctx context.Context, d decide.Decision) context.Context {
	return context.WithValue(ctx, decisionKey{}, d)
}

// DecisionFrom returns the decision attached by WithDecision.
func DecisionFrom(ctx context.Context) (decide.Decision, bool) {
	d, ok := ctx.Value(decisionKey{}).(decide.Decision)
	return d, ok
}

// Backoff bounds the retries of a transient failure: Attempts tries in
// all, waiting Initial after the first failure and doubling up to Max, with
// ±20 % jitter so that actuators retrying the same peer spread out.
type Backoff struct {
	Attempts int
	Initial  time.Duration
	Max      time.Duration
}

// DefaultBackoff is what a zero Backoff means: four tries within about
// 1.5 s, short enough that a decision tick is not held up for long by a
// load balancer that is down, the reconcile loop retrying later.
var DefaultBackoff = Backoff{Attempts: 4, Initial: 100 * time.Millisecond, Max: time.Second}

func (b Backoff) withDefaults() Backoff {
	if b.Attempts <= 0 {
		b.Attempts = DefaultBackoff.Attempts
	}
	if b.Initial <= 0 {
		b.Initial = DefaultBackoff.Initial
	}
	if b.Max < b.Initial {
		b.Max = max(DefaultBackoff.Max, b.Initial)
	}
	return b
}

// permanentError marks a failure that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// retry calls fn until it succeeds, fails permanently, the attempts run
// out or ctx ends. It returns fn's last error, unwrapped from its
// permanent marker, and the number of retries made.
func retry(ctx context.Context, b Backoff, fn func(ctx context.Context) error) (retries int, err error) {
	b = b.withDefaults()
	wait := b.Initial
	for attempt := 1; ; attempt++ {
		err = fn(ctx)
		if err == nil {
			return retries, nil
		}
		var p *permanentError
		if errors.As(err, &p) {
			return retries, p.err
		}
		if attempt >= b.Attempts || ctx.Err() != nil {
			return retries, err
		}
		d := time.Duration(float64(wait) * (0.8 + 0.4*rand.Float64()))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return retries, fmt.Errorf("%w (retry interrupted: %w)", err, ctx.Err())
		case <-t.C:
		}
		retries++
		wait = min(2*wait, b.Max)
	}
}
