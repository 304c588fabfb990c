#!/usr/bin/env bash
# The kernel honours protected namespaces from the first instruction: the
# agent learns this node's pods from a real apiserver and puts the pod
# cgroups of protected namespaces (kube-system by default) into the kernel's
# protected set. A container of a kube-system pod that enters the host's
# mount namespace (as CSI node plugins do with nsenter) is reported, not
# killed, while a container of an ordinary pod doing the same is killed in
# the kernel by the embedded default policy. Root; real kernel.
set -uo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "SKIPPED: needs root"; exit 1; }
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
D=$(mktemp -d /tmp/ng-k8s-prot.XXXXXX)
J=$D/journal
CG=$(awk '$9=="cgroup2"{print $5; exit}' /proc/self/mountinfo)
DIRS=()
AGENT=
cleanup() {
	[ -n "$AGENT" ] && kill -INT "$AGENT" 2>/dev/null && wait "$AGENT" 2>/dev/null
	local i
	for ((i = ${#DIRS[@]} - 1; i >= 0; i--)); do rmdir "${DIRS[$i]}" 2>/dev/null; done
	tests/k8s/cluster.sh stop "$D/cluster" >/dev/null 2>&1
	rm -rf "$D"
	[ -n "$PINNED_BEFORE" ] || ./nodeguard uninstall >/dev/null 2>&1
}
PINNED_BEFORE=$(ls /sys/fs/bpf/nodeguard 2>/dev/null | head -1)
trap cleanup EXIT
tests/k8s/cluster.sh start "$D/cluster" >/dev/null || { echo "FAIL cluster did not start"; echo "0 passed, 1 failed"; exit 1; }
. "$D/cluster/env"
api() { curl -s --max-time 10 --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" "$@"; }
code=$(api -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -X POST "$KUBE_SERVER/api/v1/namespaces" -d '{"metadata":{"name":"shop"}}')
[ "$code" = 201 ] && ok "namespace shop created" || bad "namespace: HTTP $code"

# mkpod NS NAME: a pod on test-node and its kubelet-shaped cgroups (the pod
# cgroup named from the uid the apiserver gave it); sets SCOPE
mkpod() {
	local ns=$1 name=$2 cid uid slice
	cid=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
	uid=$(api -H 'Content-Type: application/json' -X POST "$KUBE_SERVER/api/v1/namespaces/$ns/pods" \
		-d "{\"metadata\":{\"name\":\"$name\"},\"spec\":{\"nodeName\":\"test-node\",\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["uid"])')
	[ -n "$uid" ] || { bad "pod $ns/$name not created"; return 1; }
	code=$(api -o /dev/null -w '%{http_code}' -H 'Content-Type: application/merge-patch+json' -X PATCH "$KUBE_SERVER/api/v1/namespaces/$ns/pods/$name/status" \
		-d "{\"status\":{\"containerStatuses\":[{\"name\":\"c\",\"image\":\"busybox\",\"imageID\":\"\",\"ready\":true,\"restartCount\":0,\"containerID\":\"containerd://$cid\",\"state\":{\"running\":{}}}]}}")
	[ "$code" = 200 ] || { bad "pod $ns/$name status: HTTP $code"; return 1; }
	slice=$CG/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${uid//-/_}.slice
	SCOPE=$slice/cri-containerd-$cid.scope
	[ -d "$CG/kubepods.slice" ] || DIRS+=("$CG/kubepods.slice")
	[ -d "$CG/kubepods.slice/kubepods-besteffort.slice" ] || DIRS+=("$CG/kubepods.slice/kubepods-besteffort.slice")
	mkdir -p "$SCOPE" && DIRS+=("$slice" "$SCOPE")
	ok "pod $ns/$name on test-node (uid $uid, container cgroup)"
}
mkpod kube-system csi-node-1 && SYS_SCOPE=$SCOPE
mkpod shop app-1 && APP_SCOPE=$SCOPE

./nodeguard run --kubeconfig "$KUBECONFIG" --node-name test-node --journal-dir "$J" --quiet 2>"$D/agent.err" &
AGENT=$!
for _ in $(seq 100); do grep -q "protected namespace kube-system: pod csi-node-1" "$D/agent.err" 2>/dev/null && break; sleep 0.1; done
grep -q "protected namespace kube-system: pod csi-node-1" "$D/agent.err" && ok "the agent protects the kube-system pod's cgroup" ||
	bad "no protection of csi-node-1: $(tail -3 "$D/agent.err")"
grep -q "protected namespace shop" "$D/agent.err" && bad "shop is not a protected namespace" || ok "shop's pod is not protected"

# a container enters the host's mount namespace (kthreadd's: PID 1 may be shielded)
enter_host() { # scope
	bash -c "echo \$\$ > $1/cgroup.procs; exec unshare --mount --pid --fork nsenter --mount=/proc/2/ns/mnt /bin/true"
}
enter_host "$SYS_SCOPE"; rc=$?
[ "$rc" = 0 ] && ok "kube-system container entered the host mount namespace and ran (exit 0)" || bad "kube-system container: exit $rc"
# (unshare reports its child's SIGKILL as exit 1: "sigprocmask unblock failed")
enter_host "$APP_SCOPE" 2>/dev/null; rc=$?
[ "$rc" != 0 ] && ok "shop container doing the same did not run to the end (exit $rc)" || bad "shop container: exit 0, not killed"
# a kube-system pod that arrives while the agent runs: protected as its pod
# cgroup appears (inotify on the QoS cgroups), before its container acts
code=$(api -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -X POST "$KUBE_SERVER/api/v1/namespaces/kube-system/pods" \
	-d '{"metadata":{"name":"csi-node-2"},"spec":{"nodeName":"test-node","containers":[{"name":"c","image":"busybox"}]}}')
[ "$code" = 201 ] && ok "pod kube-system/csi-node-2 created while the agent runs" || bad "csi-node-2: HTTP $code"
uid2=$(api "$KUBE_SERVER/api/v1/namespaces/kube-system/pods/csi-node-2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["uid"])')
sleep 1.5 # the pod cache has it; its cgroup does not exist yet
slice2=$CG/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${uid2//-/_}.slice
scope2=$slice2/cri-containerd-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n').scope
t0=$(date +%s%N)
mkdir -p "$scope2" && DIRS+=("$slice2" "$scope2")
for _ in $(seq 200); do grep -q "protected namespace kube-system: pod csi-node-2" "$D/agent.err" && break; sleep 0.01; done
if grep -q "protected namespace kube-system: pod csi-node-2" "$D/agent.err"; then
	ok "csi-node-2 protected $((($(date +%s%N) - t0) / 1000000)) ms after its pod cgroup appeared"
else bad "csi-node-2 not protected within 2 s of its cgroup"; fi
enter_host "$scope2"; rc=$?
[ "$rc" = 0 ] && ok "csi-node-2's container entered the host mount namespace and ran" || bad "csi-node-2 container: exit $rc"
for _ in $(seq 50); do [ "$(grep -c '"phase":"enforced"\|"action":"kill"' "$J/journal.jsonl" 2>/dev/null)" -ge 2 ] && break; sleep 0.1; done
if python3 - "$J/journal.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
opens = {r["incident"]: r["attribution"] for r in recs if r.get("rec") == "open"}
kills = [(opens.get(r["incident"], {}).get("pod_namespace"), r["action"]) for r in recs
         if r.get("rec") == "action" and r["action"]["action"] == "kill" and r["action"]["phase"] == "result"]
sys_k = [a for ns, a in kills if ns == "kube-system"]  # csi-node-1 and -2 (by pod uid)
app_k = [a for ns, a in kills if ns == "shop"]
ok = (len(app_k) == 1 and app_k[0]["result"] == "ok" and "in kernel" in app_k[0]["detail"]
      and len(sys_k) == 2 and all(a["result"] == "refused" and "protected" in a["detail"] for a in sys_k))
if not ok:
    print(kills)
sys.exit(0 if ok else 1)
PY
then ok "journal: shop's kill ok in the kernel; kube-system's refused (protected)"
else bad "journal kill records"; fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
