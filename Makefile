# Thin wrapper around CMake. `make run` starts a single-node broker; `make test` runs every test.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
DATA_DIR ?= ./data
ARGS ?=

RELEASE_DIR := build/release
DEBUG_DIR := build/debug

FUZZ_DIR := build/fuzz
FUZZ_SECONDS ?= 30

.PHONY: deps release debug run test fuzz perf deb clean

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
	@$(MAKE) --no-print-directory fuzz

# The Kafka request decoder under libFuzzer (clang), seeded with the golden frames of real
# clients, then the internal RPC decoders (frames and raft messages), seeded by the target
# itself: a short run of each here (FUZZ_SECONDS each); `make fuzz FUZZ_SECONDS=3600` for long
# ones (tests/README.md).
fuzz: deps
	@CXX=clang++ CC=clang cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
		-DWHARF_FUZZ=ON -DBUILD_TESTING=OFF >/dev/null
	@cmake --build $(FUZZ_DIR) -j $(JOBS) --target kafka_request_fuzz rpc_fuzz
	@mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/rpc_corpus
	@python3 -c 'import sys, pathlib; [pathlib.Path(sys.argv[1], p.stem).write_bytes( \
		bytes.fromhex(p.read_text().strip())) for p in pathlib.Path("tests/net/golden").glob("*.hex")]' \
		$(FUZZ_DIR)/corpus
	set -o pipefail; $(FUZZ_DIR)/tests/fuzz/kafka_request_fuzz -max_total_time=$(FUZZ_SECONDS) \
		-rss_limit_mb=2048 -print_final_stats=1 $(FUZZ_DIR)/corpus 2>&1 | tail -n 12
	set -o pipefail; WHARF_RPC_FUZZ_SEEDS=$(FUZZ_DIR)/rpc_corpus $(FUZZ_DIR)/tests/fuzz/rpc_fuzz \
		-max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -print_final_stats=1 \
		$(FUZZ_DIR)/rpc_corpus 2>&1 | tail -n 12

# The Debian package (deploy/packaging.cmake): build/release/wharf_<version>_<arch>.deb.
deb: release
	cd $(RELEASE_DIR) && cpack -G DEB
	@ls -1 $(RELEASE_DIR)/wharf_*.deb

perf: release
	$(RELEASE_DIR)/perf/log_append_bench

clean:
	rm -rf build
