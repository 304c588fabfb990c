# agent/attrib/container.c unit tests (cmocka, no root). Included from
# tests/unit/unit.mk after its own rules, so it extends UNIT_BINS and the
# `unit` target rather than relying on unit.mk's static pattern rule.

ifndef NG_CONTAINER_UNIT_MK
NG_CONTAINER_UNIT_MK := 1

CONTAINER_UNIT_BIN := $(BUILD)/tests/test_container
UNIT_BINS += $(CONTAINER_UNIT_BIN)

$(CONTAINER_UNIT_BIN): tests/unit/attrib/test_container.c $(AGENT_LIB) \
		       container.h | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit $(filter %.c %.o %.a,$^) -o $@ -lcmocka

unit unit-valgrind: $(CONTAINER_UNIT_BIN)

endif
