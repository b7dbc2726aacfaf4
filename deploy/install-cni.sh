#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# install-cni.sh: chain portrsv-cni into a node's CNI network, as the DaemonSet's init
# container does (deploy/portrsv-daemonset.yaml), or take it out again.
#   install-cni.sh [--remove] NETDIR
# The network a runtime uses is the first *.conflist of NETDIR in name order (kubelet's and
# containerd's rule). portrsv-cni goes right after portmap, with the portMappings capability
# (at the end when the chain has no portmap); a chain that has it already is left byte for
# byte as it is. The file is replaced atomically (temp file, rename) and keeps its mode. A
# single-plugin *.conf, no conflist at all, or one that is not valid JSON is refused (exit
# 1) and nothing changes. Needs jq.
set -eu
remove=false
[ "${1:-}" = --remove ] && { remove=true; shift; }
[ $# -eq 1 ] || { echo "usage: install-cni.sh [--remove] NETDIR" >&2; exit 2; }
dir=$1
command -v jq >/dev/null || { echo "install-cni: jq is not installed" >&2; exit 1; }
conf=
for f in "$dir"/*.conflist; do [ -f "$f" ] && { conf=$f; break; }; done
if [ -z "$conf" ]; then
	for f in "$dir"/*.conf "$dir"/*.json; do
		[ -f "$f" ] && { echo "install-cni: $f is a single-plugin config: portrsv-cni needs a" \
			"*.conflist with portmap to chain after" >&2; exit 1; }
	done
	echo "install-cni: no *.conflist in $dir (is the network plugin installed yet?)" >&2
	exit 1
fi
jq -e '.plugins | type == "array"' "$conf" >/dev/null 2>&1 ||
	{ echo "install-cni: $conf: not a conflist (no \"plugins\" array, or not JSON)" >&2; exit 1; }
has=$(jq '[.plugins[] | select(.type == "portrsv-cni")] | length' "$conf")
if $remove; then
	[ "$has" -gt 0 ] || { echo "install-cni: $conf: portrsv-cni is not chained"; exit 0; }
	filter='.plugins |= map(select(.type != "portrsv-cni"))'
else
	[ "$has" -eq 0 ] || { echo "install-cni: $conf: portrsv-cni is chained already"; exit 0; }
	# shellcheck disable=SC2016 # $i and $p are jq's
	filter='(.plugins | map(.type) | index("portmap")) as $i
		| .plugins |= (if $i == null then . + [$p] else .[:$i + 1] + [$p] + .[$i + 1:] end)'
fi
tmp=$(mktemp "$conf.XXXXXX")
trap 'rm -f "$tmp"' EXIT
jq --argjson p '{"type":"portrsv-cni","capabilities":{"portMappings":true}}' "$filter" \
	"$conf" > "$tmp"
chmod --reference="$conf" "$tmp"
mv "$tmp" "$conf"
trap - EXIT
if $remove; then echo "install-cni: $conf: portrsv-cni taken out"
else echo "install-cni: $conf: portrsv-cni chained"; fi
