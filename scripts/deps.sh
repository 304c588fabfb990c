#!/usr/bin/env bash
# Install every Debian bookworm package nodeguard's build, tests and
# benchmark need. Idempotent: packages already present are left alone.
set -euo pipefail

PKGS=(
	# build
	make gcc clang llvm clang-format bpftool libbpf-dev libelf-dev zlib1g-dev pkg-config
	libcurl4-openssl-dev libcjson-dev libyaml-dev libmicrohttpd-dev
	# tests
	libcmocka-dev iproute2 util-linux procps openssl ca-certificates curl python3
	# benchmark
	redis-server redis-tools
	# k8s test harness: builds kube-apiserver and etcd with the machine's Go
	# (/usr/local/go; Debian's golang-go is too old for them)
	git
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	echo "deps: all ${#PKGS[@]} packages present"
	exit 0
fi
echo "deps: installing ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
