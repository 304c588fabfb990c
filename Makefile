# nodeguard — build, test and benchmark.
#
#   sudo make run    install what is missing, build, run the agent in the
#                    foreground on the embedded policy (ARGS="--dry-run" ...)
#   sudo make test   install what is missing, build, run every suite
#   make deps        install the Debian bookworm packages the build and tests need
#   make             build BPF objects, skeletons, nodeguard and test helpers
#   make bench       overhead ratios (agent vs no agent, interleaved)

CC       ?= cc
CLANG    ?= clang
BPFTOOL  ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
ARCH     := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

# vmlinux.h comes from the BTF of the kernel we build on (CO-RE makes the
# objects portable to other kernels). Point VMLINUX_BTF elsewhere to build
# against another kernel's BTF.
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux

BUILD    := build
PKGS     := libbpf libelf zlib libcjson yaml-0.1 libcurl

# agent/ is grouped by pipeline stage (docs/architecture.md); every stage's
# headers are on the include path, and objects stay flat in $(BUILD)/agent
AGENT_DIRS := agent $(sort $(dir $(wildcard agent/*/*.c)))
AGENT_DIRS := $(patsubst %/,%,$(AGENT_DIRS))
vpath %.c $(AGENT_DIRS)
vpath %.S $(AGENT_DIRS)
vpath %.h $(AGENT_DIRS)

CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-truncation \
            -D_GNU_SOURCE -Iinclude $(addprefix -I,$(AGENT_DIRS)) -I$(BUILD) \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lbpf -lelf -lz -lcjson -lyaml -lcurl)
# header dependencies, written by the compilers (-MMD) and read back below;
# the source itself is taken out of them (vpath finds it), so moving a
# source file between stage folders never leaves a stale path behind
DEPFLAGS  = -MMD -MP -MF $@.d
DEPFIX    = sed -i -e 's|^\([^:]*:\) *$<|\1|' $@.d

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS    := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))

AGENT_SRCS := $(filter-out agent/main.c,$(wildcard $(addsuffix /*.c,$(AGENT_DIRS))))
AGENT_OBJS := $(patsubst %.c,$(BUILD)/agent/%.o,$(notdir $(AGENT_SRCS))) $(BUILD)/agent/default_policy.o
# every module but main(), as an archive: a program or test links only what
# it uses, whatever file a function lives in
AGENT_LIB  := $(BUILD)/libnodeguard.a

.SECONDARY:
.PHONY: all deps test run test-suites unit integration k8s bench clean fmt
all: nodeguard nodeguardctl tests-build

# The two quick-start commands do their own set-up, in order: the root check
# (one line, before anything else), the idempotent dependency step, the build
# (a fresh make, so pkg-config sees what deps just installed), then the work.
ROOT_GOALS := $(filter test run,$(MAKECMDGOALS))
ifneq ($(ROOT_GOALS),)
ifneq ($(shell id -u),0)
$(error nodeguard: 'make $(ROOT_GOALS)' needs root (it installs packages and loads BPF programs): run 'sudo make $(ROOT_GOALS)')
endif
endif

test:
	./scripts/deps.sh
	$(MAKE) all
	$(MAKE) test-suites

run:
	./scripts/deps.sh
	$(MAKE) nodeguard nodeguardctl
	@echo "nodeguard: starting the agent (Ctrl-C stops it); read incidents with: sudo ./nodeguardctl list"
	./nodeguard run $(ARGS)

$(BUILD):
	mkdir -p $(BUILD)/agent $(BUILD)/tests

$(BUILD)/vmlinux.h: | $(BUILD)
	@test -r $(VMLINUX_BTF) || { echo "nodeguard: no kernel BTF at $(VMLINUX_BTF); set VMLINUX_BTF=<file>" >&2; exit 1; }
	$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@.tmp && mv $@.tmp $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BUILD)/vmlinux.h | $(BUILD)
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror $(DEPFLAGS) \
		-Iinclude -I$(BUILD) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name ngsk_$* > $@.tmp && mv $@.tmp $@

# the skeletons are generated headers: every object waits for them
$(BUILD)/agent/%.o: %.c $(SKELS) | $(BUILD)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@
	@$(DEPFIX)

$(BUILD)/agent/default_policy.o: default_policy.S policy/default.yaml | $(BUILD)
	$(CC) -c $< -o $@

$(AGENT_LIB): $(AGENT_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

nodeguard: $(BUILD)/agent/main.o $(AGENT_LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

-include $(wildcard $(BUILD)/*.d $(BUILD)/agent/*.d $(BUILD)/tools/*.d)

include tests/tests.mk
include tools/tools.mk

deps:
	./scripts/deps.sh

clean:
	rm -rf $(BUILD) nodeguard nodeguardctl

fmt:
	clang-format -i $(wildcard $(addsuffix /*.[ch],$(AGENT_DIRS))) bpf/*.c bpf/*.h include/nodeguard/*.h tools/*.c
