// Package statuspage is the collector's web status page: a rack heatmap of
// inlet and CPU temperatures, each node's state, latency sparkline and link
// errors, and the decision log with its evidence. It sits at the end of the
// collector's data flow, beside the HTTP API, and only reads: it changes
// nothing.
//
// The page is one HTML document, a style sheet and a plain script, embedded
// in the binary: no build step, no external resource. The server renders
// the current state into the HTML, so the page is readable without
// JavaScript; the script then keeps it live from a Server-Sent Events
// stream (GET /api/v1/events) that carries a JSON Snapshot whenever the
// state changes, coalesced to at most a few per second, with heartbeats in
// between.
//
// The package defines what it needs from the collector as Source; the
// collector's service implements it. docs/api.md describes the page and
// the event stream.
package statuspage
