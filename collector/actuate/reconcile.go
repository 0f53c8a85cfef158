package actuate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rackwatch/rackwatch/collector/decide"
)

// Opts configures a Reconciler.
type Opts struct {
	// Actuators carry out the desired state; each target goes to all of
	// them (those that do not serve it answer ErrNotHandled). Required.
	Actuators []Actuator
	// Desired returns the state the engine wants now (Engine.Desired). It
	// is called from Run's goroutine, so it must be safe to call while
	// the decision loop runs the engine: typically it returns a copy the
	// decision loop publishes. The decision loop must publish a new
	// desired state before it calls Apply for the decisions that changed
	// it (Evaluate, publish, Apply, and publish again after Engine.Failed),
	// so that a pass never works from a state older than an Apply it did
	// not see. Required.
	Desired func() map[decide.Target]decide.Desired
	// Interval is the time between passes; zero means 30s. Poke starts
	// one at once.
	Interval time.Duration
	// Refresh re-applies the desired state through actuators that cannot
	// observe it (webhook, Sparkplug commands) this long after their last
	// apply, renewing commands that expire; zero never does.
	Refresh time.Duration
	// OnApply, when set, is called for each apply, successful or not, in
	// the goroutine that made it; it must not block.
	OnApply func(Event)
	Logger  *slog.Logger
	Now     func() time.Time
}

// Reason says why an apply was made.
type Reason string

// Apply reasons.
const (
	// ReasonExplicit: Reconciler.Apply, for a decision.
	ReasonExplicit Reason = "explicit"
	// ReasonPending: desired but never carried out by this process (a
	// decision not applied yet, or a collector restart).
	ReasonPending Reason = "not_applied"
	// ReasonRetry: the last apply of this state failed.
	ReasonRetry Reason = "retry"
	// ReasonRestart: the load balancer restarted and lost the state.
	ReasonRestart Reason = "lb_restarted"
	// ReasonRefresh: renewal through an actuator that cannot observe.
	ReasonRefresh Reason = "refresh"
)

// Event is one apply.
type Event struct {
	At       time.Time
	Actuator string
	Target   decide.Target
	Desired  decide.Desired
	Reason   Reason
	// Observed is what the actuator showed before, when it could tell.
	Observed *Observed
	Err      error
}

// Divergence is a target whose load balancer shows something else than
// the desired state without having restarted: someone else changed it.
// The reconciler reports it once and does not re-apply, so it never fights
// an operator; the engine sees the change and stands back.
type Divergence struct {
	Actuator string
	Target   decide.Target
	Desired  decide.Desired
	Observed Observed
}

// Report is what one pass did.
type Report struct {
	Events        []Event
	Divergences   []Divergence
	ObserveErrors []error
}

// Stats count the reconciler's work since it was made.
type Stats struct {
	Passes        uint64
	Applied       uint64 // successful applies made by the loop, any reason
	Reapplied     uint64 // of which after a load-balancer restart
	Refreshed     uint64 // of which renewals
	Explicit      uint64 // successful Apply calls, per actuator
	Failed        uint64 // failed applies, loop and explicit
	Diverged      uint64 // divergences reported
	ObserveFailed uint64 // Observe calls that returned an error
}

// record is what the reconciler knows of one target at one actuator.
type record struct {
	d        decide.Desired
	ok       bool      // d was carried out (or observed in place)
	at       time.Time // last apply attempt
	gen      uint64    // explicit-apply generation that wrote the record
	lost     bool      // a restart was seen and the state not yet confirmed since
	diverged bool      // the current divergence has been reported
}

// Reconciler keeps the load balancers in the engine's desired state.
type Reconciler struct {
	opts Opts
	poke chan struct{}

	// applyMu orders actuator calls between a pass and Apply, so that a
	// pass working from an older snapshot cannot undo a newer decision.
	applyMu sync.Mutex

	mu   sync.Mutex
	gen  uint64
	recs []map[decide.Target]*record // per actuator

	passes, applied, reapplied, refreshed, explicit, failed, diverged, observeFailed atomic.Uint64
}

// New returns a Reconciler; Run starts it.
func New(opts Opts) (*Reconciler, error) {
	if len(opts.Actuators) == 0 {
		return nil, errors.New("actuate: reconciler: no actuators")
	}
	for i, a := range opts.Actuators {
		if a == nil {
			return nil, fmt.Errorf("actuate: reconciler: actuator %d is nil", i)
		}
	}
	if opts.Desired == nil {
		return nil, errors.New("actuate: reconciler: no Desired function")
	}
	if opts.Interval <= 0 {
		opts.Interval = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Reconciler{opts: opts, poke: make(chan struct{}, 1), recs: make([]map[decide.Target]*record, len(opts.Actuators))}
	for i := range r.recs {
		r.recs[i] = map[decide.Target]*record{}
	}
	return r, nil
}

// Stats returns the counters.
func (r *Reconciler) Stats() Stats {
	return Stats{Passes: r.passes.Load(), Applied: r.applied.Load(), Reapplied: r.reapplied.Load(),
		Refreshed: r.refreshed.Load(), Explicit: r.explicit.Load(), Failed: r.failed.Load(),
		Diverged: r.diverged.Load(), ObserveFailed: r.observeFailed.Load()}
}

// Poke asks for a pass now; it never blocks.
func (r *Reconciler) Poke() {
	select {
	case r.poke <- struct{}{}:
	default:
	}
}

// Run makes a pass at once, then every Interval and on Poke, until ctx
// ends; it returns nil then.
func (r *Reconciler) Run(ctx context.Context) error {
	tick := time.NewTicker(r.opts.Interval)
	defer tick.Stop()
	for {
		r.Reconcile(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-r.poke:
		}
	}
}

// Apply puts d in effect for t now through every actuator, and records it
// so the loop does not repeat it. It is how the decision loop carries out
// a decision, a restore to full service included: targets at full service
// are not in Engine.Desired, so the loop never applies them itself. A
// pass that started before Apply and reaches t after it leaves t alone.
// The decision may be attached to ctx with WithDecision. It returns the
// actuators' errors joined, or an error if none serves t.
func (r *Reconciler) Apply(ctx context.Context, t decide.Target, d decide.Desired) error {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	r.mu.Lock()
	r.gen++
	gen := r.gen
	r.mu.Unlock()
	var errs []error
	handled := false
	for i, a := range r.opts.Actuators {
		err := a.Apply(ctx, t, d)
		if errors.Is(err, ErrNotHandled) {
			continue
		}
		handled = true
		now := r.opts.Now()
		r.mu.Lock()
		r.recs[i][t] = &record{d: d, ok: err == nil, at: now, gen: gen}
		r.mu.Unlock()
		if err != nil {
			r.failed.Add(1)
			errs = append(errs, err)
		} else {
			r.explicit.Add(1)
		}
		r.emit(Event{At: now, Actuator: a.Name(), Target: t, Desired: d, Reason: ReasonExplicit, Err: err})
	}
	if !handled {
		return fmt.Errorf("actuate: no actuator serves %s (lb %s, %s/%s)", t.Node, t.LB, t.Backend, t.Server)
	}
	return errors.Join(errs...)
}

func (r *Reconciler) emit(e Event) {
	if r.opts.OnApply != nil {
		r.opts.OnApply(e)
	}
}

// Reconcile makes one pass: for each actuator and each desired target, it
// applies what was never carried out or last failed, re-applies what an
// observed load-balancer restart lost, and renews what cannot be observed
// once Refresh has passed. It returns what it did.
func (r *Reconciler) Reconcile(ctx context.Context) Report {
	r.passes.Add(1)
	r.mu.Lock()
	startGen := r.gen
	r.mu.Unlock()
	desired := r.opts.Desired()
	targets := make([]decide.Target, 0, len(desired))
	for t := range desired {
		targets = append(targets, t)
	}
	slices.SortFunc(targets, func(a, b decide.Target) int {
		return cmp.Or(cmp.Compare(a.Node, b.Node), cmp.Compare(a.LB, b.LB),
			cmp.Compare(a.Backend, b.Backend), cmp.Compare(a.Server, b.Server))
	})
	var rep Report
	for i, a := range r.opts.Actuators {
		if ctx.Err() != nil {
			break
		}
		r.pass(ctx, i, a, targets, desired, startGen, &rep)
	}
	// Forget what is no longer desired, unless an Apply wrote it since
	// the snapshot was taken.
	r.mu.Lock()
	for i := range r.recs {
		for t, rec := range r.recs[i] {
			if _, ok := desired[t]; !ok && rec.gen <= startGen {
				delete(r.recs[i], t)
			}
		}
	}
	r.mu.Unlock()
	return rep
}

func (r *Reconciler) pass(ctx context.Context, i int, a Actuator, targets []decide.Target, desired map[decide.Target]decide.Desired, startGen uint64, rep *Report) {
	obsr, canObserve := a.(Observer)
	var obs map[decide.Target]Observed
	if canObserve && len(targets) > 0 {
		var err error
		obs, err = obsr.Observe(ctx, targets)
		if err != nil {
			r.observeFailed.Add(1)
			rep.ObserveErrors = append(rep.ObserveErrors, err)
			r.opts.Logger.Warn("cannot observe the load-balancer state", "actuator", a.Name(), "err", err)
		}
	}
	for _, t := range targets {
		if ctx.Err() != nil {
			return
		}
		d := desired[t]
		o, observed := obs[t]
		reason, skip := r.judge(i, a, t, d, o, observed, canObserve, startGen, rep)
		if skip {
			continue
		}
		if e, ok := r.reapply(ctx, i, a, t, d, reason, o, observed, startGen); ok {
			rep.Events = append(rep.Events, e)
		}
	}
}

// reapply applies d for t at actuator i on the loop's behalf; ok is false
// when nothing was applied.
func (r *Reconciler) reapply(ctx context.Context, i int, a Actuator, t decide.Target, d decide.Desired, reason Reason, o Observed, observed bool, startGen uint64) (Event, bool) {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	r.mu.Lock()
	rec := r.recs[i][t]
	superseded := rec != nil && rec.gen > startGen
	r.mu.Unlock()
	if superseded {
		return Event{}, false // an Apply got in while this pass waited
	}
	err := a.Apply(ctx, t, d)
	if errors.Is(err, ErrNotHandled) {
		r.mu.Lock()
		r.recs[i][t] = &record{d: d, ok: true, at: r.opts.Now(), gen: startGen}
		r.mu.Unlock()
		return Event{}, false
	}
	now := r.opts.Now()
	e := Event{At: now, Actuator: a.Name(), Target: t, Desired: d, Reason: reason, Err: err}
	if observed {
		e.Observed = &o
	}
	nrec := &record{d: d, ok: err == nil, at: now, gen: startGen}
	if err != nil && rec != nil && rec.d == d {
		nrec.lost = rec.lost // still lost until an apply succeeds
	}
	r.mu.Lock()
	r.recs[i][t] = nrec
	r.mu.Unlock()
	log := r.opts.Logger.With("actuator", a.Name(), "reason", string(reason), "node", t.Node, "lb", t.LB,
		"backend", t.Backend, "server", t.Server, "desired", d.String())
	if observed {
		log = log.With("observed", o.String())
	}
	if err != nil {
		r.failed.Add(1)
		log.Warn("could not apply the desired state", "err", err)
	} else {
		r.applied.Add(1)
		switch reason {
		case ReasonRestart:
			r.reapplied.Add(1)
		case ReasonRefresh:
			r.refreshed.Add(1)
		}
		log.Info("applied the desired state")
	}
	r.emit(e)
	return e, true
}

// judge decides whether t needs an apply at actuator i, and updates what
// an observation tells without one.
func (r *Reconciler) judge(i int, a Actuator, t decide.Target, d decide.Desired, o Observed, observed, canObserve bool, startGen uint64, rep *Report) (Reason, bool) {
	now := r.opts.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.recs[i][t]
	if rec != nil && rec.gen > startGen {
		return "", true // an Apply since the snapshot is newer than d
	}
	if observed {
		if rec != nil && o.Restarted {
			rec.lost = true
		}
		if o.Satisfies(d) {
			// In place, whoever put it there: nothing to send.
			r.recs[i][t] = &record{d: d, ok: true, at: now, gen: startGen}
			if rec != nil {
				r.recs[i][t].at = rec.at
			}
			return "", true
		}
	}
	switch {
	case rec == nil || rec.d != d:
		return ReasonPending, false
	case !rec.ok:
		return ReasonRetry, false
	case observed && rec.lost:
		return ReasonRestart, false
	case observed:
		if !rec.diverged {
			rec.diverged = true
			r.diverged.Add(1)
			rep.Divergences = append(rep.Divergences, Divergence{Actuator: a.Name(), Target: t, Desired: d, Observed: o})
			r.opts.Logger.Warn("load balancer differs from the desired state without a restart: left alone, the engine treats it as an operator's change",
				"actuator", a.Name(), "node", t.Node, "lb", t.LB, "backend", t.Backend, "server", t.Server,
				"desired", d.String(), "observed", o.String())
		}
		return "", true
	case !canObserve && r.opts.Refresh > 0 && now.Sub(rec.at) >= r.opts.Refresh:
		return ReasonRefresh, false
	}
	return "", true
}
