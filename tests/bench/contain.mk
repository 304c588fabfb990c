# `make bench-contain`: containment latency (kill in the kernel, isolate and
# freeze through the agent, from the triggering syscall to enforcement) and
# the connect overhead of a 1,000-entry deny table, interleaved with an
# empty one. A benchmark, not a pass/fail test: tests/bench/contain_bench.c
# prints a table and writes tests/bench/results/contain-{<ts>,latest}.json.
# Included at the end of tests/bench/bench.mk; `make bench` runs it first.
#
#   make bench-contain BENCH_CONTAIN_TRIALS=30 BENCH_CONTAIN_ROUNDS=10 BENCH_CONTAIN_CONNECTS=20000

ifndef NG_CONTAIN_BENCH_MK
NG_CONTAIN_BENCH_MK := 1

CONTAIN_BENCH     := $(BUILD)/tests/contain-bench
CONTAIN_HELPER    ?= $(BUILD)/tests/ng-contain-helper
CONTAIN_BENCH_SRC := tests/bench/contain_bench.c tests/integration/contain_lib.c \
                     tests/integration/scen_agent.c tests/integration/scen_journal.c \
                     tests/integration/ctr.c tests/integration/agent.c

$(CONTAIN_BENCH): $(CONTAIN_BENCH_SRC) tests/integration/contain_lib.h include/nodeguard/enforce.h | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/integration $(filter %.c,$^) -o $@ -lpthread -lm $(LDLIBS)

tests-build: $(CONTAIN_BENCH)

.PHONY: bench-contain
bench-contain: nodeguard nodeguardctl $(CONTAIN_BENCH) $(CONTAIN_HELPER) $(BUILD)/tests/bench-storm
	NODEGUARD=./nodeguard NODEGUARDCTL=./nodeguardctl NG_CONTAIN_HELPER=$(CONTAIN_HELPER) \
		BENCH_STORM=$(BUILD)/tests/bench-storm timeout -k 10 1200 ./$(CONTAIN_BENCH)

bench: bench-contain

endif
