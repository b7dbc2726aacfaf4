#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# install-cni.sh: the DaemonSet's init step. Puts portrsv-cni into the node's CNI plugin
# directory and chains it after portmap in the node's network configuration
# (cni-conflist.py does the JSON, with python3's json module). Idempotent: run at every
# start of the pod, it replaces the binary (an upgrade) and leaves a chain that has the
# plugin as it is.
#   install-cni.sh            install and chain
#   install-cni.sh --remove   take the plugin out of the chain (on a node, to uninstall; the
#                             binary stays, harmless once no chain names it)
#
# Environment (the DaemonSet sets the first three to where it mounts the node's paths):
#   CNI_BIN_DIR        the node's plugin directory            (/host/opt/cni/bin)
#   CNI_NET_DIR        the node's configuration directory     (/host/etc/cni/net.d)
#   CNI_CONFLIST       the file in CNI_NET_DIR to edit; default the one the runtime uses,
#                      the first *.conf, *.conflist or *.json in lexical order (containerd
#                      and CRI-O both take that one)
#   PORTRSV_CNI_PLUGIN the plugin to install     (/usr/lib/portrsv/node/portrsv-cni, static)
#   PORTRSV_CNI_OWNER  the plugin's "owner" (empty: its default, the runtime's cgroup)
#   PORTRSV_CNI_APPEND 1: add the plugin at the end of a chain that has no portmap
# Exit status: 0 done; 1 refused or failed, with the reason on stderr (the kubelet restarts
# the init step, e.g. until the network's own DaemonSet has written its conflist).
set -eu
LC_ALL=C
export LC_ALL

here=$(dirname "$0")
bin_dir=${CNI_BIN_DIR:-/host/opt/cni/bin}
net_dir=${CNI_NET_DIR:-/host/etc/cni/net.d}
plugin=${PORTRSV_CNI_PLUGIN:-/usr/lib/portrsv/node/portrsv-cni}

die() { echo "install-cni: $*" >&2; exit 1; }

remove=false
case ${1:-} in
--remove) remove=true ;;
"") ;;
*) echo "usage: install-cni.sh [--remove]" >&2; exit 2 ;;
esac

if ! $remove && ! { [ -f "$plugin" ] && [ -x "$plugin" ]; }; then
	die "$plugin: no plugin to install"
fi
[ -d "$bin_dir" ] || die "$bin_dir: no such directory (mount the node's CNI plugin directory)"
[ -d "$net_dir" ] || die "$net_dir: no such directory (mount the node's /etc/cni/net.d)"

if [ -n "${CNI_CONFLIST:-}" ]; then
	case $CNI_CONFLIST in
	*/*) die "CNI_CONFLIST=$CNI_CONFLIST: a file name in $net_dir, not a path" ;;
	esac
	conf=$net_dir/$CNI_CONFLIST
	[ -f "$conf" ] || die "$conf: no such file"
else
	conf=
	# A glob sorts by LC_COLLATE; the runtimes sort by bytes (LC_ALL=C above).
	for f in "$net_dir"/*; do
		case $f in
		*.conf | *.conflist | *.json) [ -f "$f" ] && { conf=$f; break; } ;;
		esac
	done
	[ -n "$conf" ] || die "$net_dir: no network configuration yet (is the pod network installed?)"
fi

if $remove; then
	exec python3 "$here/cni-conflist.py" --remove "$conf"
fi

# Into the directory under a name no runtime runs, then renamed over the old one: a runtime
# that runs the plugin at this moment runs the old binary or the new one, never half of one
# (and a running binary cannot be written in place: ETXTBSY).
tmp=$bin_dir/.portrsv-cni.$$.tmp
trap 'rm -f "$tmp"' EXIT
cp "$plugin" "$tmp"
chmod 0755 "$tmp"
mv -f "$tmp" "$bin_dir/portrsv-cni"
trap - EXIT
echo "install-cni: $bin_dir/portrsv-cni installed"

set -- "$conf"
[ -z "${PORTRSV_CNI_OWNER:-}" ] || set -- --owner "$PORTRSV_CNI_OWNER" "$@"
[ "${PORTRSV_CNI_APPEND:-0}" != 1 ] || set -- --append "$@"
exec python3 "$here/cni-conflist.py" "$@"
