#!/usr/bin/env bash
# Verifier budget and the in-kernel kill fallback, on the real kernel (root).
#
#   budget    `nodeguard probe --json` loads every BPF program `nodeguard run`
#             loads (the sensors' and the enforcer's), with (a) the embedded policy and (b) a policy that fills
#             every kill-rule slot with every key set (and overflows them), in
#             both credential modes and with host tracing on: every program's
#             verified_insns must stay at most 100,000 (a tenth of the
#             verifier's limit). A correctness guard, not a timing test.
#   fallback  NODEGUARD_TEST_REJECT_KILL=1 makes the kill code one the
#             verifier refuses: probe and the agent must still load every
#             sensor, say once why kills leave the kernel, mark it in the
#             journal's start record, and kill from user space.
#   kernel    the same agent without the hook: the start record says kernel
#             and the kill happens.
#
# Environment: NODEGUARD (./nodeguard). NODEGUARD_ALLOW_SKIP=1 lets a run
# without root or BTF exit 0 after saying so.
set -uo pipefail

NODEGUARD=${NODEGUARD:-./nodeguard}
NODEGUARD=$(realpath "$NODEGUARD")
BUDGET=100000
pass=0
fail=0

if [ "$(id -u)" -ne 0 ] || [ ! -r /sys/kernel/btf/vmlinux ]; then
	echo "SKIPPED: the verifier budget test needs root and kernel BTF" >&2
	[ "${NODEGUARD_ALLOW_SKIP:-0}" = 1 ] && exit 0
	exit 1
fi

tmp=$(mktemp -d /tmp/ng-budget.XXXXXX)
pin=/sys/fs/bpf/ng-budget-$$
# the victim runs in a cgroup of its own: the agent never acts on its own
# cgroup, which a process started from this shell would share
cg2=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
vcg=$cg2/ng-budget-$$
agent_pid=
cleanup() {
	[ -n "$agent_pid" ] && kill -9 "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
	pkill -9 -f "$tmp/victim" 2>/dev/null
	[ -d "$vcg" ] && rmdir "$vcg" 2>/dev/null
	"$NODEGUARD" uninstall --pin-dir "$pin" --force >/dev/null 2>&1
	rm -rf "$pin" 2>/dev/null
	[ "${NG_IT_KEEP:-0}" = 1 ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }

# the fullest policy: 36 compilable kill rules (4 past the 32 slots), each
# with every key the kernel evaluates and 16 binaries + 16 exempt binaries
full_policy() {
	local trace_host=$1 r b
	echo "version: 1"
	echo "settings:"
	echo "  trace_host: $trace_host"
	echo "rules:"
	for r in $(seq 0 35); do
		echo "  - name: full-$r"
		echo "    severity: high"
		echo "    category: privilege_escalation"
		echo "    actions: [kill]"
		echo "    dry_run: true"
		echo "    match:"
		case $((r % 3)) in
		0)
			echo "      events: [cred-change]"
			[ $((r % 2)) -eq 0 ] && echo "      scope: container" || echo "      scope: host"
			echo "      ops: [setuid, setgid, setreuid, setregid, setresuid, setresgid, setfsuid, setfsgid, setgroups, capset]"
			echo "      uid: root"
			echo "      uid_from: nonroot"
			echo "      uid_to: root"
			echo "      euid_from: nonroot"
			echo "      euid_to: root"
			echo "      fsuid_to: root"
			echo "      gains_root: true"
			echo "      success: true"
			echo "      caps_gained: [sys_admin, sys_ptrace, sys_module, dac_override, net_admin, bpf]"
			;;
		1)
			echo "      events: [exec, setuid-exec]"
			[ $((r % 2)) -eq 0 ] && echo "      scope: container" || echo "      scope: any"
			echo "      uid: nonroot"
			echo "      uid_from: nonroot"
			echo "      uid_to: root"
			echo "      euid_from: nonroot"
			echo "      euid_to: root"
			echo "      fsuid_to: root"
			echo "      gains_root: false"
			echo "      caps_gained: [sys_admin, setuid, setgid, net_raw]"
			;;
		2)
			echo "      events: [anomaly]"
			echo "      scope: any"
			echo "      anomaly: [euid_root, fsuid_root, uid_root, caps_gained, ids_changed, host_mntns, host_netns]"
			echo "      uid: nonroot"
			echo "      uid_to: root"
			echo "      euid_to: root"
			echo "      fsuid_to: root"
			;;
		esac
		echo "      binary:"
		for b in $(seq 0 15); do echo "        - /opt/budget/r$r/bin$b"; done
		echo "    exceptions:"
		echo "      - binary:"
		for b in $(seq 0 15); do echo "          - /opt/budget/r$r/allow$b"; done
	done
}

# check_probe NAME WANT_KILL_IN_KERNEL WANT_RULES_IN_KERNEL JSON_FILE
check_probe() {
	python3 - "$@" <<'EOF'
import json, sys
name, want_kernel, want_loaded, path, budget = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
d = json.load(open(path))
errs = []
if not d.get("loaded"):
    errs.append("sensors not loaded: %s" % d.get("error"))
progs = d.get("programs", [])
# process (3) + credential tracepoints (22) or fallback (2) + network (4),
# and the enforcer's six (deny, isolation)
if len(progs) < 15:
    errs.append("only %d programs listed" % len(progs))
if d.get("loaded") and not d.get("enforcer", {}).get("loaded"):
    errs.append("enforcer not loaded: %s" % d.get("enforcer", {}).get("error"))
if d.get("loaded") and sum(1 for p in progs if p["object"] == "enforce") < 6:
    errs.append("the enforcer's programs are not listed")
for p in progs:
    n = p["verified_insns"]
    if n <= 0:
        errs.append("%s: no verified_insns reported" % p["program"])
    if n > budget:
        errs.append("%s/%s: %d verified instructions > budget %d" % (p["object"], p["program"], n, budget))
k = d["kill"]
if k["in_kernel"] != want_kernel:
    errs.append("kill in_kernel %s, want %s (reason: %s)" % (k["in_kernel"], want_kernel, k["reason"]))
if want_kernel and k["rules_in_kernel"] != want_loaded:
    errs.append("%d kill rules in the kernel, want %d" % (k["rules_in_kernel"], want_loaded))
top = max(progs, key=lambda p: p["verified_insns"]) if progs else {"program": "-", "verified_insns": 0}
for e in errs:
    print("  " + e)
print("  %s: %d programs, largest %s %d insns, kill in kernel: %s, rules in kernel %d of %d" % (
    name, len(progs), top["program"], top["verified_insns"], k["in_kernel"], k["rules_in_kernel"], k["rules"]))
sys.exit(1 if errs else 0)
EOF
}

probe_case() {
	local name=$1 want_kernel=$2 want_loaded=$3
	shift 3
	if ! "$NODEGUARD" probe --json "$@" >"$tmp/probe.json" 2>"$tmp/probe.err"; then
		bad "$name: nodeguard probe $* exited non-zero: $(tail -3 "$tmp/probe.err")"
		return
	fi
	if check_probe "$name" "$want_kernel" "$want_loaded" "$tmp/probe.json" "$BUDGET"; then
		ok "$name"
	else
		bad "$name"
	fi
}

full_policy false >"$tmp/full.yaml"
full_policy true >"$tmp/full-host.yaml"
if ! "$NODEGUARD" policy check "$tmp/full.yaml" >"$tmp/check.out" 2>&1; then
	bad "the full policy does not check: $(head -5 "$tmp/check.out")"
	exit 1
fi

echo "== verifier budget ($BUDGET instructions per program)"
probe_case "embedded policy" 1 2
probe_case "embedded policy, credential fallback" 1 2 --creds-fallback
probe_case "full policy" 1 32 --policy "$tmp/full.yaml"
probe_case "full policy, credential fallback" 1 32 --policy "$tmp/full.yaml" --creds-fallback
probe_case "full policy, host tracing" 1 32 --policy "$tmp/full-host.yaml"

echo "== kill code refused by the verifier: probe"
NODEGUARD_TEST_REJECT_KILL=1 probe_case "refused kill code" 0 0 --policy "$tmp/full.yaml"
if grep -q '"reason":"[^"]*verifier on ng_exec: invalid read from stack' "$tmp/probe.json"; then
	ok "probe names the refused program and quotes the verifier"
else
	bad "probe's reason does not quote the verifier: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kill"]["reason"])' "$tmp/probe.json")"
fi

# run_agent NAME ENV... : start the agent with a host-scoped kill rule on
# $tmp/victim, run the victim, expect SIGKILL; leaves the log and journal
run_agent() {
	local name=$1 jdir="$tmp/j-$1" st=0 i vpid
	shift
	mkdir -p "$jdir"
	env "$@" NODEGUARD_SOCKET="$tmp/ctl-$name.sock" "$NODEGUARD" run --policy "$tmp/kill.yaml" \
		--journal-dir "$jdir" --pin-dir "$pin" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	agent_pid=$!
	for i in $(seq 1 300); do
		grep -q "nodeguard running on node" "$tmp/$name.err" && break
		kill -0 "$agent_pid" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -q "nodeguard running on node" "$tmp/$name.err"; then
		bad "$name: the agent did not start: $(tail -5 "$tmp/$name.err")"
		return 1
	fi
	sh -c 'echo $$ > "$1/cgroup.procs" && exec "$2" 30' victim-wrap "$vcg" "$tmp/victim" &
	vpid=$!
	for i in $(seq 1 100); do
		kill -0 "$vpid" 2>/dev/null || break
		sleep 0.1
	done
	{ wait "$vpid"; } 2>/dev/null
	st=$?
	kill -TERM "$agent_pid"
	wait "$agent_pid"
	agent_pid=
	if [ "$st" -eq 137 ]; then
		ok "$name: the victim was killed by SIGKILL"
	else
		bad "$name: the victim ended with status $st, want 137 (SIGKILL)"
		pkill -9 -f "$tmp/victim" 2>/dev/null
	fi
}

if [ -z "$cg2" ] || ! mkdir "$vcg"; then
	bad "no cgroup v2 mount to run the victim in"
	exit 1
fi
cp /bin/sleep "$tmp/victim"
chmod 755 "$tmp"
cat >"$tmp/kill.yaml" <<EOF
version: 1
settings:
  trace_host: true
  protected_namespaces: []
rules:
  - name: budget-kill-victim
    severity: high
    category: execution
    actions: [kill]
    match:
      events: [exec]
      scope: host
      binary: ["$tmp/victim"]
EOF

start_record() { # FILE -> where of the agent start record
	python3 - "$1" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("rec") == "agent" and r.get("event") == "start":
        print(r["kill"]["where"], r["kill"]["rules_in_kernel"], r["kill"]["rules_in_user_space"],
              "reason:" + r["kill"].get("reason", ""))
        break
EOF
}

echo "== kill code refused by the verifier: the agent"
if run_agent fallback NODEGUARD_TEST_REJECT_KILL=1; then
	n=$(grep -c "in-kernel kill unavailable on this kernel" "$tmp/fallback.err")
	[ "$n" -eq 1 ] && ok "fallback: said once at start" ||
		bad "fallback: 'in-kernel kill unavailable' logged $n times, want 1"
	grep -q "verifier on ng_exec: invalid read from stack" "$tmp/fallback.err" &&
		ok "fallback: the log quotes the verifier" || bad "fallback: the log does not quote the verifier"
	rec=$(start_record "$tmp/j-fallback/journal.jsonl")
	case "$rec" in
	"user-space 0 1 reason:"*"verifier on ng_exec"*) ok "fallback: start record: $rec" ;;
	*) bad "fallback: start record '$rec', want user-space 0 1 with the verifier's reason" ;;
	esac
	grep -q '"action":"kill".*"result":"ok","detail":"killed pid [0-9]* from user space' "$tmp/j-fallback/journal.jsonl" &&
		ok "fallback: the kill is journaled as done from user space" ||
		bad "fallback: no kill journaled ok from user space"
fi

echo "== kill code loaded: the agent"
if run_agent kernel; then
	grep -q "in-kernel kill unavailable" "$tmp/kernel.err" && bad "kernel: the agent says kill is unavailable"
	rec=$(start_record "$tmp/j-kernel/journal.jsonl")
	case "$rec" in
	"kernel 1 0 reason:") ok "kernel: start record: $rec" ;;
	*) bad "kernel: start record '$rec', want kernel 1 0" ;;
	esac
	grep -q '"action":"kill".*in kernel' "$tmp/j-kernel/journal.jsonl" &&
		ok "kernel: the journal says the kill happened in the kernel" ||
		bad "kernel: no kill journaled as done in the kernel"
fi

echo "budget: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
