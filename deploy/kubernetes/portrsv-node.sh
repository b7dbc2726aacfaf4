#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# portrsv-node.sh: the DaemonSet's main container. Brings the node's stored reservations
# back and enforces them, then stays as the node's denial log.
#
#   1. portrsv restore: what portrsv.service runs at boot. It loads the programs if they are
#      not loaded (or repairs an instance a killed command left half-way) and makes the
#      kernel's reservations equal to the store's. But it never attaches to the whole host
#      on its own (portrsv(8)), and it keeps programs that are loaded already.
#   2. portrsv load: the first load on a node (the store records no cgroup) attaches to the
#      cgroup v2 root, i.e. the whole node, and records it; without that, portrsv would enforce
#      nothing and portrsv-cni's ADD would fail for every pod with a hostPort. On a node
#      enforced already it only upgrades: the programs of this image replace the running ones
#      atomically (bpf_link_update), so a new image in the DaemonSet upgrades every node.
#      PORTRSV_LOAD_ARGS (e.g. "--cgroup /sys/fs/cgroup/kubepods.slice") chooses other cgroups.
#   3. exec portrsv monitor --log: one line per refused bind, rate-limited, on stdout, i.e.
#      in the node's container log (kubectl logs). Enforcement does not depend on this
#      process: the programs are pinned, so a deleted pod or a crash lifts nothing.
#
# Exit status 1 of restore or load (an item skipped or waiting, reported on stderr) is no
# failure of the node: it is logged and the monitor starts. Any other is.
set -u

# The pins must be on the node's bpffs (hostPath /sys/fs/bpf): pins in a bpffs of the
# container's own would be gone with the container, and enforcement with them.
fs=$(stat -f -c %T /sys/fs/bpf 2>/dev/null) || fs=none
if [ "$fs" != bpf_fs ]; then
	echo "portrsv-node: /sys/fs/bpf is not the node's bpf filesystem ($fs):" \
		"run 'mount -t bpf bpf /sys/fs/bpf' on the node" >&2
	exit 1
fi

step() {
	"$@"
	rc=$?
	case $rc in
	0) ;;
	1) echo "portrsv-node: '$*' reported the items above; going on" >&2 ;;
	*)
		echo "portrsv-node: '$*' failed with exit status $rc" >&2
		exit "$rc"
		;;
	esac
}

step portrsv restore
# shellcheck disable=SC2086 # PORTRSV_LOAD_ARGS is a list of words
step portrsv load ${PORTRSV_LOAD_ARGS:-}
exec portrsv monitor --log
