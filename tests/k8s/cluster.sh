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
#   tests/k8s/cluster.sh stop-apiserver DIR    stop only kube-apiserver (an API
#                                    outage); etcd keeps running; idempotent
#   tests/k8s/cluster.sh start-apiserver DIR   start it again on the same port
#                                    with the same flags, certificates and
#                                    tokens; wait for /readyz
#   tests/k8s/cluster.sh apply DIR FILE...     create (or replace) the objects
#                                    of manifest FILEs with the admin token
#                                    (Namespace, ServiceAccount, (Cluster)Role,
#                                    (Cluster)RoleBinding; the plain YAML of
#                                    daemonset/: no anchors, tags or block
#                                    scalars)
#   tests/k8s/cluster.sh grant-agent DIR [FILE] create the ClusterRoles of FILE
#                                    (default daemonset/rbac.yaml), bind the
#                                    user "agent" to each (ClusterRoleBinding
#                                    <role>-agent-user), wait until the
#                                    authorizer applies it and write
#                                    DIR/agent-kubeconfig (the agent token
#                                    only): the agent's least privilege
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

usage() {
  echo "usage: $0 start|stop|status|stop-apiserver|start-apiserver DIR" >&2
  echo "       $0 apply DIR FILE...  |  $0 grant-agent DIR [FILE]" >&2
  exit 2
}
[[ $# -ge 2 ]] || usage
cmd=$1
case $cmd in
  apply) [[ $# -ge 3 ]] || usage ;;
  grant-agent) [[ $# -le 3 ]] || usage ;;
  *) [[ $# -eq 2 ]] || usage ;;
esac
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

# kill_groups PGID...: SIGTERM the process groups, wait up to 20 s
# (KILL_AFTER_S), SIGKILL what is left, wait again. 1 if something survived.
kill_groups() {
  local pg groups=() left i grace=$((${KILL_AFTER_S:-20} * 10))
  for pg in "$@"; do ours "$pg" && groups+=("$pg"); done
  [[ ${#groups[@]} -gt 0 ]] || return 0
  for pg in "${groups[@]}"; do kill -TERM -- "-$pg" 2>/dev/null || true; done
  for ((i = 0; i < grace + 50; i++)); do
    ((i == grace)) && for pg in "${groups[@]}"; do
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
    echo "APISERVER_BIN=${apiserver_bin:-}"
  } > "$dir/env.tmp"
  mv -f "$dir/env.tmp" "$dir/env"
}

# launch VAR LOG CMD...: start CMD in a new session (pgid == pid), record pid.
# LOG is truncated, unless APPEND_LOG=1.
launch() {
  local var=$1 log=$2; shift 2
  if [[ ${APPEND_LOG:-} == 1 ]]; then
    setsid "$@" </dev/null >>"$log" 2>&1 &
  else
    setsid "$@" </dev/null >"$log" 2>&1 &
  fi
  local pid=$!
  printf -v "$var" '%s' "$pid"
  write_env
  sleep 0.05
  local pg; pg=$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ') || true
  [[ -z $pg || $pg == "$pid" ]] || die "setsid did not make $1 a group leader (pgid $pg)"
}

alive() { kill -0 "$1" 2>/dev/null; }

tail_log() { say "--- last lines of $1:"; tail -n "${2:-25}" "$1" >&2 || true; }

# launch_apiserver PORT: kube-apiserver with the harness's flags, the same on
# a restart (start-apiserver): the serving certificate in DIR/pki is reused
# (kube-apiserver only generates one when none is there), and so are the
# token file and the service-account keys.
launch_apiserver() {
  launch APISERVER_PID "$dir/kube-apiserver.log" "$apiserver_bin" \
    --etcd-servers="$ETCD_ENDPOINT" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$1" \
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
}

# wait_apiserver_ready: 0 once /readyz says ok, 2 port clash, 1 failure.
wait_apiserver_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT)) body= log=$dir/kube-apiserver.log
  while ((SECONDS < deadline)); do
    if ! alive "$APISERVER_PID"; then
      tail -n 40 "$log" | grep -q 'address already in use' && return 2
      tail_log "$log" 40; say "kube-apiserver exited"; return 1
    fi
    alive "$ETCD_PID" || { tail_log "$dir/etcd.log"; say "etcd exited"; return 1; }
    if [[ -s $KUBE_CA ]]; then
      body=$(curl -sS --max-time 5 --cacert "$KUBE_CA" -H "Authorization: Bearer $admin_token" \
             "$KUBE_SERVER/readyz" 2>/dev/null) || true
      [[ $body == ok ]] && return 0
    fi
    sleep 0.25
  done
  tail_log "$log" 40
  say "kube-apiserver not ready after ${READY_TIMEOUT}s (last /readyz: ${body:-no answer})"
  return 1
}

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

  launch_apiserver "$api_port" ">"
  wait_apiserver_ready
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

# --- an API outage: the apiserver alone ------------------------------------

# load_env: the variables write_env writes, from DIR/env
load_env() {
  [[ -f $dir/env ]] || die "no cluster in $dir (no env file)"
  KUBE_SERVER=$(envget KUBE_SERVER); KUBE_CA=$(envget KUBE_CA)
  admin_token=$(envget KUBE_ADMIN_TOKEN); agent_token=$(envget KUBE_AGENT_TOKEN)
  ETCD_ENDPOINT=$(envget ETCD_ENDPOINT); ETCD_PID=$(envget ETCD_PID)
  APISERVER_PID=$(envget APISERVER_PID); WATCHDOG_PID=$(envget WATCHDOG_PID)
  apiserver_bin=$(envget APISERVER_BIN)
  [[ -n $KUBE_SERVER && -n $ETCD_ENDPOINT ]] || die "$dir/env is incomplete (was the cluster started?)"
}

# stop-apiserver: SIGTERM kube-apiserver's group, SIGKILL after 5 s; etcd
# and the watchdog stay. (With clients' watch streams open, its graceful
# shutdown stops listening at once but then hung for more than 20 s: an
# outage is what the tests want, not a clean exit.)
do_stop_apiserver() {
  load_env
  exec 8>"$dir/.lock"; flock 8
  if [[ -n $APISERVER_PID ]]; then
    KILL_AFTER_S=5 kill_groups "$APISERVER_PID" || die "kube-apiserver (group $APISERVER_PID) did not stop"
  fi
  APISERVER_PID=
  write_env
  flock -u 8
  say "kube-apiserver stopped; etcd still runs at $ETCD_ENDPOINT"
}

# start-apiserver: the same binary, port, flags, certificates and tokens as
# `start`; clients keep their KUBE_SERVER, KUBE_CA and tokens.
do_start_apiserver() {
  load_env
  exec 8>"$dir/.lock"; flock 8
  local t0=$SECONDS rc
  if [[ -n $APISERVER_PID ]] && pgrep -g "$APISERVER_PID" >/dev/null 2>&1; then
    say "kube-apiserver already runs (group $APISERVER_PID)"
  else
    [[ -n $ETCD_PID ]] && pgrep -g "$ETCD_PID" >/dev/null 2>&1 || die "etcd is not running in $dir: start the whole cluster instead"
    [[ -s $KUBE_CA && -s $dir/tokens.csv && -s $dir/sa.key ]] || die "$dir has no certificates or tokens to reuse"
    if [[ -z $apiserver_bin ]]; then
      apiserver_bin=${KUBE_APISERVER_BIN:-$("$here/build.sh" --bindir)/kube-apiserver}
    fi
    [[ -x $apiserver_bin ]] || die "kube-apiserver binary $apiserver_bin is missing"
    # a listener only: connections of the old server linger in TIME_WAIT
    command -v ss >/dev/null && ss -Htln "sport = :${KUBE_SERVER##*:}" 2>/dev/null | grep -q . &&
      die "port ${KUBE_SERVER##*:} is taken by another process"
    APPEND_LOG=1 launch_apiserver "${KUBE_SERVER##*:}"
  fi
  set +e; wait_apiserver_ready; rc=$?; set -e
  if ((rc != 0)); then
    kill_groups "$APISERVER_PID" || true
    APISERVER_PID=; write_env
    ((rc == 2)) && die "port ${KUBE_SERVER##*:} is taken: kube-apiserver could not listen"
    die "kube-apiserver did not come back (log: $dir/kube-apiserver.log)"
  fi
  flock -u 8
  say "kube-apiserver ready again in $((SECONDS - t0))s at $KUBE_SERVER"
}

# --- manifests and the agent's RBAC -----------------------------------------

# manifest_tool MODE DIR FILE...: the python half of apply / grant-agent. A
# reader for the plain YAML our manifests use (block mappings and sequences,
# flow lists and mappings of scalars, quoted scalars, comments, ---), then
# create-or-replace through the API with the admin token. MODE apply: every
# document; MODE grant: the ClusterRoles, plus a ClusterRoleBinding of user
# "agent" to each, then wait for the authorizer (SubjectAccessReview).
manifest_tool() {
  python3 - "$@" <<'PY'
import http.client, json, re, ssl, sys, time

def strip_comment(line):
    q = None
    for i, ch in enumerate(line):
        if q:
            if ch == q:
                q = None
        elif ch in "\"'":
            q = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line

def scalar(t):
    t = t.strip()
    if t.startswith('"'):
        return json.loads(t)
    if t.startswith("'"):
        return t[1:-1].replace("''", "'")
    if t in ("true", "True", "TRUE"):
        return True
    if t in ("false", "False", "FALSE"):
        return False
    if t in ("", "~", "null", "Null", "NULL"):
        return None
    if re.fullmatch(r"-?[0-9]+", t):
        return int(t)
    return t

QUOTED = r'"(?:[^"\\]|\\.)*"|\'(?:[^\']|\'\')*\''

def flow(t):
    """[a, "b"] or {k: v, k2: [..]} at the start of t: (value, rest of t)"""
    t = t.lstrip()
    if t[:1] in ("[", "{"):
        close = "]" if t[0] == "[" else "}"
        out = [] if close == "]" else {}
        t = t[1:].lstrip()
        while True:
            if not t:
                raise ValueError("unclosed flow collection")
            if t.startswith(close):
                return out, t[1:]
            if close == "}":
                m = re.match(r'(' + QUOTED + r'|[^:,{}\[\]]+):\s*', t)
                if not m:
                    raise ValueError("bad flow mapping near: " + t[:40])
                k = scalar(m.group(1))
                v, t = flow(t[m.end():])
                out[k] = v
            else:
                v, t = flow(t)
                out.append(v)
            t = t.lstrip()
            if t.startswith(","):
                t = t[1:].lstrip()
    m = re.match(r'(?:' + QUOTED + r')|[^,\]}]*', t)
    return scalar(m.group(0)), t[m.end():]

def value(t):
    t = t.strip()
    if t[:1] in ("[", "{"):
        v, rest = flow(t)
        if rest.strip():
            raise ValueError("text after a flow value: " + rest)
        return v
    if t[:1] in ("|", ">", "&", "*", "!"):
        raise ValueError("unsupported YAML: " + t)
    return scalar(t)

KEY = re.compile(r'(' + QUOTED + r'|[^\s"\'#\[\]{}-][^:]*?|-[^\s:][^:]*?):(?:\s+|$)(.*)$')

def is_item(text):
    return text == "-" or text.startswith("- ")

def block(lines, i, ind):
    if is_item(lines[i][1]):
        out = []
        while i < len(lines) and lines[i][0] == ind and is_item(lines[i][1]):
            rest = lines[i][1][1:].lstrip()
            if not rest:
                v, i = block(lines, i + 1, lines[i + 1][0])
            elif KEY.match(rest):
                # "- key: v": a mapping whose keys line up with "key"
                lines[i] = (ind + len(lines[i][1]) - len(rest), rest)
                v, i = block(lines, i, lines[i][0])
            else:
                v, i = value(rest), i + 1
            out.append(v)
        return out, i
    out = {}
    while i < len(lines) and lines[i][0] == ind and not is_item(lines[i][1]):
        m = KEY.match(lines[i][1])
        if not m:
            raise ValueError("not a 'key: value' line: " + lines[i][1])
        k, rest = scalar(m.group(1)), m.group(2)
        i += 1
        if rest.strip():
            out[k] = value(rest)
        elif i < len(lines) and (lines[i][0] > ind or (lines[i][0] == ind and is_item(lines[i][1]))):
            out[k], i = block(lines, i, lines[i][0])
        else:
            out[k] = None
    return out, i

def documents(path):
    docs, cur = [], []
    for raw in open(path, encoding="utf-8").read().split("\n") + ["---"]:
        if raw.rstrip() == "---":
            if cur:
                d, i = block(cur, 0, cur[0][0])
                if i != len(cur):
                    raise ValueError("%s: cannot place line: %s" % (path, cur[i][1]))
                docs.append(d)
            cur = []
            continue
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise ValueError(path + ": tab in indentation")
        line = strip_comment(raw).rstrip()
        if line.strip():
            cur.append((len(line) - len(line.lstrip()), line.strip()))
    return docs

env = dict(l.rstrip("\n").split("=", 1) for l in open(sys.argv[2] + "/env") if "=" in l)
host, port = env["KUBE_SERVER"].split("//", 1)[1].rsplit(":", 1)
tls = ssl.create_default_context(cafile=env["KUBE_CA"])

def call(method, path, body=None):
    c = http.client.HTTPSConnection(host, int(port), context=tls, timeout=15)
    try:
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers={"Authorization": "Bearer " + env["KUBE_ADMIN_TOKEN"],
                           "Content-Type": "application/json", "User-Agent": "nodeguard-cluster.sh"})
        r = c.getresponse()
        data = r.read()
    finally:
        c.close()
    return r.status, (json.loads(data) if data else {})

PATHS = {
    "Namespace": "/api/v1/namespaces",
    "ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts",
    "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    "Role": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
    "RoleBinding": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
}

def apply(doc):
    kind, meta = doc.get("kind"), doc.get("metadata") or {}
    if kind not in PATHS:
        raise SystemExit("apply: kind %r is not supported here" % kind)
    base = PATHS[kind].format(ns=meta.get("namespace") or "default")
    st, r = call("POST", base, doc)
    if st == 409:
        st, cur = call("GET", base + "/" + meta["name"])
        if st == 200:
            doc = dict(doc, metadata=dict(meta, resourceVersion=cur["metadata"]["resourceVersion"]))
            st, r = call("PUT", base + "/" + meta["name"], doc)
    if st not in (200, 201):
        raise SystemExit("apply %s %s: HTTP %d %s" % (kind, meta.get("name"), st, r.get("message", "")))
    print("[k8s-cluster] %s %s %s" % (kind, meta.get("name"), "created" if st == 201 else "replaced"),
          file=sys.stderr)

mode, files = sys.argv[1], sys.argv[3:]
try:
    docs = [d for f in files for d in documents(f) if d]
except (ValueError, OSError, json.JSONDecodeError) as e:
    raise SystemExit("cannot read the manifest: %s" % e)
if mode == "apply":
    for d in docs:
        apply(d)
    sys.exit(0)
roles = [d for d in docs if d.get("kind") == "ClusterRole"]
if not roles:
    raise SystemExit("no ClusterRole in " + " ".join(files))
for role in roles:
    apply(role)
    name = role["metadata"]["name"]
    apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
           "metadata": {"name": name + "-agent-user",
                        "labels": {"app.kubernetes.io/managed-by": "nodeguard-tests"}},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
           "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                         "name": env.get("KUBE_AGENT_USER") or "agent"}]})
# the RBAC authorizer learns of new bindings through an informer: wait for it
rule = roles[-1]["rules"][0]
attrs = {"verb": rule["verbs"][0], "group": rule["apiGroups"][0], "resource": rule["resources"][0]}
for _ in range(200):
    st, r = call("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                 {"spec": {"user": env.get("KUBE_AGENT_USER") or "agent", "resourceAttributes": attrs}})
    if st == 201 and r.get("status", {}).get("allowed"):
        break
    time.sleep(0.05)
else:
    raise SystemExit("the agent's binding is not in effect after 10 s (%s)" % attrs)
PY
}

do_grant_agent() {
  load_env
  local file=${1:-$here/../../daemonset/rbac.yaml}
  [[ -r $file ]] || die "cannot read $file"
  manifest_tool grant "$dir" "$file" || die "grant-agent failed"
  (umask 077; cat > "$dir/agent-kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: nodeguard-test
  cluster:
    server: $KUBE_SERVER
    certificate-authority: $KUBE_CA
users:
- name: agent
  user:
    token: $agent_token
contexts:
- name: agent
  context:
    cluster: nodeguard-test
    user: agent
current-context: agent
EOF
  )
  say "user agent bound to the ClusterRoles of $file; kubeconfig $dir/agent-kubeconfig"
}

case $cmd in
  start) do_start ;;
  apply) shift 2; load_env; manifest_tool apply "$dir" "$@" || die "apply failed" ;;
  grant-agent) do_grant_agent "${3:-}" ;;
  stop-apiserver) do_stop_apiserver ;;
  start-apiserver) do_start_apiserver ;;
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
