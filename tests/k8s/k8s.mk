# Kubernetes test harness: a real kube-apiserver + etcd built from the Go module
# proxy (Go is used for this harness only; see docs/k8s-testing.md).
#   make k8s-build   build the pinned binaries into the per-machine cache
#                    (${NODEGUARD_K8S_CACHE:-$HOME/.cache/nodeguard-k8s}); no-op when cached
#   make k8s-smoke   start a throw-away cluster and exercise it with curl
# Not part of `make test` yet.

.PHONY: k8s-build k8s-smoke

k8s-build:
	tests/k8s/build.sh >/dev/null

k8s-smoke: k8s-build
	tests/k8s/smoke_test.sh
