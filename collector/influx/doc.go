// Package influx writes what the collector knows to InfluxDB, for
// dashboards and for Grafana annotations.
//
// It sits at the end of the collector's data flow: the samples decoded from
// the edges' Sparkplug B messages (WriteSample), each node's state after the
// decision passes (WriteNode), the edges' births and deaths (WriteEdge) and
// the decisions (WriteDecision) are handed to a Sink, which batches them
// with influxdb-client-go's non-blocking WriteAPI.
//
// The target is InfluxDB 1.8 through its /api/v2/write compatibility
// endpoint: the bucket is "database/retention-policy" (or just "database"
// for the default policy), the token is "username:password" or empty when
// authentication is off, and the organisation is ignored.
//
// # Schema
//
// docs/influxdb.md describes every measurement, tag and field, with
// example queries, the Grafana annotation query and retention advice. In
// short: a sample is a point of the measurement named by its metric, tagged
// with its labels plus edge and device, with one field "value" of the
// sample's kind (float, integer or boolean; a counter above 2^63-1, NaN and
// infinities have no InfluxDB 1.8 form and are dropped and counted);
// rackwatch_node, rackwatch_edge and rackwatch_decision hold the
// collector's own view.
//
// # Delivery
//
// The Write methods never block: a bounded queue sits in front of the
// WriteAPI, whose single writer goroutine blocks its callers while a
// request is in flight, and what the queue cannot take is dropped and
// counted. A batch that fails for a reason that may pass (no connection,
// HTTP 429 or 5xx) is taken over, through the client's write-failed
// callback, by the Sink's own bounded retry buffer, which retries it with
// backoff and counts what it drops: the client's retry buffer discards
// batches with only a log line and retries only when a new batch comes.
// Stats returns the counters.
package influx
