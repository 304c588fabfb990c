# agent/proctab.c unit tests (cmocka, no root): events, ancestry, eviction,
# gc, seeding from a fake procfs tree, and the memory of 30,000 processes.
# Included at the end of tests/unit/unit.mk, after its UNIT_BINS rules: the
# binary has its own rule and is added to UNIT_BINS and to the unit targets.

ifndef NG_PROCTAB_UNIT_MK
NG_PROCTAB_UNIT_MK := 1

PROCTAB_UNIT_BIN := $(BUILD)/tests/test_proctab
UNIT_BINS += $(PROCTAB_UNIT_BIN)

$(PROCTAB_UNIT_BIN): tests/unit/attrib/test_proctab.c $(AGENT_LIB) proctab.h \
		     decode.h include/nodeguard/event.h | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit $(filter %.c %.o %.a,$^) -o $@ -lcmocka

unit unit-valgrind: $(PROCTAB_UNIT_BIN)

endif
