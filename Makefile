# Thin wrapper over CMake (the DuckDB convention). Every target installs the
# Debian packages it needs first (scripts/install-deps.sh is quiet when they
# are there).
#   make          Release build in build/ (build/bin/qgraph, build/bin/qgraph-server);
#                 installs only what building needs (no database servers)
#   make demo     the seed's example graph on local SQLite files
#   make unit     builds and runs only the unit tests (no servers; seconds once built)
#   make test     every test: unit, integration (real PostgreSQL/MariaDB started
#                 by scripts/), C ABI, CLI, then the ASan+UBSan build of the
#                 tests, the ThreadSanitizer build of the unit tests and a 30 s
#                 libFuzzer run of every parser
#   make fuzz     the libFuzzer targets, SECONDS each (default 30)
#   make test-tsan  the unit tests (engine stress test included) under TSan
#   make bench    the benchmarks (ratios against baselines measured in the same run)
#   make soak     bench_soak for 10 minutes (SOAK_SECONDS): mixed graphs, sessions and RSS bounded
JOBS ?= 2
BUILD ?= build
CMAKE_FLAGS ?=
SECONDS ?= 30
# The sanitizer builds compile with -O1 -g1 (line tables: enough for every
# report's stack) instead of RelWithDebInfo's -O2 -g: half the compile time
# (scripts/test-tsan.sh does the same).
SANITIZER_OPT = -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG"
# The unit test binaries the TSan build runs (the server-backed integration,
# C ABI and CLI tests stay out of it, to keep it near 10 minutes).
TSAN_TARGETS ?= test_common test_sql test_graph test_result test_pool test_store test_catalog \
  test_sqlite test_csv test_engine
# `make unit`: those and the HTTP provider's (its test server is in-process).
UNIT_TARGETS ?= $(TSAN_TARGETS) test_http

.PHONY: all deps deps-build build demo unit test test-release test-asan test-tsan fuzz bench soak clean format

all: build

deps:
	@bash scripts/install-deps.sh test

deps-build:
	@bash scripts/install-deps.sh build

build: deps-build
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

demo: build
	@bash scripts/make-example-data.sh $(BUILD)
	@$(BUILD)/bin/qgraph run examples/graphs/seed.json --sources examples/catalog.json \
	  --param city=Paris --shape nested

unit: deps-build
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS) --target $(UNIT_TARGETS)
	@bash scripts/run-tests.sh $(BUILD) -L unit

test: test-release test-asan test-tsan fuzz
	@echo "make test: all suites passed"

test-release: deps build
	@bash scripts/make-example-data.sh $(BUILD)
	@bash scripts/run-tests.sh $(BUILD)

test-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo $(SANITIZER_OPT) -DQG_SANITIZE=ON \
	  -DQG_BUILD_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-asan -j$(JOBS)
	@bash scripts/make-example-data.sh build-asan
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  bash scripts/run-tests.sh build-asan

test-tsan: deps
	@JOBS=$(JOBS) CMAKE_FLAGS="$(CMAKE_FLAGS)" bash scripts/test-tsan.sh $(TSAN_TARGETS)

fuzz: deps
	@bash scripts/fuzz.sh $(SECONDS)

bench: build
	@bash scripts/make-example-data.sh $(BUILD)
	@bash scripts/run-bench.sh $(BUILD)

SOAK_SECONDS ?= 600
soak: build
	@$(BUILD)/bin/bench_soak --seconds $(SOAK_SECONDS)

format:
	@find include lib capi tools examples tests bench -name '*.h' -o -name '*.cc' -o -name '*.c' \
	  | xargs clang-format -i

clean:
	rm -rf build build-asan build-tsan build-fuzz
