# rackwatch build, test and release targets. Run `make help` for a summary.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# gosnmp formats every packet it sends for its debug log unless built with
# this tag: about a tenth of the edge's SNMP CPU.
TAGS    := gosnmp_nodebug
EDGE    := ./edge/cmd/rackwatch-edge
COLL    := ./collector/cmd/rackwatch-collector
# Tools the build installs for itself live here, never in the user's GOPATH/bin.
TOOLS   := $(CURDIR)/.cache/tools
# make package: .deb files of the edge (deploy/debian). The commit time dates
# their changelog and files, so one commit gives the same packages; outside
# a git checkout set SOURCE_DATE_EPOCH and DEB_VERSION.
DIST    ?= dist
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)
DEB_VERSION ?=
DEB_MAINTAINER ?= rackwatch maintainers <maintainers@rackwatch.invalid>
PROTOC_GEN_GO_VERSION := v1.36.12

.PHONY: help build cross package test test-long fuzz fuzz-short demo bench bench-loop lint generate rig clean

help:
	@echo "make demo      three emulated racks on one machine, a live status page and scripted incidents (DEMO_FLAGS='--for 60s')"
	@echo "make test      lint, cross-build, provision the test rig and run every test"
	@echo "make build     bin/rackwatch-edge and bin/rackwatch-collector (static)"
	@echo "make cross     stripped edge binaries for linux/arm (GOARM=7) and linux/arm64"
	@echo "make package   edge .deb packages for amd64, arm64 and armhf in dist/"
	@echo "make bench     Go benchmarks"
	@echo "make bench-loop load test: p50/p99 under a ramp to saturation, a node heated, with and without rackwatch"
	@echo "make lint      gofmt and go vet"
	@echo "make generate  regenerate the Sparkplug B protobuf code"
	@echo "make fuzz      every fuzz target for FUZZTIME each (default 2m; make test runs each for FUZZTIME_SHORT)"
	@echo "make test-long long fuzzing runs and the day-long soak at the real rates"

build:
	CGO_ENABLED=0 $(GO) build -trimpath -tags $(TAGS) -ldflags '$(LDFLAGS)' -o bin/ $(EDGE) $(COLL)

cross:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -tags $(TAGS) -ldflags '-s -w $(LDFLAGS)' -o bin/linux_arm/rackwatch-edge $(EDGE)
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -tags $(TAGS) -ldflags '-s -w $(LDFLAGS)' -o bin/linux_arm64/rackwatch-edge $(EDGE)
	@ls -l bin/linux_arm/rackwatch-edge bin/linux_arm64/rackwatch-edge

package:
	rm -rf $(DIST)/.build $(DIST)/rackwatch-edge_*.deb
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -tags $(TAGS) -ldflags '-s -w $(LDFLAGS)' -o $(DIST)/.build/amd64/rackwatch-edge $(EDGE)
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -tags $(TAGS) -ldflags '-s -w $(LDFLAGS)' -o $(DIST)/.build/arm64/rackwatch-edge $(EDGE)
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -tags $(TAGS) -ldflags '-s -w $(LDFLAGS)' -o $(DIST)/.build/armhf/rackwatch-edge $(EDGE)
	$(GO) run ./deploy/debian/mkdeb -describe '$(VERSION)' -version '$(DEB_VERSION)' -epoch '$(SOURCE_DATE_EPOCH)' \
		-maintainer '$(DEB_MAINTAINER)' -out $(DIST) -modcache "$$($(GO) env GOMODCACHE)" -goroot "$$($(GO) env GOROOT)" \
		amd64=$(DIST)/.build/amd64/rackwatch-edge arm64=$(DIST)/.build/arm64/rackwatch-edge armhf=$(DIST)/.build/armhf/rackwatch-edge
	rm -rf $(DIST)/.build
	@ls -l $(DIST)/rackwatch-edge_*.deb

# rig installs (on Debian/Ubuntu as root) and builds the real components the
# integration tests start: Mosquitto, HAProxy, snmpd, snmptrapd, snmpsim,
# smitools, Chromium (headless, for the status page) and InfluxDB 1.8.10.
rig:
	bash deploy/testrig/provision.sh

# The second line runs the real-time system tests that skip themselves under
# the race detector (testrig.SkipUnderRace), one package at a time.
test: lint cross rig
	$(GO) test -race -count=1 -timeout 18m ./...
	$(GO) test -count=1 -p 1 -timeout 10m -run '^(TestScenarios|TestDemoForAMinute)$$' ./collector/demo ./collector/cmd/rackwatch-collector
	@$(MAKE) --no-print-directory fuzz-short

# The soak tests (docs/performance.md, Soak) run in make test at a coarse
# step; here at the real rates, one package (one process) at a time.
test-long: rig
	@$(MAKE) --no-print-directory fuzz FUZZTIME=5m
	RACKWATCH_SOAK_STEP_SECONDS=10 RACKWATCH_SOAK_SLOWDOWN=1 $(GO) test -count=1 -p 1 -timeout 30m -v -run '^TestSoak' ./collector/service ./edge/publish

# Fuzz targets, as package:target: everything that reads the network or a
# file an operator wrote. go test -fuzz runs one target at a time, so each
# pair is a run of its own. Their seed corpora are in testdata/fuzz; a
# failing input is written there too, and stays as a regression test once
# fixed. The short runs skip minimizing new inputs: on a large input that
# alone could use up the few seconds.
FUZZ_TARGETS := ./edge/sparkplug:FuzzWireDecode ./edge/sparkplug:FuzzHost ./edge/traps:FuzzHandle \
	./edge/config:FuzzLoad ./collector/config:FuzzLoad ./edge/snmppoll:FuzzProfile ./edge/snmppoll:FuzzPoll \
	./edge/spool:FuzzSegmentReader ./edge/spool:FuzzReplay ./edge/command:FuzzParse \
	./edge/command:FuzzHandleMessage ./edge/cmdsign:FuzzVerify ./collector/haproxy:FuzzParseStat \
	./collector/haplog:FuzzHandle ./edge/snmpemu:FuzzHandle
FUZZTIME       ?= 2m
FUZZTIME_SHORT ?= 6s
fuzz_pkg  = $(word 1,$(subst :, ,$(1)))
fuzz_name = $(word 2,$(subst :, ,$(1)))

fuzz:
	@$(foreach t,$(FUZZ_TARGETS),echo "fuzz $(t) for $(FUZZTIME)" && \
		$(GO) test -run '^$$' -fuzz '^$(call fuzz_name,$(t))$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s $(call fuzz_pkg,$(t)) &&) true

fuzz-short:
	@$(foreach t,$(FUZZ_TARGETS),echo "fuzz $(t) for $(FUZZTIME_SHORT)" && \
		$(GO) test -run '^$$' -fuzz '^$(call fuzz_name,$(t))$$' -fuzztime $(FUZZTIME_SHORT) -fuzzminimizetime 0 $(call fuzz_pkg,$(t)) &&) true

# The demo needs only Go: it embeds the broker, emulates the racks, and uses
# HAProxy when it is installed and a built-in balancer otherwise.
demo:
	$(GO) run -tags $(TAGS) $(COLL) demo $(DEMO_FLAGS)

# The closed loop under load: HAProxy over the emulated nodes, a ramp to the
# machine's saturation point, one node heated half-way, with rackwatch and
# with HAProxy alone. Logs the table of docs/performance.md and writes its
# plot, docs/bench-loop.svg.
bench-loop: rig
	RACKWATCH_BENCH_OUT=$(CURDIR)/docs $(GO) test -tags $(TAGS) -run '^$$' -bench '^BenchmarkLoop$$' -benchtime 1x -timeout 20m -v ./collector/demo

bench: rig
	$(GO) test -tags $(TAGS) -run '^$$' -bench . -benchmem -timeout 30m ./...

lint:
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './.cache/*')); \
	if [ -n "$$out" ]; then echo "gofmt -w needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

generate:
	@command -v protoc >/dev/null || { echo "protoc is missing: apt-get install protobuf-compiler"; exit 1; }
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	PATH="$(TOOLS):$$PATH" $(GO) generate ./...

clean:
	rm -rf bin .cache dist
