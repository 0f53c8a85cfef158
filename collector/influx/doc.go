// Package influx writes the collector's samples and drain decisions to
// InfluxDB, for dashboards and for Grafana annotations.
//
// It sits at the end of the collector's data flow: samples decoded from the
// edges' Sparkplug B messages, and the decisions the collector takes on its
// load balancer, are handed to a Sink, which batches them with
// influxdb-client-go's non-blocking WriteAPI.
//
// The target is InfluxDB 1.8 through its /api/v2/write compatibility
// endpoint: the bucket is "database/retention-policy" (or just "database"
// for the default policy), the token is "username:password" or empty when
// authentication is off, and the organisation is ignored.
//
// # Schema
//
// A sample becomes one point: the measurement is the metric name, the tags
// are the sample's labels plus "edge" and "device" (which win over labels of
// the same name), and the single field "value" keeps the sample's kind:
// float, integer or boolean. InfluxDB 1.8 has no unsigned integer type, so a
// Uint (a counter) is written as a signed 64-bit integer; a counter above
// 2^63-1 cannot be represented and is dropped and counted (Dropped), rather
// than clamped or wrapped into a value a dashboard would misread. NaN and
// infinite floats have no line-protocol form and are dropped the same way.
//
// A decision becomes a point of the measurement "rackwatch_decision" with
// tags node, backend, server and action and fields reason (string) and
// value (integer 1). The constant value lets a dashboard count or plot
// decisions; the reason is the annotation text. In Grafana, an InfluxDB
// annotation query such as
//
//	SELECT "reason" FROM "rackwatch_decision" WHERE $timeFilter
//
// with Text set to "reason" and Tags set to "node,action,server" shows each
// drain and restore on the panels it applies to.
//
// # Delivery
//
// WriteSample and WriteDecision never block. The client's WriteAPI hands a
// full batch to a single writer goroutine and blocks its callers while that
// goroutine is inside an HTTP request, so a Sink puts a bounded queue in
// front of it: when the queue is full the point is dropped and counted.
// Failed writes reported by the WriteAPI are counted (Errors) and logged at
// most once per interval, and the last one is logged on Close. The client
// retries retryable failures (connection errors, HTTP 429 and 5xx) from a
// memory buffer; points are lost when that gives up or when the process
// stops. Writes that InfluxDB rejects as a partial write (for example a
// field type conflict) are dropped by the client without an error.
package influx
