# Containment tests (tests/integration/test_contain.c): the real agent with a
# kill/deny/isolate test policy, nodeguardctl isolate/freeze/kill-container/
# release through the control socket, veth-linked peer namespaces, pinned
# state across an agent SIGKILL, uninstall. Root only. Included at the end of
# tests/integration/integration.mk: adds its binaries to INTEGRATION_BINS and
# runs as a prerequisite of `integration`.
#
#   make integration-contain   build nodeguard, nodeguardctl and the tests, run them

ifndef NG_CONTAIN_IT_MK
NG_CONTAIN_IT_MK := 1

CONTAIN_TEST   := $(BUILD)/tests/test_contain
CONTAIN_HELPER := $(BUILD)/tests/ng-contain-helper
CONTAIN_LIB    := tests/integration/contain_lib.c tests/integration/scen_agent.c \
                  tests/integration/scen_journal.c tests/integration/ctr.c tests/integration/agent.c
CONTAIN_HDRS   := tests/integration/contain_lib.h tests/integration/scen_agent.h \
                  tests/integration/scen_journal.h tests/integration/ctr.h tests/integration/agent.h

INTEGRATION_BINS += $(CONTAIN_TEST) $(CONTAIN_HELPER)

$(CONTAIN_HELPER): tests/integration/contain_helper.c | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@

$(CONTAIN_TEST): tests/integration/test_contain.c $(CONTAIN_LIB) $(CONTAIN_HDRS) | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/integration $(filter %.c,$^) -o $@ -lcmocka -lpthread $(LDLIBS)

.PHONY: integration-contain
integration-contain: nodeguard nodeguardctl $(CONTAIN_TEST) $(CONTAIN_HELPER)
	NODEGUARD=./nodeguard NODEGUARDCTL=./nodeguardctl NG_CONTAIN_HELPER=$(CONTAIN_HELPER) \
		BPFTOOL=$(BPFTOOL) timeout -k 10 290 ./$(CONTAIN_TEST)

integration: integration-contain

endif
