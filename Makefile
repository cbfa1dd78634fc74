# discovery-bridge: the two commands are `make demo` and `make test`.
SHELL := /bin/bash
SWIFT ?= swift
PREFIX ?= /usr/local
SWIFT_TEST_FLAGS ?= --parallel --num-workers 2
# Release builds link the Swift runtime and Foundation statically: the .deb then needs only libc and libcurl4.
RELEASE_FLAGS ?= --static-swift-stdlib

.PHONY: all deps build release test demo install bench drills clean deb

all: build

# Installs what building, testing and the demo need, only when missing (root: apt-get and pip directly; else sudo).
deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	@# SwiftPM skips its prebuild commands when no source changed; this makes the build info (commit) current.
	@touch Sources/BuildInfo/BuildInfo.swift
	$(SWIFT) build -c release --product discovery-bridge $(RELEASE_FLAGS)

# The whole suite: unit, property and integration tests (real HAProxy 2.6, moto_server, the Consul fake), CI-sized
# drills, then a smoke run of the release binary (some faults exist only in optimised builds). The last line is
# `N passed, N failed` (XCTest's parallel mode prints no total); any failure fails the target.
test: deps
	$(SWIFT) build --build-tests
	@rm -f .build/test-results.xml; set -o pipefail; \
	$(SWIFT) test --skip-build $(SWIFT_TEST_FLAGS) --xunit-output .build/test-results.xml 2>&1 | tee .build/test-output.log; tests=$$?; \
	smoke=; \
	if [ $$tests = 0 ]; then \
	  $(SWIFT) build -c release --product discovery-bridge $(RELEASE_FLAGS) && \
	  scripts/release-smoke.sh "$$($(SWIFT) build -c release --show-bin-path)/discovery-bridge"; smoke="--check release-smoke=$$?"; \
	  scripts/deb-check.sh "$$($(SWIFT) build -c release --show-bin-path)/discovery-bridge"; smoke="$$smoke --check deb-check=$$?"; \
	fi; \
	scripts/monitoring-check.sh; smoke="$$smoke --check monitoring-check=$$?"; \
	scripts/test-summary.py .build/test-results.xml .build/test-output.log $$tests $$smoke

# A local HAProxy on loopback fed by the file provider; Ctrl-C stops everything it started.
demo: build
	@scripts/demo.sh "$$($(SWIFT) build --show-bin-path)/discovery-bridge"

# Fault drills at full scale (1000 updates / 110 kills, 15 s outage phases, 10,000 fuzz inputs per parser);
# `make test` runs the same drills at CI scale.
drills: deps
	$(SWIFT) build --build-tests
	DRILLS=full $(SWIFT) test --skip-build --filter DrillTests 2>&1 | tee drills.log | grep -E "^drill |error|Executed"

# The Debian package, discovery-bridge_<VERSION>_<arch>.deb, from the release build (README: Install and upgrade).
deb: release
	@scripts/make-deb.sh "$$($(SWIFT) build -c release --show-bin-path)/discovery-bridge"

install: release
	@scripts/install.sh "$$($(SWIFT) build -c release --show-bin-path)/discovery-bridge" "$(PREFIX)"

# Benchmarks (release build): prints a table and writes bench-results.json. BENCH_FLAGS="--quick" for a smoke run.
BENCH_FLAGS ?=
bench: deps
	$(SWIFT) build -c release --product discovery-bridge $(RELEASE_FLAGS)
	$(SWIFT) build -c release --product discovery-bridge-bench
	"$$($(SWIFT) build -c release --show-bin-path)/discovery-bridge-bench" --bridge-bin "$$($(SWIFT) build -c release --show-bin-path)/discovery-bridge" --json bench-results.json $(BENCH_FLAGS)

clean:
	rm -rf .build .demo
