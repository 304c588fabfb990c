# cmocka unit tests: pure logic, no root. Included from tests/tests.mk.
#
#   make unit           build and run every unit test, fail if any fails
#   make unit-valgrind  the same under valgrind (invalid reads fail the run)
#
# Each test links only the agent objects it exercises.

UNIT_TESTS  := jsonw decode evfmt probe netaddr jsonget procfs errptr digits
UNIT_BINS   := $(patsubst %,$(BUILD)/tests/test_%,$(UNIT_TESTS))
UNIT_LDLIBS := -lcmocka $(LDLIBS)
UNIT_HDRS   := tests/unit/unit_helpers.h $(wildcard $(addsuffix /*.h,$(AGENT_DIRS))) include/nodeguard/event.h

$(BUILD)/tests/test_jsonw:  $(AGENT_LIB)
$(BUILD)/tests/test_decode: $(AGENT_LIB)
$(BUILD)/tests/test_evfmt:  $(AGENT_LIB)
$(BUILD)/tests/test_probe:  $(AGENT_LIB)
$(BUILD)/tests/test_netaddr: $(AGENT_LIB)
$(BUILD)/tests/test_jsonget: $(AGENT_LIB)
$(BUILD)/tests/test_procfs: $(AGENT_LIB)
$(BUILD)/tests/test_errptr: $(AGENT_LIB)
$(BUILD)/tests/test_digits: $(AGENT_LIB)

# unit tests mirror agent/'s stage folders: tests/unit/<stage>/test_<module>.c
UNIT_DIRS := $(patsubst %/,%,$(sort $(dir $(wildcard tests/unit/*/test_*.c))))
vpath test_%.c $(UNIT_DIRS)

$(UNIT_BINS): $(BUILD)/tests/test_%: test_%.c $(UNIT_HDRS) | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit $(filter %.c %.o %.a,$^) -o $@ $(UNIT_LDLIBS)

.PHONY: unit unit-valgrind
unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do \
		echo "== $$t"; ./$$t || { echo "FAILED: $$t" >&2; fail=1; }; \
	done; exit $$fail

unit-valgrind: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do \
		echo "== valgrind $$t"; \
		valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
			./$$t || { echo "FAILED: $$t" >&2; fail=1; }; \
	done; exit $$fail

# per-module test fragments (each adds to UNIT_BINS and the unit targets)
include tests/unit/store/journal.mk
include tests/unit/attrib/container.mk
include tests/unit/policy/policy.mk
include tests/unit/store/report.mk
include tests/unit/policy/rules.mk
include tests/unit/kernel/credcheck.mk
include tests/unit/store/incident.mk
include tests/unit/attrib/proctab.mk
include tests/unit/agent/ctl.mk
include tests/unit/respond/respond.mk
include tests/unit/k8s/kevents_rules.mk
include tests/unit/kernel/killmatch.mk
