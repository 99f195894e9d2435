# tidelog: every command installs what it needs first (scripts/bootstrap, idempotent).
#   make test   native tests, browser tests (Chromium + Firefox), JS/end-to-end suites
#   make demo   builds the package and serves the demo on http://$(HOST):$(PORT)/
#   make pkg    builds the npm package into pkg/
#   make bench  tidelog vs raw IndexedDB vs Dexie in headless browsers -> BENCHMARKS.md
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
HOST ?= 127.0.0.1
PORT ?= 8787
export HOST PORT
# Sourced before every wasm32 step: toolchain route, PATH, build-std flags.
WASM_ENV := source .tidelog/env &&

.PHONY: all bootstrap test test-native test-browser test-chrome test-firefox test-js pkg demo clean bench bench-smoke soak

all: test

bootstrap:
	@scripts/bootstrap

test: bootstrap
	@$(MAKE) --no-print-directory test-native test-browser test-js

test-native:
	@echo "== native: cargo test (all features) =="
	cargo test --all-features

test-browser: test-chrome test-firefox

test-chrome:
	@echo "== browser: wasm-bindgen-test in headless Chromium =="
	$(WASM_ENV) wasm-pack test --headless --chrome $$WASM_PACK_TEST_MODE

test-firefox:
	@echo "== browser: wasm-bindgen-test in headless Firefox =="
	$(WASM_ENV) wasm-pack test --headless --firefox $$WASM_PACK_TEST_MODE

# The bench smoke runs first so that node's test summary closes the output.
test-js: pkg
	@echo "== bench smoke: every benchmark case still produces a number =="
	$(BENCH_SMOKE)
	@echo "== JS: the built package in Node, Chromium and workerd (node --test) =="
	node --test --test-reporter=spec tests/js/

# The package's JS modules (js/) without wasm: the JSDoc type check and their unit tests.
test-js-unit: bootstrap
	@echo "== JS modules: tsc --checkJs and node --test js/ (no wasm) =="
	node_modules/.bin/tsc -p js/tsconfig.json
	node --test --test-reporter=spec js/

pkg: bootstrap
	@scripts/build-pkg

demo: bootstrap pkg
	@scripts/demo/serve

# tidelog vs raw IndexedDB vs Dexie in headless Chromium and Firefox: appends the table to
# BENCHMARKS.md and writes bench/results/latest.json (see bench/run.mjs).
# Then the sync server (POST batches, 304 polls), the sync drain vs Workbox, and a
# projection over a 1M-event log; each appends its own section to BENCHMARKS.md.
bench: bootstrap pkg
	node bench/run.mjs
	node bench/server.mjs | node bench/append.mjs server "Sync server in local workerd"
	node bench/drain.mjs 10000 3 | node bench/append.mjs drain "Sync drain: tidelog outbox vs Workbox background-sync"
	node bench/projection.mjs 1000000 | node bench/append.mjs projection "Projection state() after reload on a 1M-event log"

# The same benchmark at 1% size, one run: proves every case still produces a number (not
# speed). Also a step of test-js, run there directly so pkg is not rebuilt.
BENCH_SMOKE := BENCH_SCALE=0.01 BENCH_RUNS=1 node bench/run.mjs --smoke
bench-smoke: pkg
	$(BENCH_SMOKE)

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
