# Test and benchmark targets. Each suite owns its own .mk.
#   make test         deps + build, then test-suites (Makefile)
#   make test-suites  unit + integration (root) + k8s (real kube-apiserver; the
#                     first run on a machine builds it, ~15 min)
#   make unit         cmocka unit tests, no root
#   make integration  real kernel, root
#   make bench        overhead ratios, not a pass/fail test

include tests/unit/unit.mk
include tests/integration/integration.mk
include tests/bench/bench.mk

tests-build: $(UNIT_BINS) $(INTEGRATION_BINS)

test-suites: unit integration k8s

# the Kubernetes suites: the API client, watch, pod cache, Events, actions and
# RBAC against a real apiserver, then the agent's pod attribution end to end,
# then containment through the API end to end (release, apiserver outage)
k8s: k8s-test k8s-attribution k8s-e2e k8s-protect
.PHONY: k8s

include tests/k8s/k8s.mk
