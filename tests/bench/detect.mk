# `make bench-detect`: what detection costs with the embedded default policy:
# latency from an exec from /tmp in a container to its journal record (and
# the split at the record's event ts), agent CPU per 1,000 events under an
# exec and a connect storm, peak RSS, and test_proctab's bytes per process.
# A benchmark, not a pass/fail test: tests/bench/detect_bench.sh prints a
# table and writes tests/bench/results/detect-{<ts>,latest}.json.
# Included at the end of tests/bench/bench.mk; `make bench` runs it too.
#
#   make bench-detect BENCH_DETECT_N=60 BENCH_DETECT_EXEC_N=20000 BENCH_DETECT_CONNECT_N=200000

ifndef NG_DETECT_BENCH_MK
NG_DETECT_BENCH_MK := 1

DETECT_BENCH := $(BUILD)/tests/detect-bench

$(DETECT_BENCH): tests/bench/detect_bench.c | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@

tests-build: $(DETECT_BENCH)

.PHONY: bench-detect
bench-detect: nodeguard $(DETECT_BENCH) $(BUILD)/tests/bench-storm $(BUILD)/tests/bench-tiny \
		$(BUILD)/tests/test_proctab
	NODEGUARD=./nodeguard DETECT_BENCH=$(DETECT_BENCH) BENCH_STORM=$(BUILD)/tests/bench-storm \
		BENCH_TINY=$(BUILD)/tests/bench-tiny TEST_PROCTAB=$(BUILD)/tests/test_proctab \
		timeout -k 10 180 tests/bench/detect_bench.sh

bench: bench-detect

# under `make -j bench` the benchmarks must not overlap (one agent's sensors
# would load the other's workloads)
ifneq ($(filter bench,$(MAKECMDGOALS)),)
bench-detect: | bench-contain
endif

endif
