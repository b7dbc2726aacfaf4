#!/bin/sh
# First run on a fresh machine: install what is missing, build, and show portrsv refusing a
# bind and granting it to a token holder. Everything happens in a scratch cgroup, pin dir,
# state dir and network namespace that are removed at the end: the host's root cgroup and
# its network are never touched.
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (it loads BPF programs)" >&2; exit 1; }
scripts/deps.sh
make -s
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

cgroot=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
[ -n "$cgroot" ] || { echo "demo: no cgroup v2 mount" >&2; exit 1; }
cg="$cgroot/portrsv-demo-$$"
export PORTRSV_PIN_DIR="/sys/fs/bpf/portrsv-demo-$$"
export PORTRSV_STATE_DIR="/tmp/portrsv-demo-$$"
cleanup() {
	build/portrsv unload 2>/dev/null || true
	rmdir "$cg" 2>/dev/null || true
	rm -rf "$PORTRSV_STATE_DIR"
}
trap cleanup EXIT
mkdir -p "$cg"

run() { printf '\n$ %s\n' "$*"; "$@"; }
run build/portrsv load --cgroup "$cg"
# The rest runs inside the scratch cgroup and a private network namespace.
unshare -n sh -eu -c '
	echo $$ > "$1/cgroup.procs"
	ip link set lo up 2>/dev/null || true
	run() { printf "\n\$ %s\n" "$*"; "$@"; }
	printf "\n$ portrsv add tcp 5000 10 --comment demo\n"
	token=$(build/portrsv add tcp 5000 10 --comment demo)
	echo "$token"
	run build/portrsv show tcp
	run build/examples/bindtry tcp 5003 || echo "(refused: no token)"
	run build/examples/bindtry tcp 5003 "$token"
	run build/examples/bindtry tcp 0 "$token"
	run build/examples/bindtry tcp 5010
	run build/portrsv why tcp 5003
' demo "$cg"
run build/portrsv status
echo
echo "demo: done; the scratch cgroup $cg and pins are removed now."
