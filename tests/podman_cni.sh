#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# podman_cni.sh: portrsv-cni under a real rootful podman (CNI backend, runc), end to end:
# `podman run -p` reserves the published port for the container, podman (the default owner)
# binds it, a process of another enforced cgroup is refused it on any address, a second
# container asking for it and a port a host process holds both fail with portrsv-cni's
# error shown by podman, and `podman stop` gives the port back.
#
# Needs root and podman, runc, busybox-static, containernetworking-plugins (Debian); without
# them it skips (exit 77), and under CI=true it fails instead. Everything runs inside a
# private network and mount namespace (unshare -n -m), with podman's config, storage, /run
# and /var/lib/cni of its own: nothing of the host's podman or network is touched.
# Facts behind the setup: the project notes shared/notes/podman-cni.md (beside SPEC.md).
#   tests/podman_cni.sh     (build first: make all)
# ok and bad always succeed: `A && ok || bad` is the if-then-else it reads as.
# shellcheck disable=SC2015
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PORTRSV_RELEASE_BIN:-$top/build/portrsv}
CNI=${PORTRSV_CNI_BIN:-$top/build/portrsv-cni}

skip() {
	if [ "${CI:-}" = true ]; then echo "podman_cni: FAIL: $* (CI=true: no skip)"; exit 1; fi
	echo "podman_cni: skip: $*"
	exit 77
}

if [ "${1:-}" != --inside ]; then
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	for c in podman runc unshare ip python3; do
		command -v $c >/dev/null || skip "$c is not installed"
	done
	[ -x /bin/busybox ] || skip "busybox-static is not installed"
	[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/portmap ] ||
		skip "containernetworking-plugins is not installed"
	[ -x "$BIN" ] && [ -x "$CNI" ] || { echo "podman_cni: build first (make all)" >&2; exit 2; }
	exec unshare -n -m --propagation private "$0" --inside
fi

# ---- inside the private namespaces --------------------------------------------------------
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }

cg2=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
[ -n "$cg2" ] || skip "no cgroup v2 mount"
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
name=portrsv-test-podman-$$
cg=$cg2/$name
tmp=$(mktemp -d "/tmp/$name.XXXXXX")
export PORTRSV_PIN_DIR="/sys/fs/bpf/$name" PORTRSV_STATE_DIR="$tmp/state"
holder=
orig=$cg2$(sed -n 's/^0:://p' /proc/self/cgroup)

cleanup() {
	set +e
	[ -n "$holder" ] && kill "$holder" 2>/dev/null && wait "$holder" 2>/dev/null
	podman rm -af -t 0 >/dev/null 2>&1
	echo $$ > "$orig/cgroup.procs"
	"$BIN" unload >/dev/null 2>&1
	# The containers' cgroups (--cgroup-parent), in cgroup v2 and in every v1 hierarchy.
	awk '$9 == "cgroup" || $9 == "cgroup2" { print $5 }' /proc/self/mountinfo |
		while read -r m; do
			[ -d "$m/$name" ] && find "$m/$name" -depth -type d -exec rmdir {} \; 2>/dev/null
		done
	rm -rf "$tmp"
}
trap cleanup EXIT

ip link set lo up
# podman writes there whatever its config says; the namespace's own copies go with it.
for d in /run /var/lib/cni /var/lib/containers; do mkdir -p "$d" && mount -t tmpfs tmpfs "$d"; done
mkdir -p "$tmp/cni" "$tmp/net" "$tmp/root" "$tmp/runroot" "$tmp/tmp" "$tmp/img/bin" "$cg/podman" "$cg/other"

# The enforced cgroup: podman runs in $cg/podman, the intruder in $cg/other.
"$BIN" load --cgroup "$cg" >/dev/null

# The DEL may come from conmon's cleanup (podman container cleanup), which runs without this
# script's environment: the plugin is reached through a wrapper that sets the test's pin and
# state directories (a real host uses the defaults) and counts the calls.
cat > "$tmp/cni/portrsv-cni" <<EOF
#!/bin/sh
echo "\$CNI_COMMAND" >> "$tmp/calls"
PORTRSV_PIN_DIR=$PORTRSV_PIN_DIR PORTRSV_STATE_DIR=$PORTRSV_STATE_DIR exec "$CNI"
EOF
chmod +x "$tmp/cni/portrsv-cni"

nofile=$(ulimit -Hn)
cat > "$tmp/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$tmp/tmp"
[network]
network_backend = "cni"
cni_plugin_dirs = ["$tmp/cni", "/usr/lib/cni"]
network_config_dir = "$tmp/net"
default_network = "portrsvtest"
EOF
cat > "$tmp/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$tmp/root"
runroot = "$tmp/runroot"
EOF
cat > "$tmp/net/portrsvtest.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "portrsvtest",
  "plugins": [
    { "type": "bridge", "bridge": "cni-prsv0", "isGateway": true, "ipMasq": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "10.89.7.0/24" }]],
                "routes": [{ "dst": "0.0.0.0/0" }] } },
    { "type": "portmap", "capabilities": { "portMappings": true } },
    { "type": "portrsv-cni", "capabilities": { "portMappings": true } }
  ]
}
EOF
export CONTAINERS_CONF="$tmp/containers.conf" CONTAINERS_STORAGE_CONF="$tmp/storage.conf"

cp /bin/busybox "$tmp/img/bin/"
for l in sh httpd sleep; do ln -s busybox "$tmp/img/bin/$l"; done
tar -C "$tmp/img" -c . | podman import - localhost/bb >/dev/null

# podman binds the published port itself: it must run in the cgroup the default owner is.
echo $$ > "$cg/podman/cgroup.procs"
out=$(podman run -d --name web --cgroup-parent="/$name/ctr" -p 127.0.0.1:18080:8080 \
	localhost/bb httpd -f -p 8080 2>&1) && ok "podman run -p 127.0.0.1:18080:8080" ||
	bad "podman run -p 127.0.0.1:18080:8080: $out"
id=$(podman inspect -f '{{.Id}}' web 2>/dev/null || echo none)

# The reservation is the container's, in the store and the kernel.
grep -q "^resv tcp 18080 1 .* container=$id\$" "$PORTRSV_STATE_DIR/reservations" &&
	ok "the store has tcp 18080 for container $id" ||
	bad "no tcp 18080 with container=$id in the store: $(cat "$PORTRSV_STATE_DIR/reservations")"
"$BIN" why tcp 18080 >/dev/null 2>&1 && ok "portrsv why tcp 18080: reserved" ||
	bad "portrsv why tcp 18080: $("$BIN" why tcp 18080 2>&1)"

# Another enforced cgroup may not bind the port, on any address.
bind_from_other() { # bind_from_other ADDR PORT: prints the errno name, or "bound"
	sh -c 'echo $$ > "$1/cgroup.procs"; exec python3 -c "
import errno, socket, sys
s = socket.socket()
try:
    s.bind((sys.argv[1], int(sys.argv[2]))); print(\"bound\")
except OSError as e:
    print(errno.errorcode[e.errno])
" "$2" "$3"' sh "$cg/other" "$1" "$2"
}
got=$(bind_from_other 127.0.0.2 18080)
[ "$got" = EACCES ] && ok "another cgroup binding 127.0.0.2:18080 gets EACCES" ||
	bad "another cgroup binding 127.0.0.2:18080: $got, want EACCES"

# A second container asking for the port: podman shows portrsv-cni's error.
out=$(podman run -d --name web2 --cgroup-parent="/$name/ctr" -p 127.0.0.2:18080:8080 \
	localhost/bb httpd -f -p 8080 2>&1) && bad "a second container got tcp 18080: $out" ||
	case $out in
	*"host port tcp/18080 is already reserved"*"published by container $id"*)
		ok "a second container on 18080 is refused, naming the first" ;;
	*) bad "a second container on 18080: $out" ;;
	esac
podman rm -f -t 0 web2 >/dev/null 2>&1 || true

# A port a host process holds (outside any container): the error names its pid.
python3 -c "
import socket, time
s = socket.socket(); s.bind(('127.0.0.1', 18081)); s.listen(1); time.sleep(120)" &
holder=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do
	grep -qi ":46A1 .* 0A " /proc/net/tcp 2>/dev/null && break
	sleep 0.2
done
out=$(podman run -d --name web3 --cgroup-parent="/$name/ctr" -p 18081:8080 \
	localhost/bb httpd -f -p 8080 2>&1) && bad "a container got 18081 that pid $holder holds" ||
	case $out in
	*"host port tcp/18081 is in use by a host process"*"pid $holder (python"*)
		ok "a port held by pid $holder is refused, naming it" ;;
	*) bad "a port held by pid $holder: $out" ;;
	esac
podman rm -f -t 0 web3 >/dev/null 2>&1 || true
kill "$holder"; wait "$holder" 2>/dev/null || true
holder=

# podman stop sends DEL: the port is free again, and only the others' are left.
podman stop -t 1 web >/dev/null 2>&1 && ok "podman stop web" || bad "podman stop web"
# The DEL comes from podman stop or from conmon's cleanup, whichever is first: a moment.
for _ in $(seq 50); do
	grep -q "container=$id" "$PORTRSV_STATE_DIR/reservations" || break
	sleep 0.2
done
! grep -q "container=$id" "$PORTRSV_STATE_DIR/reservations" &&
	ok "after stop the store has nothing of container $id" ||
	bad "after stop: $(cat "$PORTRSV_STATE_DIR/reservations")"
got=$(bind_from_other 127.0.0.2 18080)
[ "$got" = bound ] && ok "after stop another cgroup binds 18080" ||
	bad "after stop another cgroup binding 18080: $got"

grep -qx DEL "$tmp/calls" && grep -qx ADD "$tmp/calls" && ok "podman called ADD and DEL" ||
	bad "podman's calls of the plugin: $(tr '\n' ' ' < "$tmp/calls" 2>/dev/null)"

echo "podman_cni: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
