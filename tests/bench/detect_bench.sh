#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# `make bench-detect`: what detection costs with the embedded default policy.
# A measurement, not a pass/fail test: it prints a table and writes
# tests/bench/results/detect-{<ts>,latest}.json.
#
#  1. latency: `nodeguard run --quiet` (a fresh journal dir); N execs, each of
#     a different copy of bench-tiny under /tmp, inside a kubelet-shaped
#     container cgroup with its own mount + pid namespaces (rule
#     exec-from-writable-or-anonymous-location). From CLOCK_REALTIME just
#     before execve() to the "detection" record read from journal.jsonl
#     (inotify), split at the record's own event ts; and to the agent's log
#     line for it (written after the record's fdatasync). See detect_bench.c.
#  2. agent CPU per 1,000 events: an exec storm and a connect storm
#     (bench-storm) in a container, each under its own `nodeguard run`;
#     utime+stime from /proc/<pid>/stat around the storm, events from the
#     agent's "stopping: N events" line; peak RSS (VmHWM).
#  3. process-table memory: the figure build/tests/test_proctab measures.
#
# The workload cgroups look like the ones run_bench.sh makes:
#   <cgroup2>/kubepods.slice/kubepods-besteffort.slice/
#       kubepods-besteffort-pod<uid>.slice/cri-containerd-<64 hex>.scope
#
# Environment:
#   BENCH_DETECT_N=60 BENCH_DETECT_WARMUP=2 BENCH_DETECT_INTERVAL_MS=100
#   BENCH_DETECT_TIMEOUT_MS=3000   a trigger without a record after this is missed
#   BENCH_DETECT_EXEC_N=20000 BENCH_DETECT_CONNECT_N=200000   storm sizes (utime+stime
#                                  count 10 ms ticks: big enough for a few dozen)
#   BENCH_DETECT_QUIET_WAIT=60     seconds, in all, to wait for other nodeguard processes
#   BENCH_RESULTS=tests/bench/results
#   NODEGUARD=./nodeguard DETECT_BENCH=build/tests/detect-bench
#   BENCH_STORM=build/tests/bench-storm BENCH_TINY=build/tests/bench-tiny
#   TEST_PROCTAB=build/tests/test_proctab
set -euo pipefail
export LC_ALL=C

NODEGUARD=${NODEGUARD:-./nodeguard}
PROBE=${DETECT_BENCH:-build/tests/detect-bench}
STORM=${BENCH_STORM:-build/tests/bench-storm}
TINY=${BENCH_TINY:-build/tests/bench-tiny}
PROCTAB_TEST=${TEST_PROCTAB:-build/tests/test_proctab}
N=${BENCH_DETECT_N:-60}
WARMUP=${BENCH_DETECT_WARMUP:-2}
INTERVAL_MS=${BENCH_DETECT_INTERVAL_MS:-100}
TIMEOUT_MS=${BENCH_DETECT_TIMEOUT_MS:-3000}
EXEC_N=${BENCH_DETECT_EXEC_N:-20000}
CONNECT_N=${BENCH_DETECT_CONNECT_N:-200000}
RESULTS=${BENCH_RESULTS:-tests/bench/results}
PIN_DIR=/sys/fs/bpf/nodeguard

log() { printf 'bench-detect: %s\n' "$*" >&2; }
die() { printf 'bench-detect: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (the agent loads BPF; the harness creates cgroups)"
for v in N WARMUP INTERVAL_MS TIMEOUT_MS EXEC_N CONNECT_N; do
	[[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer"
done
for f in "$NODEGUARD" "$PROBE" "$STORM" "$TINY" "$PROCTAB_TEST"; do
	[ -x "$f" ] || die "$f is missing: run 'make bench-detect'"
done
command -v unshare >/dev/null || die "unshare not found: run 'make deps'"

CG2=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' \
	/proc/self/mountinfo)
[ -n "$CG2" ] || die "no cgroup v2 mount in /proc/self/mountinfo"
CG2=$(printf '%b' "$(printf '%s' "$CG2" | sed 's/\\\([0-7][0-7][0-7]\)/\\0\1/g')")

# ---------------------------------------------------------------- state and cleanup

# other agents load the same sensors: their programs run in our workloads too,
# and ours in theirs. Wait for them (BENCH_DETECT_QUIET_WAIT seconds in all).
QUIET_WAIT=${BENCH_DETECT_QUIET_WAIT:-60}
count_foreign() {
	local n=0 p
	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" = "${AGENT_PID:-none}" ] && continue
		[ "$(cat "$p/comm" 2>/dev/null)" = nodeguard ] || continue
		[ "$(sed 's/.*) //' "$p/stat" 2>/dev/null | cut -d' ' -f1)" = Z ] || n=$((n + 1))
	done
	echo "$n"
}
FOREIGN_MAX=0
wait_quiet() {
	local i f
	f=$(count_foreign)
	for ((i = 0; f > 0 && QUIET_WAIT > 0; i++)); do
		[ "$i" -eq 0 ] && log "$f other nodeguard process(es): waiting (${QUIET_WAIT} s of the budget left)"
		sleep 1
		QUIET_WAIT=$((QUIET_WAIT - 1))
		f=$(count_foreign)
	done
	[ "$f" -gt 0 ] && log "warning: $f other nodeguard process(es) running: numbers are noisy"
	[ "$f" -gt "$FOREIGN_MAX" ] && FOREIGN_MAX=$f
	return 0
}
wait_quiet

# `nodeguard run` pins its enforcer (it outlives the agent): if nothing was
# pinned before us and no other agent runs when we leave, take it down at the
# end, as contain_bench does (without --force: an agent that answers on the
# default control socket keeps its state)
PINNED_BEFORE=$( (find "$PIN_DIR" -mindepth 1 -maxdepth 1 2>/dev/null || true) | wc -l)
# under /tmp, not $TMPDIR: the trigger copies must live in /tmp for the rule
TMP=$(mktemp -d /tmp/nodeguard-detect.XXXXXX)
AGENT_PID=""
PROBE_PID=""
CREATED_DIRS=()
POD=""

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
	if [ -n "$PROBE_PID" ] && kill -0 "$PROBE_PID" 2>/dev/null; then
		kill -KILL "$PROBE_PID" 2>/dev/null || true
		wait "$PROBE_PID" 2>/dev/null || true
	fi
	if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
		kill -INT "$AGENT_PID" 2>/dev/null || true
		for i in $(seq 100); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$AGENT_PID" 2>/dev/null || true
		wait "$AGENT_PID" 2>/dev/null || true
	fi
	for d in "${CREATED_DIRS[@]}"; do
		case "$d" in "$POD"/*) kill_cgroup_procs "$d" ;; esac
	done
	for ((i = ${#CREATED_DIRS[@]} - 1; i >= 0; i--)); do
		d=${CREATED_DIRS[$i]}
		[ -d "$d" ] || continue
		# kubepods.slice and kubepods-besteffort.slice may be shared (other tests)
		case "$d" in
		"$POD" | "$POD"/*) rmdir "$d" 2>/dev/null || log "warning: could not remove $d" ;;
		*) rmdir "$d" 2>/dev/null || true ;;
		esac
	done
	if [ "$PINNED_BEFORE" -eq 0 ] && [ -d "$PIN_DIR" ]; then
		if [ "$(count_foreign)" -eq 0 ]; then
			env -u NODEGUARD_SOCKET "$NODEGUARD" uninstall >/dev/null 2>&1 ||
				log "warning: 'nodeguard uninstall' failed: $PIN_DIR stays"
		else
			log "another nodeguard runs: its pinned state under $PIN_DIR stays"
		fi
	fi
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkcg() {
	if [ ! -d "$1" ]; then
		mkdir "$1"
		CREATED_DIRS+=("$1")
	fi
}
rand_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

POD_UID=$(cat /proc/sys/kernel/random/uuid)
POD="$CG2/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${POD_UID//-/_}.slice"
mkcg "$CG2/kubepods.slice"
mkcg "$CG2/kubepods.slice/kubepods-besteffort.slice"
mkcg "$POD"
LAT_CG="$POD/cri-containerd-$(rand_hex 32).scope"
STORM_CG="$POD/cri-containerd-$(rand_hex 32).scope"
mkcg "$LAT_CG"
mkcg "$STORM_CG"

# run "$@" as a container process: join cgroup $1, new mount + pid namespaces
in_container() {
	local cg=$1
	shift
	bash -c 'echo $$ > "$1/cgroup.procs" && shift && exec unshare --mount --pid --fork -- "$@"' \
		in_container "$cg" "$@"
}

# ---------------------------------------------------------------- agent

HZ=$(getconf CLK_TCK)
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; } # utime + stime
cpu_ns() { awk '{ print $1 }' "/proc/$1/schedstat"; }                    # on-CPU ns
vmhwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }


# start_agent NAME: nodeguard run, journal in $TMP/jr-NAME, stderr in $TMP/agent-NAME.err
start_agent() {
	local name=$1 i
	wait_quiet
	mkdir -p "$TMP/jr-$name"
	AGENT_ERR="$TMP/agent-$name.err"
	: >"$AGENT_ERR"
	# our own control socket: never the default one another agent may serve
	NODEGUARD_SOCKET="$TMP/ctl.sock" "$NODEGUARD" run --journal-dir "$TMP/jr-$name" --node-name bench --quiet \
		</dev/null >/dev/null 2>"$AGENT_ERR" &
	AGENT_PID=$!
	for i in $(seq 600); do
		grep -q 'nodeguard running' "$AGENT_ERR" && break
		kill -0 "$AGENT_PID" 2>/dev/null || { cat "$AGENT_ERR" >&2; AGENT_PID=""; die "nodeguard run exited"; }
		sleep 0.1
	done
	grep -q 'nodeguard running' "$AGENT_ERR" || { cat "$AGENT_ERR" >&2; die "nodeguard run did not start in 60 s"; }
	[ -f "$TMP/jr-$name/journal.jsonl" ] || die "no journal at $TMP/jr-$name/journal.jsonl"
}

# stop_agent: SIGINT; sets AG_EVENTS, AG_DETECTIONS from the "stopping:" line
stop_agent() {
	local line
	kill -INT "$AGENT_PID"
	wait "$AGENT_PID" || die "nodeguard run exited with status $?: $(tail -20 "$AGENT_ERR")"
	AGENT_PID=""
	line=$(grep -o 'stopping: [0-9]* events, [0-9]* detections' "$AGENT_ERR" | tail -1)
	[ -n "$line" ] || die "no 'stopping: N events' line from the agent: $(tail -5 "$AGENT_ERR")"
	AG_EVENTS=$(printf '%s' "$line" | awk '{ print $2 }')
	AG_DETECTIONS=$(printf '%s' "$line" | awk '{ print $4 }')
	if grep -q '^nodeguard: \(warning\|error\):' "$AGENT_ERR"; then
		grep '^nodeguard: \(warning\|error\):' "$AGENT_ERR" | sort | uniq -c | sort -rn | head -5 |
			sed 's/^/bench-detect:   agent: /' >&2
	fi
}

# ---------------------------------------------------------------- 1. latency

T_START=$(date +%s)
log "cgroup v2 at $CG2; pod $POD_UID; journal and triggers in $TMP ($(findmnt -no FSTYPE -T "$TMP" 2>/dev/null || echo ?))"
log "1. detection latency: $N triggers (+$WARMUP warm-up), ${INTERVAL_MS} ms apart"
start_agent lat
LAT_STARTUP=$(grep -c . "$TMP/jr-lat/journal.jsonl" || true)
mkdir "$TMP/trig"
"$PROBE" latency "$TMP/jr-lat/journal.jsonl" "$AGENT_ERR" "$LAT_CG" "$TMP/trig" "$(readlink -f "$TINY")" \
	"$N" "$WARMUP" "$INTERVAL_MS" "$TIMEOUT_MS" >"$TMP/lat.json" &
PROBE_PID=$!
wait "$PROBE_PID" || { PROBE_PID=""; die "detect-bench latency failed"; }
PROBE_PID=""
stop_agent
LAT_EVENTS=$AG_EVENTS
LAT_DETECTIONS=$AG_DETECTIONS
LAT_RECORDS=$(($(grep -c . "$TMP/jr-lat/journal.jsonl" || true) - LAT_STARTUP))
LAT_DET_RECORDS=$(grep -c '"rec":"detection"' "$TMP/jr-lat/journal.jsonl" || true)
LAT_JSON=$(cat "$TMP/lat.json")

# jget JSON PATH...: a number from the probe's flat-ish JSON ("obj" "key")
jget() {
	local j=$1 obj=$2 key=${3:-}
	if [ -n "$key" ]; then
		printf '%s' "$j" | grep -o "\"$obj\":{[^}]*}" | head -1 | grep -o "\"$key\":[-0-9.]*" | cut -d: -f2
	else
		printf '%s' "$j" | grep -o "\"$obj\":[-0-9.]*" | head -1 | cut -d: -f2
	fi
}

# ---------------------------------------------------------------- 2. CPU per 1,000 events

# storm_phase NAME ARGS...: the storm in $STORM_CG under a fresh agent
declare -A ST_OPS ST_NS ST_TICKS ST_CPUNS ST_EVENTS ST_DET ST_HWM ST_WALL
storm_phase() {
	local name=$1 out t0 t1 c0 c1 w0 w1
	shift
	start_agent "$name"
	sleep 0.5 # let start-up work (proctab seed, first ticks) settle
	t0=$(cpu_ticks "$AGENT_PID")
	c0=$(cpu_ns "$AGENT_PID")
	w0=$(date +%s%N)
	out=$(in_container "$STORM_CG" "$STORM" "$@")
	sleep 0.5 # the agent drains the ring buffer every 20 ms
	w1=$(date +%s%N)
	t1=$(cpu_ticks "$AGENT_PID")
	c1=$(cpu_ns "$AGENT_PID")
	ST_HWM[$name]=$(vmhwm_kb "$AGENT_PID")
	stop_agent
	set -- $out
	[ $# -eq 3 ] || die "$name storm printed '$out'"
	ST_NS[$name]=$1
	ST_OPS[$name]=$3
	ST_TICKS[$name]=$((t1 - t0))
	ST_CPUNS[$name]=$((c1 - c0))
	ST_EVENTS[$name]=$AG_EVENTS
	ST_DET[$name]=$AG_DETECTIONS
	ST_WALL[$name]=$((w1 - w0))
	log "  $name storm: $3 ops (+$(($3 / 10)) warm-up), $1 ns/op; agent: $AG_EVENTS events," \
		"$AG_DETECTIONS detections, cpu $((t1 - t0))/$HZ s, VmHWM ${ST_HWM[$name]} kB"
}

log "2. agent CPU: exec storm ($EXEC_N) and connect storm ($CONNECT_N), each under its own agent"
storm_phase exec exec "$EXEC_N" "$(readlink -f "$TINY")"
storm_phase connect connect "$CONNECT_N"

# ---------------------------------------------------------------- 3. process table

log "3. process table memory ($PROCTAB_TEST)"
PT_OUT=$("$PROCTAB_TEST" 2>&1 || true)
PT_LINE=$(printf '%s\n' "$PT_OUT" | grep -F '[ INFO ] 30000 live processes' | head -1 || true)
PT_MALLOC=$(printf '%s\n' "$PT_OUT" | grep -F '[ INFO ] malloc in use' | head -1 || true)
[ -n "$PT_LINE" ] || log "warning: no '[ INFO ] 30000 live processes' line from $PROCTAB_TEST"
PT_BYTES=$(printf '%s' "$PT_LINE" | sed -n 's/.*: \([0-9]*\) bytes, \([0-9]*\) bytes\/process.*/\1/p')
PT_PER=$(printf '%s' "$PT_LINE" | sed -n 's/.*: \([0-9]*\) bytes, \([0-9]*\) bytes\/process.*/\2/p')
PT_MALLOC_PER=$(printf '%s' "$PT_MALLOC" | sed -n 's/.*malloc in use: \([0-9]*\) bytes\/process.*/\1/p')
T_END=$(date +%s)

# ---------------------------------------------------------------- report

cpu_ms_per_k() { # ticks events -> CPU ms per 1,000 events
	awk -v t="$1" -v hz="$HZ" -v e="$2" 'BEGIN { printf "%.2f", (e > 0 ? t * 1000 / hz / (e / 1000) : 0) }'
}
cpuns_ms_per_k() { # ns events
	awk -v c="$1" -v e="$2" 'BEGIN { printf "%.2f", (e > 0 ? c / 1e6 / (e / 1000) : 0) }'
}
declare -A ST_MSK ST_MSK_NS
for s in exec connect; do
	ST_MSK[$s]=$(cpu_ms_per_k "${ST_TICKS[$s]}" "${ST_EVENTS[$s]}")
	ST_MSK_NS[$s]=$(cpuns_ms_per_k "${ST_CPUNS[$s]}" "${ST_EVENTS[$s]}")
done
PEAK_HWM=$(printf '%s\n' "${ST_HWM[@]}" | sort -n | tail -1)

{
	echo
	echo "nodeguard detection cost — $(uname -r), $(nproc) CPUs, embedded default policy, nodeguard run --quiet"
	echo
	echo "1. detection latency, exec from /tmp in a container -> journal record ($(jget "$LAT_JSON" journaled)/$N journaled, $(jget "$LAT_JSON" missed) missed; ms)"
	printf '   %-40s %8s %8s %8s %8s %8s\n' "" median p90 p99 min max
	for k in trigger_to_journal trigger_to_event_ts event_ts_to_journal event_ts_to_first_record \
		first_record_to_journal trigger_to_durable journal_to_durable; do
		case $k in
		trigger_to_journal) lab="execve() -> record read (total)" ;;
		trigger_to_event_ts) lab="  execve() -> event ts (kernel)" ;;
		event_ts_to_journal) lab="  event ts -> record read (agent)" ;;
		event_ts_to_first_record) lab="    event ts -> 1st record (delivery)" ;;
		first_record_to_journal) lab="    1st record -> detection (writes)" ;;
		trigger_to_durable) lab="execve() -> agent log (after fsync)" ;;
		journal_to_durable) lab="  record read -> agent log" ;;
		esac
		printf '   %-40s %8.3f %8.3f %8.3f %8.3f %8.3f\n' "$lab" "$(jget "$LAT_JSON" "$k" median)" \
			"$(jget "$LAT_JSON" "$k" p90)" "$(jget "$LAT_JSON" "$k" p99)" \
			"$(jget "$LAT_JSON" "$k" min)" "$(jget "$LAT_JSON" "$k" max)"
	done
	awk -v k="$(jget "$LAT_JSON" share_trigger_to_event_ts)" -v a="$(jget "$LAT_JSON" share_event_ts_to_journal)" \
		-v d="$(jget "$LAT_JSON" share_event_ts_to_first_record)" -v w="$(jget "$LAT_JSON" share_first_record_to_journal)" \
		'BEGIN { printf "   share of the total (sums over triggers): kernel %.1f%%, agent %.1f%% (delivery + processing to the 1st record %.1f%%, proc-record fsync + detection write %.1f%%)\n", k * 100, a * 100, d * 100, w * 100 }'
	echo "   (percentiles interpolate between closest ranks: with $N samples p99 sits between the two largest)"
	echo
	echo "2. agent CPU per 1,000 events (utime+stime around the storm; on-CPU ns from schedstat)"
	printf '   %-9s %8s %9s %11s %9s %9s %12s %12s %10s\n' storm ops "ns/op" "agent evts" detects "cpu ms" "ms/1k evts" "(schedstat)" "VmHWM kB"
	for s in exec connect; do
		printf '   %-9s %8d %9.1f %11d %9d %9d %12s %12s %10d\n' "$s" "${ST_OPS[$s]}" "${ST_NS[$s]}" \
			"${ST_EVENTS[$s]}" "${ST_DET[$s]}" "$((ST_TICKS[$s] * 1000 / HZ))" "${ST_MSK[$s]}" \
			"${ST_MSK_NS[$s]}" "${ST_HWM[$s]}"
	done
	echo "   agent events include the storm's untimed warm-up (ops/10) and the container's own start"
	echo "   peak RSS (VmHWM, max over the storm agents): $PEAK_HWM kB"
	echo
	echo "3. process table (test_proctab): ${PT_LINE:-n/a}"
	[ -n "$PT_MALLOC" ] && echo "   $PT_MALLOC"
	if [ "$FOREIGN_MAX" -gt 0 ]; then
		echo
		echo "WARNING: up to $FOREIGN_MAX other nodeguard process(es) ran during the benchmark"
	fi
	echo
	echo "wall time $((T_END - T_START)) s"
} | tee "$TMP/table.txt"

mkdir -p "$RESULTS"
TS=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$RESULTS/detect-$TS.json"
{
	printf '{"timestamp":"%s","kernel":"%s","cpus":%d,"git":"%s","wall_s":%d,"foreign_agents_max":%d,' \
		"$TS" "$(uname -r)" "$(nproc)" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
		"$((T_END - T_START))" "$FOREIGN_MAX"
	printf '"journal_fs":"%s","policy":"embedded default",' "$(findmnt -no FSTYPE -T "$TMP" 2>/dev/null || echo unknown)"
	printf '"latency":{"agent_events":%d,"agent_detections":%d,"journal_records":%d,"detection_records":%d,"probe":%s},' \
		"$LAT_EVENTS" "$LAT_DETECTIONS" "$LAT_RECORDS" "$LAT_DET_RECORDS" "$LAT_JSON"
	printf '"cpu":{"clk_tck":%d,' "$HZ"
	first=1
	for s in exec connect; do
		[ $first -eq 1 ] || printf ','
		first=0
		printf '"%s_storm":{"ops":%d,"ns_per_op":%s,"agent_events":%d,"agent_detections":%d,"cpu_ticks":%d,' \
			"$s" "${ST_OPS[$s]}" "${ST_NS[$s]}" "${ST_EVENTS[$s]}" "${ST_DET[$s]}" "${ST_TICKS[$s]}"
		printf '"cpu_ms":%d,"cpu_ms_per_1000_events":%s,"oncpu_ns":%d,"oncpu_ms_per_1000_events":%s,"measured_wall_ns":%d,"vmhwm_kb":%d}' \
			"$((ST_TICKS[$s] * 1000 / HZ))" "${ST_MSK[$s]}" "${ST_CPUNS[$s]}" "${ST_MSK_NS[$s]}" \
			"${ST_WALL[$s]}" "${ST_HWM[$s]}"
	done
	printf ',"peak_rss_kb":%d},' "$PEAK_HWM"
	printf '"proctab":{"processes":30000,"bytes":%s,"bytes_per_process":%s,"malloc_bytes_per_process":%s,"line":"%s"}}\n' \
		"${PT_BYTES:-null}" "${PT_PER:-null}" "${PT_MALLOC_PER:-null}" "$(printf '%s' "$PT_LINE" | sed 's/[\\"]/\\&/g')"
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cp "$OUT" "$RESULTS/detect-latest.json"
cp "$TMP/table.txt" "$RESULTS/detect-latest.txt"
log "wrote $OUT"
