// Package sparkplugpb holds the Go types generated from sparkplug_b.proto,
// the Sparkplug B 3.0 payload definition. Use package sparkplug to build and
// read payloads; this package is only the wire schema.
package sparkplugpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative sparkplug_b.proto
