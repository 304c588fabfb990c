# Detection-engine scenario tests (tests/integration/test_scenarios.c): the
# real agent with the embedded default policy on the real kernel, root only.
# Included at the end of tests/integration/integration.mk: adds its binaries
# to INTEGRATION_BINS and runs as a prerequisite of `integration` (whose
# recipe is the sensor suite's).
#
#   make integration-scenarios   build nodeguard and the tests, run them
#
# ng-scen-helper is the in-container workload; the test copies it (and a
# setuid-root copy) to its scratch directory.

ifndef NG_SCENARIOS_IT_MK
NG_SCENARIOS_IT_MK := 1

SCEN_TEST   := $(BUILD)/tests/test_scenarios
SCEN_HELPER := $(BUILD)/tests/ng-scen-helper
SCEN_SRCS   := tests/integration/test_scenarios.c tests/integration/scen_agent.c \
               tests/integration/scen_journal.c tests/integration/ctr.c tests/integration/agent.c
SCEN_HDRS   := tests/integration/scen_agent.h tests/integration/scen_journal.h \
               tests/integration/ctr.h tests/integration/agent.h include/nodeguard/credcheck.h \
               include/nodeguard/event.h incident.h

INTEGRATION_BINS += $(SCEN_TEST) $(SCEN_HELPER)

$(SCEN_HELPER): tests/integration/scen_helper.c | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@

$(SCEN_TEST): $(SCEN_SRCS) $(SCEN_HDRS) | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/integration $(SCEN_SRCS) -o $@ -lcmocka -lpthread $(LDLIBS)

.PHONY: integration-scenarios
integration-scenarios: nodeguard $(SCEN_TEST) $(SCEN_HELPER)
	NODEGUARD=./nodeguard NG_SCEN_HELPER=$(SCEN_HELPER) timeout -k 10 280 ./$(SCEN_TEST)

integration: integration-scenarios

endif
