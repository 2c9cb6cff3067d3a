# Thin wrapper around CMake. `make run` starts a single-node broker; `make test` runs every test.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
DATA_DIR ?= ./data
ARGS ?=

RELEASE_DIR := build/release
DEBUG_DIR := build/debug

.PHONY: deps release debug run test perf clean

deps:
	@deploy/install-deps.sh

release: deps
	@cmake -S . -B $(RELEASE_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
	@cmake --build $(RELEASE_DIR) -j $(JOBS)

# Debug with AddressSanitizer and UndefinedBehaviorSanitizer, and the expensive invariant checks.
debug: deps
	@cmake -S . -B $(DEBUG_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DWHARF_SANITIZE=ON \
		-DWHARF_VERIFY=ON >/dev/null
	@cmake --build $(DEBUG_DIR) -j $(JOBS)

run: release
	$(RELEASE_DIR)/core/wharf --data-dir $(DATA_DIR) $(ARGS)

test: debug
	cd $(DEBUG_DIR) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS) --timeout 900

perf: release
	$(RELEASE_DIR)/perf/log_append_bench

clean:
	rm -rf build
