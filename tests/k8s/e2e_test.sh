#!/usr/bin/env bash
# End to end: Kubernetes containment by the agent against a real
# kube-apiserver + etcd (tests/k8s/cluster.sh), with the agent's least
# privilege (daemonset/rbac.yaml), on the real kernel. Root.
#
# A privilege escalation (set*id back to root) in a kubelet-shaped container
# cgroup is attributed to its pod, and the policy's API actions contain the
# pod: quarantine label, deny-all NetworkPolicy, the pod's ServiceAccount
# revoked from (Cluster)RoleBindings, Events, pod deletion. Then
# `nodeguardctl release` undoes them exactly, and an API outage (apiserver
# stopped, agent killed -9 and restarted meanwhile) delays the actions but
# loses or doubles none.
#
# Runs, in order (docs/k8s-testing.md, "The end-to-end test"):
#   agent A  the DaemonSet way: NODE_NAME, KUBERNETES_SERVICE_HOST/PORT and a
#            service-account directory (NODEGUARD_K8S_SA_DIR: token from the
#            TokenRequest API for SA nodeguard/nodeguard, ca.crt, namespace),
#            RBAC applied verbatim from daemonset/{namespace,serviceaccount,rbac}.yaml
#            - web-1 (rule e2e-quarantine: no delete-pod) escalates: label,
#              NetworkPolicy, revoke-rbac, Event; then release
#            - web-del (image registry.test/delete-me, rule e2e-delete) is deleted
#            - sys-1 (kube-system) escalates: refused, protected namespace
#            - web-3 (other-node) is never touched, never journaled
#            - a Forbidden Event about web-2 opens its incident
#   agent B  --kubeconfig with the "agent" user's token (bound by
#            `cluster.sh grant-agent` to the same ClusterRole); the apiserver
#            is stopped, web-4 escalates: intents + "queued"
#   agent C  B killed -9, C started while the apiserver is still down; the
#            apiserver comes back: every action lands exactly once
#
# Prints "N passed, M failed"; exits non-zero on any failure. Everything is
# cleaned up, failure or not: agents, trigger processes, cgroups, the
# cluster, the agent's pinned state (unless another agent had pinned it).
# Logs are kept in the temp directory on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "SKIPPED: needs root"; exit 1; }
[ -x ./nodeguard ] && [ -x ./nodeguardctl ] || { echo "FAIL: build first (make)"; echo "0 passed, 1 failed"; exit 1; }
unset KUBECONFIG NODE_NAME KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT NODEGUARD_K8S_SA_DIR
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
# check DESC CMD...: ok when CMD succeeds; CMD's output is the failure reason
check() {
	local d=$1 out; shift
	if out=$("$@" 2>&1); then ok "$d"; else bad "$d${out:+: $out}"; fi
}

D=$(mktemp -d /tmp/ng-k8s-e2e.XXXXXX)
C=$D/cluster
J=$D/journal
P=$D/policy.yaml
H=$D/h.py
export NODEGUARD_SOCKET=$D/ctl.sock
CG=$(awk '$9=="cgroup2"{print $5; exit}' /proc/self/mountinfo)
PINNED_BEFORE=$(ls /sys/fs/bpf/nodeguard 2>/dev/null | head -1)
AGENT= CGDIRS=() NODE=test-node

stop_agent() {
	[ -n "$AGENT" ] || return 0
	kill -INT "$AGENT" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$AGENT" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$AGENT" 2>/dev/null
	wait "$AGENT" 2>/dev/null
	AGENT=
}
cleanup() {
	local d p
	stop_agent
	# trigger processes exit at once; anything left in a test cgroup is ours
	for d in "${CGDIRS[@]}"; do
		[ -f "$d/cgroup.kill" ] && echo 1 >"$d/cgroup.kill" 2>/dev/null
	done
	for d in "${CGDIRS[@]}"; do
		for _ in $(seq 50); do rmdir "$d" 2>/dev/null && break; [ -d "$d" ] || break; sleep 0.1; done
		p=$(dirname "$d")
		rmdir "$p" 2>/dev/null
	done
	tests/k8s/cluster.sh stop "$C" >/dev/null 2>&1
	# the agent pinned its enforcement state: remove it unless another agent runs
	[ -n "$PINNED_BEFORE" ] || ./nodeguard uninstall >/dev/null 2>&1
	if [ "$fail" -eq 0 ]; then
		rm -rf "$D"
	else
		rm -rf "$C/etcd"
		echo "logs kept in $D (agent-*.err, journal/, cluster/*.log)"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}

# ---------------------------------------------------------------- helpers

cat >"$H" <<'PY'
# Assertions on the API and the journal. Each command exits 0 or prints why
# not and exits 1. Reads DIR/env of the cluster from $CLUSTER.
import http.client, json, os, re, ssl, sys, time

env = dict(l.rstrip("\n").split("=", 1) for l in open(os.environ["CLUSTER"] + "/env") if "=" in l)
host, port = env["KUBE_SERVER"].split("//", 1)[1].rsplit(":", 1)
tls = ssl.create_default_context(cafile=env["KUBE_CA"])

def call(method, path, body=None, token=None):
    c = http.client.HTTPSConnection(host, int(port), context=tls, timeout=10)
    try:
        c.request(method, path, body=None if body is None else json.dumps(body),
                  headers={"Authorization": "Bearer " + (token or env["KUBE_ADMIN_TOKEN"]),
                           "Content-Type": "application/json", "User-Agent": "nodeguard-e2e"})
        r = c.getresponse()
        data = r.read()
    finally:
        c.close()
    try:
        return r.status, json.loads(data) if data else {}
    except ValueError:
        return r.status, {"raw": data.decode(errors="replace")}

def get(path):
    st, o = call("GET", path)
    if st != 200:
        raise SystemExit("GET %s: HTTP %d %s" % (path, st, o.get("message", "")))
    return o

def records(jdir):
    out = []
    names = sorted((f for f in os.listdir(jdir) if f.startswith("journal.jsonl")),
                   key=lambda f: -int(f.rsplit(".", 1)[1]) if f[-1].isdigit() else 0)
    for f in names:
        for line in open(os.path.join(jdir, f)):
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    return out

def label_value(inc):
    # k8s_label_value(): [A-Za-z0-9._-], others (runs) as one '-', alnum ends, <= 63
    v = ""
    for ch in inc:
        if len(v) >= 63:
            break
        if ch.isascii() and (ch.isalnum() or ch in "-_."):
            v += ch
        elif v and v[-1] != "-":
            v += "-"
    v = re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", v)
    return v or "incident"

def np_name(value):
    s = "".join(c.lower() if c.isalnum() else "-" for c in value[:32])
    return ("nodeguard-quarantine-" + s).rstrip("-")

def incident_of(jdir, ns, name):
    for r in records(jdir):
        a = r.get("attribution") or {}
        if r.get("rec") == "open" and a.get("pod_namespace") == ns and a.get("pod_name") == name:
            return r["incident"]
    return None

def actions(jdir, inc, kinds=("label", "network-policy", "revoke-rbac", "event", "delete-pod")):
    return [r["action"] for r in records(jdir)
            if r.get("rec") == "action" and r.get("incident") == inc and r["action"].get("action") in kinds]

def show(acts):
    return "; ".join("%s/%s/%s %s" % (a.get("action"), a.get("phase"), a.get("result"),
                                      (a.get("detail") or "")[:120]) for a in acts) or "none"

RBP = "/apis/rbac.authorization.k8s.io/v1"
def subjects(kind, ns, name):
    path = RBP + ("/namespaces/%s/rolebindings/%s" % (ns, name) if kind == "rb" else "/clusterrolebindings/" + name)
    return get(path).get("subjects") or []

def main():
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "wait-incident":       # JDIR NS NAME TIMEOUT -> incident id
        end = time.time() + float(a[3])
        while time.time() < end:
            inc = incident_of(a[0], a[1], a[2])
            if inc:
                print(inc)
                return
            time.sleep(0.05)
        raise SystemExit("no incident opened for pod %s/%s in %s s" % (a[1], a[2], a[3]))
    if cmd == "open-fields":         # JDIR INC NS NAME UID SA LABELS-JSON
        o = [r for r in records(a[0]) if r.get("rec") == "open" and r["incident"] == a[1]][0]
        at, want = o.get("attribution") or {}, json.loads(a[6])
        pod = at.get("pod") or {}
        errs = []
        for k, got, exp in (("pod_namespace", at.get("pod_namespace"), a[2]), ("pod_name", at.get("pod_name"), a[3]),
                            ("pod.uid", pod.get("uid"), a[4]), ("pod.service_account", pod.get("service_account"), a[5]),
                            ("pod.labels", pod.get("labels"), want), ("pod.node", pod.get("node"), "test-node")):
            if got != exp:
                errs.append("%s=%r (want %r)" % (k, got, exp))
        if errs:
            raise SystemExit(", ".join(errs) + " in " + json.dumps(at))
        return
    if cmd == "wait-final":          # JDIR INC TIMEOUT ACTION... : every action has a final result
        end = time.time() + float(a[2])
        while True:
            acts = actions(a[0], a[1])
            missing = [k for k in a[3:] if not any(x["action"] == k and x["phase"] == "result"
                                                    and x["result"] != "queued" for x in acts)]
            if not missing:
                return
            if time.time() > end:
                raise SystemExit("no final result for %s after %s s: %s" % (missing, a[2], show(acts)))
            time.sleep(0.1)
    if cmd == "pairs-ok":            # JDIR INC TARGET ACTION...: one intent, results [queued..] ok, exactly one ok
        acts, errs = actions(a[0], a[1]), []
        for k in a[3:]:
            mine = [x for x in acts if x["action"] == k and x["phase"] in ("intent", "result")]
            intents = [x for x in mine if x["phase"] == "intent"]
            results = [x for x in mine if x["phase"] == "result"]
            oks = [x for x in results if x["result"] == "ok"]
            if len(intents) != 1:
                errs.append("%s: %d intents" % (k, len(intents)))
            elif intents[0].get("target") != a[2]:
                errs.append("%s: target %r" % (k, intents[0].get("target")))
            elif len(oks) != 1 or results[-1]["result"] != "ok" or \
                    any(x["result"] not in ("ok", "queued") for x in results):
                errs.append("%s: results %s" % (k, [(x["result"], x.get("detail", "")[:100]) for x in results]))
            elif mine.index(intents[0]) > mine.index(results[0]):
                errs.append("%s: a result before the intent" % k)
            else:
                try:
                    d = json.loads(intents[0].get("detail") or "")
                    if not isinstance(d, dict):
                        raise ValueError
                except ValueError:
                    errs.append("%s: intent detail is not a JSON object: %r" % (k, intents[0].get("detail")))
        if errs:
            raise SystemExit("; ".join(errs))
        return
    if cmd == "results-are":         # JDIR INC RESULT DETAIL-SUBSTR ACTION...: every result of each action
        acts, errs = actions(a[0], a[1]), []
        for k in a[4:]:
            rs = [x for x in acts if x["action"] == k and x["phase"] == "result"]
            if not rs or any(x["result"] != a[2] or a[3] not in (x.get("detail") or "") for x in rs):
                errs.append("%s: %s" % (k, [(x["result"], x.get("detail")) for x in rs] or "no result"))
        if errs:
            raise SystemExit("; ".join(errs))
        return
    if cmd == "queued-only":         # JDIR INC ACTION...: intents, "queued" results, nothing final
        acts, errs = actions(a[0], a[1]), []
        for k in a[2:]:
            mine = [x for x in acts if x["action"] == k]
            if [x["phase"] for x in mine if x["phase"] == "intent"] != ["intent"]:
                errs.append("%s: intents %s" % (k, show(mine)))
            rs = [x["result"] for x in mine if x["phase"] == "result"]
            if rs != ["queued"]:
                errs.append("%s: results %s (want exactly one queued)" % (k, rs))
        if errs:
            raise SystemExit("; ".join(errs))
        return
    if cmd == "intents":             # JDIR INC ACTION...: exactly one intent each
        acts = actions(a[0], a[1])
        errs = ["%s: %d intents" % (k, n) for k in a[2:]
                for n in [sum(1 for x in acts if x["action"] == k and x["phase"] == "intent")] if n != 1]
        if errs:
            raise SystemExit("; ".join(errs) + " | " + show(acts))
        return
    if cmd == "unattributed":        # JDIR CID: the container's incident has no pod, no API action done
        rs = records(a[0])
        opens = [r for r in rs if r.get("rec") == "open"
                 and (r.get("attribution") or {}).get("container_id") == a[1]]
        if len(opens) != 1:
            raise SystemExit("%d incidents of container %s" % (len(opens), a[1][:12]))
        at = opens[0]["attribution"]
        if at.get("pod_name") or at.get("pod_namespace") or at.get("pod"):
            raise SystemExit("attributed: %s/%s %s" % (at.get("pod_namespace"), at.get("pod_name"), at.get("pod")))
        done = [x for x in actions(a[0], opens[0]["incident"]) if x["phase"] == "result" and x["result"] in ("ok", "queued")]
        if done:
            raise SystemExit("API actions carried out: " + show(done))
        return
    if cmd == "no-final":            # JDIR INC: no API action has a final result yet
        fin = [x for x in actions(a[0], a[1]) if x["phase"] == "result" and x["result"] != "queued"]
        if fin:
            raise SystemExit("final results while the API is down: " + show(fin))
        return
    if cmd == "wait-released":       # JDIR INC TIMEOUT ACTION...: release records queued.. then ok
        end = time.time() + float(a[2])
        while True:
            acts, errs = actions(a[0], a[1]), []
            for k in a[3:]:
                rs = [x["result"] for x in acts if x["action"] == k and x["phase"] == "release"]
                if not rs or rs[-1] != "ok" or rs.count("ok") != 1 or any(r not in ("ok", "queued") for r in rs):
                    errs.append("%s: release results %s" % (k, rs))
            if not errs:
                return
            if time.time() > end:
                raise SystemExit("; ".join(errs) + " | " + show([x for x in acts if x["phase"] == "release"]))
            time.sleep(0.1)
    if cmd == "release-queued-first":  # JDIR INC ACTION...: the first release record of each is "queued"
        acts, errs = actions(a[0], a[1]), []
        for k in a[2:]:
            rs = [x["result"] for x in acts if x["action"] == k and x["phase"] == "release"]
            if not rs or rs[0] != "queued":
                errs.append("%s: %s" % (k, rs))
        if errs:
            raise SystemExit("; ".join(errs))
        return
    if cmd == "label":               # NS POD INC: the quarantine label has the incident's value
        p = get("/api/v1/namespaces/%s/pods/%s" % (a[0], a[1]))
        got = (p["metadata"].get("labels") or {}).get("nodeguard.io/quarantine")
        if got != label_value(a[2]):
            raise SystemExit("label nodeguard.io/quarantine=%r, want %r (labels %s)"
                             % (got, label_value(a[2]), p["metadata"].get("labels")))
        return
    if cmd == "labels-are":          # NS POD LABELS-JSON: exactly these labels
        p = get("/api/v1/namespaces/%s/pods/%s" % (a[0], a[1]))
        if (p["metadata"].get("labels") or {}) != json.loads(a[2]):
            raise SystemExit("labels %s, want %s" % (p["metadata"].get("labels"), a[2]))
        return
    if cmd == "np":                  # NS INC: the quarantine NetworkPolicy, field by field
        v = label_value(a[1])
        st, o = call("GET", "/apis/networking.k8s.io/v1/namespaces/%s/networkpolicies/%s" % (a[0], np_name(v)))
        if st != 200:
            names = [x["metadata"]["name"] for x in get("/apis/networking.k8s.io/v1/namespaces/%s/networkpolicies" % a[0])["items"]]
            raise SystemExit("NetworkPolicy %s: HTTP %d (there: %s)" % (np_name(v), st, names))
        sp, md, errs = o.get("spec") or {}, o["metadata"], []
        if (md.get("labels") or {}).get("app.kubernetes.io/managed-by") != "nodeguard":
            errs.append("labels %s" % md.get("labels"))
        if sp.get("podSelector") != {"matchLabels": {"nodeguard.io/quarantine": v}}:
            errs.append("podSelector %s" % sp.get("podSelector"))
        pt = sp.get("policyTypes") or []
        if sorted(pt) != ["Egress", "Ingress"]:
            errs.append("policyTypes %s" % pt)
        if sp.get("ingress") or sp.get("egress"):
            errs.append("rules: ingress %s egress %s" % (sp.get("ingress"), sp.get("egress")))
        if errs:
            raise SystemExit("; ".join(errs) + " in " + json.dumps(o["spec"]))
        return
    if cmd == "np-count":            # NS INC N: NetworkPolicies selecting the incident's value
        v = label_value(a[1])
        items = get("/apis/networking.k8s.io/v1/namespaces/%s/networkpolicies" % a[0])["items"]
        sel = [x["metadata"]["name"] for x in items
               if (x["spec"].get("podSelector") or {}).get("matchLabels", {}).get("nodeguard.io/quarantine") == v]
        if len(sel) != int(a[2]):
            raise SystemExit("%d NetworkPolicies select %s: %s (all: %s)"
                             % (len(sel), v, sel, [x["metadata"]["name"] for x in items]))
        return
    if cmd == "np-none":             # NS: no NetworkPolicy at all
        items = get("/apis/networking.k8s.io/v1/namespaces/%s/networkpolicies" % a[0])["items"]
        if items:
            raise SystemExit("NetworkPolicies in %s: %s" % (a[0], [x["metadata"]["name"] for x in items]))
        return
    if cmd == "subjects-save":       # rb|crb NS NAME FILE
        json.dump(subjects(a[0], a[1], a[2]), open(a[3], "w"))
        return
    if cmd == "subjects-are":        # rb|crb NS NAME FILE [SA-NS SA]: exactly FILE's, minus the SA if given
        want = json.load(open(a[3]))
        if len(a) > 4:
            want = [s for s in want if not (s.get("kind") == "ServiceAccount" and s.get("namespace") == a[4]
                                            and s.get("name") == a[5])]
        got = subjects(a[0], a[1], a[2])
        if got != want:
            raise SystemExit("subjects %s, want %s" % (json.dumps(got), json.dumps(want)))
        return
    if cmd == "events":              # NS POD REASON N [INC]: nodeguard Events with REASON about POD
        p = "/api/v1/namespaces/%s/events?fieldSelector=involvedObject.name%%3D%s" % (a[0], a[1])
        items = get(p)["items"]
        ours = [e for e in items if (e.get("source") or {}).get("component") == "nodeguard"
                and e.get("reason") == a[2]]
        if len(a) > 4:
            ours = [e for e in ours if a[4] in e.get("message", "") or a[4] in e["metadata"]["name"]]
        n = a[3]
        if (n.endswith("+") and len(ours) < int(n[:-1])) or (not n.endswith("+") and len(ours) != int(n)):
            raise SystemExit("%d Events %s about %s%s (want %s): %s" % (
                len(ours), a[2], a[1], " naming " + a[4] if len(a) > 4 else "", n,
                [(e.get("reason"), e.get("source"), e.get("message", "")[:80]) for e in items]))
        return
    if cmd == "events-unique":       # NS POD: no two nodeguard Events about POD say the same
        p = "/api/v1/namespaces/%s/events?fieldSelector=involvedObject.name%%3D%s" % (a[0], a[1])
        seen = {}
        for e in get(p)["items"]:
            if (e.get("source") or {}).get("component") == "nodeguard":
                k = (e.get("reason"), e.get("message"))
                seen[k] = seen.get(k, 0) + 1
        dup = {k: v for k, v in seen.items() if v > 1}
        if dup:
            raise SystemExit("duplicate Events: %s" % dup)
        return
    if cmd == "status":              # PATH CODE [TOKEN]: HTTP status of a GET
        st, o = call("GET", a[0], token=a[2] if len(a) > 2 else None)
        if st != int(a[1]):
            raise SystemExit("GET %s: HTTP %d, want %s (%s)" % (a[0], st, a[1], o.get("message", "")))
        return
    if cmd == "post":                # PATH JSON -> prints the created object's uid
        st, o = call("POST", a[0], json.loads(a[1]))
        if st != 201:
            raise SystemExit("POST %s: HTTP %d %s" % (a[0], st, o.get("message", "")))
        print(o["metadata"].get("uid", ""))
        return
    if cmd == "patch-status":        # NS POD CONTAINER IMAGE CID
        c = http.client.HTTPSConnection(host, int(port), context=tls, timeout=10)
        body = {"status": {"phase": "Running", "containerStatuses": [{
            "name": a[2], "image": a[3], "imageID": "", "ready": True, "restartCount": 0,
            "containerID": "containerd://" + a[4], "state": {"running": {}}}]}}
        c.request("PATCH", "/api/v1/namespaces/%s/pods/%s/status" % (a[0], a[1]), body=json.dumps(body),
                  headers={"Authorization": "Bearer " + env["KUBE_ADMIN_TOKEN"],
                           "Content-Type": "application/merge-patch+json", "User-Agent": "nodeguard-e2e"})
        r = c.getresponse(); r.read(); c.close()
        if r.status != 200:
            raise SystemExit("status patch of %s: HTTP %d" % (a[1], r.status))
        return
    if cmd == "journal-lacks":       # JDIR STRING
        for f in os.listdir(a[0]):
            if f.startswith("journal") and a[1] in open(os.path.join(a[0], f), errors="replace").read():
                raise SystemExit("%s appears in %s" % (a[1], f))
        return
    if cmd == "k8s-detection":       # JDIR INC CATEGORY: a detection from a cluster Event on INC
        ds = [r["detection"] for r in records(a[0]) if r.get("rec") == "detection" and r.get("incident") == a[1]
              and (r.get("detection") or {}).get("source") == "k8s"]
        if not any(d.get("category") == a[2] for d in ds):
            raise SystemExit("k8s detections of %s: %s" % (a[1], [(d.get("rule"), d.get("category")) for d in ds]))
        return
    if cmd == "wait-k8s-incident":   # JDIR NS POD TIMEOUT -> incident with a k8s detection
        end = time.time() + float(a[3])
        while time.time() < end:
            inc = incident_of(a[0], a[1], a[2])
            if inc and any(r.get("rec") == "detection" and r.get("incident") == inc
                           and (r.get("detection") or {}).get("source") == "k8s" for r in records(a[0])):
                print(inc)
                return
            time.sleep(0.1)
        raise SystemExit("no incident with a cluster-Event detection for %s/%s" % (a[1], a[2]))
    raise SystemExit("h.py: unknown command " + cmd)

try:
    main()
except (OSError, http.client.HTTPException, KeyError, IndexError, ValueError) as e:
    raise SystemExit("%s: %s" % (type(e).__name__, e))
PY
export CLUSTER=$C
h() { python3 "$H" "$@"; }

hex64() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# mkpod NS NAME NODE SA IMAGE LABELS-JSON [SPEC-FIELDS]: create the pod, patch
# its status with a fresh containerd id, and (for this node) make its
# kubelet-shaped container cgroup. Sets POD_UID, POD_CID, POD_SCOPE.
mkpod() {
	local ns=$1 name=$2 node=$3 sa=$4 image=$5 labels=$6 extra=${7:+$7,} slice
	POD_UID= POD_CID=$(hex64) POD_SCOPE=
	POD_UID=$(h post "/api/v1/namespaces/$ns/pods" "{\"metadata\":{\"name\":\"$name\",\"labels\":$labels},
		\"spec\":{$extra\"nodeName\":\"$node\",\"serviceAccountName\":\"$sa\",
		\"containers\":[{\"name\":\"app\",\"image\":\"$image\"}]}}") || { bad "pod $ns/$name: $POD_UID"; return 1; }
	h patch-status "$ns" "$name" app "$image" "$POD_CID" || { bad "pod $ns/$name status"; return 1; }
	slice=$CG/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${POD_UID//-/_}.slice
	POD_SCOPE=$slice/cri-containerd-$POD_CID.scope
	mkdir -p "$POD_SCOPE" || { bad "cgroup $POD_SCOPE"; return 1; }
	CGDIRS+=("$POD_SCOPE")
}

# escalate SCOPE: in the container's cgroup and its own pid and mount
# namespaces, a root process drops to uid 1000 (saved uid 0), then takes
# root back with setresuid(0,0,0): a cred-change that gains root.
escalate() {
	bash -c "echo \$\$ > '$1/cgroup.procs' && exec unshare --mount --pid --fork python3 -c '
import os
os.setresuid(1000, 1000, 0)
os.setresuid(0, 0, 0)
'" || bad "trigger in $1 failed"
}

# start_agent NAME ARGS... (env before: via env(1) in ARGS)
start_agent() {
	local name=$1; shift
	"$@" 2>"$D/agent-$name.err" &
	AGENT=$!
	for _ in $(seq 150); do grep -q "nodeguard running" "$D/agent-$name.err" 2>/dev/null && break
		kill -0 "$AGENT" 2>/dev/null || break; sleep 0.1; done
	if grep -q "nodeguard running" "$D/agent-$name.err"; then ok "agent $name running"
	else bad "agent $name did not start: $(tail -5 "$D/agent-$name.err")"; finish; fi
}

# ---------------------------------------------------------------- cluster, RBAC

NODEGUARD_K8S_OWNER=$$ tests/k8s/cluster.sh start "$C" 2>"$D/cluster-start.err" ||
	{ bad "cluster did not start: $(tail -3 "$D/cluster-start.err")"; finish; }
. "$C/env"
PORT=${KUBE_SERVER##*:}
ok "cluster up at $KUBE_SERVER"

# the DaemonSet's own objects, verbatim: namespace, ServiceAccount, ClusterRole, binding
check "daemonset/{namespace,serviceaccount,rbac}.yaml applied" \
	tests/k8s/cluster.sh apply "$C" daemonset/namespace.yaml daemonset/serviceaccount.yaml daemonset/rbac.yaml
# the "agent" user bound to the same ClusterRole; $C/agent-kubeconfig
check "user agent bound to the nodeguard ClusterRole" tests/k8s/cluster.sh grant-agent "$C" daemonset/rbac.yaml

# an in-cluster service-account directory, as the kubelet projects it
mkdir -p "$D/sa"
SA_TOKEN=$(curl -s -A nodeguard-e2e --max-time 10 --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" \
	-H 'Content-Type: application/json' -X POST -d '{"spec":{"expirationSeconds":7200}}' \
	"$KUBE_SERVER/api/v1/namespaces/nodeguard/serviceaccounts/nodeguard/token" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["token"])' 2>/dev/null)
if [ -n "$SA_TOKEN" ]; then
	(umask 077; printf '%s' "$SA_TOKEN" >"$D/sa/token"); cp "$KUBE_CA" "$D/sa/ca.crt"; printf nodeguard >"$D/sa/namespace"
	ok "service-account token for nodeguard/nodeguard (TokenRequest)"
else
	bad "no service-account token"; finish
fi
# least privilege: both identities read pods, neither reads secrets
for who in "SA:$SA_TOKEN" "agent:$KUBE_AGENT_TOKEN"; do
	for _ in $(seq 50); do h status /api/v1/pods 200 "${who#*:}" >/dev/null 2>&1 && break; sleep 0.1; done
	check "${who%%:*} token may list pods" h status /api/v1/pods 200 "${who#*:}"
	check "${who%%:*} token may not list secrets (403)" h status /api/v1/secrets 403 "${who#*:}"
done

# ---------------------------------------------------------------- objects

post() { local o; o=$(h post "$1" "$2") && ok "$3" || bad "$3: $o"; }
post /api/v1/namespaces '{"metadata":{"name":"shop"}}' "namespace shop"
post /api/v1/namespaces '{"metadata":{"name":"other"}}' "namespace other"
for sa in web-sa del-sa; do
	post /api/v1/namespaces/shop/serviceaccounts "{\"metadata\":{\"name\":\"$sa\"}}" "ServiceAccount shop/$sa"
done
RB=/apis/rbac.authorization.k8s.io/v1
SUBJ_WEB='{"kind":"ServiceAccount","name":"web-sa","namespace":"shop"}'
post $RB/namespaces/shop/roles '{"metadata":{"name":"web-reader"},"rules":[{"apiGroups":[""],"resources":["configmaps"],"verbs":["get"]}]}' "Role shop/web-reader"
# the SA between two subjects that stay: its position must come back exactly
post $RB/namespaces/shop/rolebindings "{\"metadata\":{\"name\":\"web-reader\"},
	\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Role\",\"name\":\"web-reader\"},
	\"subjects\":[{\"kind\":\"User\",\"name\":\"alice\",\"apiGroup\":\"rbac.authorization.k8s.io\"},$SUBJ_WEB,
	{\"kind\":\"ServiceAccount\",\"name\":\"web-sa\",\"namespace\":\"other\"}]}" "RoleBinding shop/web-reader"
post $RB/namespaces/shop/rolebindings "{\"metadata\":{\"name\":\"del-reader\"},
	\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Role\",\"name\":\"web-reader\"},
	\"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":\"del-sa\",\"namespace\":\"shop\"},
	{\"kind\":\"Group\",\"name\":\"readers\",\"apiGroup\":\"rbac.authorization.k8s.io\"}]}" "RoleBinding shop/del-reader"
post $RB/clusterrolebindings "{\"metadata\":{\"name\":\"web-view\"},
	\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"view\"},
	\"subjects\":[$SUBJ_WEB,{\"kind\":\"Group\",\"name\":\"auditors\",\"apiGroup\":\"rbac.authorization.k8s.io\"}]}" "ClusterRoleBinding web-view"
post $RB/clusterrolebindings "{\"metadata\":{\"name\":\"system:e2e-web\"},
	\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"view\"},
	\"subjects\":[$SUBJ_WEB]}" "ClusterRoleBinding system:e2e-web (never touched)"
h subjects-save rb shop web-reader "$D/rb.before"
h subjects-save rb shop del-reader "$D/rbdel.before"
h subjects-save crb "" web-view "$D/crb.before"
h subjects-save crb "" system:e2e-web "$D/sys.before"

WEB_LABELS='{"app":"web","tier":"front"}'
mkpod shop web-1 $NODE web-sa nginx:1.27 "$WEB_LABELS" && ok "pod shop/web-1 (test-node, container cgroup)"
W1_UID=$POD_UID W1_SCOPE=$POD_SCOPE
mkpod shop web-2 $NODE web-sa nginx:1.27 "$WEB_LABELS" && ok "pod shop/web-2 (test-node)"
mkpod shop web-3 other-node web-sa nginx:1.27 "$WEB_LABELS" && ok "pod shop/web-3 (other-node)"
W3_SCOPE=$POD_SCOPE W3_CID=$POD_CID
# its own grace period is 0: "the pod's own" grace deletes it at once (no kubelet here to finish a graceful delete)
mkpod shop web-del $NODE del-sa registry.test/delete-me:1 '{"app":"del"}' '"terminationGracePeriodSeconds":0' &&
	ok "pod shop/web-del (rule with delete-pod)"
DEL_UID=$POD_UID DEL_SCOPE=$POD_SCOPE
mkpod shop web-4 $NODE web-sa nginx:1.27 "$WEB_LABELS" && ok "pod shop/web-4 (the outage)"
W4_UID=$POD_UID W4_SCOPE=$POD_SCOPE
mkpod kube-system sys-1 $NODE default nginx:1.27 '{"app":"sys"}' && ok "pod kube-system/sys-1 (protected)"
SYS_SCOPE=$POD_SCOPE

cat >"$P" <<'EOF'
version: 1
settings:
  journal_fsync: always
  protected_namespaces: [kube-system, "openshift-*"]
  actions_per_minute: 1000
  rule_actions_per_minute: 1000
rules:
  - name: e2e-quarantine
    description: set*id back to root in a container; quarantine the pod through the API (release test)
    severity: high
    category: privilege_escalation
    match:
      event: cred-change
      scope: container
      gains_root: true
      success: true
    exceptions:
      - images: ["registry.test/delete-me:*"]
    actions: [log, label, network-policy, revoke-rbac, event]
  - name: e2e-delete
    description: the same for pods of the delete-me image, which are also deleted
    severity: high
    category: privilege_escalation
    match:
      event: cred-change
      scope: container
      gains_root: true
      success: true
      images: ["registry.test/delete-me:*"]
    actions: [log, label, network-policy, revoke-rbac, event, delete-pod]
  - name: k8s-unauthorized-access
    severity: medium
    category: unauthorized_access
    match:
      event: k8s-event
      k8s_type: [Warning]
      k8s_kind: [Pod, Node]
      k8s_message: ["forbidden", "unauthorized", "access denied"]
    actions: [log]
EOF
check "test policy is valid" ./nodeguard policy check "$P"

# ---------------------------------------------------------------- agent A: the DaemonSet way

start_agent A env NODE_NAME=$NODE POD_NAMESPACE=nodeguard POD_NAME=nodeguard-e2e KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT="$PORT" \
	NODEGUARD_K8S_SA_DIR="$D/sa" ./nodeguard run --policy "$P" --journal-dir "$J" --quiet
check "agent A: in-cluster config, pod watch of $NODE" grep -q "watching the pods of node $NODE" "$D/agent-A.err"
sleep 2   # the pod cache's first list

escalate "$W1_SCOPE"
W1_INC=$(h wait-incident "$J" shop web-1 10) && ok "web-1: incident $W1_INC" || { bad "web-1: $W1_INC"; W1_INC=none; }
check "web-1: open record has namespace, name, uid, service account, labels" \
	h open-fields "$J" "$W1_INC" shop web-1 "$W1_UID" web-sa "$WEB_LABELS"

API_ACTS="label network-policy revoke-rbac event"
check "web-1: every API action finished" h wait-final "$J" "$W1_INC" 30 $API_ACTS
check "web-1: intent then result ok, once each, target pod:shop/web-1" h pairs-ok "$J" "$W1_INC" pod:shop/web-1 $API_ACTS
check "web-1: quarantine label = the incident's value" h label shop web-1 "$W1_INC"
check "web-1: NetworkPolicy: name, managed-by label, exact selector, [Ingress, Egress], no rules" h np shop "$W1_INC"
check "web-1: exactly one NetworkPolicy selects it" h np-count shop "$W1_INC" 1
check "RoleBinding shop/web-reader lost web-sa only" h subjects-are rb shop web-reader "$D/rb.before" shop web-sa
check "ClusterRoleBinding web-view lost web-sa only" h subjects-are crb "" web-view "$D/crb.before" shop web-sa
check "ClusterRoleBinding system:e2e-web untouched" h subjects-are crb "" system:e2e-web "$D/sys.before"
check "RoleBinding shop/del-reader untouched by web-1's incident" h subjects-are rb shop del-reader "$D/rbdel.before"
check "web-1: one NodeguardIncident Event from nodeguard, naming the incident" h events shop web-1 NodeguardIncident 1 "$W1_INC"
check "web-1: NodeguardAction Events from nodeguard" h events shop web-1 NodeguardAction 1+ "$W1_INC"
check "web-1: no duplicate nodeguard Events" h events-unique shop web-1

escalate "$DEL_SCOPE"
DEL_INC=$(h wait-incident "$J" shop web-del 10) && ok "web-del: incident $DEL_INC" || { bad "web-del: $DEL_INC"; DEL_INC=none; }
escalate "$SYS_SCOPE"
SYS_INC=$(h wait-incident "$J" kube-system sys-1 10) && ok "sys-1: incident $SYS_INC" || { bad "sys-1: $SYS_INC"; SYS_INC=none; }
escalate "$W3_SCOPE"   # a container whose id only an other-node pod has: never resolved to it

check "web-del: every API action finished" h wait-final "$J" "$DEL_INC" 30 $API_ACTS delete-pod
check "web-del: intent then result ok, once each" h pairs-ok "$J" "$DEL_INC" pod:shop/web-del $API_ACTS delete-pod
deleted=no
for _ in $(seq 100); do h status /api/v1/namespaces/shop/pods/web-del 404 >/dev/null 2>&1 && { deleted=yes; break; }; sleep 0.1; done
[ $deleted = yes ] && ok "web-del: the pod is deleted" || bad "web-del: the pod is still there"
check "RoleBinding shop/del-reader lost del-sa only" h subjects-are rb shop del-reader "$D/rbdel.before" shop del-sa

check "sys-1: every API action refused: protected namespace" \
	h results-are "$J" "$SYS_INC" refused "refused: protected namespace kube-system" $API_ACTS
check "sys-1: not labelled" h labels-are kube-system sys-1 '{"app":"sys"}'
check "sys-1: no NetworkPolicy in kube-system" h np-none kube-system

# a Forbidden Event about web-2 (this node) opens its incident; one about web-3 never shows
ev() { # POD MESSAGE
	h post /api/v1/namespaces/shop/events "{\"metadata\":{\"name\":\"$1.e2e$RANDOM$RANDOM\"},
		\"involvedObject\":{\"kind\":\"Pod\",\"namespace\":\"shop\",\"name\":\"$1\",\"uid\":\"$2\"},
		\"reason\":\"FailedMount\",\"type\":\"Warning\",\"count\":1,\"source\":{\"component\":\"kubelet\"},
		\"message\":\"MountVolume.SetUp failed for volume \\\"db\\\": secrets \\\"db\\\" is forbidden: User \\\"system:serviceaccount:shop:web-sa\\\" cannot get resource \\\"secrets\\\"\"}" >/dev/null
}
W2_UID=$(curl -s -A e2e --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" "$KUBE_SERVER/api/v1/namespaces/shop/pods/web-2" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["uid"])')
W3_UID=$(curl -s -A e2e --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" "$KUBE_SERVER/api/v1/namespaces/shop/pods/web-3" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["uid"])')
ev web-2 "$W2_UID" && ok "Forbidden Event about web-2 created" || bad "Event about web-2"
ev web-3 "$W3_UID" && ok "Forbidden Event about web-3 created" || bad "Event about web-3"
W2_INC=$(h wait-k8s-incident "$J" shop web-2 15) && ok "web-2: the Forbidden Event opened incident $W2_INC" || { bad "web-2: $W2_INC"; W2_INC=none; }
check "web-2: detection category unauthorized_access" h k8s-detection "$J" "$W2_INC" unauthorized_access

# release web-1's incident through the running agent (control socket)
if out=$(./nodeguardctl release "$W1_INC" --dir "$J" 2>&1); then ok "nodeguardctl release $W1_INC"; else bad "release: $out"; fi
check "web-1: release records queued, then ok, once" h wait-released "$J" "$W1_INC" 30 label network-policy revoke-rbac
check "web-1: release records start with queued" h release-queued-first "$J" "$W1_INC" label network-policy revoke-rbac
check "RoleBinding shop/web-reader restored exactly (order included)" h subjects-are rb shop web-reader "$D/rb.before"
check "ClusterRoleBinding web-view restored exactly" h subjects-are crb "" web-view "$D/crb.before"
check "ClusterRoleBinding system:e2e-web still untouched" h subjects-are crb "" system:e2e-web "$D/sys.before"
check "web-1: NetworkPolicy removed" h np-count shop "$W1_INC" 0
check "web-1: quarantine label removed" h labels-are shop web-1 "$WEB_LABELS"

check "web-3 (other node): labels unchanged" h labels-are shop web-3 "$WEB_LABELS"
check "web-3 (other node): not deleted" h status /api/v1/namespaces/shop/pods/web-3 200
check "web-3 (other node): never in the journal" h journal-lacks "$J" web-3
check "web-3's container: its incident has no pod, no API action carried out" h unattributed "$J" "$W3_CID"
stop_agent

# ---------------------------------------------------------------- agents B, C: an API outage

start_agent B ./nodeguard run --kubeconfig "$C/agent-kubeconfig" --node-name $NODE --policy "$P" --journal-dir "$J" --quiet
check "agent B: pod watch with the agent user's kubeconfig" grep -q "watching the pods of node $NODE" "$D/agent-B.err"
sleep 2
h subjects-save rb shop web-reader "$D/rb.outage"
h subjects-save crb "" web-view "$D/crb.outage"
if tests/k8s/cluster.sh stop-apiserver "$C" 2>>"$D/cluster-start.err"; then ok "apiserver stopped (etcd runs)"
else bad "stop-apiserver"; fi
check "the API is down" bash -c "! curl -s --max-time 2 --cacert '$KUBE_CA' '$KUBE_SERVER/readyz' >/dev/null"
t0=$(date +%s%N)
escalate "$W4_SCOPE"
W4_INC=$(h wait-incident "$J" shop web-4 3) && ok "web-4: incident $W4_INC opened with the API down ($((($(date +%s%N) - t0) / 1000000)) ms)" ||
	{ bad "web-4: $W4_INC"; W4_INC=none; }
for _ in $(seq 50); do h queued-only "$J" "$W4_INC" $API_ACTS >/dev/null 2>&1 && break; sleep 0.1; done
check "web-4: every API action has its intent at once" h intents "$J" "$W4_INC" $API_ACTS
check "web-4: every API action: intent + result queued, nothing final" h queued-only "$J" "$W4_INC" $API_ACTS

kill -KILL "$AGENT"; wait "$AGENT" 2>/dev/null; AGENT=
ok "agent B killed -9 with the actions queued"
start_agent C ./nodeguard run --kubeconfig "$C/agent-kubeconfig" --node-name $NODE --policy "$P" --journal-dir "$J" --quiet
sleep 3
check "web-4: still nothing final while the API is down" h no-final "$J" "$W4_INC"
if tests/k8s/cluster.sh start-apiserver "$C" 2>>"$D/cluster-start.err"; then ok "apiserver back"
else bad "start-apiserver: $(tail -3 "$D/cluster-start.err")"; fi
t0=$SECONDS
if h wait-final "$J" "$W4_INC" 60 $API_ACTS >"$D/wait.out" 2>&1; then
	ok "web-4: every queued action finished $((SECONDS - t0)) s after the API came back (bound 60 s)"
else bad "web-4: $(cat "$D/wait.out")"; fi
check "web-4: one intent, queued results, exactly one ok each" h pairs-ok "$J" "$W4_INC" pod:shop/web-4 $API_ACTS
check "web-4: quarantine label" h label shop web-4 "$W4_INC"
check "web-4: NetworkPolicy, field by field" h np shop "$W4_INC"
check "web-4: exactly one NetworkPolicy selects it" h np-count shop "$W4_INC" 1
check "RoleBinding shop/web-reader lost web-sa once" h subjects-are rb shop web-reader "$D/rb.outage" shop web-sa
check "ClusterRoleBinding web-view lost web-sa once" h subjects-are crb "" web-view "$D/crb.outage" shop web-sa
check "ClusterRoleBinding system:e2e-web still untouched" h subjects-are crb "" system:e2e-web "$D/sys.before"
check "web-4: exactly one NodeguardIncident Event naming the incident" h events shop web-4 NodeguardIncident 1 "$W4_INC"
check "web-4: no duplicate nodeguard Events" h events-unique shop web-4
check "web-3 (other node): labels unchanged at the end" h labels-are shop web-3 "$WEB_LABELS"
check "web-3 (other node): never in the journal at the end" h journal-lacks "$J" web-3
stop_agent
finish
