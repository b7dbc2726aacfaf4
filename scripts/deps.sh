#!/bin/sh
# Install the Debian packages that building and testing portrsv need; do nothing when they
# are all present. Needs root (apt-get) only when something is missing.
set -eu
# libclang-rt-dev: libFuzzer and clang's sanitizer runtimes (make fuzz), only recommended by clang.
# systemd: systemd-analyze verify of the unit (make test). gnuplot-nox: the chart of make bench.
pkgs="make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config libcriterion-dev
libclang-rt-dev systemd gnuplot-nox"
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing; run as root to install them" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
