package command

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/rackwatch/rackwatch/edge/sparkplug"
)

// Applier puts the commands of one kind into effect. The edge registers
// one per kind it supports: fan_duty on its fan controllers (FanDuty),
// sensor_enable and poll_period on its sources, lb_state on its
// agent-check responder.
//
// The Manager calls an applier with its own lock held, one call at a time.
type Applier interface {
	// Apply puts c into effect and returns the setting that was in force
	// before it (the prior), in a form Revert understands. It must be
	// idempotent: Restore applies an active override again after a
	// restart. A device or channel the applier does not have is reported
	// by wrapping ErrUnknownTarget.
	Apply(ctx context.Context, c Command) (prior string, err error)
	// Revert ends the override c when it expires, restoring prior, the
	// setting in force before the first override of c's target.
	Revert(ctx context.Context, c Command, prior string) error
}

// ErrUnknownTarget is wrapped by an applier asked for a device or channel
// it does not have; the Manager refuses the command with
// ReasonUnknownTarget rather than counting a failure of the edge.
var ErrUnknownTarget = errors.New("command: no such target on this edge")

// Verifier decides whether a command is authentic, current and new before
// the Manager looks at it: package edge/cmdsign checks its signature,
// validity and counter. Verify returns an *Error with ReasonUnsigned,
// ReasonForged, ReasonExpired or ReasonReplayed for a command to refuse,
// nil for one to handle, and another error when it could not record the
// command's counter: the command is then not applied (Failed), since a
// restart could let it be replayed.
type Verifier interface {
	Verify(c Command) error
}

// Outcome is what the Manager did with a command.
type Outcome int

// Outcomes.
const (
	Applied   Outcome = iota + 1 // put into effect
	Duplicate                    // id already applied to the target: nothing done
	Stale                        // version older than the target's: nothing done
	Expired                      // expires already past: nothing done
	Refused                      // invalid, or not for this edge: see Reason
	Failed                       // valid, but the applier failed: may be resent
)

func (o Outcome) String() string {
	switch o {
	case Applied:
		return "applied"
	case Duplicate:
		return "duplicate"
	case Stale:
		return "stale"
	case Expired:
		return "expired"
	case Refused:
		return "refused"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Result reports the outcome of one command.
type Result struct {
	Outcome Outcome
	Reason  Reason // set for Refused
	Detail  string // for people: why, or the applier's error
	ID      string // empty when the command could not be decoded
	Target  Target
	Version uint64
}

func (r Result) String() string {
	s := r.Outcome.String()
	if r.ID != "" {
		s += fmt.Sprintf(" %s v%d %s", r.ID, r.Version, r.Target)
	}
	if r.Reason != "" {
		s += " (" + string(r.Reason) + ")"
	}
	if r.Detail != "" {
		s += ": " + r.Detail
	}
	return s
}

// TargetState describes one target's desired state, for publication.
type TargetState struct {
	Target    Target
	Version   uint64
	ID        string
	Value     string    // Command.Value of the last command applied
	Expires   time.Time // zero when the override has no end
	AppliedAt time.Time
	// Active is false once the override has expired and been reverted;
	// the version is still remembered, so older commands stay stale.
	Active bool
}

// Counters count outcomes since the Manager was created.
type Counters struct {
	Applied, Duplicate, Stale, Expired, Failed uint64
	// Refused counts refusals by reason, including payloads and metrics
	// that could not be decoded.
	Refused map[Reason]uint64
	// Reverted counts overrides ended at expiry; RevertFailed the attempts
	// that failed and will be retried.
	Reverted, RevertFailed uint64
	// PersistFailed counts state-file writes that failed: the command took
	// effect, but a restart might accept a stale one.
	PersistFailed uint64
}

// Opts configures a Manager.
type Opts struct {
	// StatePath is the file the versions are kept in. Empty keeps them in
	// memory only, which tests may do and an edge must not.
	StatePath string
	// Appliers maps each supported kind to its applier. Commands of other
	// kinds are refused with ReasonUnsupported.
	Appliers map[Kind]Applier
	// Verifier, if set, checks every command before anything else: a
	// refused one is counted under its reason and goes no further. Nil
	// applies commands whether signed or not.
	Verifier Verifier
	// RejectLogEvery spaces the log lines of the Verifier's refusals, per
	// reason, so that a flood of forged commands cannot flood the log;
	// zero means a minute. Every refusal is counted.
	RejectLogEvery time.Duration
	Now            func() time.Time
	// MaxIDs bounds the ids remembered per target for duplicate detection;
	// zero means 16.
	MaxIDs int
	// MaxTargets bounds the targets remembered; zero means 256. Targets
	// are only created by commands an applier accepted, so the bound is
	// reached only by an edge with that many devices.
	MaxTargets int
	// TickEvery is how often Run reverts expired overrides; zero means 1s.
	TickEvery time.Duration
	Logger    *slog.Logger
}

func (o *Opts) setDefaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxIDs <= 0 {
		o.MaxIDs = 16
	}
	if o.MaxTargets <= 0 {
		o.MaxTargets = 256
	}
	if o.TickEvery <= 0 {
		o.TickEvery = time.Second
	}
	if o.RejectLogEvery <= 0 {
		o.RejectLogEvery = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// target is the Manager's memory of one target.
type target struct {
	last      Command  // the last command applied
	ids       []string // ids applied, oldest first, at most MaxIDs; ends with last.ID
	appliedAt time.Time
	active    bool   // the override is in force (not yet reverted)
	prior     string // the setting before the first override, while active
	failing   bool   // the last revert failed; logged once
}

// Manager decides what to do with each command and keeps the applied
// desired state. It is safe for concurrent use; commands are handled one
// at a time, so Handle blocks while an applier works.
//
// The Manager starts no goroutine. Its owner either runs Run under its
// errgroup, or calls Restore once and Tick periodically itself.
type Manager struct {
	opts Opts

	mu       sync.Mutex
	targets  map[Target]*target
	counters Counters
	// rejectLog rate-limits the log lines of the Verifier's refusals:
	// per reason, when the last line was written and how many were not.
	rejectLog map[Reason]*logWindow
}

type logWindow struct {
	last       time.Time
	suppressed uint64
}

// New loads the state file, if any, and returns a Manager. A state file
// that cannot be parsed is an error naming the file: accepting commands
// without the versions it held could apply a stale one.
func New(opts Opts) (*Manager, error) {
	opts.setDefaults()
	m := &Manager{opts: opts, targets: map[Target]*target{}, counters: Counters{Refused: map[Reason]uint64{}}, rejectLog: map[Reason]*logWindow{}}
	if opts.StatePath != "" {
		t, err := load(opts.StatePath, opts.MaxIDs)
		if err != nil {
			return nil, err
		}
		m.targets = t
	}
	return m, nil
}

// HandleMessage parses a message received on an NCMD or DCMD topic and
// handles each command in it. Refusals of undecodable metrics are counted
// and returned as results without an ID.
func (m *Manager) HandleMessage(ctx context.Context, topic sparkplug.Topic, payload []byte) []Result {
	cmds, err := ParseMessage(topic, payload)
	return m.handleParsed(ctx, cmds, err)
}

// HandlePayload is HandleMessage without the topic checks, for a payload
// already known to be an NCMD.
func (m *Manager) HandlePayload(ctx context.Context, payload []byte) []Result {
	cmds, err := Parse(payload)
	return m.handleParsed(ctx, cmds, err)
}

func (m *Manager) handleParsed(ctx context.Context, cmds []Command, err error) []Result {
	var out []Result
	for _, e := range unjoin(err) {
		r := Result{Outcome: Refused, Reason: ReasonOf(e), Detail: e.Error()}
		if r.Reason == "" {
			r.Reason = ReasonMalformed
		}
		m.mu.Lock()
		m.counters.Refused[r.Reason]++
		m.mu.Unlock()
		m.opts.Logger.Warn("command refused", "reason", r.Reason, "err", e)
		out = append(out, r)
	}
	for _, c := range cmds {
		out = append(out, m.Handle(ctx, c))
	}
	return out
}

func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Handle applies c unless it is a duplicate, stale, expired or refused.
func (m *Manager) Handle(ctx context.Context, c Command) Result {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.handle(ctx, c)
	switch r.Outcome {
	case Applied:
		m.counters.Applied++
		m.opts.Logger.Info("command applied", "id", c.ID, "version", c.Version, "target", r.Target, "value", c.Value(), "expires", c.Expires)
	case Duplicate:
		m.counters.Duplicate++
		m.opts.Logger.Debug("duplicate command", "id", c.ID, "target", r.Target)
	case Stale:
		m.counters.Stale++
		m.opts.Logger.Info("stale command", "id", c.ID, "version", c.Version, "target", r.Target, "detail", r.Detail)
	case Expired:
		m.counters.Expired++
		m.opts.Logger.Info("expired command", "id", c.ID, "target", r.Target, "expires", c.Expires)
	case Refused:
		m.counters.Refused[r.Reason]++
		if IsRejection(r.Reason) {
			m.logRejection(c, r)
			break
		}
		m.opts.Logger.Warn("command refused", "id", c.ID, "target", r.Target, "reason", r.Reason, "detail", r.Detail)
	case Failed:
		m.counters.Failed++
		m.opts.Logger.Error("command failed", "id", c.ID, "target", r.Target, "err", r.Detail)
	}
	return r
}

// logRejection logs a refusal of the Verifier, at most once per
// RejectLogEvery and reason, with the number not logged since; the caller
// holds mu.
func (m *Manager) logRejection(c Command, r Result) {
	now := m.opts.Now()
	w := m.rejectLog[r.Reason]
	if w == nil {
		w = &logWindow{}
		m.rejectLog[r.Reason] = w // keyed by the four rejection reasons only
	} else if now.Sub(w.last) < m.opts.RejectLogEvery && !now.Before(w.last) {
		w.suppressed++
		return
	}
	m.opts.Logger.Warn("command rejected", "id", c.ID, "target", r.Target, "reason", r.Reason, "key_id", c.Sig.KeyID,
		"counter", c.Sig.Counter, "detail", r.Detail, "suppressed", w.suppressed)
	w.last, w.suppressed = now, 0
}

func (m *Manager) handle(ctx context.Context, c Command) Result {
	r := Result{ID: c.ID, Target: c.Target(), Version: c.Version}
	if err := c.Validate(); err != nil {
		r.Outcome, r.Reason, r.Detail = Refused, ReasonOf(err), err.Error()
		return r
	}
	// Verified first, so that a forged command is counted as such even
	// when it reuses the id of one applied, and before anything of it is
	// trusted.
	if v := m.opts.Verifier; v != nil {
		if err := v.Verify(c); err != nil {
			if reason := ReasonOf(err); reason != "" {
				r.Outcome, r.Reason, r.Detail = Refused, reason, err.Error()
			} else {
				r.Outcome, r.Detail = Failed, err.Error()
			}
			return r
		}
	}
	t := m.targets[r.Target]
	if t != nil {
		for _, id := range t.ids {
			if id == c.ID {
				r.Outcome = Duplicate
				return r
			}
		}
		if c.Version < t.last.Version {
			r.Outcome, r.Detail = Stale, fmt.Sprintf("target is at version %d", t.last.Version)
			return r
		}
		if c.Version == t.last.Version {
			r.Outcome, r.Detail = Stale, fmt.Sprintf("version %d was already applied as %s", c.Version, t.last.ID)
			return r
		}
	}
	now := m.opts.Now()
	if !c.Expires.IsZero() && !now.Before(c.Expires) {
		r.Outcome = Expired
		return r
	}
	a := m.opts.Appliers[c.Kind]
	if a == nil {
		r.Outcome, r.Reason, r.Detail = Refused, ReasonUnsupported, fmt.Sprintf("this edge does not apply %s", c.Kind)
		return r
	}
	if t == nil && len(m.targets) >= m.opts.MaxTargets {
		r.Outcome, r.Reason, r.Detail = Refused, ReasonTooManyTargets, fmt.Sprintf("%d targets remembered", len(m.targets))
		return r
	}
	prior, err := a.Apply(ctx, c)
	if errors.Is(err, ErrUnknownTarget) {
		r.Outcome, r.Reason, r.Detail = Refused, ReasonUnknownTarget, err.Error()
		return r
	}
	if err != nil {
		r.Outcome, r.Detail = Failed, err.Error()
		return r
	}
	if t == nil {
		t = &target{}
		m.targets[r.Target] = t
	}
	if !t.active {
		// The first override of a chain: what it replaced is what expiry
		// restores. Later overrides replace an override, not the setting.
		t.prior = prior
	}
	t.last, t.appliedAt, t.active, t.failing = c, now, true, false
	t.ids = append(t.ids, c.ID)
	if len(t.ids) > m.opts.MaxIDs {
		t.ids = append(t.ids[:0], t.ids[len(t.ids)-m.opts.MaxIDs:]...)
	}
	r.Outcome = Applied
	if err := m.persist(); err != nil {
		r.Detail = err.Error()
	}
	return r
}

// persist writes the state file; the caller holds mu.
func (m *Manager) persist() error {
	if m.opts.StatePath == "" {
		return nil
	}
	err := save(m.opts.StatePath, m.sorted())
	if err != nil {
		m.counters.PersistFailed++
		m.opts.Logger.Error("saving command state", "path", m.opts.StatePath, "err", err)
	}
	return err
}

func (m *Manager) sorted() []*target {
	out := make([]*target, 0, len(m.targets))
	for _, t := range m.targets {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].last.Target().String() < out[j].last.Target().String() })
	return out
}

// Tick reverts the overrides whose expiry has passed. A revert that fails
// is retried at the next Tick.
func (m *Manager) Tick(ctx context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.Now()
	changed := false
	for _, t := range m.sorted() {
		if !t.active || t.last.Expires.IsZero() || now.Before(t.last.Expires) {
			continue
		}
		if m.revert(ctx, t) {
			changed = true
		}
	}
	if changed {
		_ = m.persist() // counted and logged
	}
}

// revert ends t's override; the caller holds mu.
func (m *Manager) revert(ctx context.Context, t *target) bool {
	c := t.last
	a := m.opts.Appliers[c.Kind]
	var err error
	if a == nil {
		err = fmt.Errorf("command: no applier for %s", c.Kind)
	} else {
		err = a.Revert(ctx, c, t.prior)
	}
	if err != nil {
		m.counters.RevertFailed++
		if !t.failing {
			m.opts.Logger.Error("reverting expired override", "id", c.ID, "target", c.Target(), "err", err)
		}
		t.failing = true
		return false
	}
	m.counters.Reverted++
	m.opts.Logger.Info("override expired; reverted", "id", c.ID, "target", c.Target(), "restored", t.prior)
	t.active, t.prior, t.failing = false, "", false
	return true
}

// Restore puts the overrides that were active when the state was saved
// back into effect after a restart, and reverts those that expired while
// the edge was down. Call it once, after New and before commands arrive;
// Run does.
func (m *Manager) Restore(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.Now()
	var errs []error
	changed := false
	for _, t := range m.sorted() {
		if !t.active {
			continue
		}
		c := t.last
		if !c.Expires.IsZero() && !now.Before(c.Expires) {
			if m.revert(ctx, t) {
				changed = true
			} else {
				errs = append(errs, fmt.Errorf("command: revert %s (%s): will retry", c.Target(), c.ID))
			}
			continue
		}
		a := m.opts.Appliers[c.Kind]
		if a == nil {
			errs = append(errs, fmt.Errorf("command: restore %s (%s): no applier for %s", c.Target(), c.ID, c.Kind))
			continue
		}
		// The prior kept from before the restart is the one to restore;
		// what Apply reads now may be the override itself.
		if _, err := a.Apply(ctx, c); err != nil {
			errs = append(errs, fmt.Errorf("command: restore %s (%s): %w", c.Target(), c.ID, err))
			continue
		}
		m.opts.Logger.Info("override restored", "id", c.ID, "target", c.Target(), "value", c.Value(), "expires", c.Expires)
	}
	if changed {
		_ = m.persist()
	}
	return errors.Join(errs...)
}

// Run restores the saved overrides, then reverts expired ones every
// TickEvery until ctx ends. A failed restore is logged, not fatal: the
// edge keeps monitoring, and the collector can resend.
func (m *Manager) Run(ctx context.Context) error {
	if err := m.Restore(ctx); err != nil {
		m.opts.Logger.Error("restoring command overrides", "err", err)
	}
	tick := time.NewTicker(m.opts.TickEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			m.Tick(ctx)
		}
	}
}

// State returns every target's desired state, sorted by target.
func (m *Manager) State() []TargetState {
	m.mu.Lock()
	defer m.mu.Unlock()
	ts := m.sorted()
	out := make([]TargetState, 0, len(ts))
	for _, t := range ts {
		out = append(out, TargetState{
			Target: t.last.Target(), Version: t.last.Version, ID: t.last.ID, Value: t.last.Value(),
			Expires: t.last.Expires, AppliedAt: t.appliedAt, Active: t.active,
		})
	}
	return out
}

// Counters returns a copy of the counters.
func (m *Manager) Counters() Counters {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.counters
	c.Refused = make(map[Reason]uint64, len(m.counters.Refused))
	for k, v := range m.counters.Refused {
		c.Refused[k] = v
	}
	return c
}
