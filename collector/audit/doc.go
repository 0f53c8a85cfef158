// Package audit records the collector's decisions. Every decision the
// engine (package decide) makes, or an operator makes through the HTTP API,
// is recorded once, with its evidence: the signals, their values and
// thresholds, which fired first, the action taken or withheld and why, and
// who acted. A record goes to three places:
//
//   - the structured log (log/slog), one record per decision;
//   - an MQTT event topic, as JSON (see Topic), through a bounded queue
//     drained by Run, so a slow or absent broker never stalls the decision
//     loop: what does not fit is dropped and counted;
//   - a bounded in-memory history, which the HTTP API serves.
//
// Record is the wire encoding shared by the event topic and the API.
package audit
