// Package agentcheck is the HAProxy agent-check responder an edge runs on
// an API node, through which the collector tells the load balancer to
// drain the node, put it in maintenance or lower its weight: the collector
// sends an lb_state command (package command) to the edge, the Responder
// holds the desired state, and HAProxy reads it every agent-inter.
//
// # Protocol
//
// HAProxy's agent check (configuration manual §5.2, "agent-check",
// "agent-port", "agent-inter") connects over TCP to the agent, reads one
// ASCII line ended by LF and closes. The responder writes the line as soon
// as a connection is accepted, without waiting for anything HAProxy may
// send (agent-send), then half-closes and waits a short while for HAProxy
// to close, because closing a socket with unread input makes the kernel
// reset the connection, which can discard the line before HAProxy reads it.
//
// Every line states both an administrative state and a weight:
//
//	ready 100%
//	drain 100% # c-7f3a v12
//	ready 50% # c-7f3b v13
//	maint 100%
//
// HAProxy keeps whatever an agent does not say, and only the agent undoes
// what the agent did (manual §5.2), so each line restates everything the
// responder controls; whichever answers HAProxy missed, the latest one
// fully determines the server's state.
//
// The responder never sends a health word ("up", "down", "stopped",
// "fail"): "up" would reset the server's health-check counters to fully up
// at every agent-inter and mask a failing health check, and taking a server
// down is the health check's job. As a consequence HAProxy 2.6 ignores the
// comment after '#' (it is only shown with a health word); the comment is
// there for a person reading the agent with nc.
//
// # What HAProxy 2.6 does with it (checked by the integration test)
//
//   - "drain" puts the server in DRAIN: `show stat` reports the status
//     "DRAIN (agent)" and new requests go to the other servers.
//   - "maint" puts the server in maintenance, status "MAINT". The agent is
//     still polled in maintenance (only the health check is paused), so a
//     later "ready" brings the server back.
//   - "N%" sets the weight to N % of the server's initial weight, the
//     weight of its configuration line, rounded down: with "weight 100",
//     "50%" gives `get weight` "50 (initial 100)" and one request in three
//     against a peer at 100; with "weight 50", "50%" gives "25 (initial
//     50)" and "33%" gives 16. HAProxy's default weight is 1, of which any
//     percentage below 100 is 0: server lines must set a weight (100 makes
//     the percentage the weight).
//   - "0%" stops new requests like a drain, but the status column of the
//     CSV stays "UP"; only the weight (0) shows it.
//   - "ready" clears a drain or maintenance, including one set through the
//     runtime API (`set server be/s state drain`): the agent and the
//     runtime API share the server's forced administrative flags. A server
//     with agent-check must therefore be drained through lb_state commands,
//     not through the runtime API, or the agent undoes the drain within one
//     agent-inter. Likewise "100%" undoes `set server be/s weight`.
//
// # HAProxy configuration
//
// On each API server's line, with the responder listening on the server's
// own address:
//
//	server api1 10.0.0.11:8080 weight 100 check agent-check agent-port 5555 agent-inter 2s
//
// The agent is reached at the server's address unless agent-addr says
// otherwise, so one responder per API node, all on the same port, serves a
// whole backend. HAProxy does not count a failure to reach the agent as a
// failed check; the state stays what the agent last said.
package agentcheck
