# agent/policy/policy.c unit tests (cmocka, no root). Included at the end of
# tests/unit/unit.mk, after its UNIT_BINS rules: the binary has its own rule
# and is added to UNIT_BINS and to the unit targets here. It links the
# embedded default policy so the shipped policy is checked on every run.

ifndef NG_POLICY_UNIT_MK
NG_POLICY_UNIT_MK := 1

POLICY_UNIT_BIN := $(BUILD)/tests/test_policy
UNIT_BINS += $(POLICY_UNIT_BIN)

$(POLICY_UNIT_BIN): tests/unit/policy/test_policy.c $(AGENT_LIB) policy.h caps.h \
		    include/nodeguard/event.h include/nodeguard/credcheck.h | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit $(filter %.c %.o %.a,$^) -o $@ $(UNIT_LDLIBS)

unit unit-valgrind: $(POLICY_UNIT_BIN)

endif
