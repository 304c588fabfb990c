#!/usr/bin/env bash
# Build the pinned kube-apiserver and etcd from the Go module proxy into a
# per-machine cache outside the repository:
#
#   ${NODEGUARD_K8S_CACHE:-$HOME/.cache/nodeguard-k8s}/<k8s version>-<etcd version>/
#       kube-apiserver  etcd  stamp
#
# Idempotent: when the stamp matches the committed wrapper modules
# (tests/k8s/apiserver, tests/k8s/etcd) nothing is built. The versions come
# from those go.mod files (regenerate them with gen-replaces.sh).
#
#   tests/k8s/build.sh            build if needed, print progress on stderr,
#                                 print the binary directory on stdout
#   tests/k8s/build.sh --bindir   print the binary directory (exit 1 if not built)
#   tests/k8s/build.sh --force    rebuild even if the stamp matches
#
# Environment:
#   NODEGUARD_K8S_CACHE   cache root (default $HOME/.cache/nodeguard-k8s)
#   NODEGUARD_K8S_JOBS    go build -p and GOMAXPROCS (default 1: the build
#                         machine is shared; it runs under nice -n 19 anyway)
#   GO                    go command (default: go in PATH, else /usr/local/go/bin/go)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
jobs=${NODEGUARD_K8S_JOBS:-1}
cache_root=${NODEGUARD_K8S_CACHE:-$HOME/.cache/nodeguard-k8s}

mode=build
case "${1:-}" in
  "") ;;
  --bindir) mode=bindir ;;
  --force) mode=force ;;
  *) echo "usage: $0 [--bindir|--force]" >&2; exit 2 ;;
esac

# Versions: the single source of truth is the committed wrapper go.mod files.
mod_version() { # dir module
  awk -v m="$2" '($1 == m && $2 ~ /^v/) { print $2; exit }
                 ($1 == "require" && $2 == m) { print $3; exit }' "$1/go.mod"
}
k8s_version=$(mod_version "$here/apiserver" k8s.io/kubernetes)
etcd_version=$(mod_version "$here/etcd" go.etcd.io/etcd/server/v3)
[[ -n $k8s_version && -n $etcd_version ]] ||
  { echo "build.sh: cannot read pinned versions from tests/k8s/*/go.mod" >&2; exit 1; }

out_dir="$cache_root/$k8s_version-$etcd_version"
# Bump when the way the binaries are built (flags below) changes.
recipe=1
# The stamp records what was built; a change to the wrapper modules or to the
# recipe rebuilds.
want_stamp=$(
  echo "recipe $recipe"
  echo "kube-apiserver $k8s_version"
  echo "etcd $etcd_version"
  cat "$here/apiserver/go.mod" "$here/apiserver/go.sum" \
      "$here/etcd/go.mod" "$here/etcd/go.sum" | sha256sum | sed 's/ .*//;s/^/wrappers /'
)

is_built() {
  [[ -x $out_dir/kube-apiserver && -x $out_dir/etcd && -f $out_dir/stamp ]] &&
    [[ "$(sed -n '1,4p' "$out_dir/stamp")" == "$want_stamp" ]]
}

if [[ $mode == bindir ]]; then
  is_built || { echo "build.sh: $k8s_version/$etcd_version not built in $out_dir (run tests/k8s/build.sh)" >&2; exit 1; }
  echo "$out_dir"; exit 0
fi

log() { printf '[k8s-build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

mkdir -p "$cache_root"
# One builder per cache at a time (CI and sessions share the machine).
exec 9>"$cache_root/.lock"
if ! flock -n 9; then
  log "another build holds $cache_root/.lock; waiting"
  flock 9
fi

if [[ $mode != force ]] && is_built; then
  log "cached: kube-apiserver $k8s_version, etcd $etcd_version in $out_dir"
  echo "$out_dir"; exit 0
fi

[[ -x $GO || -n $(command -v "$GO") ]] ||
  { echo "build.sh: no go command: the k8s suites build kube-apiserver with Go >= 1.26" \
         "(the machine's /usr/local/go; Debian bookworm's golang-go is too old); set GO=..." >&2; exit 1; }
gov=$("$GO" env GOVERSION 2>/dev/null | sed 's/^go//')
case $gov in
  1.2[6-9]*|1.[3-9]*|[2-9].*) ;;
  *) echo "build.sh: $GO is Go ${gov:-unknown}; kube-apiserver $k8s_version needs Go >= 1.26" >&2; exit 1 ;;
esac
log "building kube-apiserver $k8s_version and etcd $etcd_version with $("$GO" version | cut -d' ' -f3-)"
log "into $out_dir (cold: about 10 min at -p 1 and 3+ GB of Go module/build cache; later runs: seconds)"

# Gentle on a shared machine: lowest priority, $jobs compile(s) at a time.
# `sudo make test` resets the environment: never let go fetch a toolchain or
# stamp VCS data from a checkout it was not asked about
gorun() { GOTOOLCHAIN=${GOTOOLCHAIN:-local} GOMAXPROCS=$jobs CGO_ENABLED=0 \
	GOFLAGS="${GOFLAGS:--buildvcs=false} -mod=readonly" nice -n 19 "$GO" "$@"; }

# build NAME DIR PACKAGE LDFLAGS: go build -v, turning its per-package lines
# into "NAME: k/N packages" progress lines.
build() {
  local name=$1 dir=$2 pkg=$3 ldflags=$4 total start
  start=$SECONDS
  log "$name: resolving packages (downloads modules on first use)"
  # "go: downloading M V" lines become a count; anything else (errors) passes.
  (cd "$dir" && gorun list -deps "$pkg" 2>&1 >"$out_dir/.$name.pkgs" |
    awk -v name="$name" '
      /^go: downloading / { n++; if (n == 1 || n % 25 == 0) {
          printf "[k8s-build %s] %s: downloading modules (%d so far: %s %s)\n",
                 strftime("%H:%M:%S"), name, n, $3, $4; fflush() }; next }
      { print; fflush() }
      END { if (n) printf "[k8s-build %s] %s: downloaded %d modules\n", strftime("%H:%M:%S"), name, n }' >&2) ||
    { log "$name: resolving packages failed"; return 1; }
  total=$(wc -l < "$out_dir/.$name.pkgs"); rm -f "$out_dir/.$name.pkgs"
  log "$name: compiling $total packages (-p $jobs)"
  rm -f "$out_dir/.$name.tmp"
  (cd "$dir" && gorun build -p "$jobs" -v -trimpath -ldflags "$ldflags" \
      -o "$out_dir/.$name.tmp" "$pkg" 2>&1) |
    awk -v name="$name" -v total="$total" -v start="$(date +%s)" '
      /^(#|go: |[^ ]*\.go:|\t)/ || / error/ { print; fflush(); next }  # errors pass through
      { n++; now = systime()
        if (n == 1 || n % 50 == 0 || now - last >= 60) {
          printf "[k8s-build %s] %s: %d/%d packages compiled (%dm%02ds)\n",
                 strftime("%H:%M:%S"), name, n, total, (now-start)/60, (now-start)%60
          fflush(); last = now } }' >&2
  [[ ${PIPESTATUS[0]} -eq 0 && -x $out_dir/.$name.tmp ]] ||
    { log "$name: BUILD FAILED"; return 1; }
  mv -f "$out_dir/.$name.tmp" "$out_dir/$name"
  log "$name: done in $(( (SECONDS-start)/60 ))m$(( (SECONDS-start)%60 ))s -> $out_dir/$name"
}

mkdir -p "$out_dir"
rm -f "$out_dir/stamp"
t0=$SECONDS

minor=${k8s_version#v1.}; minor=${minor%%.*}
vpkg=k8s.io/component-base/version
build kube-apiserver "$here/apiserver" k8s.io/kubernetes/cmd/kube-apiserver \
  "-s -w -X $vpkg.gitVersion=$k8s_version -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor -X $vpkg.gitTreeState=clean -X $vpkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
build etcd "$here/etcd" go.etcd.io/etcd/server/v3 "-s -w"

"$out_dir/etcd" --version >/dev/null
"$out_dir/kube-apiserver" --version >/dev/null
{
  echo "$want_stamp"
  echo "go $("$GO" env GOVERSION)"
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $((SECONDS-t0))s with -p $jobs"
} > "$out_dir/stamp.tmp"
mv -f "$out_dir/stamp.tmp" "$out_dir/stamp"
log "built in $(( (SECONDS-t0)/60 ))m$(( (SECONDS-t0)%60 ))s: $("$out_dir/kube-apiserver" --version), etcd $("$out_dir/etcd" --version | sed -n 's/^etcd Version: //p')"
echo "$out_dir"
