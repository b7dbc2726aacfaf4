#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# deploy.sh: deploy/install-cni.sh on scratch CNI config directories (chained after portmap,
# at the end without portmap, idempotent to the byte, --remove, every refusal leaving the
# files as they were) and deploy/portrsv-daemonset.yaml read as YAML (what it runs, and that
# it mounts what portrsv needs). No root, no cluster. Needs jq and python3 with yaml.
# ok and bad always succeed: `A && ok || bad` is the if-then-else it reads as.
# shellcheck disable=SC2015
set -eu
cd "$(dirname "$0")/.."
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
inst=deploy/install-cni.sh

conflist() { # conflist FILE TYPE...: a conflist of plugins of those types
	_f=$1
	shift
	printf '%s\n' "$@" | jq -R '{type: .}' | jq -s '{cniVersion: "1.0.0", name: "k8s", plugins: .}' > "$_f"
}
types() { jq -r '[.plugins[].type] | join(" ")' "$1"; }

# Chained right after portmap, with the capability; other files left alone.
d=$tmp/a && mkdir "$d"
conflist "$d/10-net.conflist" bridge portmap bandwidth
conflist "$d/20-other.conflist" bridge portmap
cp "$d/20-other.conflist" "$tmp/other.before"
chmod 0640 "$d/10-net.conflist"
sh $inst "$d" >/dev/null && [ "$(types "$d/10-net.conflist")" = "bridge portmap portrsv-cni bandwidth" ] &&
	ok "chained after portmap" || bad "after portmap: $(types "$d/10-net.conflist")"
[ "$(jq -c '.plugins[2].capabilities' "$d/10-net.conflist")" = '{"portMappings":true}' ] &&
	ok "with the portMappings capability" || bad "capability: $(jq -c '.plugins[2]' "$d/10-net.conflist")"
[ "$(stat -c %a "$d/10-net.conflist")" = 640 ] && ok "the file keeps its mode" ||
	bad "mode $(stat -c %a "$d/10-net.conflist")"
cmp -s "$d/20-other.conflist" "$tmp/other.before" && ok "only the first conflist is changed" ||
	bad "20-other.conflist changed"
cp "$d/10-net.conflist" "$tmp/once"
sh $inst "$d" >/dev/null && cmp -s "$d/10-net.conflist" "$tmp/once" &&
	ok "a second run changes no byte" || bad "second run changed the file"
[ "$(find "$d" -type f | wc -l)" -eq 2 ] && ok "no temp file left" || bad "left: $(ls "$d")"
sh $inst --remove "$d" >/dev/null && [ "$(types "$d/10-net.conflist")" = "bridge portmap bandwidth" ] &&
	ok "--remove takes it out" || bad "--remove: $(types "$d/10-net.conflist")"
sh $inst --remove "$d" >/dev/null && ok "--remove again: nothing to do, success" || bad "--remove twice"

# Without portmap: at the end.
d=$tmp/b && mkdir "$d"
conflist "$d/10-net.conflist" ptp
sh $inst "$d" >/dev/null && [ "$(types "$d/10-net.conflist")" = "ptp portrsv-cni" ] &&
	ok "no portmap: at the end" || bad "no portmap: $(types "$d/10-net.conflist")"

# Refusals: exit 1, a message, nothing changed.
refused() { # refused NAME DIR: install-cni fails and leaves DIR as it was
	_before=$(cd "$2" && ls -l --time-style=+%s.%N && { cat ./* 2>/dev/null || true; })
	if sh $inst "$2" > "$tmp/out" 2>&1; then bad "$1: accepted"; return; fi
	_after=$(cd "$2" && ls -l --time-style=+%s.%N && { cat ./* 2>/dev/null || true; })
	[ "$_before" = "$_after" ] && [ -s "$tmp/out" ] && ok "$1: refused ($(cat "$tmp/out"))" ||
		bad "$1: changed something or said nothing"
}
d=$tmp/c && mkdir "$d" && echo '{"cniVersion":"1.0.0","name":"k8s","type":"bridge"}' > "$d/10-net.conf"
refused "a single-plugin .conf" "$d"
d=$tmp/d && mkdir "$d"
refused "an empty directory" "$d"
d=$tmp/e && mkdir "$d" && printf '{"plugins": [' > "$d/10-net.conflist"
refused "a conflist that is not JSON" "$d"
d=$tmp/f && mkdir "$d" && echo '{"cniVersion":"1.0.0","name":"k8s","plugins":{}}' > "$d/10-net.conflist"
refused "plugins not an array" "$d"

# The manifest: a DaemonSet that restores, installs the plugin and monitors, with the mounts.
if python3 -c 'import yaml' 2>/dev/null; then
	out=$(python3 - deploy/portrsv-daemonset.yaml <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
s = d["spec"]["template"]["spec"]
assert d["kind"] == "DaemonSet", d["kind"]
assert s["hostNetwork"] is True
init = {c["name"]: c for c in s["initContainers"]}
assert init["restore"]["command"] == ["portrsv", "restore"], init["restore"]["command"]
assert "install-cni.sh" in " ".join(init["install-cni"]["command"])
assert [c["command"] for c in s["containers"]] == [["portrsv", "monitor", "--log"]]
paths = {v["name"]: v["hostPath"]["path"] for v in s["volumes"]}
for c in [init["restore"]] + s["containers"]:
    got = {m["mountPath"] for m in c["volumeMounts"]}
    assert {"/sys/fs/bpf", "/sys/fs/cgroup", "/var/lib/portrsv"} <= got, (c["name"], got)
    assert all(paths[m["name"]] == m["mountPath"] for m in c["volumeMounts"]), c["name"]
print("ok")
PY
	) && ok "the DaemonSet restores, chains the plugin, monitors, with the host's bpffs, cgroups and store" ||
		bad "the manifest: $out"
else
	echo "skip: python3 yaml is not installed (the manifest is not read)"
fi

echo "deploy: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
