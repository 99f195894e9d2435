# tidelog: every command installs what it needs first (scripts/bootstrap, idempotent).
#   make test   lint, native tests, browser tests (Chromium, Firefox, WebKit), JS unit tests, the
#               bench smoke, the JS/end-to-end suites (in that order)
#   make demo   builds the package and serves the demo on http://$(HOST):$(PORT)/
#   make pkg    builds the npm package into pkg/
#   make bench  tidelog vs raw IndexedDB vs Dexie in headless browsers, the sync server, the
#               file store in Node -> BENCHMARKS.md
#   make size   raw/gzip/brotli of every shipped artifact, the top contributors (twiggy),
#               and a row in BENCHMARKS.md's size history
# One test of each kind (README, "Working on tidelog"):
#   cargo test --all-features NAME            native unit/property tests matching NAME
#   make test-browser TEST=browser_store      one tests/<TEST>.rs in Chromium, Firefox, WebKit
#                                             (GREP=rexie: its tests whose name has "rexie")
#   make test-js FILE=api GREP='subscribe'    one tests/js/<FILE>.test.mjs, tests matching GREP
#   node --test js/errors.test.mjs            one unit test file of the JS modules (no build)
#   make lint                                 rustfmt + clippy (native and wasm32)
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
HOST ?= 127.0.0.1
PORT ?= 8787
export HOST PORT
# Sourced before every wasm32 step: toolchain route, PATH, build-std flags.
WASM_ENV := source .tidelog/env &&
WASM32 := --target wasm32-unknown-unknown

.PHONY: all bootstrap test lint test-native test-browser test-chrome test-firefox test-webkit test-js test-js-unit pkg demo clean bench bench-smoke soak size size-check

all: test

bootstrap:
	@scripts/bootstrap

test: bootstrap
	@$(MAKE) --no-print-directory lint test-native test-browser test-js-unit size-check bench-smoke test-js

# Style and lints, warnings are errors: rustfmt (rustfmt.toml), clippy natively over every
# target, and clippy for wasm32 over each feature set a build ships: default (client,
# sync and memory), the browser package's three wasm files (client; client and memory;
# sync), the sync worker (server), the
# Node/Deno/Bun build (file), and everything with the browser tests.
lint: bootstrap
	@echo "== lint: cargo fmt --check =="
	cargo fmt --check
	@echo "== lint: clippy, native, all features, all targets =="
	cargo clippy --all-features --all-targets -- -D warnings
	@echo "== lint: clippy, wasm32: default features (client, sync and memory in one wasm) =="
	$(WASM_ENV) cargo clippy $(WASM32) -- -D warnings
	@echo "== lint: clippy, wasm32: --no-default-features --features client (the browser package's wasm) =="
	$(WASM_ENV) cargo clippy $(WASM32) --no-default-features --features client -- -D warnings
	@echo "== lint: clippy, wasm32: --no-default-features --features client,memory (the browser package's memory wasm) =="
	$(WASM_ENV) cargo clippy $(WASM32) --no-default-features --features client,memory -- -D warnings
	@echo "== lint: clippy, wasm32: --no-default-features --features sync (the browser package's sync wasm) =="
	$(WASM_ENV) cargo clippy $(WASM32) --no-default-features --features sync -- -D warnings
	@echo "== lint: clippy, wasm32: --no-default-features --features server (the worker) =="
	$(WASM_ENV) cargo clippy $(WASM32) --no-default-features --features server -- -D warnings
	@echo "== lint: clippy, wasm32: --features file (the Node/Deno/Bun build) =="
	$(WASM_ENV) cargo clippy $(WASM32) --features file -- -D warnings
	@echo "== lint: clippy, wasm32: all features, all targets (with the browser tests) =="
	$(WASM_ENV) cargo clippy $(WASM32) --all-features --all-targets -- -D warnings

test-native:
	@echo "== native: cargo test (all features) =="
	cargo test --all-features

# TEST=browser_store runs only tests/browser_store.rs (TEST=tests/browser_store.rs works
# too); without TEST, every browser test. GREP keeps the tests whose name contains it. The `conformance` feature makes the store's
# conformance suite available to tests/browser_store.rs.
TEST ?=
BROWSER_TEST := $(basename $(notdir $(TEST)))
WASM_TEST_ARGS := -- --features conformance $(if $(TEST),--test $(BROWSER_TEST)) $${GREP:+-- "$$GREP"}

test-browser: test-chrome test-firefox test-webkit

# Each run's output goes through scripts/check-test-counts: every suite of
# tests/expected-counts.txt must report exactly its number of passing tests (a renamed
# file or a cfg mistake that drops tests fails here); not checked with TEST or GREP.
COUNT_CHECK = scripts/check-test-counts $(1) $(if $(TEST)$(GREP),--no-check)

test-chrome: browser-test-arg
	@echo "== browser: wasm-bindgen-test in headless Chromium $(if $(TEST),(tests/$(BROWSER_TEST).rs))$(if $(GREP), matching '$(GREP)') =="
	$(WASM_ENV) wasm-pack test --headless --chrome $$WASM_PACK_TEST_MODE $(WASM_TEST_ARGS) 2>&1 | $(call COUNT_CHECK,chromium)

test-firefox: browser-test-arg
	@echo "== browser: wasm-bindgen-test in headless Firefox $(if $(TEST),(tests/$(BROWSER_TEST).rs))$(if $(GREP), matching '$(GREP)') =="
	$(WASM_ENV) wasm-pack test --headless --firefox $$WASM_PACK_TEST_MODE $(WASM_TEST_ARGS) 2>&1 | $(call COUNT_CHECK,firefox)

# WebKit: WebKitGTK's MiniBrowser through WebKitWebDriver (the runner's Safari route, which
# wasm-pack refuses on Linux but wasm-bindgen-test-runner does not), on an Xvfb display.
test-webkit: browser-test-arg
	@echo "== browser: wasm-bindgen-test in WebKit (WebKitGTK MiniBrowser, Xvfb) $(if $(TEST),(tests/$(BROWSER_TEST).rs))$(if $(GREP), matching '$(GREP)') =="
	$(WASM_ENV) SAFARIDRIVER=$$(command -v WebKitWebDriver) CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
	  xvfb-run -a cargo test $(WASM32) --features conformance $(if $(TEST),--test $(BROWSER_TEST)) $${GREP:+-- "$$GREP"} 2>&1 | $(call COUNT_CHECK,webkit)

.PHONY: browser-test-arg js-file-arg
browser-test-arg:
	@[ -z "$(TEST)" ] || [ -f tests/$(BROWSER_TEST).rs ] || { \
	  echo "TEST=$(TEST): no tests/$(BROWSER_TEST).rs; one of: $(basename $(notdir $(wildcard tests/browser_*.rs)))" >&2; exit 2; }

# The JS suites against the built package (Node, Deno, Bun, workerd; the browser suites in
# Chromium, Firefox and WebKit). FILE picks one suite: a path, or a name under tests/js/
# (FILE=api, FILE=api.test.mjs); GREP runs only the tests whose name matches the pattern
# (node --test-name-pattern); ENGINES=webkit or ENGINES=chromium,firefox runs the browser
# suites in those engines only. Each browser test fails after TIDELOG_TEST_TIMEOUT ms
# (tests/js/harness.mjs); a suite file that runs longer than JS_TEST_TIMEOUT ms (node 20
# times whole files: a hang, a leaked handle) fails instead of hanging.
FILE ?=
GREP ?=
ENGINES ?=
JS_TEST_TIMEOUT ?= 1800000
JS_FILES := $(if $(FILE),$(firstword $(wildcard $(FILE) tests/js/$(FILE) tests/js/$(FILE).test.mjs)),tests/js/)

test-js: js-file-arg pkg
	@echo "== JS: the built package in Node, Deno, Bun, workerd, Chromium, Firefox and WebKit (node --test$(if $(FILE), $(JS_FILES))$(if $(GREP), matching '$(GREP)')$(if $(ENGINES), in $(ENGINES))) =="
	$(if $(ENGINES),TIDELOG_ENGINES=$(ENGINES)) node --test --test-reporter=spec --test-timeout=$(JS_TEST_TIMEOUT) $${GREP:+--test-name-pattern="$$GREP"} $(JS_FILES)

js-file-arg:
	@[ -n "$(JS_FILES)" ] || { \
	  echo "FILE=$(FILE): no such file, nor tests/js/$(FILE)[.test.mjs]; one of: $(patsubst tests/js/%.test.mjs,%,$(wildcard tests/js/*.test.mjs))" >&2; exit 2; }

# The package's JS modules (js/) without wasm: the JSDoc type check (js/server/, the
# self-hosted server's modules, with Node's types) and their unit tests.
test-js-unit: bootstrap
	@echo "== JS modules: tsc --checkJs and node --test js/ (no wasm) =="
	node_modules/.bin/tsc -p js/tsconfig.json
	node_modules/.bin/tsc -p js/server/tsconfig.json
	node --test --test-reporter=spec --test-timeout=$(JS_TEST_TIMEOUT) js/

pkg: bootstrap
	@scripts/build-pkg

# The size budget (bench/size-budget.json, the one place its numbers live): the browser
# wasm and the wasm plus the JS glue a page loads, gzip -9. A step of `make test`.
size-check: pkg
	@echo "== size: the browser package against its budget (bench/size-budget.json) =="
	node bench/size.mjs --check

# What the package weighs and where the bytes are (twiggy, installed here on first use),
# then a row in BENCHMARKS.md's size history (refused with uncommitted changes).
size: pkg
	@command -v twiggy >/dev/null || { echo "make size: installing twiggy 0.8.0 (cargo)"; cargo install twiggy --version 0.8.0 --locked; }
	node bench/size.mjs --record

demo: bootstrap pkg
	@scripts/demo/serve

# tidelog vs raw IndexedDB vs Dexie in headless Chromium and Firefox: appends the table to
# BENCHMARKS.md and writes bench/results/latest.json (see bench/run.mjs).
# Then the sync servers side by side (POST batches, feed reads, 304 polls; every target of
# tests/js/harness.mjs: workerd on the Durable Object SQL and key-value APIs, wrangler dev,
# tidelog/server on its log file and on PostgreSQL started by the bench), the sync drain
# vs Workbox, a projection over a 1M-event log, the file store in Node (appends with
# and without fsync, opening a 1M-event log), tags (conditional vs plain appends, a tag
# query vs reading a 100k-event log), the first sync of a 100k-event space against raw
# IndexedDB appends and the cost of filtered 304 polls (partial sync); each appends its
# own section to BENCHMARKS.md.
bench: bootstrap pkg
	node bench/run.mjs
	node bench/server.mjs | node bench/append.mjs server "Sync servers side by side: pushes, feed reads, 304 polls"
	node bench/drain.mjs 10000 3 | node bench/append.mjs drain "Sync drain: tidelog outbox vs Workbox background-sync"
	node bench/projection.mjs 1000000 | node bench/append.mjs projection "Projection state() after reload on a 1M-event log"
	node bench/file.mjs 1000000 | node bench/append.mjs file "File store in Node: appends with and without fsync, opening a 1M-event log"
	node bench/dcb.mjs 100000 | node bench/append.mjs dcb "Tags in Node: conditional vs plain appends, a tag query vs reading a 100k-event log"
	node bench/first-sync.mjs 100000 | node bench/append.mjs first-sync "First sync of a 100k-event space vs raw IndexedDB; filtered 304 polls"

# The same benchmark at 1% size, one run: proves every case still produces a number (not
# speed). A step of `make test`, before test-js so node's test summary closes the output.
bench-smoke: pkg
	@echo "== bench smoke: every benchmark case still produces a number =="
	BENCH_SCALE=0.01 BENCH_RUNS=1 node bench/run.mjs --smoke
	BENCH_SCALE=0.01 node bench/file.mjs 5000
	BENCH_SCALE=0.01 node bench/dcb.mjs 5000
	node bench/server.mjs --seconds 0.3 --concurrency 1

# The long reliability runs (docs/reliability.md): the seeded sync soak (SIZE events per
# client, SOAK_CLIENTS clients, SOAK_SEED to replay a run) and the fuzzers at FUZZ_CASES
# cases per target, in release.
SIZE ?= 2000
FUZZ_CASES ?= 100000
soak:
	SOAK_SIZE=$(SIZE) FUZZ_CASES=$(FUZZ_CASES) CARGO_TARGET_DIR=target/reliability \
	  cargo test --release --all-features --lib -- --ignored --nocapture --test-threads=1 soak_at_size fuzz_at_volume

clean:
	rm -rf target pkg .tidelog

# The tarball a user installs: npm pack of pkg/ into target/npm/ (size and file list shown).
# tests/js/package.test.mjs packs and installs it in Node, workerd, Chromium and Vite.
.PHONY: pack
pack: pkg
	mkdir -p target/npm
	npm pack ./pkg --pack-destination target/npm
