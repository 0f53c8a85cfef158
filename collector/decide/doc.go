// Package decide is the collector's decision engine. Each tick it receives
// one Observation per node and load balancer — the node's physical signals
// (temperature against its limit, throttling, inlet air, link errors and
// flaps, kernel events) and its latency as the load balancer measures it —
// and returns Decisions: shed, drain, restore step by step, roll back, or
// raise an alarm. Every decision carries the evidence behind it, with the
// values, the thresholds and which signal fired first, and says when an
// action was withheld and why.
//
// The rule: a node whose latency has regressed, against its own baseline
// and against its peers in the same backend, AND that shows physical
// evidence on the same node, for Hold, is shed (weight 50 %); if the cause
// persists for DrainAfter it is drained. A node at or near its critical
// temperature is shed and drained even without a latency regression
// (hardware protection). When the cause has been gone for RestoreHold the
// node returns through 25 %, 50 % and 100 %, StepHold at each step.
// Many hot nodes in one rack raise one rack cooling alarm instead of N
// drains.
//
// Safety first, because a wrong drain is an outage:
//   - no data never reads as cool or as hot: stale signals block both
//     escalation and restore;
//   - a backend never has more than MaxFraction of its servers shed or
//     drained, whoever took them out, and never loses its last healthy one;
//   - at most MaxActionsPerHour escalations; a global stop withholds all;
//   - a pinned node is never touched, and a load-balancer state rackwatch
//     did not set is an operator's pin;
//   - a shed that does not improve the node's latency or the backend's p99
//     within VerifyWindow is rolled back, with an alarm;
//   - dry-run decides and records everything and changes nothing.
package decide
