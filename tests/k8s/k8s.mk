# Kubernetes test harness: a real kube-apiserver + etcd built from the Go module
# proxy (Go is used for this harness only; see docs/k8s-testing.md).
#   make k8s-build   build the pinned binaries into the per-machine cache
#                    (${NODEGUARD_K8S_CACHE:-$HOME/.cache/nodeguard-k8s}); no-op when cached
#   make k8s-smoke   start a throw-away cluster and exercise it with curl
#   make k8s-test    the C tests of the API client, watch, pod cache and Events
#                    (cmocka) against a throw-away cluster (tests/k8s/run_tests.sh)
#   make k8s-test-valgrind   the same, each test binary under valgrind
#   make k8s-attribution     the agent attributing a detection to its pod (root)
#   make k8s-protect protected namespaces honoured by the in-kernel kill (root)
#   make k8s-e2e     containment through the API end to end: label, NetworkPolicy,
#                    revoke-rbac, Events, delete-pod, release, an apiserver outage
#                    (root; tests/k8s/e2e_test.sh)
# Part of `make test` (target k8s in tests/tests.mk).

# Go needs a HOME for its caches; CI may run without one
HOME ?= /root
export HOME

.PHONY: k8s-build k8s-smoke k8s-test k8s-test-valgrind k8s-test-bins k8s-attribution k8s-e2e \
        k8s-protect

k8s-build:
	tests/k8s/build.sh >/dev/null

k8s-smoke: k8s-build
	tests/k8s/smoke_test.sh

K8S_TEST_NAMES := k8s_config k8s_client k8s_watch podcache k8s_actions kevents
K8S_TEST_BINS  := $(patsubst %,$(BUILD)/tests/k8s/test_%,$(K8S_TEST_NAMES))
K8S_TEST_OBJS  := $(AGENT_LIB)
K8S_TEST_LIBS  := $(shell pkg-config --libs libcurl libcjson yaml-0.1 2>/dev/null || echo -lcurl -lcjson -lyaml)

$(K8S_TEST_BINS): $(BUILD)/tests/k8s/test_%: tests/k8s/test_%.c tests/k8s/k8s_test.h $(K8S_TEST_OBJS) \
		  k8s_config.h k8s_client.h k8s_watch.h podcache.h \
		  kevents.h k8s_actions.h | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/k8s $(filter %.c %.o %.a,$^) -o $@ -lcmocka -pthread $(K8S_TEST_LIBS)

k8s-test-bins: $(K8S_TEST_BINS)

k8s-test: k8s-build $(K8S_TEST_BINS)
	tests/k8s/run_tests.sh $(K8S_TEST_BINS)

k8s-test-valgrind: k8s-build $(K8S_TEST_BINS)
	NODEGUARD_K8S_VALGRIND=1 tests/k8s/run_tests.sh $(K8S_TEST_BINS)

# the agent attributing a detection to its pod through a real apiserver (root)
k8s-attribution: k8s-build nodeguard
	tests/k8s/attribution_test.sh

# protected namespaces reach the kernel: a kube-system pod's container is
# not killed where an ordinary pod's is (root)
k8s-protect: k8s-build nodeguard
	tests/k8s/protect_test.sh

# containment through the API end to end, with the agent's least privilege
# (daemonset/rbac.yaml), release, and an apiserver outage (root, ~70 s)
k8s-e2e: k8s-build nodeguard nodeguardctl
	tests/k8s/e2e_test.sh

# under `make -j test` the two agent tests must not overlap: both load the
# sensors and pin state under /sys/fs/bpf/nodeguard
ifneq ($(filter test k8s,$(MAKECMDGOALS)),)
k8s-e2e: | k8s-attribution
k8s-protect: | k8s-e2e
endif
