#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# smoke: the shortest proof that portrsv enforces on this kernel, with a given command:
# load in a scratch cgroup (own pin and state directories), then in a private network
# namespace inside it: a bind refused without the token, the same bind with the token,
# bind(0) with the token getting a port of the block, a bind outside the block, a UDP block,
# and a bind by a process in the owner cgroup without a token. The host's root cgroup and
# network are never touched; everything is removed at the end.
#
#   scripts/smoke.sh [PORTRSV] [BINDTRY]
#     PORTRSV   the command to test (default: build/portrsv of this checkout), e.g.
#               /usr/sbin/portrsv for an installed package
#     BINDTRY   examples/bindtry built against the library to test (default:
#               build/examples/bindtry of this checkout; env BINDTRY too)
# Prints one line per check and "smoke: pass" or "smoke: FAIL: ..."; exit 0 on pass, 1 on a
# failed check, 2 on bad usage.
set -euo pipefail

checkout=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
case "${1:-}" in -h | --help) sed -n '4,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
[ $# -le 2 ] || { echo "usage: scripts/smoke.sh [PORTRSV] [BINDTRY]" >&2; exit 2; }
bin=${1:-$checkout/build/portrsv}
bindtry=${2:-${BINDTRY:-$checkout/build/examples/bindtry}}
case "$bin" in */*) bin=$(cd "$(dirname "$bin")" && pwd -P)/$(basename "$bin") ;;
*) bin=$(command -v "$bin") || { echo "smoke: $1 not found" >&2; exit 2; } ;; esac
bindtry=$(cd "$(dirname "$bindtry")" && pwd -P)/$(basename "$bindtry")
for f in "$bin" "$bindtry"; do
	[ -x "$f" ] || { echo "smoke: FAIL: $f is not an executable (make first?)" >&2; exit 2; }
done
[ "$(id -u)" -eq 0 ] || { echo "smoke: FAIL: run as root (it loads BPF programs)" >&2; exit 1; }

cgroot=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
[ -n "$cgroot" ] || { echo "smoke: FAIL: no cgroup v2 mount" >&2; exit 1; }
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
# The tests' prefix, so that scripts/test-cleanup.sh removes what a killed run left.
name=portrsv-test-smoke-$$
cg=$cgroot/$name
export PORTRSV_PIN_DIR=/sys/fs/bpf/$name
export PORTRSV_STATE_DIR=/tmp/$name
loaded=0
cleanup() {
	local s=$?
	trap - EXIT INT TERM
	[ $loaded -eq 0 ] || "$bin" unload >/dev/null 2>&1 || echo "smoke: warning: unload failed" >&2
	rmdir "$cg/owner" "$cg/other" "$cg" 2>/dev/null || true
	rm -rf "$PORTRSV_STATE_DIR"
	exit "$s"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$cg/owner" "$cg/other"
mkdir -m 0700 "$PORTRSV_STATE_DIR"

echo "smoke: $bin on $(uname -r)"
if ! out=$("$bin" load --cgroup "$cg" 2>&1); then
	printf 'smoke: FAIL: load --cgroup %s:\n%s\n' "$cg" "$out" >&2
	exit 1
fi
loaded=1
echo "smoke: ok - load --cgroup $cg"

# The checks, in the scratch cgroup's "other" child and a private netns with lo up.
# shellcheck disable=SC2016
unshare -n bash -euo pipefail -c '
	bin=$1 bindtry=$2 cg=$3
	echo $$ >"$cg/other/cgroup.procs"
	ip link set lo up
	fail() { echo "smoke: FAIL: $*" >&2; exit 1; }
	ok() { echo "smoke: ok - $*"; }
	try() { out=$("$@" 2>&1) && rc=0 || rc=$?; }

	try "$bin" add tcp 5000 10 --comment smoke
	[ $rc -eq 0 ] || fail "add tcp 5000 10: exit $rc: $out"
	[[ "$out" =~ ^0x[0-9a-f]{16}$ ]] || fail "add tcp 5000 10 printed \"$out\", not a token"
	token=$out
	ok "add tcp 5000 10 (a token)"

	try "$bindtry" tcp 5003
	[ $rc -ne 0 ] && [[ "$out" == *"Permission denied"* ]] ||
		fail "bind tcp 5003 without the token: exit $rc: $out (want EACCES)"
	ok "denied bind: $out"

	try "$bindtry" tcp 5003 "$token"
	[ $rc -eq 0 ] && [[ "$out" == *"bound port 5003"* ]] ||
		fail "bind tcp 5003 with the token: exit $rc: $out"
	ok "token bind: $out"

	try "$bindtry" tcp 0 "$token"
	port=${out##*bound port }
	[ $rc -eq 0 ] && [[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -ge 5000 ] && [ "$port" -le 5009 ] ||
		fail "bind tcp 0 with the token: exit $rc: $out (want a port of 5000-5009)"
	ok "bind(0) with the token: $out"

	try "$bindtry" tcp 5010
	[ $rc -eq 0 ] || fail "bind tcp 5010, outside the block: exit $rc: $out"
	ok "bind outside the block: $out"

	try "$bin" add udp 5000 2
	[ $rc -eq 0 ] || fail "add udp 5000 2: exit $rc: $out"
	utoken=$out
	try "$bindtry" udp 5001
	[ $rc -ne 0 ] && [[ "$out" == *"Permission denied"* ]] ||
		fail "bind udp 5001 without the token: exit $rc: $out (want EACCES)"
	try "$bindtry" udp 5001 "$utoken"
	[ $rc -eq 0 ] || fail "bind udp 5001 with the token: exit $rc: $out"
	ok "udp: refused without the token, bound with it"

	try "$bin" add tcp 6000 5 --owner "$cg/owner" --comment smoke-owner
	[ $rc -eq 0 ] || fail "add tcp 6000 5 --owner $cg/owner: exit $rc: $out"
	try bash -c "echo \$\$ >\"$cg/owner/cgroup.procs\" && exec \"$bindtry\" tcp 6001"
	[ $rc -eq 0 ] && [[ "$out" == *"bound port 6001"* ]] ||
		fail "bind tcp 6001 in the owner cgroup, no token: exit $rc: $out"
	ok "owner-cgroup bind: $out"
	try "$bindtry" tcp 6001
	[ $rc -ne 0 ] && [[ "$out" == *"Permission denied"* ]] ||
		fail "bind tcp 6001 outside the owner cgroup: exit $rc: $out (want EACCES)"
	ok "outside the owner cgroup: $out"

	try "$bin" why tcp 5003
	[ $rc -eq 0 ] || fail "why tcp 5003: exit $rc: $out"
	ok "why tcp 5003 names the reservation"
	echo $$ >"$cg/cgroup.procs"
' smoke "$bin" "$bindtry" "$cg"

out=$("$bin" status 2>&1) || { echo "smoke: FAIL: status: $out" >&2; exit 1; }
echo "smoke: ok - status"
echo "smoke: pass"
