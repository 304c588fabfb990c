# agent/respond/ unit tests (cmocka, no root): the guardrail decision and
# the responder on a fake cgroup tree, without an enforcer. Included at the
# end of tests/unit/unit.mk: the binary has its own rule and is added to
# UNIT_BINS and to the unit targets here. It links the enforcer and sensor
# objects for killrules_compilable (nothing is loaded into the kernel), and
# the API action queue with the Kubernetes client (no API is reached).

ifndef NG_RESPOND_UNIT_MK
NG_RESPOND_UNIT_MK := 1

RESPOND_UNIT_BIN  := $(BUILD)/tests/test_respond
RESPOND_UNIT_OBJS := $(AGENT_LIB)
UNIT_BINS += $(RESPOND_UNIT_BIN)

$(RESPOND_UNIT_BIN): tests/unit/respond/test_respond.c $(RESPOND_UNIT_OBJS) $(UNIT_HDRS) | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit $(filter %.c %.o %.a,$^) -o $@ $(UNIT_LDLIBS) -pthread

unit unit-valgrind: $(RESPOND_UNIT_BIN)

endif
