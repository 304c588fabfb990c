# tools/: nodeguardctl (reads the incident journal: list, show, report).
# Included from the top Makefile (and from tests/unit/report.mk, whose
# end-to-end test runs the binary); the guard makes a second include a no-op.
#
#   make nodeguardctl

ifndef NODEGUARD_TOOLS_MK
NODEGUARD_TOOLS_MK := 1

# included before any target: do not become the default goal
ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := all
endif

TOOLS_BINS := nodeguardctl

$(BUILD)/tools/%.o: tools/%.c $(SKELS) | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itools $(DEPFLAGS) -c $< -o $@
	@$(DEPFIX)

# the archive: nodeguardctl links only the modules it uses
nodeguardctl: $(BUILD)/tools/nodeguardctl.o $(BUILD)/tools/ctl_release.o $(AGENT_LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

.PHONY: tools-clean
tools-clean:
	rm -f $(TOOLS_BINS) $(BUILD)/tools/*.o

endif
