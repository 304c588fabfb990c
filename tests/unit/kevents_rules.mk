# agent/kevents.c offline (objects fed with kevents_apply: normalization,
# timestamps, node filtering through the pod cache, dedup by uid+count,
# malformed objects) and the default policy's k8s-event rules against
# matching Events and benign twins, through kevent_to_obs + rules_eval.
# Included at the end of tests/unit/unit.mk.

ifndef NG_KEVENTS_RULES_UNIT_MK
NG_KEVENTS_RULES_UNIT_MK := 1

KEVENTS_RULES_UNIT_BIN := $(BUILD)/tests/test_kevents_rules
UNIT_BINS += $(KEVENTS_RULES_UNIT_BIN)

$(KEVENTS_RULES_UNIT_BIN): tests/unit/test_kevents_rules.c $(BUILD)/agent/kevents.o \
		   $(BUILD)/agent/podcache.o $(BUILD)/agent/k8s_watch.o $(BUILD)/agent/k8s_client.o \
		   $(BUILD)/agent/k8s_config.o $(BUILD)/agent/jsonw.o $(BUILD)/agent/rules.o \
		   $(BUILD)/agent/policy.o $(BUILD)/agent/caps.o $(BUILD)/agent/default_policy.o \
		   agent/kevents.h agent/podcache.h agent/rules.h agent/policy.h | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(filter %.c %.o,$^) -o $@ $(UNIT_LDLIBS)

unit unit-valgrind: $(KEVENTS_RULES_UNIT_BIN)

endif
