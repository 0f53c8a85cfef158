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
PROTOC_GEN_GO_VERSION := v1.36.12

.PHONY: help build cross test test-long demo bench lint generate rig clean

help:
	@echo "make demo      run the closed loop once on real components, with narration"
	@echo "make test      lint, cross-build, provision the test rig and run every test"
	@echo "make build     bin/rackwatch-edge and bin/rackwatch-collector (static)"
	@echo "make cross     stripped edge binaries for linux/arm (GOARM=7) and linux/arm64"
	@echo "make bench     Go benchmarks"
	@echo "make lint      gofmt and go vet"
	@echo "make generate  regenerate the Sparkplug B protobuf code"
	@echo "make test-long long fuzzing runs"

build:
	CGO_ENABLED=0 $(GO) build -trimpath -tags $(TAGS) -ldflags '$(LDFLAGS)' -o bin/ $(EDGE) $(COLL)

cross:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -tags $(TAGS) -ldflags '-s -w $(LDFLAGS)' -o bin/linux_arm/rackwatch-edge $(EDGE)
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -tags $(TAGS) -ldflags '-s -w $(LDFLAGS)' -o bin/linux_arm64/rackwatch-edge $(EDGE)
	@ls -l bin/linux_arm/rackwatch-edge bin/linux_arm64/rackwatch-edge

# rig installs (on Debian/Ubuntu as root) and builds the real components the
# integration tests start: Mosquitto, HAProxy, snmpd, snmptrapd, snmpsim,
# smitools and InfluxDB 1.8.10.
rig:
	bash deploy/testrig/provision.sh

test: lint cross rig
	$(GO) test -race -count=1 -timeout 18m ./...

test-long: rig
	$(GO) test -run '^$$' -fuzz '^FuzzParseStat$$' -fuzztime 5m ./collector/haproxy

demo: rig
	$(GO) test -count=1 -v -run '^TestClosedLoop' ./collector/e2e

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
	rm -rf bin .cache
