# agent/store/incident.c unit tests (cmocka, no root): correlation window, repeats
# and their journal coalescing, severity escalation, bounds, and replay of the
# captured delta records. Included at the end of tests/unit/unit.mk, after its
# UNIT_BINS rules: the binary has its own rule and is added to UNIT_BINS and
# to the unit targets here.

ifndef NG_INCIDENT_UNIT_MK
NG_INCIDENT_UNIT_MK := 1

INCIDENT_UNIT_BIN := $(BUILD)/tests/test_incident
UNIT_BINS += $(INCIDENT_UNIT_BIN)

$(INCIDENT_UNIT_BIN): tests/unit/store/test_incident.c tests/unit/unit_helpers.h \
		      $(AGENT_LIB) incident.h \
		      jsonw.h policy.h | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit $(filter %.c %.o %.a,$^) -o $@ $(UNIT_LDLIBS)

unit unit-valgrind: $(INCIDENT_UNIT_BIN)

endif
