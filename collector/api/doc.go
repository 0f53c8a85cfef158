// Package api is the collector's HTTP API: what the decision engine holds
// for every node, the decision history with its evidence, and the operators'
// controls (pin a node, the global stop switch, dry-run). Reads are open;
// every change needs a bearer token from the token file, and the token's
// name is recorded as the actor of the decision it causes. docs/api.md
// describes every endpoint.
//
// The package defines what it needs from the collector as Controller; the
// collector's service implements it.
package api
