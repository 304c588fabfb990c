# Test and benchmark targets. Each suite owns its own .mk.
#   make test         unit + integration (root) [+ k8s once it exists]
#   make unit         cmocka unit tests, no root
#   make integration  real kernel, root
#   make bench        overhead ratios, not a pass/fail test

-include tests/unit/unit.mk
-include tests/integration/integration.mk
-include tests/bench/bench.mk

tests-build: $(UNIT_BINS) $(INTEGRATION_BINS)

test: unit integration

-include tests/k8s/k8s.mk
