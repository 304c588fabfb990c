# agent/rules.c unit tests (cmocka, no root): every match key, exceptions,
# and the embedded default policy against attack shapes and benign twins.
# Included at the end of tests/unit/unit.mk, after its UNIT_BINS rules: the
# binary has its own rule and is added to UNIT_BINS and to the unit targets.

ifndef NG_RULES_UNIT_MK
NG_RULES_UNIT_MK := 1

RULES_UNIT_BIN := $(BUILD)/tests/test_rules
UNIT_BINS += $(RULES_UNIT_BIN)

$(RULES_UNIT_BIN): tests/unit/policy/test_rules.c $(AGENT_LIB) rules.h \
		   policy.h caps.h include/nodeguard/event.h \
		   include/nodeguard/credcheck.h | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit $(filter %.c %.o %.a,$^) -o $@ $(UNIT_LDLIBS)

unit unit-valgrind: $(RULES_UNIT_BIN)

endif
