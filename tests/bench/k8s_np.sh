#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# `make bench-k8s`: how long from a privilege escalation in a container to
# the quarantine NetworkPolicy existing in the API server. A benchmark, not a
# pass/fail test. Root; real kernel; a throw-away kube-apiserver + etcd
# (tests/k8s/cluster.sh); the agent with its least privilege
# (daemonset/rbac.yaml, `cluster.sh grant-agent`) and --kubeconfig.
#
# Each trial has a fresh pod (spec.nodeName test-node, status patched with a
# containerd id) and its own kubelet-shaped container cgroup. All pods are
# created before the agent starts, so its pod cache has them from its first
# list and no trial waits for the pod watch. A trial:
#   t0  a root process in the container's cgroup and its own pid and mount
#       namespaces drops to uid 1000 (saved uid 0), reads CLOCK_MONOTONIC and
#       CLOCK_REALTIME, then calls setresuid(0,0,0): t0 is taken right before
#       the escalating syscall, in the process itself
#   t1  the ADDED event of the NetworkPolicy on a watch of networkpolicies
#       (?watch=1, streamed by python3 ssl + http.client), stamped with
#       CLOCK_MONOTONIC as the line arrives
# and reports t1 - t0, the number this benchmark is for; and, to split it,
# from the journal (record ts_ns, realtime, against t0's CLOCK_REALTIME):
# when the label's intent was written (detection, decision, fsync) and when
# the network-policy "ok" result was (the agent saw the 201).
# Trials run one after another, each waiting for its NetworkPolicy (30 s
# at most; a trial without one is counted as missing).
#
# Environment:
#   BENCH_K8S_N=30          trials
#   BENCH_K8S_ACTIONS="log, label, network-policy, revoke-rbac, event"
#                           the rule's actions (the queue runs them in order:
#                           label, then the NetworkPolicy)
#   BENCH_K8S_GAP_MS=200    pause between trials
#   BENCH_RESULTS=tests/bench/results   JSON: k8s-np-<ts>.json, k8s-np-latest.json
#   NODEGUARD=./nodeguard
set -uo pipefail
export LC_ALL=C
cd "$(dirname "$0")/../.."

N=${BENCH_K8S_N:-30}
ACTIONS=${BENCH_K8S_ACTIONS:-log, label, network-policy, revoke-rbac, event}
GAP_MS=${BENCH_K8S_GAP_MS:-200}
RESULTS=${BENCH_RESULTS:-tests/bench/results}
NODEGUARD=${NODEGUARD:-./nodeguard}
NODE=test-node

log() { printf 'bench-k8s: %s\n' "$*" >&2; }
die() { printf 'bench-k8s: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root"
[[ $N =~ ^[0-9]+$ && $N -ge 1 ]] || die "BENCH_K8S_N must be a positive integer"
[[ $GAP_MS =~ ^[0-9]+$ ]] || die "BENCH_K8S_GAP_MS must be an integer"
[ -x "$NODEGUARD" ] || die "$NODEGUARD is missing (make)"
command -v unshare >/dev/null || die "unshare (util-linux) is needed"
unset KUBECONFIG NODE_NAME KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

D=$(mktemp -d /tmp/ng-bench-k8s.XXXXXX)
C=$D/cluster
J=$D/journal
export NODEGUARD_SOCKET=$D/ctl.sock
CG=$(awk '$9=="cgroup2"{print $5; exit}' /proc/self/mountinfo)
[ -n "$CG" ] || die "no cgroup v2 mount"
PINNED_BEFORE=$(ls /sys/fs/bpf/nodeguard 2>/dev/null | head -1)
AGENT= WATCH= SCOPES=()

cleanup() {
	local s
	if [ -n "$AGENT" ]; then
		kill -INT "$AGENT" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$AGENT" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$AGENT" 2>/dev/null; wait "$AGENT" 2>/dev/null
	fi
	[ -n "$WATCH" ] && { kill "$WATCH" 2>/dev/null; wait "$WATCH" 2>/dev/null; }
	for s in "${SCOPES[@]}"; do
		[ -f "$s/cgroup.kill" ] && echo 1 >"$s/cgroup.kill" 2>/dev/null
		for _ in $(seq 50); do rmdir "$s" 2>/dev/null && break; [ -d "$s" ] || break; sleep 0.1; done
		rmdir "$(dirname "$s")" 2>/dev/null
	done
	tests/k8s/cluster.sh stop "$C" >/dev/null 2>&1
	[ -n "$PINNED_BEFORE" ] || "$NODEGUARD" uninstall >/dev/null 2>&1
	rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

t_start=$SECONDS
NODEGUARD_K8S_OWNER=$$ tests/k8s/cluster.sh start "$C" 2>"$D/cluster.err" || { cat "$D/cluster.err" >&2; die "the cluster did not start"; }
. "$C/env"
tests/k8s/cluster.sh grant-agent "$C" daemonset/rbac.yaml 2>>"$D/cluster.err" || { cat "$D/cluster.err" >&2; die "grant-agent failed"; }

cat >"$D/k.py" <<'PY'
# API helper: create pods, watch NetworkPolicies. Reads $CLUSTER/env.
import http.client, json, os, ssl, sys, time

env = dict(l.rstrip("\n").split("=", 1) for l in open(os.environ["CLUSTER"] + "/env") if "=" in l)
host, port = env["KUBE_SERVER"].split("//", 1)[1].rsplit(":", 1)
tls = ssl.create_default_context(cafile=env["KUBE_CA"])
HDR = {"Authorization": "Bearer " + env["KUBE_ADMIN_TOKEN"], "User-Agent": "nodeguard-bench"}

def call(method, path, body=None, ctype="application/json"):
    c = http.client.HTTPSConnection(host, int(port), context=tls, timeout=10)
    try:
        c.request(method, path, body=None if body is None else json.dumps(body),
                  headers=dict(HDR, **{"Content-Type": ctype}))
        r = c.getresponse()
        return r.status, json.loads(r.read() or b"{}")
    finally:
        c.close()

def must(st, o, what):
    if st not in (200, 201):
        raise SystemExit("%s: HTTP %d %s" % (what, st, o.get("message", "")))
    return o

cmd = sys.argv[1]
if cmd == "setup":          # NS N: namespace, ServiceAccount + RoleBinding, N pods; prints "name uid cid"
    ns, n = sys.argv[2], int(sys.argv[3])
    must(*call("POST", "/api/v1/namespaces", {"metadata": {"name": ns}}), "namespace")
    must(*call("POST", "/api/v1/namespaces/%s/serviceaccounts" % ns, {"metadata": {"name": "app"}}), "sa")
    must(*call("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/%s/rolebindings" % ns, {
        "metadata": {"name": "app-view"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": ns}]}), "rolebinding")
    for i in range(n):
        name, cid = "p-%d" % i, os.urandom(32).hex()
        pod = must(*call("POST", "/api/v1/namespaces/%s/pods" % ns, {
            "metadata": {"name": name, "labels": {"app": "bench"}},
            "spec": {"nodeName": sys.argv[4], "serviceAccountName": "app",
                     "containers": [{"name": "app", "image": "nginx:1.27"}]}}), "pod " + name)
        must(*call("PATCH", "/api/v1/namespaces/%s/pods/%s/status" % (ns, name), {"status": {
            "phase": "Running", "containerStatuses": [{"name": "app", "image": "nginx:1.27", "imageID": "",
            "ready": True, "restartCount": 0, "containerID": "containerd://" + cid, "state": {"running": {}}}]}},
            "application/merge-patch+json"), "status " + name)
        print(name, pod["metadata"]["uid"], cid, flush=True)
elif cmd == "watch":        # NS: one line per ADDED NetworkPolicy: "<monotonic ns> <name>"
    ns = sys.argv[2]
    base = "/apis/networking.k8s.io/v1/namespaces/%s/networkpolicies" % ns
    rv = must(*call("GET", base), "list")["metadata"]["resourceVersion"]
    print("ready", flush=True)
    while True:   # the server ends a watch after a while: go on from the last resourceVersion
        c = http.client.HTTPSConnection(host, int(port), context=tls, timeout=3600)
        c.request("GET", base + "?watch=1&allowWatchBookmarks=true&resourceVersion=" + rv, headers=HDR)
        r = c.getresponse()
        if r.status != 200:
            raise SystemExit("watch: HTTP %d" % r.status)
        while True:
            line = r.readline()
            t = time.monotonic_ns()
            if not line:
                break
            ev = json.loads(line)
            obj = ev.get("object") or {}
            rv = (obj.get("metadata") or {}).get("resourceVersion", rv)
            if ev.get("type") == "ADDED":
                print(t, obj["metadata"]["name"], flush=True)
            elif ev.get("type") == "ERROR":
                raise SystemExit("watch error: %s" % obj.get("message"))
        c.close()
PY
export CLUSTER=$C
python3 "$D/k.py" setup bench "$N" "$NODE" >"$D/pods" 2>"$D/setup.err" || { cat "$D/setup.err" >&2; die "setting up the pods failed"; }
[ "$(wc -l <"$D/pods")" -eq "$N" ] || die "not all $N pods were created"
while read -r name uid cid; do
	s=$CG/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${uid//-/_}.slice/cri-containerd-$cid.scope
	mkdir -p "$s" || die "cannot create $s"
	SCOPES+=("$s")
done <"$D/pods"
log "cluster, RBAC, $N pods and cgroups ready in $((SECONDS - t_start)) s"

cat >"$D/policy.yaml" <<EOF
version: 1
settings:
  journal_fsync: always
  actions_per_minute: 100000
  rule_actions_per_minute: 100000
rules:
  - name: bench-escalation
    severity: high
    category: privilege_escalation
    match:
      event: cred-change
      scope: container
      gains_root: true
      success: true
    actions: [$ACTIONS]
EOF
"$NODEGUARD" policy check "$D/policy.yaml" >/dev/null || die "bad BENCH_K8S_ACTIONS: $ACTIONS"

python3 "$D/k.py" watch bench >"$D/watch" 2>"$D/watch.err" &
WATCH=$!
for _ in $(seq 100); do grep -q ready "$D/watch" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$D/watch" || die "the NetworkPolicy watch did not start: $(cat "$D/watch.err")"

"$NODEGUARD" run --kubeconfig "$C/agent-kubeconfig" --node-name $NODE --policy "$D/policy.yaml" \
	--journal-dir "$J" --quiet 2>"$D/agent.err" &
AGENT=$!
for _ in $(seq 150); do grep -q "nodeguard running" "$D/agent.err" 2>/dev/null && break
	kill -0 "$AGENT" 2>/dev/null || break; sleep 0.1; done
grep -q "nodeguard running" "$D/agent.err" || die "the agent did not start: $(tail -5 "$D/agent.err")"
sleep 2   # the pod cache's first list

# trial SCOPE: prints "<monotonic ns> <realtime ns>" taken right before setresuid(0,0,0)
trial() {
	bash -c "echo \$\$ > '$1/cgroup.procs' && exec unshare --mount --pid --fork python3 -c '
import os, time
os.setresuid(1000, 1000, 0)
m = time.monotonic_ns(); w = time.time_ns()
os.setresuid(0, 0, 0)
print(m, w)
'"
}

: >"$D/trials"
i=0
while read -r name uid cid; do
	s=${SCOPES[$i]}
	i=$((i + 1))
	read -r t0 w0 < <(trial "$s" </dev/null) || { log "trial $i: the trigger failed"; continue; }
	python3 - "$J" "$D/watch" bench "$name" "$t0" "$w0" >>"$D/trials" <<'PY' || log "trial $i ($name): no NetworkPolicy within 30 s"
# wait for the pod's incident, then for its NetworkPolicy on the watch
import json, os, re, sys, time
jdir, watch, ns, pod, t0, w0 = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])

def label_value(inc):   # as k8s_label_value(): the quarantine label's value
    v = ""
    for ch in inc:
        if len(v) >= 63:
            break
        if ch.isascii() and (ch.isalnum() or ch in "-_."):
            v += ch
        elif v and v[-1] != "-":
            v += "-"
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", v) or "incident"

def np_name(v):
    return ("nodeguard-quarantine-" + "".join(c.lower() if c.isalnum() else "-" for c in v[:32])).rstrip("-")

def recs():
    try:
        lines = open(os.path.join(jdir, "journal.jsonl")).readlines()
    except OSError:
        return
    for line in lines:
        try:
            yield json.loads(line)
        except ValueError:
            pass   # a line being written

end = time.monotonic() + 30
inc = np_at = None
while time.monotonic() < end:
    if not inc:
        for r in recs():
            a = r.get("attribution") or {}
            if r.get("rec") == "open" and a.get("pod_namespace") == ns and a.get("pod_name") == pod:
                inc = r["incident"]
                break
    if inc and np_at is None:
        want = np_name(label_value(inc))
        for line in open(watch):
            f = line.split()
            if len(f) == 2 and f[1] == want:
                np_at = int(f[0])
    if np_at is not None:
        # the journal's view: the first API intent, and the NetworkPolicy's ok result
        intent = ok = None
        for r in recs():
            if r.get("rec") == "action" and r.get("incident") == inc:
                a = r["action"]
                if intent is None and a.get("phase") == "intent" and a.get("action") == "label":
                    intent = int(r["ts_ns"])
                if a.get("action") == "network-policy" and a.get("phase") == "result" and a.get("result") == "ok":
                    ok = int(r["ts_ns"])
        if ok is not None or time.monotonic() > end - 25:
            print(json.dumps({"pod": pod, "incident": inc, "np_ms": (np_at - t0) / 1e6,
                              "intent_ms": None if intent is None else (intent - w0) / 1e6,
                              "np_ok_ms": None if ok is None else (ok - w0) / 1e6}))
            sys.exit(0)
    time.sleep(0.002)
sys.exit(1)
PY
	sleep "$(awk -v m="$GAP_MS" 'BEGIN { printf "%.3f", m / 1000 }')"
done <"$D/pods"

python3 - "$D/trials" "$N" "$ACTIONS" "$RESULTS" <<'PY'
import json, os, sys, time
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
n, actions, outdir = int(sys.argv[2]), sys.argv[3], sys.argv[4]

def pct(v, p):   # nearest rank
    v = sorted(v)
    return v[max(0, min(len(v) - 1, -(-len(v) * p // 100) - 1))]

def summary(v):
    return {"median": pct(v, 50), "p90": pct(v, 90), "p99": pct(v, 99), "max": max(v), "min": min(v),
            "mean": sum(v) / len(v)} if v else {}

np_ms = [r["np_ms"] for r in rows]
in_ms = [r["intent_ms"] for r in rows if r["intent_ms"] is not None]
ok_ms = [r["np_ok_ms"] for r in rows if r["np_ok_ms"] is not None]
res = {"bench": "k8s-np", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "trials": n,
       "measured": len(rows), "missing": n - len(rows), "actions": actions,
       "escalation_to_networkpolicy_ms": summary(np_ms), "escalation_to_label_intent_ms": summary(in_ms),
       "escalation_to_networkpolicy_ok_journaled_ms": summary(ok_ms),
       "rows": rows}
print("k8s NetworkPolicy latency: %d trials, %d measured, %d missing (rule actions: [%s])"
      % (n, len(rows), n - len(rows), actions))
print("%-44s %8s %8s %8s %8s %8s" % ("from the escalating syscall, ms", "median", "p90", "p99", "max", "min"))
for k, v in (("NetworkPolicy ADDED on the watch", np_ms),
             ("  (journal) label intent written", in_ms),
             ("  (journal) network-policy result ok", ok_ms)):
    if v:
        s = summary(v)
        print("%-44s %8.1f %8.1f %8.1f %8.1f %8.1f" % (k, s["median"], s["p90"], s["p99"], s["max"], s["min"]))
try:
    os.makedirs(outdir, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for f in ("k8s-np-%s.json" % stamp, "k8s-np-latest.json"):
        with open(os.path.join(outdir, f), "w") as fh:
            json.dump(res, fh, indent=1)
    print("results: %s/k8s-np-%s.json" % (outdir, stamp))
except OSError as e:
    print("results not written: %s" % e)
PY
