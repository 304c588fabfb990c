#!/usr/bin/env bash
# Smoke test of the k8s test harness: a real kube-apiserver + etcd on loopback
# (tests/k8s/cluster.sh), exercised with curl the way nodeguard's k8s tests
# will use it. Prints "N passed, M failed" last; exits non-zero on any failure.
# The cluster is always stopped (trap), and a watchdog stops it if this script
# is killed outright.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
UA=nodeguard-smoke   # not "curl...": the apiserver pretty-prints for curl
pass=0 fail=0
t_start=$SECONDS

ok()  { pass=$((pass + 1)); printf 'ok   %s\n' "$*"; }
bad() { fail=$((fail + 1)); printf 'FAIL %s\n' "$*"; }

work=$(mktemp -d /tmp/nodeguard-k8s-smoke.XXXXXX)
stopped=
cleanup() {
  [[ -n $stopped ]] || "$here/cluster.sh" stop "$work" || true
  if [[ $fail -eq 0 && -n $stopped ]]; then rm -rf "$work"; else echo "logs kept in $work" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

summary_and_exit() {
  echo "k8s smoke: $((SECONDS - t_start))s in all"
  echo "$pass passed, $fail failed"
  [[ $fail -eq 0 ]]
  exit
}

t0=$SECONDS
if NODEGUARD_K8S_OWNER=$$ "$here/cluster.sh" start "$work"; then
  ok "cluster started in $((SECONDS - t0))s"
else
  bad "cluster start"
  summary_and_exit
fi
# shellcheck disable=SC1091
. "$work/env"

body="$work/body"
# req METHOD PATH TOKEN [CONTENT-TYPE] [DATA]  -> prints the HTTP status, body in $body
req() {
  local args=(-sS -o "$body" -w '%{http_code}' -A "$UA" --max-time 30 --cacert "$KUBE_CA"
              -X "$1" -H "Authorization: Bearer $3")
  [[ -n ${4:-} ]] && args+=(-H "Content-Type: $4" --data-binary "$5")
  curl "${args[@]}" "$KUBE_SERVER$2" || echo 000
}
# check NAME WANT METHOD PATH TOKEN [CONTENT-TYPE DATA]
check() {
  local name=$1 want=$2 code; shift 2
  code=$(req "$@")
  if [[ $code == "$want" ]]; then ok "$name ($code)"; return 0; fi
  bad "$name: HTTP $code, want $want: $(head -c 300 "$body")"
  return 1
}
# body_has NAME FIXED-STRING / body_lacks NAME FIXED-STRING
body_has()   { if grep -qF -- "$2" "$body"; then ok "$1"; else bad "$1: no '$2' in $(head -c 300 "$body")"; fi; }
body_re()    { if grep -qE -- "$2" "$body"; then ok "$1"; else bad "$1: no /$2/ in $(head -c 300 "$body")"; fi; }
body_lacks() { if grep -qF -- "$2" "$body"; then bad "$1: unexpected '$2'"; else ok "$1"; fi; }

A=$KUBE_ADMIN_TOKEN
G=$KUBE_AGENT_TOKEN
J=application/json
ns="nodeguard-smoke-$(openssl rand -hex 4)"
cid=$(openssl rand -hex 32)            # 64 hex, like a containerd container id
want_version=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ { print $2; exit }' "$here/apiserver/go.mod")

# --- server identity and authentication ---
check "GET /version" 200 GET /version "$A" &&
  body_re "/version is the pinned $want_version" "\"gitVersion\": *\"${want_version//./\\.}\""
check "bad token is Unauthorized" 401 GET /api/v1/namespaces "not-a-token"

# --- namespace and service account (no controllers: no default SA) ---
check "create namespace $ns" 201 POST /api/v1/namespaces "$A" $J \
  "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$ns\"}}"
check "create ServiceAccount" 201 POST "/api/v1/namespaces/$ns/serviceaccounts" "$A" $J \
  '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"nodeguard-agent"}}'
check "no default ServiceAccount without controllers" 404 GET "/api/v1/namespaces/$ns/serviceaccounts/default" "$A"

# --- pods bound to nodes, status patched as a kubelet would ---
pod() { # NAME NODE
  printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s","labels":{"app":"smoke"}},"spec":{"nodeName":"%s","serviceAccountName":"nodeguard-agent","containers":[{"name":"main","image":"registry.invalid/smoke:1"}]}}' "$1" "$2"
}
check "create pod on test-node" 201 POST "/api/v1/namespaces/$ns/pods" "$A" $J "$(pod smoke-pod-a test-node)"
check "create pod on other-node" 201 POST "/api/v1/namespaces/$ns/pods" "$A" $J "$(pod smoke-pod-b other-node)"
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
check "PATCH pods/smoke-pod-a/status containerID" 200 PATCH "/api/v1/namespaces/$ns/pods/smoke-pod-a/status" "$A" \
  application/merge-patch+json \
  "{\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"main\",\"image\":\"registry.invalid/smoke:1\",\"imageID\":\"\",\"containerID\":\"containerd://$cid\",\"ready\":true,\"restartCount\":0,\"started\":true,\"state\":{\"running\":{\"startedAt\":\"$now\"}}}]}}" &&
  body_has "patch response carries the containerID" "\"containerID\":\"containerd://$cid\""
check "GET pod" 200 GET "/api/v1/namespaces/$ns/pods/smoke-pod-a" "$A" &&
  body_has "stored status has the containerID" "\"containerID\":\"containerd://$cid\""
check "list pods fieldSelector=spec.nodeName=test-node" 200 GET "/api/v1/pods?fieldSelector=spec.nodeName%3Dtest-node" "$A" && {
  body_has "field selector finds the test-node pod" '"name":"smoke-pod-a"'
  body_lacks "field selector leaves out the other-node pod" '"name":"smoke-pod-b"'
}

# --- events: only those someone creates ---
check "create Event" 201 POST "/api/v1/namespaces/$ns/events" "$A" $J \
  "{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{\"name\":\"smoke-pod-a.nodeguard\"},\"involvedObject\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"namespace\":\"$ns\",\"name\":\"smoke-pod-a\"},\"reason\":\"NodeguardDetection\",\"message\":\"smoke\",\"type\":\"Warning\",\"source\":{\"component\":\"nodeguard\",\"host\":\"test-node\"},\"firstTimestamp\":\"$now\",\"lastTimestamp\":\"$now\",\"count\":1}"
check "list Events for the pod" 200 GET "/api/v1/namespaces/$ns/events?fieldSelector=involvedObject.name%3Dsmoke-pod-a" "$A" &&
  body_has "event is listed" '"reason":"NodeguardDetection"'

# --- NetworkPolicy and RBAC objects are validated by the server ---
check "create NetworkPolicy" 201 POST "/apis/networking.k8s.io/v1/namespaces/$ns/networkpolicies" "$A" $J \
  '{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"isolate-smoke"},"spec":{"podSelector":{"matchLabels":{"app":"smoke"}},"policyTypes":["Ingress","Egress"],"egress":[{"to":[{"ipBlock":{"cidr":"10.0.0.0/8"}}],"ports":[{"protocol":"TCP","port":53}]}]}}'
check "invalid NetworkPolicy is rejected" 422 POST "/apis/networking.k8s.io/v1/namespaces/$ns/networkpolicies" "$A" $J \
  '{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"bad"},"spec":{"podSelector":{},"egress":[{"to":[{"ipBlock":{"cidr":"not-a-cidr"}}],"ports":[{"protocol":"ICMP"}]}]}}'
check "create Role pod-reader" 201 POST "/apis/rbac.authorization.k8s.io/v1/namespaces/$ns/roles" "$A" $J \
  '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"pod-reader"},"rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["get","list","watch"]}]}'
check "create RoleBinding for user agent" 201 POST "/apis/rbac.authorization.k8s.io/v1/namespaces/$ns/rolebindings" "$A" $J \
  '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"agent-pod-reader"},"subjects":[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"agent"}],"roleRef":{"kind":"Role","apiGroup":"rbac.authorization.k8s.io","name":"pod-reader"}}'
check "invalid RoleBinding is rejected" 422 POST "/apis/rbac.authorization.k8s.io/v1/namespaces/$ns/rolebindings" "$A" $J \
  '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"bad"},"subjects":[{"kind":"User","name":"agent"}],"roleRef":{"kind":"NoSuchKind","apiGroup":"example.com","name":"x"}}'

# --- RBAC is enforced for the agent token ---
# The authorizer sees the new binding through an informer: allow it a moment.
for i in $(seq 1 50); do
  [[ $(req GET "/api/v1/namespaces/$ns/pods" "$G") == 200 ]] && break
  sleep 0.1
done
check "agent may list pods where bound" 200 GET "/api/v1/namespaces/$ns/pods" "$G"
check "agent is Forbidden on secrets" 403 GET "/api/v1/namespaces/$ns/secrets" "$G"
check "agent is Forbidden on pods elsewhere" 403 GET "/api/v1/namespaces/default/pods" "$G"

# --- a pod on a node without kubelet goes only with gracePeriodSeconds=0 ---
check "delete pod with gracePeriodSeconds=0" 200 DELETE "/api/v1/namespaces/$ns/pods/smoke-pod-a?gracePeriodSeconds=0" "$A"
check "deleted pod is gone" 404 GET "/api/v1/namespaces/$ns/pods/smoke-pod-a" "$A"

# --- teardown leaves nothing running ---
pids="$ETCD_PID $APISERVER_PID ${WATCHDOG_PID:-}"
t0=$SECONDS
if "$here/cluster.sh" stop "$work"; then
  stopped=1
  left=
  for p in $pids; do pgrep -g "$p" >/dev/null && left+=" $p"; done
  if [[ -z $left ]]; then ok "stop left no process ($((SECONDS - t0))s)"; else bad "stop left process groups:$left"; fi
  "$here/cluster.sh" stop "$work" && ok "stop is idempotent" || bad "second stop failed"
else
  bad "cluster stop"
fi

summary_and_exit
