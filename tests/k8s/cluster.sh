#!/usr/bin/env bash
# A throw-away Kubernetes control plane (etcd + kube-apiserver, no controllers,
# scheduler or kubelet) on loopback, for tests.
#
#   tests/k8s/cluster.sh start DIR   build/reuse the cached binaries (build.sh),
#                                    start etcd and kube-apiserver on free
#                                    loopback ports, wait for /readyz, write
#                                    DIR/env and DIR/kubeconfig
#   tests/k8s/cluster.sh stop DIR    stop both (process groups), wait until
#                                    nothing is left; idempotent
#   tests/k8s/cluster.sh status DIR  exit 0 if the apiserver answers /readyz
#
# DIR/env (KEY=value lines, sourceable by sh):
#   KUBE_SERVER        https://127.0.0.1:<port>
#   KUBE_CA            CA bundle for KUBE_SERVER (the self-signed serving cert)
#   KUBE_ADMIN_TOKEN   bearer token, user "admin", group system:masters
#   KUBE_AGENT_TOKEN   bearer token, user "agent" (no groups, no bindings:
#                      tests grant it what they need with RBAC)
#   KUBE_AGENT_USER    agent
#   KUBECONFIG         DIR/kubeconfig (contexts "admin" (current) and "agent")
#   ETCD_ENDPOINT      http://127.0.0.1:<port>
#   ETCD_PID APISERVER_PID WATCHDOG_PID   process-group leaders
#
# Each process runs in its own session/process group, so a test runner's
# signals don't reach it and `stop` can kill the whole group. If
# NODEGUARD_K8S_OWNER=<pid> is set at start, a watchdog stops the cluster as
# soon as that process is gone (covers a test runner killed with SIGKILL).
#
# Logs: DIR/etcd.log, DIR/kube-apiserver.log. Override the binaries with
# KUBE_APISERVER_BIN / ETCD_BIN.
set -euo pipefail
set +m   # no job control: background children stay out of process-group leadership until setsid

here=$(cd "$(dirname "$0")" && pwd)
self="$here/$(basename "$0")"
READY_TIMEOUT=${NODEGUARD_K8S_READY_TIMEOUT:-90}

say() { printf '[k8s-cluster] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

usage() { echo "usage: $0 start|stop|status DIR" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
cmd=$1
[[ -n $2 ]] || usage
if [[ $cmd == start ]]; then
  mkdir -p "$2"
elif [[ ! -d $2 ]]; then
  [[ $cmd == stop ]] && exit 0
  exit 1
fi
dir=$(cd "$2" && pwd)
[[ $dir =~ ^[A-Za-z0-9_./+-]+$ ]] || die "DIR must be a plain path (no spaces or quotes): $dir"

envget() { sed -n "s/^$1=//p" "$dir/env" 2>/dev/null | tail -1; }

# --- stopping ---------------------------------------------------------------

# ours PGID: the process group exists and its leader (if still there) is one
# we started: its command line mentions $dir (pids get reused).
ours() {
  local pg=$1
  [[ $pg =~ ^[0-9]+$ && $pg -ne $$ ]] || return 1
  pgrep -g "$pg" >/dev/null 2>&1 || return 1
  if [[ -r /proc/$pg/cmdline ]] && ! tr '\0' ' ' < "/proc/$pg/cmdline" | grep -qF -- "$dir"; then
    say "pid $pg is not ours any more; leaving it"
    return 1
  fi
}

# kill_groups PGID...: SIGTERM the process groups, wait up to 20 s, SIGKILL
# what is left, wait again. 1 if something survived.
kill_groups() {
  local pg groups=() left i
  for pg in "$@"; do ours "$pg" && groups+=("$pg"); done
  [[ ${#groups[@]} -gt 0 ]] || return 0
  for pg in "${groups[@]}"; do kill -TERM -- "-$pg" 2>/dev/null || true; done
  for ((i = 0; i < 250; i++)); do
    ((i == 200)) && for pg in "${groups[@]}"; do
      pgrep -g "$pg" >/dev/null 2>&1 || continue
      say "process group $pg did not exit on SIGTERM; SIGKILL"
      kill -KILL -- "-$pg" 2>/dev/null || true
    done
    left=
    for pg in "${groups[@]}"; do pgrep -g "$pg" >/dev/null 2>&1 && left+=" $pg"; done
    [[ -z $left ]] && return 0
    sleep 0.1
  done
  say "process group(s)$left survived SIGKILL"
  return 1
}

do_stop() {
  [[ -f $dir/env ]] || return 0
  exec 8>"$dir/.lock"; flock 8
  local rc=0 w
  w=$(envget WATCHDOG_PID)
  [[ -z $w || $w -eq $$ ]] || kill_groups "$w" || rc=1
  # apiserver first: without etcd its graceful shutdown hangs (>20 s).
  kill_groups "$(envget APISERVER_PID)" || rc=1
  kill_groups "$(envget ETCD_PID)" || rc=1
  flock -u 8
  return $rc
}

# --- starting ---------------------------------------------------------------

port_in_use() {
  if command -v ss >/dev/null; then
    ss -Htan "sport = :$1" 2>/dev/null | grep -q .
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}
picked=" "
free_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    [[ $picked == *" $p "* ]] && continue
    port_in_use "$p" && continue
    picked+="$p "; echo "$p"; return 0
  done
  die "no free loopback port found"
}

write_env() {
  {
    echo "KUBE_SERVER=${KUBE_SERVER:-}"
    echo "KUBE_CA=${KUBE_CA:-}"
    echo "KUBE_ADMIN_TOKEN=$admin_token"
    echo "KUBE_AGENT_TOKEN=$agent_token"
    echo "KUBE_AGENT_USER=agent"
    echo "KUBECONFIG=$dir/kubeconfig"
    echo "ETCD_ENDPOINT=${ETCD_ENDPOINT:-}"
    echo "ETCD_PID=${ETCD_PID:-}"
    echo "APISERVER_PID=${APISERVER_PID:-}"
    echo "WATCHDOG_PID=${WATCHDOG_PID:-}"
  } > "$dir/env.tmp"
  mv -f "$dir/env.tmp" "$dir/env"
}

# launch VAR LOG CMD...: start CMD in a new session (pgid == pid), record pid.
launch() {
  local var=$1 log=$2; shift 2
  setsid "$@" </dev/null >"$log" 2>&1 &
  local pid=$!
  printf -v "$var" '%s' "$pid"
  write_env
  sleep 0.05
  local pg; pg=$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ') || true
  [[ -z $pg || $pg == "$pid" ]] || die "setsid did not make $1 a group leader (pgid $pg)"
}

alive() { kill -0 "$1" 2>/dev/null; }

tail_log() { say "--- last lines of $1:"; tail -n "${2:-25}" "$1" >&2 || true; }

# try_start: one attempt with fresh ports. 0 = ready, 2 = port clash (retry), 1 = failure.
try_start() {
  local etcd_port peer_port api_port i
  etcd_port=$(free_port); peer_port=$(free_port); api_port=$(free_port)
  ETCD_ENDPOINT="http://127.0.0.1:$etcd_port"
  KUBE_SERVER="https://127.0.0.1:$api_port"
  KUBE_CA="$dir/pki/apiserver.crt"
  rm -rf "$dir/etcd" "$dir/pki"

  launch ETCD_PID "$dir/etcd.log" "$etcd_bin" \
    --name=nodeguard-test --data-dir="$dir/etcd" \
    --listen-client-urls="$ETCD_ENDPOINT" --advertise-client-urls="$ETCD_ENDPOINT" \
    --listen-peer-urls="http://127.0.0.1:$peer_port" \
    --initial-advertise-peer-urls="http://127.0.0.1:$peer_port" \
    --initial-cluster="nodeguard-test=http://127.0.0.1:$peer_port" \
    --unsafe-no-fsync --log-level=warn
  for ((i = 0; i < 300; i++)); do
    curl -fsS --max-time 2 "$ETCD_ENDPOINT/health" 2>/dev/null | grep -q '"health":"true"' && break
    if ! alive "$ETCD_PID"; then
      grep -q 'address already in use' "$dir/etcd.log" && return 2
      tail_log "$dir/etcd.log"; say "etcd exited"; return 1
    fi
    sleep 0.1
  done
  ((i < 300)) || { tail_log "$dir/etcd.log"; say "etcd not healthy after 30 s"; return 1; }

  launch APISERVER_PID "$dir/kube-apiserver.log" "$apiserver_bin" \
    --etcd-servers="$ETCD_ENDPOINT" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$api_port" \
    --cert-dir="$dir/pki" \
    --token-auth-file="$dir/tokens.csv" \
    --authorization-mode=RBAC \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$dir/sa.pub" \
    --service-account-signing-key-file="$dir/sa.key" \
    --disable-admission-plugins=ServiceAccount \
    --allow-privileged=true \
    --endpoint-reconciler-type=none \
    --service-cluster-ip-range=10.0.0.0/24 \
    --profiling=false --v=1
  local deadline=$((SECONDS + READY_TIMEOUT)) body
  while ((SECONDS < deadline)); do
    if ! alive "$APISERVER_PID"; then
      grep -q 'address already in use' "$dir/kube-apiserver.log" && return 2
      tail_log "$dir/kube-apiserver.log" 40; say "kube-apiserver exited"; return 1
    fi
    alive "$ETCD_PID" || { tail_log "$dir/etcd.log"; say "etcd exited"; return 1; }
    if [[ -s $KUBE_CA ]]; then
      body=$(curl -sS --max-time 5 --cacert "$KUBE_CA" -H "Authorization: Bearer $admin_token" \
             "$KUBE_SERVER/readyz" 2>/dev/null) || true
      [[ $body == ok ]] && return 0
    fi
    sleep 0.25
  done
  tail_log "$dir/kube-apiserver.log" 40
  say "kube-apiserver not ready after ${READY_TIMEOUT}s (last /readyz: ${body:-no answer})"
  return 1
}

write_kubeconfig() {
  cat > "$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: nodeguard-test
  cluster:
    server: $KUBE_SERVER
    certificate-authority: $KUBE_CA
users:
- name: admin
  user:
    token: $admin_token
- name: agent
  user:
    token: $agent_token
contexts:
- name: admin
  context:
    cluster: nodeguard-test
    user: admin
- name: agent
  context:
    cluster: nodeguard-test
    user: agent
current-context: admin
EOF
  chmod 600 "$dir/kubeconfig"
}

do_start() {
  local t0=$SECONDS a p
  if [[ -f $dir/env ]]; then
    for a in APISERVER_PID ETCD_PID; do
      p=$(envget $a)
      [[ -n $p ]] && pgrep -g "$p" >/dev/null 2>&1 && die "a cluster is already running in $dir (stop it first)"
    done
  fi
  command -v openssl >/dev/null || die "openssl is needed"
  command -v curl >/dev/null || die "curl is needed"

  local bindir=
  if [[ -z ${KUBE_APISERVER_BIN:-} || -z ${ETCD_BIN:-} ]]; then
    bindir=$("$here/build.sh") || die "tests/k8s/build.sh failed"
  fi
  apiserver_bin=${KUBE_APISERVER_BIN:-$bindir/kube-apiserver}
  etcd_bin=${ETCD_BIN:-$bindir/etcd}

  # From here on, any exit (die included) before "ready" stops what was started.
  started_ok=
  trap '[[ -n $started_ok ]] || { set +e; do_stop; }' EXIT
  umask 077
  openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null || die "openssl genrsa failed"
  openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null || die "openssl rsa failed"
  admin_token=$(openssl rand -hex 24)
  agent_token=$(openssl rand -hex 24)
  # token,user,uid,"group1,group2"
  printf '%s,admin,uid-admin,"system:masters"\n%s,agent,uid-agent\n' \
    "$admin_token" "$agent_token" > "$dir/tokens.csv"
  ETCD_PID= APISERVER_PID= WATCHDOG_PID= KUBE_SERVER= KUBE_CA= ETCD_ENDPOINT=
  write_env

  if [[ -n ${NODEGUARD_K8S_OWNER:-} ]]; then
    local owner=$NODEGUARD_K8S_OWNER
    alive "$owner" || die "NODEGUARD_K8S_OWNER=$owner is not running"
    # The watchdog's command line names $dir (ours() checks that).
    launch WATCHDOG_PID "$dir/watchdog.log" bash -c \
      'while kill -0 "$1" 2>/dev/null; do sleep 1; done; echo "owner $1 gone; stopping"; exec "$2" stop "$3"' \
      watchdog "$owner" "$self" "$dir"
  fi

  local attempt rc
  for attempt in 1 2 3; do
    set +e; try_start; rc=$?; set -e
    ((rc == 0)) && break
    kill_groups "${APISERVER_PID:-}" || true
    kill_groups "${ETCD_PID:-}" || true
    ETCD_PID= APISERVER_PID=; write_env
    ((rc == 2)) || { do_stop || true; die "start failed (logs in $dir)"; }
    say "port clash; retrying with other ports"
  done
  ((rc == 0)) || { do_stop || true; die "start failed (logs in $dir)"; }

  write_env
  write_kubeconfig
  started_ok=1
  say "ready in $((SECONDS - t0))s: $KUBE_SERVER ($("$apiserver_bin" --version)), etcd $ETCD_ENDPOINT; env in $dir/env"
}

case $cmd in
  start) do_start ;;
  stop)
    do_stop || die "could not stop everything in $dir"
    ;;
  status)
    [[ -f $dir/env ]] || exit 1
    curl -fsS --max-time 5 --cacert "$(envget KUBE_CA)" \
      -H "Authorization: Bearer $(envget KUBE_ADMIN_TOKEN)" "$(envget KUBE_SERVER)/readyz" >/dev/null 2>&1
    ;;
  *) usage ;;
esac
