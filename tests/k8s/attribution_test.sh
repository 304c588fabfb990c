#!/usr/bin/env bash
# End to end: the agent, pointed at a real kube-apiserver with --kubeconfig,
# attributes a detection in a kubelet-shaped container cgroup to its pod
# (namespace, name, labels, image) through the pod cache's watch of this
# node's pods; a pod on another node is never watched. Root; real kernel.
set -uo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "SKIPPED: needs root"; exit 1; }
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
D=$(mktemp -d /tmp/ng-k8s-attr.XXXXXX)
J=$D/journal
CG=$(awk '$9=="cgroup2"{print $5; exit}' /proc/self/mountinfo)
ID=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
PUID=$(cat /proc/sys/kernel/random/uuid)
SLICE=$CG/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${PUID//-/_}.slice
SCOPE=$SLICE/cri-containerd-$ID.scope
X=/tmp/ng-k8s-attr-$ID
AGENT=
cleanup() {
	[ -n "$AGENT" ] && kill -INT "$AGENT" 2>/dev/null && wait "$AGENT" 2>/dev/null
	rmdir "$SCOPE" "$SLICE" 2>/dev/null
	rm -f "$X"
	tests/k8s/cluster.sh stop "$D/cluster" >/dev/null 2>&1
	rm -rf "$D"
	# the agent pinned its enforcement state: remove it unless another agent runs
	[ -n "$PINNED_BEFORE" ] || ./nodeguard uninstall >/dev/null 2>&1
}
PINNED_BEFORE=$(ls /sys/fs/bpf/nodeguard 2>/dev/null | head -1)
trap cleanup EXIT
tests/k8s/cluster.sh start "$D/cluster" >/dev/null || { echo "FAIL cluster did not start"; echo "0 passed, 1 failed"; exit 1; }
. "$D/cluster/env"
api() { curl -s --max-time 10 --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" "$@"; }
code=$(api -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -X POST "$KUBE_SERVER/api/v1/namespaces" -d '{"metadata":{"name":"shop"}}')
[ "$code" = 201 ] && ok "namespace created" || bad "namespace: HTTP $code"
for n in web-1:test-node:$ID web-2:other-node:$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'); do
	IFS=: read -r name node cid <<<"$n"
	code=$(api -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -X POST "$KUBE_SERVER/api/v1/namespaces/shop/pods" \
		-d "{\"metadata\":{\"name\":\"$name\",\"labels\":{\"app\":\"web\",\"tier\":\"front\"}},\"spec\":{\"nodeName\":\"$node\",\"serviceAccountName\":\"default\",\"containers\":[{\"name\":\"web\",\"image\":\"nginx:1.27\"}]}}")
	[ "$code" = 201 ] && ok "pod $name on $node created" || bad "pod $name: HTTP $code"
	code=$(api -o /dev/null -w '%{http_code}' -H 'Content-Type: application/merge-patch+json' -X PATCH "$KUBE_SERVER/api/v1/namespaces/shop/pods/$name/status" \
		-d "{\"status\":{\"containerStatuses\":[{\"name\":\"web\",\"image\":\"nginx:1.27\",\"imageID\":\"\",\"ready\":true,\"restartCount\":0,\"containerID\":\"containerd://$cid\",\"state\":{\"running\":{}}}]}}")
	[ "$code" = 200 ] && ok "pod $name status patched" || bad "pod $name status: HTTP $code"
done
mkdir -p "$SCOPE"
./nodeguard run --kubeconfig "$KUBECONFIG" --node-name test-node --journal-dir "$J" --quiet 2>"$D/agent.err" &
AGENT=$!
for _ in $(seq 100); do grep -q "nodeguard running" "$D/agent.err" 2>/dev/null && break; sleep 0.1; done
grep -q "watching the pods of node test-node" "$D/agent.err" && ok "agent watches this node's pods" || bad "no pod watch: $(tail -3 "$D/agent.err")"
sleep 1
cp /bin/true "$X"
bash -c "echo \$\$ > $SCOPE/cgroup.procs; exec unshare --mount --pid --fork $X" || bad "trigger failed"
for _ in $(seq 50); do grep -q '"rec":"open"' "$J/journal.jsonl" 2>/dev/null && break; sleep 0.1; done
open=$(grep '"rec":"open"' "$J/journal.jsonl" 2>/dev/null | head -1)
check() { # key expected
	if python3 - "$open" "$1" "$2" <<'PY'
import json, sys
rec = json.loads(sys.argv[1]); a = rec["attribution"]
cur = a
for k in sys.argv[2].split("."):
    cur = cur[k]
sys.exit(0 if str(cur) == sys.argv[3] else 1)
PY
	then ok "attribution.$1 = $2"; else bad "attribution.$1 != $2 in: $open"; fi
}
if [ -z "$open" ]; then
	bad "no incident opened"
else
	check container_id "$ID"
	check pod_namespace shop
	check pod_name web-1
	check pod.labels.app web
	check pod.labels.tier front
	check pod.image nginx:1.27
	check pod.node test-node
	check pod.container web
fi
# a cluster Event about web-1 joins its incident; one about web-2 (other node) never appears
ev() { # pod message [reason]
	api -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -X POST "$KUBE_SERVER/api/v1/namespaces/shop/events" \
		-d "{\"metadata\":{\"name\":\"$1.$RANDOM$RANDOM\"},\"involvedObject\":{\"kind\":\"Pod\",\"namespace\":\"shop\",\"name\":\"$1\",\"uid\":\"$(api "$KUBE_SERVER/api/v1/namespaces/shop/pods/$1" | python3 -c 'import json,sys;print(json.load(sys.stdin)["metadata"]["uid"])')\"},\"reason\":\"${3:-FailedMount}\",\"type\":\"Warning\",\"message\":\"$2\",\"count\":1,\"source\":{\"component\":\"kubelet\"}}"
}
code=$(ev web-1 'secrets \"db\" is forbidden: User \"system:serviceaccount:shop:default\" cannot get resource')
[ "$code" = 201 ] && ok "Forbidden Event about web-1 created" || bad "event web-1: HTTP $code"
code=$(ev web-2 'secrets \"db\" is forbidden: other node')
[ "$code" = 201 ] && ok "Forbidden Event about web-2 created" || bad "event web-2: HTTP $code"
for _ in $(seq 50); do grep -q '"source":"k8s"' "$J/journal.jsonl" 2>/dev/null && break; sleep 0.1; done
inc=$(python3 -c 'import json,sys;print(json.loads(sys.argv[1])["incident"])' "$open" 2>/dev/null)
if python3 - "$J/journal.jsonl" "$inc" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
k8s = [r for r in recs if r.get("rec") == "detection" and r["detection"].get("source") == "k8s"]
ok = len(k8s) == 1 and k8s[0]["incident"] == sys.argv[2] and k8s[0]["detection"]["category"] == "unauthorized_access"
sys.exit(0 if ok else 1)
PY
then ok "the Forbidden Event joined the pod's incident $inc (unauthorized_access)"
else bad "k8s detections: $(grep '"source":"k8s"' "$J/journal.jsonl" | head -3)"; fi
# the Event chains with the kernel's detection: the incident's severity rises
if python3 - "$J/journal.jsonl" "$inc" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
sev = [r for r in recs if r.get("rec") == "severity" and r.get("incident") == sys.argv[2]]
ok = sev and "chain of 2 categories" in sev[-1]["reason"] and sev[-1]["reason"].endswith("-> unauthorized_access")
if not ok:
    print(sev)
sys.exit(0 if ok else 1)
PY
then ok "the kernel detection and the Event chain: severity raised (chain ... -> unauthorized_access)"
else bad "no severity raise from the chain"; fi
grep -q "web-2" "$J/journal.jsonl" && bad "a pod of another node appears in the journal" || ok "the other node's pod and its Event never appear"
# a restarted agent does not report the Events its predecessor handled (the
# LIST returns them again), but does report a new one
k8s_dets() { grep -c '"source":"k8s"' "$J/journal.jsonl"; }
kill -INT "$AGENT"; wait "$AGENT" 2>/dev/null
before=$(wc -l <"$J/journal.jsonl")
./nodeguard run --kubeconfig "$KUBECONFIG" --node-name test-node --journal-dir "$J" --quiet 2>"$D/agent2.err" &
AGENT=$!
for _ in $(seq 100); do grep -q "watching cluster Events" "$D/agent2.err" 2>/dev/null && grep -q "nodeguard running" "$D/agent2.err" && break; sleep 0.1; done
sleep 3
# (handled again it would be a repeat of the incident's detection)
again=$(tail -n +"$((before + 1))" "$J/journal.jsonl" | grep -c '"rec":"\(repeat\|detection\)"')
[ "$again" = 0 ] && [ "$(k8s_dets)" = 1 ] && ok "restart: the Event already handled is not reported again" ||
	bad "restart: $again detection/repeat records after the restart: $(tail -n +"$((before + 1))" "$J/journal.jsonl" | grep '"rec":"\(repeat\|detection\)"' | head -2)"
sleep 1 # a new Event's time is after the restart's watermark
code=$(ev web-1 'pods \"web-1\" is forbidden: User \"system:serviceaccount:shop:default\" cannot patch resource' Forbidden)
for _ in $(seq 50); do [ "$(k8s_dets)" -ge 2 ] && break; sleep 0.1; done
[ "$code" = 201 ] && [ "$(k8s_dets)" = 2 ] && ok "restart: a new Event is reported" || bad "restart: new Event (HTTP $code): $(k8s_dets) k8s detections"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
