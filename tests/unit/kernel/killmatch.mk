# include/nodeguard/killmatch.h and killrules_compile() unit tests (cmocka,
# no root): the compiled slot masks held against a rule-by-rule reference.
# Included at the end of tests/unit/unit.mk: the binary has its own rule and
# is added to UNIT_BINS and to the unit targets here. It links the enforcer
# for killrules_compile (nothing is loaded into the kernel, but enforce.o
# brings libbpf), the sensor for ng_fnv1a (with the decoder it needs) and the
# policy parser with the embedded default policy.

ifndef NG_KILLMATCH_UNIT_MK
NG_KILLMATCH_UNIT_MK := 1

KILLMATCH_UNIT_BIN  := $(BUILD)/tests/test_killmatch
KILLMATCH_UNIT_OBJS := $(AGENT_LIB)
UNIT_BINS += $(KILLMATCH_UNIT_BIN)

$(KILLMATCH_UNIT_BIN): tests/unit/kernel/test_killmatch.c $(KILLMATCH_UNIT_OBJS) $(UNIT_HDRS) \
		       include/nodeguard/killmatch.h include/nodeguard/enforce.h \
		       include/nodeguard/credcheck.h | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit $(filter %.c %.o %.a,$^) -o $@ $(UNIT_LDLIBS)

unit unit-valgrind: $(KILLMATCH_UNIT_BIN)

endif
