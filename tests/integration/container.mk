# agent/attrib/container.c on real cgroups (root). Included at the end of
# tests/integration/integration.mk: adds its binary to INTEGRATION_BINS and
# runs it as a prerequisite of `integration` (that target's recipe is the
# sensor suite's).

ifndef NG_CONTAINER_IT_MK
NG_CONTAINER_IT_MK := 1

CONTAINER_IT_BIN := $(BUILD)/tests/test_container_it
INTEGRATION_BINS += $(CONTAINER_IT_BIN)

$(CONTAINER_IT_BIN): tests/integration/test_container.c $(AGENT_LIB) container.h probe.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(filter %.c %.o %.a,$^) -o $@ -lcmocka $(LDLIBS)

.PHONY: integration-container
integration-container: $(CONTAINER_IT_BIN)
	timeout -k 10 120 ./$(CONTAINER_IT_BIN)

integration: integration-container

endif
