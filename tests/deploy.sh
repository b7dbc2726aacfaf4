#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# deploy.sh (make check-deploy): the Kubernetes deployment in deploy/kubernetes, without a
# cluster or a network. Needs python3 and python3-yaml (scripts/deps.sh --test).
#
#   yaml      every *.yaml parses (yaml.safe_load_all), and the DaemonSet has what the node
#             relies on: apps/v1, hostNetwork and hostPID, each hostPath volume at its path
#             and mounted where portrsv and the scripts look, the capabilities, privileged
#             only on the main container and only with its reason written down, the
#             commands of both containers naming scripts that the Containerfile installs
#   conflist  cni-conflist.py on sample conflists, each result read back with json: after
#             portmap; no portmap (refused, or at the end with --append); present already
#             (byte for byte unchanged); --owner; --remove; refusals (malformed JSON, duplicate keys,
#             no plugins, a .conf, cniVersion 0.4.0, none): exit 1, a message naming the
#             cause, the file unchanged
#   install   install-cni.sh in scratch directories: the plugin copied (mode 0755), the first
#             configuration in byte order edited, a second run idempotent, a missing
#             directory or configuration refused, --remove
# Prints one line per check; exits 1 if any failed.
# ok and fail always succeed: `A && ok || fail` is the if-then-else it reads as.
# shellcheck disable=SC2015
set -u
cd "$(dirname "$0")/.." || exit 1
top=$(pwd)
dir=deploy/kubernetes

fails=0
checks=0
ok() { checks=$((checks + 1)); echo "ok: $*"; }
fail() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*"; }

command -v python3 >/dev/null || { echo "deploy: python3 is not installed" >&2; exit 1; }
python3 -c 'import yaml' 2>/dev/null ||
	{ echo "deploy: python3-yaml is not installed (scripts/deps.sh --test)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- yaml -------------------------------------------------------------------------------
# One python3 run checks the manifests; each line it prints is "ok: ..." or "FAIL: ...".
out=$(python3 - "$dir" deploy/Containerfile <<'EOF'
import glob, os, re, sys, yaml

d, containerfile = sys.argv[1], sys.argv[2]
def ok(m): print("ok: " + m)
def fail(m): print("FAIL: " + m)
def check(cond, m): ok(m) if cond else fail(m)

docs = []
files = sorted(glob.glob(os.path.join(d, "*.yaml")) + glob.glob(os.path.join(d, "*.yml")))
check(files, f"{d}: has manifests")
for f in files:
    try:
        with open(f) as fh:
            ds = [x for x in yaml.safe_load_all(fh) if x is not None]
    except yaml.YAMLError as e:
        fail(f"{f}: YAML: {e}".replace("\n", " "))
        continue
    bad = [x for x in ds if not (isinstance(x, dict) and x.get("apiVersion") and x.get("kind")
                                and isinstance(x.get("metadata"), dict)
                                and x["metadata"].get("name"))]
    check(ds and not bad, f"{f}: {len(ds)} documents, each with apiVersion, kind, metadata.name")
    docs += [(f, x) for x in ds if isinstance(x, dict)]

dss = [(f, x) for f, x in docs if x.get("kind") == "DaemonSet"]
check(len(dss) == 1, f"one DaemonSet ({len(dss)})")
if len(dss) != 1:
    sys.exit(0)
f, ds = dss[0]
check(ds.get("apiVersion") == "apps/v1", "DaemonSet: apiVersion apps/v1")
spec = ds.get("spec") or {}
tmpl = spec.get("template") or {}
sel = ((spec.get("selector") or {}).get("matchLabels")) or {}
labels = ((tmpl.get("metadata") or {}).get("labels")) or {}
check(sel and all(labels.get(k) == v for k, v in sel.items()),
      "DaemonSet: selector.matchLabels match the template's labels")
pod = tmpl.get("spec") or {}
check(pod.get("hostNetwork") is True, "pod: hostNetwork: true (reservations are the host netns's)")
check(pod.get("hostPID") is True, "pod: hostPID: true (/proc/1/ns/net is the host's)")
check({"operator": "Exists"} in (pod.get("tolerations") or []), "pod: tolerates every taint")
sa = pod.get("serviceAccountName")
check(sa and any(x.get("kind") == "ServiceAccount" and x["metadata"]["name"] == sa
                 and x["metadata"].get("namespace") == ds["metadata"].get("namespace")
                 for _, x in docs), f"pod: its ServiceAccount {sa!r} is defined, same namespace")

want_vol = {"/sys/fs/bpf": "Directory", "/sys/fs/cgroup": "Directory",
            "/var/lib/portrsv": "DirectoryOrCreate", "/run/netns": "DirectoryOrCreate",
            "/opt/cni/bin": "DirectoryOrCreate", "/etc/cni/net.d": "DirectoryOrCreate"}
vols = {}
for v in pod.get("volumes") or []:
    hp = v.get("hostPath")
    if hp:
        vols[v["name"]] = hp
by_path = {hp.get("path"): (n, hp.get("type")) for n, hp in vols.items()}
for p, t in want_vol.items():
    check(p in by_path and by_path[p][1] == t, f"volume: hostPath {p} ({t})")

def container(lst, name):
    c = [x for x in (pod.get(lst) or []) if x.get("name") == name]
    return c[0] if len(c) == 1 else None

def mounts(c):
    return {m["name"]: m for m in (c or {}).get("volumeMounts") or []}

main, init = container("containers", "portrsv"), container("initContainers", "install-cni")
check(main is not None and len(pod.get("containers") or []) == 1, "containers: one, 'portrsv'")
check(init is not None, "initContainers: 'install-cni'")
main, init = main or {}, init or {}
# Main: the node's paths at the node's paths, where portrsv and portrsv-cni look by default.
mm = mounts(main)
for p, prop in (("/sys/fs/bpf", "HostToContainer"), ("/sys/fs/cgroup", None),
                ("/var/lib/portrsv", None), ("/run/netns", "HostToContainer")):
    m = mm.get(by_path.get(p, (None,))[0])
    check(m and m.get("mountPath") == p and m.get("mountPropagation") == prop
          and not m.get("readOnly"),
          f"portrsv: mounts {p} at {p}, writable" + (f", {prop}" if prop else ""))
check(not any(by_path.get(p, (None,))[0] in mm for p in ("/opt/cni/bin", "/etc/cni/net.d")),
      "portrsv: no CNI directory mounted (only the init step writes there)")
im = mounts(init)
env = {e["name"]: e.get("value") for e in init.get("env") or []}
for p, var in (("/opt/cni/bin", "CNI_BIN_DIR"), ("/etc/cni/net.d", "CNI_NET_DIR")):
    m = im.get(by_path.get(p, (None,))[0])
    check(m and m.get("mountPath") == env.get(var) == "/host" + p,
          f"install-cni: mounts {p} at ${var}=/host{p}")
check(set(im) <= {by_path.get(p, (None,))[0] for p in ("/opt/cni/bin", "/etc/cni/net.d")},
      "install-cni: mounts the CNI directories only")
check(env.get("PORTRSV_CNI_APPEND") in ("0", "1") and "PORTRSV_CNI_OWNER" in env,
      "install-cni: PORTRSV_CNI_APPEND is 0 or 1, PORTRSV_CNI_OWNER is set")

sc_main, sc_init = main.get("securityContext") or {}, init.get("securityContext") or {}
caps = set((sc_main.get("capabilities") or {}).get("add") or [])
want_caps = {"BPF", "PERFMON", "NET_ADMIN", "SYS_ADMIN", "DAC_READ_SEARCH", "SYS_PTRACE"}
check(caps == want_caps, f"portrsv: capabilities {sorted(want_caps)} (has {sorted(caps)})")
# Every added capability is explained in a comment of the manifest.
text = open(f).read()
unexplained = [c for c in sorted(caps) if not re.search(r"#\s+" + c + r"\s{2,}\S", text)]
check(caps and not unexplained, f"portrsv: each capability has its reason in a comment"
      + (f" (not: {unexplained})" if unexplained else ""))
check(sc_init.get("privileged") is not True and not sc_init.get("allowPrivilegeEscalation")
      and (sc_init.get("capabilities") or {}).get("drop") == ["ALL"]
      and not (sc_init.get("capabilities") or {}).get("add"),
      "install-cni: unprivileged, every capability dropped")
# privileged: true only on the main container, and only with the reason next to it.
priv = [n for n, c in (("portrsv", main), ("install-cni", init))
        if (c.get("securityContext") or {}).get("privileged") is True]
check(priv in ([], ["portrsv"]), f"privileged: at most the main container ({priv})")
if priv:
    # The comment lines right above "privileged: true" say why: /proc/sys is read-only.
    lines = text.split("\n")
    at = [i for i, l in enumerate(lines) if l.strip() == "privileged: true"]
    above = []
    for l in reversed(lines[:at[0]] if len(at) == 1 else []):
        if not l.strip().startswith("#"):
            break
        above.append(l)
    why = " ".join(l.strip().lstrip("#").strip() for l in reversed(above))
    check("/proc/sys read-only" in why,
          "portrsv: privileged: true has its reason (/proc/sys read-only) right above it")
bidi = [(n, m["name"]) for n, c in (("portrsv", main), ("install-cni", init))
        for m in c.get("volumeMounts") or [] if m.get("mountPropagation") == "Bidirectional"
        and (c.get("securityContext") or {}).get("privileged") is not True]
check(not bidi, f"Bidirectional propagation only in a privileged container ({bidi})")

# The commands name scripts of deploy/kubernetes that the Containerfile installs there.
cf = open(containerfile).read()
for name, c, script in (("portrsv", main, "portrsv-node.sh"),
                        ("install-cni", init, "install-cni.sh")):
    cmd = c.get("command") or []
    check(cmd == ["/usr/lib/portrsv/node/" + script]
          and os.access(os.path.join(d, script), os.X_OK)
          and re.search(r"COPY [^\n]*(\\\n[^\n]*)*deploy/kubernetes/" + re.escape(script)
                        + r"[^\n]*(\\\n[^\n]*)*/usr/lib/portrsv/node/", cf),
          f"{name}: command is /usr/lib/portrsv/node/{script}, executable, in the Containerfile")
check(re.search(r"COPY [^\n]*deploy/kubernetes/cni-conflist\.py", cf)
      and os.access(os.path.join(d, "cni-conflist.py"), os.X_OK),
      "Containerfile installs cni-conflist.py next to install-cni.sh")
check(len({c.get("image") for c in (main, init)}) == 1 and main.get("image"),
      "both containers run the same image")
EOF
)
echo "$out"
checks=$((checks + $(echo "$out" | grep -c '^ok: \|^FAIL: ')))
fails=$((fails + $(echo "$out" | grep -c '^FAIL: ')))

# --- conflist ---------------------------------------------------------------------------
edit="python3 $top/$dir/cni-conflist.py"

# jget FILE EXPR: EXPR (python, over c = the parsed file) printed as JSON.
jget() { python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print(json.dumps(eval(sys.argv[2])))' "$1" "$2"; }

conf() { # conf FILE VERSION PLUGIN_TYPE...: a conflist with those plugins
	f=$1 v=$2
	shift 2
	python3 -c 'import json,sys
v = sys.argv[2]
c = {"name": "k8s-pod-network", "plugins": [{"type": t} for t in sys.argv[3:]]}
if v != "-": c["cniVersion"] = v
c["plugins"][0]["ipam"] = {"type": "host-local", "ranges": [[{"subnet": "10.88.0.0/16"}]]}
json.dump(c, open(sys.argv[1], "w"), indent=4)' "$f" "$v" "$@"
}

want_types() { # want_types NAME FILE EXPECTED_JSON
	got=$(jget "$2" '[p["type"] for p in c["plugins"]]')
	[ "$got" = "$3" ] && ok "conflist $1: plugins $got" || fail "conflist $1: plugins $got, want $3"
}

c=$tmp/10-calico.conflist
conf "$c" 1.0.0 calico bandwidth portmap tuning
chmod 0640 "$c"
out=$($edit "$c" 2>&1) && ok "conflist after portmap: exit 0 ($out)" || fail "conflist after portmap: $out"
want_types "after portmap" "$c" '["calico", "bandwidth", "portmap", "portrsv-cni", "tuning"]'
e=$(jget "$c" '[p for p in c["plugins"] if p["type"] == "portrsv-cni"][0]')
[ "$e" = '{"type": "portrsv-cni", "capabilities": {"portMappings": true}}' ] &&
	ok "conflist: the entry asks for portMappings, no owner by default" ||
	fail "conflist: entry $e"
e=$(jget "$c" '[c["cniVersion"], c["name"], c["plugins"][0]["ipam"]["ranges"]]')
[ "$e" = '["1.0.0", "k8s-pod-network", [[{"subnet": "10.88.0.0/16"}]]]' ] &&
	ok "conflist: the rest of the configuration kept" || fail "conflist: rest is $e"
[ "$(stat -c %a "$c")" = 640 ] && ok "conflist: mode 0640 kept" || fail "conflist: mode $(stat -c %a "$c")"
[ -z "$(find "$tmp" -name '*.tmp')" ] && ok "conflist: no temporary file left" || fail "conflist: temporary file left"

# Idempotent: a second run writes nothing (same bytes, same inode).
sum=$(md5sum <"$c") ino=$(stat -c %i "$c")
out=$($edit "$c" 2>&1) && [ "$(md5sum <"$c")" = "$sum" ] && [ "$(stat -c %i "$c")" = "$ino" ] &&
	echo "$out" | grep -q "already" &&
	ok "conflist present already: exit 0, file not rewritten ($out)" ||
	fail "conflist present already: $out"

# --remove: back to the chain it was, the rest kept; not there: unchanged; version no bar.
c=$tmp/remove.conflist
conf "$c" 1.0.0 bridge portmap tuning
cp "$c" "$c.orig"
$edit "$c" >/dev/null 2>&1
out=$($edit --remove "$c" 2>&1) && echo "$out" | grep -q "taken out" &&
	ok "conflist --remove: exit 0 ($out)" || fail "conflist --remove: $out"
want_types "--remove" "$c" '["bridge", "portmap", "tuning"]'
[ "$(jget "$c" 'c')" = "$(jget "$c.orig" 'c')" ] && ok "conflist --remove: the configuration as before" ||
	fail "conflist --remove: $(jget "$c" 'c')"
sum=$(md5sum <"$c") ino=$(stat -c %i "$c")
out=$($edit --remove "$c" 2>&1) && [ "$(md5sum <"$c")" = "$sum" ] && [ "$(stat -c %i "$c")" = "$ino" ] &&
	echo "$out" | grep -q "not in the chain" && ok "conflist --remove again: exit 0, not rewritten" ||
	fail "conflist --remove again: $out"
printf '{"cniVersion": "0.4.0", "name": "x", "plugins": [{"type": "portmap"}, {"type": "portrsv-cni"}]}' >"$c"
out=$($edit --remove "$c" 2>&1) && [ "$(jget "$c" '[p["type"] for p in c["plugins"]]')" = '["portmap"]' ] &&
	ok "conflist --remove under cniVersion 0.4.0: taken out" || fail "conflist --remove 0.4.0: $out"
printf '{"cniVersion": "1.0.0", "name": "x", "plugins": [{"type": "portrsv-cni"}]}' >"$c"
cp "$c" "$c.orig"
out=$($edit --remove "$c" 2>&1)
[ $? -eq 1 ] && echo "$out" | grep -q "nothing would be left" && cmp -s "$c" "$c.orig" &&
	ok "conflist --remove of the whole chain: refused, unchanged" || fail "conflist --remove whole chain: $out"

c=$tmp/owner.conflist
conf "$c" 1.1.0 bridge portmap
$edit --owner /sys/fs/cgroup/system.slice/containerd.service "$c" >/dev/null 2>&1
e=$(jget "$c" 'c["plugins"][2]')
[ "$e" = '{"type": "portrsv-cni", "capabilities": {"portMappings": true}, "owner": "/sys/fs/cgroup/system.slice/containerd.service"}' ] &&
	ok "conflist --owner: recorded in the entry" || fail "conflist --owner: $e"

c=$tmp/noportmap.conflist
conf "$c" 1.0.0 cilium-cni
cp "$c" "$c.orig"
out=$($edit "$c" 2>&1)
rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "no portmap plugin" && cmp -s "$c" "$c.orig" &&
	ok "conflist without portmap: refused, exit 1, unchanged ($out)" ||
	fail "conflist without portmap: exit $rc: $out"
out=$($edit --append "$c" 2>&1) && ok "conflist without portmap --append: exit 0" ||
	fail "conflist without portmap --append: $out"
want_types "without portmap --append" "$c" '["cilium-cni", "portrsv-cni"]'

# Refusals: exit 1, the cause named, the file byte for byte as it was.
refuse() { # refuse NAME PATTERN CONTENT
	f=$tmp/refuse.conflist
	printf '%s' "$3" >"$f"
	cp "$f" "$f.orig"
	out=$($edit "$f" 2>&1)
	rc=$?
	if [ $rc -eq 1 ] && echo "$out" | grep -q -- "$2" && echo "$out" | grep -q unchanged &&
		cmp -s "$f" "$f.orig" && [ -z "$(find "$tmp" -name '*.tmp')" ]; then
		ok "conflist $1: refused, unchanged ($out)"
	else
		fail "conflist $1: exit $rc, want 1 and '$2': $out"
	fi
}
refuse "malformed JSON" "not JSON: Expecting ',' delimiter at line 1" \
	'{"cniVersion": "1.0.0", "name": "x" "plugins": []}'
refuse "truncated JSON" "not JSON" '{"cniVersion": "1.0.0", "plugins": [{"type": "portmap"}'
refuse "duplicate key" "duplicate key 'plugins'" \
	'{"cniVersion": "1.0.0", "name": "x", "plugins": [{"type": "portmap"}], "plugins": []}'
refuse "not an object" "not a JSON object" '[{"type": "portmap"}]'
refuse "single-plugin .conf" 'no "plugins" list' \
	'{"cniVersion": "1.0.0", "name": "x", "type": "bridge"}'
refuse "empty plugins" 'no "plugins" list' '{"cniVersion": "1.0.0", "name": "x", "plugins": []}'
refuse "plugin without type" 'plugins\[1\] is not an object' \
	'{"cniVersion": "1.0.0", "name": "x", "plugins": [{"type": "bridge"}, {"capabilities": {}}]}'
refuse "cniVersion 0.4.0" "cniVersion '0.4.0'" \
	'{"cniVersion": "0.4.0", "name": "x", "plugins": [{"type": "portmap"}]}'
refuse "no cniVersion" "cniVersion None" '{"name": "x", "plugins": [{"type": "portmap"}]}'
refuse "not UTF-8" "not UTF-8" "$(printf '{"name": "\377"}')"
out=$($edit "$tmp/absent.conflist" 2>&1)
[ $? -eq 1 ] && echo "$out" | grep -q "cannot read" && [ ! -e "$tmp/absent.conflist" ] &&
	ok "conflist absent: refused ($out)" || fail "conflist absent: $out"
for args in "" "a b" "--owner" "--owner relative/path $tmp/x" "--bogus $tmp/x" \
	"--remove --append $tmp/x" "--remove --owner /x $tmp/x"; do
	# shellcheck disable=SC2086 # the words are the arguments
	out=$($edit $args 2>&1)
	[ $? -eq 2 ] && echo "$out" | grep -q usage && ok "conflist usage '$args': exit 2" ||
		fail "conflist usage '$args': $out"
done

# --- install ----------------------------------------------------------------------------
bin=$tmp/bin net=$tmp/net
mkdir -p "$bin" "$net"
printf '#!/bin/sh\necho plugin\n' >"$tmp/portrsv-cni"
chmod 0700 "$tmp/portrsv-cni"
run_install() {
	CNI_BIN_DIR=$bin CNI_NET_DIR=$net PORTRSV_CNI_PLUGIN=$tmp/portrsv-cni \
		"$top/$dir/install-cni.sh" "$@" 2>&1
}
out=$(run_install)
rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "no network configuration yet" &&
	ok "install without a configuration: refused ($out)" || fail "install without configuration: exit $rc: $out"
conf "$net/20-second.conflist" 1.0.0 bridge portmap
conf "$net/10-first.conflist" 1.0.0 bridge portmap
conf "$net/05-not-a-config.txt" 1.0.0 bridge portmap
cp "$net/20-second.conflist" "$tmp/second.orig"
out=$(run_install) && ok "install: exit 0" || fail "install: $out"
[ "$(stat -c %a "$bin/portrsv-cni")" = 755 ] && cmp -s "$bin/portrsv-cni" "$tmp/portrsv-cni" &&
	ok "install: plugin copied, mode 0755" || fail "install: plugin not copied as it should be"
want_types "install edits the first in byte order" "$net/10-first.conflist" \
	'["bridge", "portmap", "portrsv-cni"]'
cmp -s "$net/20-second.conflist" "$tmp/second.orig" && ok "install: the other configuration untouched" ||
	fail "install: 20-second.conflist changed"
sum=$(md5sum <"$net/10-first.conflist")
out=$(run_install) && [ "$(md5sum <"$net/10-first.conflist")" = "$sum" ] &&
	ok "install again: idempotent" || fail "install again: $out"
out=$(CNI_CONFLIST=20-second.conflist PORTRSV_CNI_OWNER=/sys/fs/cgroup/x run_install) &&
	[ "$(jget "$net/20-second.conflist" 'c["plugins"][2].get("owner")')" = '"/sys/fs/cgroup/x"' ] &&
	ok "install CNI_CONFLIST, PORTRSV_CNI_OWNER: that file, with the owner" ||
	fail "install CNI_CONFLIST: $out"
out=$(run_install --remove) &&
	[ "$(jget "$net/10-first.conflist" '[p["type"] for p in c["plugins"]]')" = '["bridge", "portmap"]' ] &&
	ok "install --remove: taken out of the chain ($out)" || fail "install --remove: $out"
out=$(run_install --bogus)
[ $? -eq 2 ] && echo "$out" | grep -q usage && ok "install --bogus: exit 2" || fail "install --bogus: $out"
out=$(CNI_CONFLIST=../x run_install)
[ $? -eq 1 ] && echo "$out" | grep -q "a file name" && ok "install CNI_CONFLIST=../x: refused" ||
	fail "install CNI_CONFLIST=../x: $out"
out=$(CNI_BIN_DIR=$tmp/none CNI_NET_DIR=$net PORTRSV_CNI_PLUGIN=$tmp/portrsv-cni \
	"$top/$dir/install-cni.sh" 2>&1)
[ $? -eq 1 ] && echo "$out" | grep -q "no such directory" && ok "install without a bin dir: refused" ||
	fail "install without a bin dir: $out"
[ -z "$(find "$tmp" -name '*.tmp' -o -name '.portrsv-cni.*')" ] &&
	ok "install: no temporary file left" || fail "install: temporary file left"

echo "check-deploy: $checks checks, $fails failed"
[ "$fails" -eq 0 ]
