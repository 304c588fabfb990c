# include/nodeguard/credcheck.h unit tests (cmocka, no root): ng_credcheck
# fed synthetic task-state sequences through a simulator of the sensors'
# record/compare discipline. Header-only: links no agent object. Included at
# the end of tests/unit/unit.mk, after its UNIT_BINS rules.

ifndef NG_CREDCHECK_UNIT_MK
NG_CREDCHECK_UNIT_MK := 1

CREDCHECK_UNIT_BIN := $(BUILD)/tests/test_credcheck
UNIT_BINS += $(CREDCHECK_UNIT_BIN)

$(CREDCHECK_UNIT_BIN): tests/unit/kernel/test_credcheck.c include/nodeguard/credcheck.h \
		       include/nodeguard/event.h | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit $(filter %.c,$^) -o $@ -lcmocka

unit unit-valgrind: $(CREDCHECK_UNIT_BIN)

endif
