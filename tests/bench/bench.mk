# `make bench`: overhead of `nodeguard trace` on container workloads, agent vs
# no agent, interleaved. A benchmark, not a pass/fail test: it reports ratios
# against the targets and writes tests/bench/results/{bench-<ts>,latest}.json.
#
#   make bench                          K=8 rounds per condition, ~3-4 minutes
#   make bench BENCH_ROUNDS=8 BENCH_SCALE=0.5
#   make bench BENCH_PROFILE=1          + where the time goes: BPF ns per op (bpf_stats),
#                                       agent CPU and wake-ups per op, agent-stopped cost
#
# See tests/bench/run_bench.sh for every knob.

BENCH_BINS := $(BUILD)/tests/bench-storm $(BUILD)/tests/bench-tiny

$(BUILD)/tests/bench-storm: tests/bench/storm.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@

# no libc, no loader: the exec storm measures the kernel's exec path
$(BUILD)/tests/bench-tiny: tests/bench/tiny.c
	@mkdir -p $(@D)
	$(CC) -O2 -static -nostdlib -ffreestanding -fno-stack-protector -fno-pie -no-pie \
		-Wall -Werror $< -o $@

tests-build: $(BENCH_BINS)

.PHONY: bench
bench: nodeguard $(BENCH_BINS)
	BENCH_STORM=$(BUILD)/tests/bench-storm BENCH_TINY=$(BUILD)/tests/bench-tiny \
		NODEGUARD=./nodeguard tests/bench/run_bench.sh

# `make bench-k8s`: escalation in a container -> quarantine NetworkPolicy in a
# real apiserver (tests/bench/k8s_np.sh; root): median, p90, p99, max over
# BENCH_K8S_N trials (default 30). Not part of `make bench`.
.PHONY: bench-k8s
bench-k8s: nodeguard k8s-build
	NODEGUARD=./nodeguard tests/bench/k8s_np.sh

include tests/bench/contain.mk
include tests/bench/detect.mk
