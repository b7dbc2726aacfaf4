#!/bin/sh
# Install the Debian packages that portrsv needs, by purpose; do nothing when they are all
# present. Needs root (apt-get) only when something is missing.
#
#   scripts/deps.sh            build the command and library, and run them (the demo)
#   scripts/deps.sh --test     also what `make test` needs
#   scripts/deps.sh --bench    also what `make bench` needs
#   scripts/deps.sh --ci       everything .ci/run uses: tests, benchmark, the kernel matrix in
#                              QEMU, the Debian packages, the fresh Debian 12 tree, podman and
#                              deploy/
set -eu

# Building: the BPF object (clang, bpftool gen skeleton), the library and command (gcc,
# libbpf 1.1, libelf, zlib), json-c (the command's JSON), pkg-config. Running: iproute2 for
# `ip netns` names.
build="make gcc libc6-dev clang libbpf-dev bpftool libelf-dev zlib1g-dev libjson-c-dev pkg-config
iproute2"
# make test: Criterion; systemd for `systemd-analyze verify` of the unit; man-db, groff and
# mandoc to lint the man pages; clang's runtimes for libFuzzer (make fuzz), which clang only
# recommends; python3 and python3-yaml to check deploy/kubernetes (make check-deploy).
test="libcriterion-dev systemd man-db groff-base mandoc libclang-rt-dev python3 python3-yaml"
# make bench: the chart.
bench="gnuplot-nox"
# .ci/run beyond the tests: QEMU and busybox for the kernel matrix, the Debian packaging tools
# and lintian, debootstrap for the fresh tree, git to copy the checkout.
# podman, runc and the CNI plugins for portrsv-cni under a real runtime (make podman-test); jq
# for the installed plugin's check (pkg-test).
ci="qemu-system-x86 busybox-static cpio kmod dpkg-dev debhelper fakeroot lintian
bash-completion debootstrap git podman runc containernetworking-plugins jq"

pkgs=$build
for arg in "$@"; do
	case $arg in
	--test) pkgs="$pkgs $test" ;;
	--bench) pkgs="$pkgs $bench" ;;
	--ci) pkgs="$pkgs $test $bench $ci" ;;
	-h | --help)
		sed -n '2,11s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*)
		echo "deps: unknown option '$arg' (try --help)" >&2
		exit 2
		;;
	esac
done

missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "deps: all present"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing; run this as root to install them" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "deps: updating the package lists"
apt-get update -q
echo "deps: installing$missing (and what they depend on)"
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends -o Dpkg::Use-Pty=0 $missing
echo "deps: done"
