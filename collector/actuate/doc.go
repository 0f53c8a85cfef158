// Package actuate carries the decision engine's desired state out to the
// things that serve traffic: HAProxy's runtime API, a webhook, and the
// agent-check responder of a host-mode edge (through Sparkplug NCMD
// commands).
//
// Where it sits: the engine (collector/decide) decides a level per target
// and reports, through Engine.Desired, the load-balancer state it wants
// for every target held below full service. An Actuator puts one such
// state in effect; every actuator is idempotent (it sets a state, it does
// not toggle one) and retries transient failures with a bounded backoff.
// The Reconciler applies what has not been carried out yet and, for
// actuators that can read state back (Observer), re-applies what a
// load-balancer restart lost: HAProxy keeps runtime changes in memory
// only, so a reload returns every server to its configured weight and
// state. A difference without a restart is someone else's change (an
// operator's), which the engine detects and respects, so the reconciler
// reports it and leaves it alone. Targets the engine no longer desires are
// never touched by the loop: the engine restores them explicitly, through
// Reconciler.Apply.
//
// SaveState and LoadState persist the engine's levels (and the command
// versions issued to edges) atomically, so that a restarted collector
// rebuilds its engine with Engine.Restore and re-applies what it held:
// a drain cannot be forgotten by restarting the collector.
package actuate
