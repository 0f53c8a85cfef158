// Package haplog turns HAProxy's request log into per-server latency
// percentiles and error counts.
//
// HAProxy's `show stat` gives only averages over the last 1024 requests;
// percentiles and status codes such as 504 need the log. HAProxy sends one
// line per request with `option httplog` to a syslog target (`log
// 127.0.0.1:5514 local0` in its global section); Listener receives those
// datagrams on loopback, parses the httplog fields (backend/server, the
// TR/Tw/Tc/Tr/Ta timers and the status code, see the HAProxy configuration
// manual §8.2.3) and keeps, per server, a sliding-window histogram from
// which p50, p95 and p99 are read.
//
// Memory is bounded: the window is a ring of fixed slots, each a fixed
// array of buckets, and the number of servers tracked is capped because
// server names arrive from the network.
package haplog
