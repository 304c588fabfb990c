# agent/journal.c: unit tests and the kill -9 crash test (one binary).
# Included at the end of tests/unit/unit.mk, after its UNIT_BINS rules: the
# binary has its own rule (it wraps write() and fdatasync() to inject
# failures) and is added to UNIT_BINS and to the unit targets here.

JOURNAL_BINS := $(BUILD)/tests/test_journal
UNIT_BINS    += $(JOURNAL_BINS)

$(BUILD)/tests/test_journal: tests/unit/store/test_journal.c $(AGENT_LIB) \
                             journal.h policy.h | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit $(filter %.c %.o %.a,$^) -o $@ \
		-Wl,--wrap=write -Wl,--wrap=fdatasync $(UNIT_LDLIBS)

unit unit-valgrind: $(JOURNAL_BINS)
