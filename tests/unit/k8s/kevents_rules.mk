# agent/kevents.c offline (objects fed with kevents_apply: normalization,
# timestamps, node filtering through the pod cache, dedup by uid+count,
# malformed objects) and the default policy's k8s-event rules against
# matching Events and benign twins, through kevent_to_obs + rules_eval.
# Included at the end of tests/unit/unit.mk.

ifndef NG_KEVENTS_RULES_UNIT_MK
NG_KEVENTS_RULES_UNIT_MK := 1

KEVENTS_RULES_UNIT_BIN := $(BUILD)/tests/test_kevents_rules
UNIT_BINS += $(KEVENTS_RULES_UNIT_BIN)

$(KEVENTS_RULES_UNIT_BIN): tests/unit/k8s/test_kevents_rules.c $(AGENT_LIB) \
		   kevents.h podcache.h rules.h policy.h | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit $(filter %.c %.o %.a,$^) -o $@ $(UNIT_LDLIBS)

unit unit-valgrind: $(KEVENTS_RULES_UNIT_BIN)

endif
