#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# nodeguard overhead benchmark (`make bench`). Not a pass/fail test: it
# measures, prints a table against the targets, and writes JSON.
#
# Each workload runs in a "container": a cgroup shaped like a kubelet's
#   <cgroup2>/kubepods.slice/kubepods-besteffort.slice/
#       kubepods-besteffort-pod<uid>.slice/cri-containerd-<64 hex>.scope
# plus fresh mount and pid namespaces (unshare --mount --pid --fork), which is
# what makes `nodeguard trace` (containers only) emit events for it.
#
# Conditions are interleaved ABBA: round r runs [none, agent] when r is even,
# [agent, none] when odd, so slow drift cancels. Every phase runs every
# workload: exec, connect, setresuid, getppid storms (tests/bench/storm.c)
# and redis-benchmark SET against a redis-server in its own container.
# The agent runs as `nodeguard trace --json`, stdout into a sink that keeps
# only the final stats line (the event stream is discarded).
#
# Environment:
#   BENCH_ROUNDS=8        rounds per condition (K >= 5 recommended)
#   BENCH_SCALE=1         multiplies every iteration count
#   BENCH_EXEC_N=3000 BENCH_CONNECT_N=20000 BENCH_SETRESUID_N=300000
#   BENCH_GETPPID_N=4000000 BENCH_REDIS_N=200000    (before BENCH_SCALE)
#   BENCH_AGENT_ARGS=     extra `nodeguard trace` arguments (e.g. --ringbuf 33554432)
#   BENCH_PROFILE=0       1: one extra agent phase with kernel.bpf_stats_enabled=1
#                         reporting BPF program ns per workload op (not in ratios)
#   BENCH_QUIET_WAIT=120  seconds, in all, to wait before phases for other nodeguard
#                         processes and pinned enforcer links (their hooks run in
#                         both conditions) to go away
#   BENCH_RESULTS=tests/bench/results
#   NODEGUARD=./nodeguard BENCH_STORM=build/tests/bench-storm BENCH_TINY=build/tests/bench-tiny
set -euo pipefail
export LC_ALL=C

NODEGUARD=${NODEGUARD:-./nodeguard}
STORM=${BENCH_STORM:-build/tests/bench-storm}
TINY=${BENCH_TINY:-build/tests/bench-tiny}
ROUNDS=${BENCH_ROUNDS:-8}
SCALE=${BENCH_SCALE:-1}
AGENT_ARGS=${BENCH_AGENT_ARGS:-}
PROFILE=${BENCH_PROFILE:-0}
RESULTS=${BENCH_RESULTS:-tests/bench/results}

WORKLOADS=(exec connect setresuid getppid)
declare -A TARGET=([exec]=1.05 [connect]=1.05 [setresuid]=1.05 [getppid]=1.01 [redis]=0.99)

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

scaled() { awk -v n="$1" -v s="$SCALE" 'BEGIN { v = int(n * s); print (v < 1 ? 1 : v) }'; }
declare -A ITERS=(
	[exec]=$(scaled "${BENCH_EXEC_N:-3000}")
	[connect]=$(scaled "${BENCH_CONNECT_N:-20000}")
	[setresuid]=$(scaled "${BENCH_SETRESUID_N:-300000}")
	[getppid]=$(scaled "${BENCH_GETPPID_N:-4000000}")
	[redis]=$(scaled "${BENCH_REDIS_N:-200000}")
)

# ---------------------------------------------------------------- checks

[ "$(id -u)" -eq 0 ] || die "run as root (the agent loads BPF; the harness creates cgroups)"
[[ "$ROUNDS" =~ ^[0-9]+$ ]] && [ "$ROUNDS" -ge 1 ] || die "BENCH_ROUNDS must be a positive integer"
[ "$ROUNDS" -ge 5 ] || log "warning: BENCH_ROUNDS=$ROUNDS < 5: medians will be noisy"
for f in "$NODEGUARD" "$STORM" "$TINY"; do
	[ -x "$f" ] || die "$f is missing: run 'make bench' (or make nodeguard and the bench binaries)"
done
for c in unshare redis-server redis-benchmark redis-cli awk; do
	command -v "$c" >/dev/null || die "$c not found: run 'make deps'"
done

CG2=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' \
	/proc/self/mountinfo)
[ -n "$CG2" ] || die "no cgroup v2 mount in /proc/self/mountinfo"
CG2=$(printf '%b' "$(printf '%s' "$CG2" | sed 's/\\\([0-7][0-7][0-7]\)/\\0\1/g')")

# ---------------------------------------------------------------- state and cleanup

TMP=$(mktemp -d "${TMPDIR:-/tmp}/nodeguard-bench.XXXXXX")
AGENT_PID=""
SINK_PID=""
REDIS_PID=""
REDIS_PORT=""
CREATED_DIRS=()
POD=""
BPF_STATS_OLD=""

kill_cgroup_procs() {
	local cg=$1 pid pids i
	[ -f "$cg/cgroup.procs" ] || return 0
	for i in $(seq 50); do
		pids=$(cat "$cg/cgroup.procs" 2>/dev/null || true)
		[ -z "$pids" ] && return 0
		for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
		sleep 0.1
	done
	log "warning: processes left in $cg"
}

cleanup() {
	local rc=$? i d
	trap - EXIT INT TERM
	if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
		kill -CONT "$AGENT_PID" 2>/dev/null || true # the profile may have stopped it
		kill -INT "$AGENT_PID" 2>/dev/null || true
		for i in $(seq 50); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$AGENT_PID" 2>/dev/null || true
	fi
	[ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null || true
	if [ -n "$REDIS_PORT" ]; then
		redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
	fi
	# every process we started lives in our pod's container cgroups
	for d in "${CREATED_DIRS[@]}"; do
		case "$d" in "$POD"/*) kill_cgroup_procs "$d" ;; esac
	done
	[ -n "$REDIS_PID" ] && wait "$REDIS_PID" 2>/dev/null || true
	for ((i = ${#CREATED_DIRS[@]} - 1; i >= 0; i--)); do
		d=${CREATED_DIRS[$i]}
		[ -d "$d" ] || continue
		# kubepods.slice and kubepods-besteffort.slice may be shared by the
		# time we leave (other tests): rmdir fails then, and that is fine
		case "$d" in
		"$POD" | "$POD"/*) rmdir "$d" 2>/dev/null || log "warning: could not remove $d" ;;
		*) rmdir "$d" 2>/dev/null || true ;;
		esac
	done
	[ -n "$BPF_STATS_OLD" ] && sysctl -qw kernel.bpf_stats_enabled="$BPF_STATS_OLD" || true
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkcg() {
	local d=$1
	if [ ! -d "$d" ]; then
		mkdir "$d"
		CREATED_DIRS+=("$d")
	fi
}

rand_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

POD_UID=$(cat /proc/sys/kernel/random/uuid)
POD="$CG2/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${POD_UID//-/_}.slice"
STORM_CID=$(rand_hex 32)
REDIS_CID=$(rand_hex 32)
mkcg "$CG2/kubepods.slice"
mkcg "$CG2/kubepods.slice/kubepods-besteffort.slice"
mkcg "$POD"
STORM_CG="$POD/cri-containerd-$STORM_CID.scope"
REDIS_CG="$POD/cri-containerd-$REDIS_CID.scope"
mkcg "$STORM_CG"
mkcg "$REDIS_CG"

# run "$@" as a container process: join cgroup $1, new mount + pid namespaces
in_container() {
	local cg=$1
	shift
	bash -c 'echo $$ > "$1/cgroup.procs" && shift && exec unshare --mount --pid --fork -- "$@"' \
		in_container "$cg" "$@"
}

# ---------------------------------------------------------------- workloads

# run_storm WORKLOAD [OPS]: prints "<ns/op> <elapsed ns>"
run_storm() {
	local w=$1 n=${2:-${ITERS[$1]}} out
	if [ "$w" = exec ]; then
		out=$(in_container "$STORM_CG" "$STORM" exec "$n" "$(readlink -f "$TINY")")
	else
		out=$(in_container "$STORM_CG" "$STORM" "$w" "$n")
	fi
	set -- $out
	[ $# -eq 3 ] || die "$w storm printed '$out'"
	echo "$1 $2"
}

start_redis() {
	local p i
	for i in $(seq 20); do
		p=$((20000 + RANDOM % 20000))
		redis-cli -h 127.0.0.1 -p "$p" ping >/dev/null 2>&1 || { REDIS_PORT=$p; break; }
	done
	[ -n "$REDIS_PORT" ] || die "no free loopback port for redis-server"
	in_container "$REDIS_CG" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
		--protected-mode yes --save '' --appendonly no --daemonize no \
		>"$TMP/redis.log" 2>&1 &
	REDIS_PID=$!
	for i in $(seq 100); do
		if [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; then
			return 0
		fi
		kill -0 "$REDIS_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$TMP/redis.log" >&2
	die "redis-server did not come up on 127.0.0.1:$REDIS_PORT"
}

# prints "<requests/s> <elapsed ns>"
run_redis() {
	local t0 t1 rps
	t0=$(date +%s%N)
	rps=$(redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -t set -n "${ITERS[redis]}" --csv |
		awk -F'","' '/^"SET"/ { print $2 }')
	t1=$(date +%s%N)
	[ -n "$rps" ] || die "redis-benchmark printed no SET result"
	echo "$rps $((t1 - t0))"
}

# ---------------------------------------------------------------- agent

agent_cpu_ticks() { # utime + stime, from after the ") " that ends comm
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

start_agent() {
	local i
	rm -f "$TMP/agent.fifo" "$TMP/agent.last" "$TMP/agent.err"
	mkfifo "$TMP/agent.fifo"
	"$STORM" sink "$TMP/agent.last" <"$TMP/agent.fifo" &
	SINK_PID=$!
	# shellcheck disable=SC2086
	"$NODEGUARD" trace --json $AGENT_ARGS >"$TMP/agent.fifo" 2>"$TMP/agent.err" &
	AGENT_PID=$!
	for i in $(seq 600); do
		grep -q 'info: tracing' "$TMP/agent.err" 2>/dev/null && break
		kill -0 "$AGENT_PID" 2>/dev/null || { cat "$TMP/agent.err" >&2; die "nodeguard trace exited"; }
		sleep 0.1
	done
	grep -q 'info: tracing' "$TMP/agent.err" || die "nodeguard trace did not attach in 60 s"
	ATTACH_TICKS=$(agent_cpu_ticks "$AGENT_PID")
}

# stops the agent; sets AG_* from /proc and the final stats line
stop_agent() {
	local stats k obj
	sleep 0.5 # let the agent drain the ring buffer
	AG_TICKS=$(agent_cpu_ticks "$AGENT_PID")
	AG_HWM_KB=$(awk '/^VmHWM:/ { print $2 }' "/proc/$AGENT_PID/status")
	kill -INT "$AGENT_PID"
	wait "$AGENT_PID" || die "nodeguard trace exited with status $?: $(cat "$TMP/agent.err")"
	AGENT_PID=""
	wait "$SINK_PID" || true
	SINK_PID=""
	AG_LINES=$(sed -n 1p "$TMP/agent.last")
	stats=$(sed -n 2p "$TMP/agent.last")
	case "$stats" in
	*'"kind":"stats"'*) ;;
	*) die "no stats line at the end of the agent's output: '$stats'" ;;
	esac
	jnum() { printf '%s' "$1" | grep -o "\"$2\":[0-9]*" | head -1 | cut -d: -f2; }
	AG_EMITTED=$(jnum "$stats" emitted)
	AG_DROPPED=$(jnum "$stats" dropped)
	AG_DECODE_ERR=$(jnum "$stats" decode_errors)
	for k in "${KINDS[@]}"; do
		obj=$(printf '%s' "$stats" | grep -o "\"$k\":{[^}]*}" || true)
		AG_KIND_EM[$k]=$(jnum "$obj" emitted)
		AG_KIND_DR[$k]=$(jnum "$obj" dropped)
		: "${AG_KIND_EM[$k]:=0}" "${AG_KIND_DR[$k]:=0}"
	done
	AG_CREDS=$(sed -n 's/.*credentials via \([^;]*\);.*/\1/p' "$TMP/agent.err" | head -1)
	grep -i 'warning' "$TMP/agent.err" | sed 's/^/bench:   agent: /' >&2 || true
}
declare -A AG_KIND_EM AG_KIND_DR
# event kinds in the stats line (kinds this agent version lacks count 0)
KINDS=(exec fork exit cred connect sendmsg anomaly enforce)

# ---------------------------------------------------------------- phases

declare -A S_NS S_EL     # [cond,workload] -> space-separated samples
AGENT_PHASES=()          # one summary record per agent phase
declare -A KIND_EM_SUM KIND_DR_SUM

# Other nodeguard processes (e.g. someone's integration tests) attach the same
# programs and slow both conditions: before each phase wait for them to finish
# (BENCH_QUIET_WAIT seconds in all, over the whole run), then go on, count
# them, warn and record.
FOREIGN_MAX=0
QUIET_WAIT=${BENCH_QUIET_WAIT:-120}
count_foreign() {
	local n=0 p
	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" = "${AGENT_PID:-none}" ] && continue
		[ "$(cat "$p/comm" 2>/dev/null)" = nodeguard ] || continue
		# a zombie has no sensors loaded any more
		[ "$(sed 's/.*) //' "$p/stat" 2>/dev/null | cut -d' ' -f1)" = Z ] || n=$((n + 1))
	done
	echo "$n"
}
# a pinned enforcer (nodeguard run's containment, which outlives its agent)
# keeps its cgroup connect/sendmsg hooks attached in both conditions
count_pinned() {
	local d=/sys/fs/bpf/nodeguard/links
	[ -d "$d" ] && find "$d" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l || echo 0
}
check_foreign() {
	local n p i
	n=$(count_foreign)
	p=$(count_pinned)
	for ((i = 0; (n > 0 || p > 0) && QUIET_WAIT > 0; i++)); do
		[ "$i" -eq 0 ] && log "  $n other nodeguard process(es), $p pinned nodeguard link(s): waiting (${QUIET_WAIT} s of the budget left)"
		sleep 1
		QUIET_WAIT=$((QUIET_WAIT - 1))
		n=$(count_foreign)
		p=$(count_pinned)
	done
	if [ "$n" -gt 0 ]; then
		log "  warning: $n other nodeguard process(es) running: their sensors load this phase too"
	fi
	if [ "$p" -gt 0 ]; then
		log "  warning: $p nodeguard link(s) pinned under /sys/fs/bpf/nodeguard: an enforcer stays attached"
	fi
	[ "$n" -gt "$FOREIGN_MAX" ] && FOREIGN_MAX=$n
	[ "$p" -gt "$PINNED_MAX" ] && PINNED_MAX=$p
	# anything else keeping the CPUs busy (builds, other tests) adds noise
	LOAD_MAX=$(awk -v m="$LOAD_MAX" '{ print ($1 > m ? $1 : m) }' /proc/loadavg)
	return 0
}
PINNED_MAX=0
LOAD_MAX=0

run_phase() {
	local cond=$1 round=$2 w k line ns el
	log "round $round: $cond"
	check_foreign
	[ "$cond" = agent ] && start_agent
	for w in "${WORKLOADS[@]}"; do
		line=$(run_storm "$w")
		set -- $line
		ns=$1 el=$2
		S_NS[$cond,$w]+="$ns "
		S_EL[$cond,$w]+="$el "
		eval "EL_$w=$el"
		log "  $w: $ns ns/op"
	done
	line=$(run_redis)
	set -- $line
	S_NS[$cond,redis]+="$1 "
	S_EL[$cond,redis]+="$2 "
	log "  redis SET: $1 req/s"
	if [ "$cond" = agent ]; then
		stop_agent
		# events per second while the storms ran; the exec storm makes the
		# fork/exec/exit events, connect the connect events, setresuid the cred ones
		local active=$((EL_exec + EL_connect + EL_setresuid + EL_getppid))
		AGENT_PHASES+=("$(awk -v em="$AG_EMITTED" -v dr="$AG_DROPPED" -v de="$AG_DECODE_ERR" \
			-v lines="$AG_LINES" -v t0="$ATTACH_TICKS" -v t1="$AG_TICKS" -v hz="$(getconf CLK_TCK)" \
			-v hwm="$AG_HWM_KB" -v act="$active" \
			-v e_ex="${AG_KIND_EM[exec]}" -v e_fk="${AG_KIND_EM[fork]}" -v e_xt="${AG_KIND_EM[exit]}" \
			-v e_cn="${AG_KIND_EM[connect]}" -v e_cr="${AG_KIND_EM[cred]}" \
			-v tex="$EL_exec" -v tcn="$EL_connect" -v tcr="$EL_setresuid" 'BEGIN {
				cpu = (t1 - t0) / hz; delivered = lines - 1
				printf "%d %d %d %d %.2f %.4f %d %.1f %.1f %.1f %.1f", em, dr, de, delivered, cpu,
					(em > 0 ? cpu / (em / 1000) : 0), hwm,
					delivered / (act / 1e9),
					(e_ex + e_fk + e_xt) / (tex / 1e9), e_cn / (tcn / 1e9), e_cr / (tcr / 1e9)
			}')")
		for k in "${KINDS[@]}"; do
			KIND_EM_SUM[$k]=$((${KIND_EM_SUM[$k]:-0} + AG_KIND_EM[$k]))
			KIND_DR_SUM[$k]=$((${KIND_DR_SUM[$k]:-0} + AG_KIND_DR[$k]))
		done
		log "  agent: $AG_EMITTED emitted, $AG_DROPPED dropped, $AG_LINES lines out," \
			"cpu $(((AG_TICKS - ATTACH_TICKS)))/$(getconf CLK_TCK) s, VmHWM ${AG_HWM_KB} kB"
	fi
}

# ---------------------------------------------------------------- profile (opt-in)

# per-program "name run_cnt run_time_ns" of the agent's BPF programs (the
# prog ids come from the agent's fds: bpftool may lack pid support)
prog_stats() {
	local ids
	ids=$(cat /proc/"$1"/fdinfo/* 2>/dev/null | awk '/^prog_id:/ { print $2 }' | sort -un | tr '\n' ' ')
	bpftool prog show 2>/dev/null | awk -v ids=" $ids" '
		/^[0-9]+:/ { id = $1; sub(":", "", id); if (!index(ids, " " id " ")) next
			name = ""; cnt = 0; t = 0
			for (i = 1; i <= NF; i++) {
				if ($i == "name") name = $(i + 1)
				if ($i == "run_time_ns") t = $(i + 1)
				if ($i == "run_cnt") cnt = $(i + 1)
			}
			if (name != "") print name, cnt, t }'
}

# agent on-CPU ns and timeslices (~ wakeups) from /proc/<pid>/schedstat
agent_sched() { awk '{ print $1, $3 }' "/proc/$1/schedstat"; }

# Where does an agent-attached op's extra time go? One extra agent phase:
#  1. producer only: the agent is SIGSTOPped, so the BPF programs run but
#     nothing consumes the ring buffer (no wakeups after the first, no agent
#     CPU); ops are capped so the ring buffer (default 8 MiB) does not fill
#  2. kernel.bpf_stats_enabled=1: run time of each BPF program per op, and the
#     agent's own CPU time and timeslices per op
PROFILE_JSON="null"
declare -A PROF_ROWS PROF_STOPPED PROF_AGENT_NS PROF_AGENT_SLICES PROF_CAP=([exec]=3000 [connect]=20000 [setresuid]=20000)
run_profile() {
	local w n before after s0 s1 rows first=1
	command -v bpftool >/dev/null || { log "profile: bpftool not found, skipped"; return; }
	log "profile: producer-only runs (agent stopped), then kernel.bpf_stats_enabled=1 (not in the ratios)"
	check_foreign
	start_agent
	for w in "${WORKLOADS[@]}"; do
		n=${ITERS[$w]}
		[ -n "${PROF_CAP[$w]:-}" ] && [ "$n" -gt "${PROF_CAP[$w]}" ] && n=${PROF_CAP[$w]}
		kill -STOP "$AGENT_PID"
		set -- $(run_storm "$w" "$n")
		kill -CONT "$AGENT_PID"
		PROF_STOPPED[$w]=$1
		log "  $w, agent stopped ($n ops): $1 ns/op"
		sleep 0.5
	done
	BPF_STATS_OLD=$(sysctl -n kernel.bpf_stats_enabled)
	sysctl -qw kernel.bpf_stats_enabled=1
	PROFILE_JSON="{"
	for w in "${WORKLOADS[@]}"; do
		n=${ITERS[$w]}
		before=$(prog_stats "$AGENT_PID")
		s0=$(agent_sched "$AGENT_PID")
		run_storm "$w" >/dev/null
		sleep 0.3 # the agent finishes the backlog
		s1=$(agent_sched "$AGENT_PID")
		after=$(prog_stats "$AGENT_PID")
		n=$((n + (n / 10 ? n / 10 : 1))) # + the storm's warm-up ops
		PROF_AGENT_NS[$w]=$(printf '%s %s' "$s0" "$s1" | awk -v n="$n" '{ printf "%.1f", ($3 - $1) / n }')
		PROF_AGENT_SLICES[$w]=$(printf '%s %s' "$s0" "$s1" | awk -v n="$n" '{ printf "%.3f", ($4 - $2) / n }')
		rows=$(awk -v ops="$n" '
			NR == FNR { c[$1] = $2; t[$1] = $3; next }
			{ dc = $2 - c[$1]; dt = $3 - t[$1]
			  if (dc > 0) printf "%s %d %.0f %.1f\n", $1, dc, dt / dc, dt / ops }' \
			<(printf '%s\n' "$before") <(printf '%s\n' "$after"))
		PROF_ROWS[$w]=$rows
		[ $first -eq 1 ] || PROFILE_JSON+=","
		first=0
		PROFILE_JSON+="\"$w\":{\"agent_stopped_ns_per_op\":${PROF_STOPPED[$w]},"
		PROFILE_JSON+="\"agent_cpu_ns_per_op\":${PROF_AGENT_NS[$w]},\"agent_timeslices_per_op\":${PROF_AGENT_SLICES[$w]},"
		PROFILE_JSON+="\"bpf_ns_per_op\":$(printf '%s\n' "$rows" | awk 'NF == 4 { s += $4 } END { printf "%.1f", s }'),"
		PROFILE_JSON+="\"progs\":["
		PROFILE_JSON+=$(printf '%s\n' "$rows" | awk 'NF == 4 {
			printf "%s{\"prog\":\"%s\",\"runs\":%d,\"ns_per_run\":%s,\"ns_per_op\":%s}",
				(n++ ? "," : ""), $1, $2, $3, $4 }')
		PROFILE_JSON+="]}"
	done
	PROFILE_JSON+="}"
	sysctl -qw kernel.bpf_stats_enabled="$BPF_STATS_OLD"
	BPF_STATS_OLD=""
	stop_agent
}

# ---------------------------------------------------------------- run

T_START=$(date +%s)
log "cgroup v2 at $CG2; pod $POD_UID; $ROUNDS rounds x [none, agent] (ABBA); scale $SCALE"
log "iterations: exec ${ITERS[exec]}, connect ${ITERS[connect]}, setresuid ${ITERS[setresuid]}," \
	"getppid ${ITERS[getppid]}, redis SET ${ITERS[redis]}"
start_redis
log "redis-server in container $REDIS_CID, 127.0.0.1:$REDIS_PORT"

# warm-up: page cache, redis allocator, first-load costs; not recorded
log "warm-up"
for w in "${WORKLOADS[@]}"; do run_storm "$w" >/dev/null; done
run_redis >/dev/null

for ((r = 0; r < ROUNDS; r++)); do
	if ((r % 2 == 0)); then
		run_phase none "$r"; run_phase agent "$r"
	else
		run_phase agent "$r"; run_phase none "$r"
	fi
done
[ "$PROFILE" = 1 ] && run_profile
T_END=$(date +%s)

# ---------------------------------------------------------------- report

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END {
	if (NR == 0) { print 0; exit }
	if (NR % 2) print a[(NR + 1) / 2]; else printf "%.4f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# median of per-round ratios agent/none (round r's two phases are adjacent)
paired_ratio() {
	paste -d' ' <(printf '%s\n' $2) <(printf '%s\n' $1) |
		awk '{ print $1 / $2 }' | sort -g |
		awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
jarr() { printf '%s\n' $1 | awk '{ printf "%s%s", (NR > 1 ? "," : ""), $1 }'; }

declare -A MED_N MED_A RATIO PRATIO
for w in "${WORKLOADS[@]}" redis; do
	MED_N[$w]=$(median ${S_NS[none,$w]})
	MED_A[$w]=$(median ${S_NS[agent,$w]})
	RATIO[$w]=$(awk -v a="${MED_A[$w]}" -v n="${MED_N[$w]}" 'BEGIN { printf "%.4f", a / n }')
	PRATIO[$w]=$(paired_ratio "${S_NS[none,$w]}" "${S_NS[agent,$w]}")
done

# agent summary fields (see AGENT_PHASES record layout in run_phase)
agent_field() { local i=$1; printf '%s\n' "${AGENT_PHASES[@]}" | awk -v i="$i" '{ print $i }'; }
AG_SUM_EM=$(agent_field 1 | awk '{ s += $1 } END { print s + 0 }')
AG_SUM_DR=$(agent_field 2 | awk '{ s += $1 } END { print s + 0 }')
AG_SUM_DE=$(agent_field 3 | awk '{ s += $1 } END { print s + 0 }')
AG_SUM_DL=$(agent_field 4 | awk '{ s += $1 } END { print s + 0 }')
AG_MED_CPU=$(median $(agent_field 5))
AG_MED_CPU_K=$(median $(agent_field 6))
AG_MAX_HWM=$(agent_field 7 | sort -n | tail -1)
AG_MED_EPS=$(median $(agent_field 8))
AG_MED_EPS_EXEC=$(median $(agent_field 9))
AG_MED_EPS_CONN=$(median $(agent_field 10))
AG_MED_EPS_CRED=$(median $(agent_field 11))

verdict() { # ratio target direction
	awk -v r="$1" -v t="$2" -v d="$3" 'BEGIN { ok = (d == "le" ? r <= t : r >= t); print (ok ? "met" : "MISSED") }'
}

{
	echo
	echo "nodeguard overhead — $(uname -r), $(nproc) CPUs, $ROUNDS rounds per condition (ABBA), scale $SCALE"
	echo "agent: nodeguard trace --json $AGENT_ARGS (containers only; credentials via ${AG_CREDS:-?})"
	echo
	printf '%-22s %14s %14s %10s %8s %8s %8s  %s\n' workload "no agent" agent "delta" ratio paired target ""
	for w in "${WORKLOADS[@]}"; do
		printf '%-22s %11.1f ns %11.1f ns %+8.1f ns %8.3f %8.3f %7s  %s\n' "$w (${ITERS[$w]} ops)" \
			"${MED_N[$w]}" "${MED_A[$w]}" "$(awk -v a="${MED_A[$w]}" -v n="${MED_N[$w]}" 'BEGIN { print a - n }')" \
			"${RATIO[$w]}" "${PRATIO[$w]}" "<=${TARGET[$w]}" "$(verdict "${RATIO[$w]}" "${TARGET[$w]}" le)"
	done
	printf '%-22s %10.0f r/s %10.0f r/s %10s %8.3f %8.3f %7s  %s\n' "redis SET (${ITERS[redis]})" \
		"${MED_N[redis]}" "${MED_A[redis]}" "" "${RATIO[redis]}" "${PRATIO[redis]}" ">=${TARGET[redis]}" \
		"$(verdict "${RATIO[redis]}" "${TARGET[redis]}" ge)"
	echo
	echo "agent, over ${#AGENT_PHASES[@]} phases:"
	printf '  events emitted %d, delivered %d, dropped %d (target 0: %s), undecodable %d\n' \
		"$AG_SUM_EM" "$AG_SUM_DL" "$AG_SUM_DR" "$([ "$AG_SUM_DR" -eq 0 ] && echo met || echo MISSED)" "$AG_SUM_DE"
	printf '  per kind emitted/dropped:'
	for k in "${KINDS[@]}"; do printf ' %s %d/%d' "$k" "${KIND_EM_SUM[$k]}" "${KIND_DR_SUM[$k]}"; done
	echo
	printf '  events/s delivered while storms ran (median): %.0f overall; exec storm %.0f, connect %.0f, setresuid %.0f\n' \
		"$AG_MED_EPS" "$AG_MED_EPS_EXEC" "$AG_MED_EPS_CONN" "$AG_MED_EPS_CRED"
	printf '  agent CPU per phase (after attach, median): %.2f s; %.4f CPU s per 1,000 events\n' \
		"$AG_MED_CPU" "$AG_MED_CPU_K"
	printf '  agent peak RSS (VmHWM, max): %d kB\n' "$AG_MAX_HWM"
	if [ "$PROFILE" = 1 ] && [ "$PROFILE_JSON" != null ]; then
		echo
		echo "where the extra time goes (profile phase; ns per op unless noted):"
		printf '%-10s %10s %10s %12s %10s %10s %12s\n' workload "no agent" agent "agent stop" "BPF progs" "agent CPU" "agent wakeups/op"
		for w in "${WORKLOADS[@]}"; do
			printf '%-10s %10.1f %10.1f %12.1f %10.1f %10.1f %12.3f\n' "$w" "${MED_N[$w]}" "${MED_A[$w]}" \
				"${PROF_STOPPED[$w]}" \
				"$(printf '%s\n' "${PROF_ROWS[$w]}" | awk 'NF == 4 { s += $4 } END { print s + 0 }')" \
				"${PROF_AGENT_NS[$w]}" "${PROF_AGENT_SLICES[$w]}"
		done
		echo "  agent stop = BPF programs run, nothing consumes the ring buffer (agent SIGSTOPped)"
		echo "BPF programs (kernel.bpf_stats_enabled):"
		for w in "${WORKLOADS[@]}"; do
			printf '%s\n' "${PROF_ROWS[$w]}" | awk -v w="$w" 'NF == 4 && $4 >= 1 {
				printf "  %-10s %-20s %9d runs %8d ns/run %9.1f ns/op\n", w, $1, $2, $3, $4 }'
		done
	fi
	if awk -v l="$LOAD_MAX" -v n="$(nproc)" 'BEGIN { exit !(l > n) }'; then
		echo
		echo "WARNING: 1-min load average reached $LOAD_MAX on $(nproc) CPUs (the benchmark itself"
		echo "         keeps about 1-1.5 busy): something else competed for the CPUs; ratios are noisy"
	fi
	if [ "$PINNED_MAX" -gt 0 ]; then
		echo
		echo "WARNING: a nodeguard enforcer was pinned (/sys/fs/bpf/nodeguard/links) during the"
		echo "         benchmark: its hooks slow both conditions ('nodeguard uninstall' removes it)"
	fi
	if [ "$FOREIGN_MAX" -gt 0 ]; then
		echo
		echo "WARNING: up to $FOREIGN_MAX other nodeguard process(es) ran during the benchmark;"
		echo "         their BPF programs slow both conditions: rerun on a quiet machine"
	fi
	echo
	echo "wall time $((T_END - T_START)) s"
} | tee "$TMP/table.txt"

mkdir -p "$RESULTS"
TS=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$RESULTS/bench-$TS.json"
{
	printf '{"timestamp":"%s","kernel":"%s","cpus":%d,"git":"%s","rounds":%d,"scale":%s,' \
		"$TS" "$(uname -r)" "$(nproc)" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$ROUNDS" "$SCALE"
	printf '"agent_args":"%s","creds_attach":"%s","wall_s":%d,"foreign_agents_max":%d,"pinned_links_max":%d,"loadavg_max":%s,' \
		"$AGENT_ARGS" "${AG_CREDS:-}" "$((T_END - T_START))" "$FOREIGN_MAX" "$PINNED_MAX" "$LOAD_MAX"
	printf '"workloads":{'
	first=1
	for w in "${WORKLOADS[@]}" redis; do
		[ $first -eq 1 ] || printf ','
		first=0
		unit=ns_per_op
		[ "$w" = redis ] && unit=requests_per_s
		printf '"%s":{"unit":"%s","ops":%d,"none_median":%s,"agent_median":%s,"ratio":%s,"paired_ratio":%s,' \
			"$w" "$unit" "${ITERS[$w]}" "${MED_N[$w]}" "${MED_A[$w]}" "${RATIO[$w]}" "${PRATIO[$w]}"
		printf '"target":"%s%s","none":[%s],"agent":[%s],"none_elapsed_ns":[%s],"agent_elapsed_ns":[%s]}' \
			"$([ "$w" = redis ] && echo '>=' || echo '<=')" "${TARGET[$w]}" \
			"$(jarr "${S_NS[none,$w]}")" "$(jarr "${S_NS[agent,$w]}")" \
			"$(jarr "${S_EL[none,$w]}")" "$(jarr "${S_EL[agent,$w]}")"
	done
	printf '},"agent":{"emitted":%d,"delivered":%d,"dropped":%d,"decode_errors":%d,' \
		"$AG_SUM_EM" "$AG_SUM_DL" "$AG_SUM_DR" "$AG_SUM_DE"
	printf '"per_kind":{'
	first=1
	for k in "${KINDS[@]}"; do
		[ $first -eq 1 ] || printf ','
		first=0
		printf '"%s":{"emitted":%d,"dropped":%d}' "$k" "${KIND_EM_SUM[$k]}" "${KIND_DR_SUM[$k]}"
	done
	printf '},"events_per_s_median":%s,"events_per_s_exec_storm":%s,"events_per_s_connect_storm":%s,' \
		"$AG_MED_EPS" "$AG_MED_EPS_EXEC" "$AG_MED_EPS_CONN"
	printf '"events_per_s_setresuid_storm":%s,"cpu_s_per_phase_median":%s,"cpu_s_per_1000_events_median":%s,' \
		"$AG_MED_EPS_CRED" "$AG_MED_CPU" "$AG_MED_CPU_K"
	printf '"peak_rss_kb":%d,"phases":[' "$AG_MAX_HWM"
	first=1
	for rec in "${AGENT_PHASES[@]}"; do
		[ $first -eq 1 ] || printf ','
		first=0
		set -- $rec
		printf '{"emitted":%s,"dropped":%s,"delivered":%s,"cpu_s":%s,"cpu_s_per_1000_events":%s,"vmhwm_kb":%s,"events_per_s":%s}' \
			"$1" "$2" "$4" "$5" "$6" "$7" "$8"
	done
	printf ']},"bpf_profile":%s}\n' "$PROFILE_JSON"
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cp "$OUT" "$RESULTS/latest.json"
cp "$TMP/table.txt" "$RESULTS/latest.txt"
log "wrote $OUT and $RESULTS/latest.json"
