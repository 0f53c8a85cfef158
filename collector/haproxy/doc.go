// Package haproxy is the collector's client for the HAProxy runtime API
// (the stats socket; HAProxy management guide, section 9.3), the way the
// collector both watches and steers the load balancer in front of the
// racks.
//
// Where it sits: the collector polls ShowStat at its configured period
// and reads each server's latency from it. RTime (time to response
// headers), TTime (total session time), CTime and QTime are HAProxy's
// averages over the last 1024 requests, so one poll gives a smoothed
// latency and polling faster than traffic turns over shows the same
// window again. When a node runs hot or slow, the collector's drain
// action calls SetServerState with Drain (new traffic goes elsewhere,
// sessions in flight finish) and later Ready to restore it; SetWeight and
// GetWeight shed part of the load instead of all of it. ShowServersState
// reads back each server's administrative state and weights, and
// ShowInfo identifies the running process: HAProxy keeps runtime changes
// in memory only, so a RestartDetector comparing successive ShowInfo
// answers tells a caller when a reload lost them.
//
// Each command opens its own connection, writes one line and reads until
// HAProxy closes it (non-interactive mode), bounded by the caller's
// context and Opts.Timeout; nothing stays connected between polls.
// `show stat` is parsed by its header row, since columns are added between
// HAProxy versions (2.6.12 prints 128 named columns, then a trailing comma
// on every line). The commands that change state need a socket declared
// with "stats socket PATH level admin".
package haproxy
