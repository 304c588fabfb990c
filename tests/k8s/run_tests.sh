#!/usr/bin/env bash
# The C tests of the Kubernetes API client, watch, pod cache and Events (cmocka)
# against a throw-away kube-apiserver + etcd (tests/k8s/cluster.sh).
#
#   tests/k8s/run_tests.sh [TEST-BINARY...]     (default: build/tests/k8s/test_*)
#   NODEGUARD_K8S_VALGRIND=1 tests/k8s/run_tests.sh ...   each binary under valgrind
#
# Starts a cluster in a temp dir (always stopped again: trap, plus the
# cluster's watchdog if this script is killed outright), exports its env
# (KUBE_SERVER, KUBE_CA, KUBE_ADMIN_TOKEN, KUBE_AGENT_TOKEN, KUBECONFIG) and a
# throw-away client certificate/key pair (K8S_TEST_CLIENT_CERT/_KEY,
# K8S_TEST_OTHER_KEY) and K8S_TEST_RBAC_YAML (daemonset/rbac.yaml unless
# set), runs each binary and prints its cmocka output. Last line:
# "N passed, M failed, S skipped" (tests); exit status non-zero on any failure.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
t_start=$SECONDS

if [[ $# -eq 0 ]]; then
  set -- "$root"/build/tests/k8s/test_*
fi
for b in "$@"; do
  [[ -x $b ]] || { echo "run_tests: $b is not an executable (make k8s-test-bins)" >&2; exit 2; }
done

work=$(mktemp -d /tmp/nodeguard-k8s-test.XXXXXX)
stopped= failed_bins=0
cleanup() {
  [[ -n $stopped ]] || "$here/cluster.sh" stop "$work" >/dev/null 2>&1 || true
  if [[ $failed_bins -eq 0 && -n $stopped ]]; then rm -rf "$work"; else echo "cluster logs kept in $work" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

if ! NODEGUARD_K8S_OWNER=$$ "$here/cluster.sh" start "$work"; then
  echo "run_tests: the cluster did not start" >&2
  failed_bins=1
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi
set -a
# shellcheck disable=SC1091
. "$work/env"
set +a
# the agent's RBAC rules, which test_k8s_actions reads (whatever the cwd)
export K8S_TEST_RBAC_YAML=${K8S_TEST_RBAC_YAML:-$root/daemonset/rbac.yaml}
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

# a client certificate and a key that does not belong to it (TLS setup only:
# the test apiserver has no client CA)
mkdir -p "$work/client"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/client/key.pem" -out "$work/client/cert.pem" \
  -subj /CN=nodeguard-test -days 1 >/dev/null 2>&1 &&
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/client/other.pem" >/dev/null 2>&1 ||
  echo "run_tests: openssl failed; the client-certificate test will skip" >&2
if [[ -s $work/client/other.pem ]]; then
  export K8S_TEST_CLIENT_CERT=$work/client/cert.pem K8S_TEST_CLIENT_KEY=$work/client/key.pem \
         K8S_TEST_OTHER_KEY=$work/client/other.pem
fi

pass=0 fail=0 skipped=0
for b in "$@"; do
  name=$(basename "$b")
  echo "== $name"
  out="$work/$name.out"
  t0=$SECONDS
  if [[ -n ${NODEGUARD_K8S_VALGRIND:-} ]]; then
    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite "$b" >"$out" 2>&1
  else
    "$b" >"$out" 2>&1
  fi
  rc=$?
  cat "$out"
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' "$out" | tail -1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' "$out" | tail -1)
  s=$(sed -n 's/^ \([0-9]*\) SKIPPED TEST(S)$/\1/p' "$out" | tail -1)
  pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0})); skipped=$((skipped + ${s:-0}))
  if [[ $rc -ne 0 ]]; then
    failed_bins=$((failed_bins + 1))
    # a crash or a valgrind error with no failed test: count it
    [[ -n ${f:-} && ${f:-0} -gt 0 ]] || fail=$((fail + 1))
    echo "FAILED: $name (exit $rc)" >&2
  fi
  echo "-- $name: $((SECONDS - t0))s"
done

t0=$SECONDS
if "$here/cluster.sh" stop "$work"; then stopped=1; else failed_bins=$((failed_bins + 1)); fi
echo "k8s tests: $((SECONDS - t_start))s in all (stop $((SECONDS - t0))s)"
echo "$pass passed, $fail failed, $skipped skipped"
[[ $failed_bins -eq 0 && $fail -eq 0 ]]
