# agent/ctl.c: the control socket (server, client), agent/ctl_dispatch.c:
# the agent's handler of its requests, and nodeguardctl as its client.
# Included at the end of tests/unit/unit.mk, after its UNIT_BINS rules:
# the binary has its own rule (threads, and the responder is faked inside
# the test) and is added to UNIT_BINS and to the unit targets here.

include tools/tools.mk

CTL_BINS  := $(BUILD)/tests/test_ctl
UNIT_BINS += $(CTL_BINS)

CTL_OBJS := $(AGENT_LIB)

# runs ./nodeguardctl (or $NODEGUARDCTL) against a server in the test
$(BUILD)/tests/test_ctl: tests/unit/agent/test_ctl.c $(CTL_OBJS) $(UNIT_HDRS) nodeguardctl | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit -pthread $(filter %.c %.o %.a,$^) -o $@ $(UNIT_LDLIBS)

unit unit-valgrind: $(CTL_BINS)
