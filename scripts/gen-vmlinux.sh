#!/bin/sh
# Regenerate vmlinux/vmlinux.h from the running kernel's BTF. The header is checked in so
# that a build needs neither BTF nor bpftool's dump; run this only when the kernel types the
# BPF programs use (sock, mptcp_sock, bpf_sock_addr) must be refreshed.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
btf=${1:-/sys/kernel/btf/vmlinux}
[ -r "$btf" ] || { echo "gen-vmlinux: $btf: no kernel BTF to read" >&2; exit 1; }
tmp=$(mktemp "$here/vmlinux/.vmlinux.h.XXXXXX")
trap 'rm -f "$tmp"' EXIT
bpftool btf dump file "$btf" format c > "$tmp"
mv "$tmp" "$here/vmlinux/vmlinux.h"
trap - EXIT
echo "gen-vmlinux: wrote vmlinux/vmlinux.h from $btf"
