# agent/respond.c unit tests (cmocka, no root): the guardrail decision and
# the responder on a fake cgroup tree, without an enforcer. Included at the
# end of tests/unit/unit.mk: the binary has its own rule and is added to
# UNIT_BINS and to the unit targets here. It links the enforcer and sensor
# objects for killrules_compilable (nothing is loaded into the kernel), and
# the API action queue with the Kubernetes client (no API is reached).

ifndef NG_RESPOND_UNIT_MK
NG_RESPOND_UNIT_MK := 1

RESPOND_UNIT_BIN  := $(BUILD)/tests/test_respond
RESPOND_UNIT_OBJS := $(BUILD)/agent/respond.o $(BUILD)/agent/enforce.o $(BUILD)/agent/sensor.o \
                     $(BUILD)/agent/incident.o $(BUILD)/agent/container.o $(BUILD)/agent/jsonw.o \
                     $(BUILD)/agent/policy.o $(BUILD)/agent/caps.o $(BUILD)/agent/decode.o \
                     $(BUILD)/agent/evfmt.o $(BUILD)/agent/log.o $(BUILD)/agent/probe.o \
                     $(BUILD)/agent/default_policy.o $(BUILD)/agent/apiq.o \
                     $(BUILD)/agent/k8s_actions.o $(BUILD)/agent/k8s_client.o \
                     $(BUILD)/agent/k8s_config.o $(BUILD)/agent/k8s_watch.o $(BUILD)/agent/podcache.o
UNIT_BINS += $(RESPOND_UNIT_BIN)

$(RESPOND_UNIT_BIN): tests/unit/test_respond.c $(RESPOND_UNIT_OBJS) $(UNIT_HDRS) | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(filter %.c %.o,$^) -o $@ $(UNIT_LDLIBS) -pthread

unit unit-valgrind: $(RESPOND_UNIT_BIN)

endif
