#!/usr/bin/env bash
# Two agents on one node keep their containment apart with --pin-dir: an
# agent run with its own pin directory pins there, isolates there, leaves
# the default directory (and any agent using it) alone; nodeguardctl
# releases offline from that directory; uninstall --pin-dir removes only it.
# Root; real kernel.
set -uo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "SKIPPED: needs root"; exit 1; }
BPFTOOL=${BPFTOOL:-bpftool}
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
D=$(mktemp -d /tmp/ng-pindir.XXXXXX)
P=/sys/fs/bpf/ng-pindir-test-$$
DEF=/sys/fs/bpf/nodeguard
CG=$(awk '$9=="cgroup2"{print $5; exit}' /proc/self/mountinfo)
ID=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
SLICE=$CG/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod$(cat /proc/sys/kernel/random/uuid | tr - _).slice
SCOPE=$SLICE/cri-containerd-$ID.scope
AGENT= SLEEPER=
cleanup() {
	[ -n "$AGENT" ] && kill -INT "$AGENT" 2>/dev/null && wait "$AGENT" 2>/dev/null
	[ -n "$SLEEPER" ] && kill -9 "$SLEEPER" 2>/dev/null && wait "$SLEEPER" 2>/dev/null
	rmdir "$SCOPE" "$SLICE" 2>/dev/null
	./nodeguard uninstall --pin-dir "$P" >/dev/null 2>&1
	rm -rf "$D"
}
trap cleanup EXIT
def_before=$(ls "$DEF" 2>/dev/null | sort | tr '\n' ' ')
mkdir -p "$SCOPE"
sleep 600 &
SLEEPER=$!
echo "$SLEEPER" > "$SCOPE/cgroup.procs"
CGID=$(stat -c %i "$SCOPE")

NODEGUARD_SOCKET=$D/sock ./nodeguard run --pin-dir "$P" --journal-dir "$D/journal" --quiet 2>"$D/agent.err" &
AGENT=$!
for _ in $(seq 100); do grep -q "nodeguard running" "$D/agent.err" 2>/dev/null && break; sleep 0.1; done
grep -q "nodeguard running" "$D/agent.err" && ok "agent running with --pin-dir $P" || bad "agent did not start: $(tail -3 "$D/agent.err")"
[ -e "$P/ng_isolated" ] && [ -e "$P/ng_deny4" ] && [ -d "$P/links" ] && ok "its maps and links are pinned under $P" ||
	bad "pins under $P: $(ls "$P" 2>&1 | tr '\n' ' ')"
[ "$(ls "$DEF" 2>/dev/null | sort | tr '\n' ' ')" = "$def_before" ] && ok "the default pin directory is as it was" ||
	bad "the default pin directory changed"

out=$(./nodeguardctl isolate --container "$ID" --socket "$D/sock" 2>&1) && ok "isolated through this agent" || bad "isolate: $out"
inc=$(grep -o 'ng-[0-9]\{8\}-[0-9]\{6\}-[0-9a-f]\{8\}' <<<"$out" | head -1)
isolated() { # dir: is CGID in its ng_isolated?
	"$BPFTOOL" -j map dump pinned "$1/ng_isolated" 2>/dev/null | python3 -c '
import json, sys
cg = int(sys.argv[1])
for e in json.load(sys.stdin):
    k = e.get("key")
    k = int.from_bytes(bytes(int(b, 16) for b in k), "little") if isinstance(k, list) else int(e.get("formatted", {}).get("key", -1))
    if k == cg: sys.exit(0)
sys.exit(1)' "$CGID"
}
isolated "$P" && ok "the isolation is in $P/ng_isolated" || bad "cgroup $CGID not in $P/ng_isolated"
if [ -e "$DEF/ng_isolated" ]; then
	isolated "$DEF" && bad "the isolation leaked into $DEF" || ok "not in the default directory's map"
else
	ok "no default directory was created"
fi

kill -INT "$AGENT"; wait "$AGENT" 2>/dev/null; AGENT=
isolated "$P" && ok "the isolation outlives the agent (pinned)" || bad "isolation gone with the agent"
out=$(./nodeguardctl release "$inc" --dir "$D/journal" --pin-dir "$P" --socket "$D/sock" 2>&1) &&
	ok "released offline from $P" || bad "offline release: $out"
isolated "$P" && bad "still isolated after the release" || ok "the isolation is lifted in $P"
./nodeguard uninstall --pin-dir "$P" >/dev/null 2>&1
[ ! -e "$P" ] && ok "uninstall --pin-dir removed $P" || bad "$P still there"
[ "$(ls "$DEF" 2>/dev/null | sort | tr '\n' ' ')" = "$def_before" ] && ok "the default pin directory is still as it was" ||
	bad "the default pin directory changed"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
