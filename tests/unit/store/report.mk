# agent/store/report.c and tools/nodeguardctl: unit tests and the end-to-end test
# of the nodeguardctl binary. Included at the end of tests/unit/unit.mk,
# after its UNIT_BINS rules: the binaries have their own rules and are added
# to UNIT_BINS and to the unit targets here.

include tools/tools.mk

REPORT_BINS := $(BUILD)/tests/test_report $(BUILD)/tests/test_nodeguardctl
UNIT_BINS   += $(REPORT_BINS)

REPORT_OBJS := $(AGENT_LIB)

$(BUILD)/tests/test_report: tests/unit/store/test_report.c tests/unit/report_fixture.h \
                            $(REPORT_OBJS) $(UNIT_HDRS) | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit $(filter %.c %.o %.a,$^) -o $@ $(UNIT_LDLIBS)

# runs ./nodeguardctl (or $NODEGUARDCTL) on journals it writes
$(BUILD)/tests/test_nodeguardctl: tests/unit/store/test_nodeguardctl.c tests/unit/report_fixture.h \
                                  $(REPORT_OBJS) $(UNIT_HDRS) nodeguardctl | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit $(filter %.c %.o %.a,$^) -o $@ $(UNIT_LDLIBS)

unit unit-valgrind: $(REPORT_BINS)
