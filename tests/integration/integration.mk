# Integration tests: the real ./nodeguard on the real kernel, as root.
# Included from tests/tests.mk.
#
#   make integration     build nodeguard, the suite and its trigger; run them
#
# Without root or kernel BTF the suite prints SKIPPED and fails, unless
# NODEGUARD_ALLOW_SKIP=1. NG_IT_KEEP=1 keeps the scratch dir (/tmp/ng-it-*).

IT_DIR           := tests/integration
INTEGRATION_BINS := $(BUILD)/tests/test_sensors $(BUILD)/tests/ng-trigger

# the trigger runs as pid 1 of fresh namespaces, from a memfd and setuid:
# static, so nothing depends on a loader or a library path
$(BUILD)/tests/ng-trigger: $(IT_DIR)/trigger.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -static $< -o $@

$(BUILD)/tests/test_sensors: $(IT_DIR)/test_sensors.c $(IT_DIR)/ctr.c $(IT_DIR)/agent.c \
			     $(IT_DIR)/ctr.h $(IT_DIR)/agent.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(filter %.c,$^) -o $@ -lcmocka -lcjson

.PHONY: integration
integration: nodeguard $(INTEGRATION_BINS)
	NODEGUARD=./nodeguard NG_TRIGGER=$(BUILD)/tests/ng-trigger BPFTOOL=$(BPFTOOL) \
		timeout -k 10 280 ./$(BUILD)/tests/test_sensors

# per-module fragments (each appends to INTEGRATION_BINS and hooks `integration`)
include tests/integration/container.mk
include tests/integration/scenarios.mk
include tests/integration/contain.mk

# verifier budget (every program <= 100,000 verified instructions with the
# fullest policy) and the fallback when the kernel refuses the kill code (root;
# tests/integration/budget_test.sh)
.PHONY: integration-budget
integration-budget: nodeguard
	NODEGUARD=./nodeguard timeout -k 10 240 tests/integration/budget_test.sh
integration: integration-budget

# --pin-dir keeps two agents' containment apart (root; tests/integration/pindir_test.sh)
.PHONY: integration-pindir
integration-pindir: nodeguard nodeguardctl
	BPFTOOL=$(BPFTOOL) timeout -k 10 120 tests/integration/pindir_test.sh
integration: integration-pindir
