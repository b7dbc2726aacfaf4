#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The Debian packages, installed: build them (scripts/build-deb.sh), install them on this
# machine with apt-get, and run the smoke path with the INSTALLED command, /usr/sbin/portrsv:
# in a scratch cgroup under the cgroup v2 mount (never the root cgroup), with its own pin and
# state directories, in a private network namespace: load --cgroup, add a tcp block, a bind
# refused without the token, a bind with it, bind(0) with it, lookup, why, delete, unload.
# Also: a program built against the installed -dev package through pkg-config (shared and
# static), `man -w` for each installed page, `systemd-analyze verify` of the installed unit,
# the unit enabled but not started, the bash completion offering the stored block. Then it
# purges the packages and checks that nothing of them is left.
#
# Needs root, and changes the machine while it runs (apt-get install, then purge): meant for
# CI's throwaway machine or a developer's own. It refuses to run when the packages are
# already installed, keeps a store in /var/lib/portrsv aside (a purge deletes it) and puts
# it back, and removes whatever it installed, on every path out.
#   scripts/pkg-test.sh            build, install, test, purge
#   PKG_TEST_NOBUILD=1 ...         use the .debs already in build/deb/
# Last line: "pkg-test: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
t0=$(date +%s)
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
check() { # check DESCRIPTION COMMAND...: run it, show its output when it fails
	local what=$1
	shift
	if "$@" > "$tmp/out" 2>&1; then ok "$what"; else bad "$what"; sed 's/^/     /' "$tmp/out"; fi
}
finish() {
	echo "pkg-test: $(($(date +%s) - t0)) s in all${build_s:+, of which the package build $build_s s}"
	echo "pkg-test: $pass passed, $fail failed"
	[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
	exit
}
die() { bad "$*"; finish; }

[ "$(id -u)" -eq 0 ] || { echo "pkg-test: run as root (apt-get, BPF programs)" >&2; exit 1; }
PKGS=(portrsv libportrsv0 libportrsv-dev)
SBIN=/usr/sbin/portrsv
tmp=$(mktemp -d)
chmod 0755 "$tmp"
cg="" saved_store="" installed=""
pins=/sys/fs/bpf/portrsv-pkgtest-$$
export PORTRSV_PIN_DIR=$pins PORTRSV_STATE_DIR=$tmp/state

installed_pkgs() { dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 2>/dev/null |
	awk '$1 ~ /^.i/ { print $2 }' | sort; }

# shellcheck disable=SC2317 # run by the traps
cleanup() {
	trap - EXIT INT TERM
	if [ -x "$SBIN" ] && [ -e "$pins" ]; then "$SBIN" unload > /dev/null 2>&1; fi
	[ -e "$pins" ] && rm -rf "$pins"
	[ -n "$cg" ] && [ -d "$cg" ] && rmdir "$cg" 2>/dev/null
	if [ -n "$installed" ]; then
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "${PKGS[@]}" > "$tmp/purge.log" 2>&1
		# What apt pulled in for them goes too: the machine is left as it was found.
		extra=$(comm -13 "$tmp/before" <(installed_pkgs) | tr '\n' ' ')
		if [ -n "${extra// /}" ]; then
			# shellcheck disable=SC2086
			DEBIAN_FRONTEND=noninteractive apt-get purge -y -q $extra >> "$tmp/purge.log" 2>&1
		fi
	fi
	if [ -n "$saved_store" ]; then
		rm -rf /var/lib/portrsv
		mv "$saved_store" /var/lib/portrsv
	fi
	rm -rf "$tmp"
}
trap 'bad "interrupted"; finish' INT TERM
trap cleanup EXIT

# 0. Nothing of ours may be installed already: the purge at the end would remove it.
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^.i' &&
		die "$p is installed already: purge it first (this test purges what it installs)"
done
if [ -e /var/lib/portrsv ]; then # purging the package deletes the store: keep it aside
	saved_store=/var/lib/portrsv.pkg-test-$$
	mv /var/lib/portrsv "$saved_store"
fi

# 1. Build.
if [ "${PKG_TEST_NOBUILD:-0}" = 1 ]; then
	echo "pkg-test: using the packages in build/deb/"
else
	b0=$(date +%s)
	scripts/build-deb.sh || die "scripts/build-deb.sh"
	build_s=$(($(date +%s) - b0))
fi
debs=()
for p in "${PKGS[@]}"; do
	f=(build/deb/"${p}"_*.deb)
	[ -e "${f[0]}" ] || die "no build/deb/${p}_*.deb"
	debs+=("./${f[0]}")
done

# 2. Install, as a user would.
installed_pkgs > "$tmp/before"
pins_before=$(ls -d /sys/fs/bpf/portrsv 2>/dev/null)
installed=yes
check "apt-get install ${debs[*]}" \
	env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${debs[@]}"
for p in "${PKGS[@]}"; do
	check "$p is installed" sh -c "dpkg-query -W -f='\${db:Status-Abbrev}' $p | grep -q '^ii'"
done
[ -x "$SBIN" ] || die "$SBIN: not installed"
check "$SBIN --version" "$SBIN" --version
check "the unit is enabled (started at boot)" \
	test -L /etc/systemd/system/sysinit.target.wants/portrsv.service
check "installing loaded nothing: no pins appeared in /sys/fs/bpf/portrsv" \
	test "$(ls -d /sys/fs/bpf/portrsv 2>/dev/null)" = "$pins_before"
unit=$(dpkg -L portrsv | grep '/systemd/system/portrsv.service$')
check "the unit's ExecStart is $SBIN" grep -q "^ExecStart=$SBIN restore$" "$unit"
check "systemd-analyze verify $unit" sh -c "out=\$(systemd-analyze verify '$unit' 2>&1); echo \"\$out\"; [ -z \"\$out\" ]"
# shellcheck disable=SC2016 # expanded by that sh
check "man -w portrsv finds the installed page" \
	sh -c '[ "$(man -w portrsv)" = /usr/share/man/man8/portrsv.8.gz ]'
for page in $(dpkg -L portrsv libportrsv-dev | grep '/man/man[0-9]/'); do
	name=${page##*/} name=${name%.gz}
	# (a link page is a symlink after dh_installman: man -w names its target)
	check "man -w ${name##*.} ${name%.*} finds $page" \
		sh -c "[ \"\$(readlink -f \"\$(man -w ${name##*.} ${name%.*})\")\" = \"\$(readlink -f '$page')\" ]"
done

# 3. A program against the installed -dev package: pkg-config, headers, the shared and the
#    static library. It is the bind tool of the smoke path below.
cat > "$tmp/bindprobe.c" <<'EOF'
/* bindprobe tcp|udp PORT [TOKEN]: bind() once, with the token associated first if given.
 * Prints "bound PORT" or "refused ERRNO-NAME"; exit 0 when bound. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <portrsv.h>
#include <portrsv/iphlpapi.h>

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	socklen_t len = sizeof(a);
	ULONG64 t = 0;
	int fd, err;

	if (argc < 3)
		return 2;
	/* The Windows API is linked too: its argument check answers without privileges. */
	if (CreatePersistentTcpPortReservation(0, 1, &t) != ERROR_INVALID_PARAMETER)
		return 3;
	fd = socket(AF_INET, strcmp(argv[1], "udp") ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (fd < 0)
		return 1;
	if (argc > 3 && (err = portrsv_associate(fd, strtoull(argv[3], NULL, 0)))) {
		printf("associate: %s\n", portrsv_strerror(err));
		return 1;
	}
	a.sin_port = htons((unsigned short)atoi(argv[2]));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		printf("refused %s\n", errno == EACCES ? "EACCES" : strerror(errno));
		return 1;
	}
	getsockname(fd, (struct sockaddr *)&a, &len);
	printf("bound %u\n", ntohs(a.sin_port));
	return 0;
}
EOF
check "pkg-config --cflags --libs portrsv (installed .pc)" pkg-config --exists portrsv
# shellcheck disable=SC2046
check "cc \$(pkg-config --cflags --libs portrsv): builds against the installed -dev" \
	cc -o "$tmp/bindprobe" "$tmp/bindprobe.c" $(pkg-config --cflags --libs portrsv)
check "it runs with the installed libportrsv.so.0" \
	sh -c "ldd '$tmp/bindprobe' | grep -Eq '=> (/usr)?/lib/[^ ]*/libportrsv\.so\.0 '"
# shellcheck disable=SC2046
check "static: cc ... \$(pkg-config --static --libs portrsv), libportrsv.a" \
	cc -o "$tmp/bindprobe-static" "$tmp/bindprobe.c" $(pkg-config --cflags portrsv) \
	$(pkg-config --static --libs portrsv | sed 's/-lportrsv/-l:libportrsv.a/')
check "the static program runs without libportrsv.so.0" \
	sh -c "! ldd '$tmp/bindprobe-static' | grep -q libportrsv && '$tmp/bindprobe-static' tcp 0"
[ -x "$tmp/bindprobe" ] || die "no bind tool: the smoke path cannot run"

# 4. The smoke path, with the installed command.
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
cgroot=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
[ -n "$cgroot" ] || die "no cgroup v2 mount in /proc/self/mountinfo"
cg=$cgroot/portrsv-pkgtest-$$
mkdir "$cg" || die "mkdir $cg"
check "portrsv load --cgroup $cg (a scratch cgroup, not the root)" "$SBIN" load --cgroup "$cg"
check "portrsv status" "$SBIN" status

# Inside the scratch cgroup and a private netns: each step prints "STEP ok|FAIL detail".
cat > "$tmp/smoke.sh" <<'EOF'
set -u
cg=$1 probe=$2 SBIN=$3
echo $$ > "$cg/cgroup.procs" || { echo "join-cgroup FAIL"; exit 1; }
step() { local s=$1; shift; if out=$("$@" 2>&1); then echo "$s ok $out"; else echo "$s FAIL $out"; fi; }
token=$("$SBIN" add tcp 5000 10 --comment pkg-test)
# (A token is a secret: it is checked, not printed.)
[[ $token =~ ^0x[0-9a-f]{16}$ ]] && echo "add ok a token" || echo "add FAIL no token"
step show sh -c "'$SBIN' show tcp | grep -Eq '^ +5000 +5009 '"
step lookup sh -c "[ \"\$('$SBIN' lookup tcp 5000 10)\" = '$token' ]"
out=$("$probe" tcp 5003); [ "$out" = "refused EACCES" ] && echo "denied ok $out" || echo "denied FAIL $out"
step outside "$probe" tcp 5010
step token sh -c "[ \"\$('$probe' tcp 5003 '$token')\" = 'bound 5003' ]"
out=$("$probe" tcp 0 "$token"); p=${out#bound }
[[ $out == bound* ]] && ((p >= 5000 && p <= 5009)) && echo "bind0 ok $out" || echo "bind0 FAIL $out"
step why sh -c "'$SBIN' why tcp 5003 | grep -q 5000"
# The completion of the installed package offers the stored block.
step completion bash -c ". /usr/share/bash-completion/bash_completion
	. /usr/share/bash-completion/completions/portrsv
	COMP_LINE='portrsv delete tcp ' COMP_POINT=19 COMP_WORDS=(portrsv delete tcp '') COMP_CWORD=3
	_portrsv portrsv '' tcp; [[ \" \${COMPREPLY[*]} \" == *' 5000 '* ]] || { echo \"\${COMPREPLY[*]}\"; exit 1; }"
step delete "$SBIN" delete tcp 5000 10
step after-delete sh -c "[ \"\$('$probe' tcp 5003)\" = 'bound 5003' ]"
echo "end ok"
EOF
unshare -n bash "$tmp/smoke.sh" "$cg" "$tmp/bindprobe" "$SBIN" > "$tmp/smoke.out" 2>&1
while read -r s r detail; do
	case $r in
	ok) ok "smoke: $s${detail:+ ($detail)}" ;;
	*) bad "smoke: $s: $r $detail" ;;
	esac
done < "$tmp/smoke.out"
grep -q '^end ok' "$tmp/smoke.out" || bad "smoke: it did not run to its end"
check "portrsv unload" "$SBIN" unload
check "unload removed the pins" test ! -e "$pins"
rmdir "$cg" && cg=""

# 5. Purge, and nothing of the packages is left.
check "apt-get purge ${PKGS[*]}" env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "${PKGS[@]}"
installed=""
for p in "${PKGS[@]}"; do
	check "$p is gone" sh -c "! dpkg-query -W -f='\${db:Status-Abbrev}' $p 2>/dev/null | grep -q '^.i'"
done
left=""
for f in "$SBIN" "$unit" /etc/systemd/system/sysinit.target.wants/portrsv.service \
	/usr/share/bash-completion/completions/portrsv /usr/include/portrsv.h /usr/include/portrsv \
	/usr/lib/*/libportrsv.so.0 /usr/lib/*/libportrsv.a /usr/lib/*/pkgconfig/portrsv.pc \
	/usr/share/man/man8/portrsv.8.gz /usr/share/doc/portrsv /var/lib/portrsv; do
	[ -e "$f" ] || [ -L "$f" ] && left="$left $f"
done
check "no file of the packages is left${left:+:$left}" test -z "$left"
extra=$(comm -13 "$tmp/before" <(installed_pkgs) | tr '\n' ' ')
if [ -n "${extra// /}" ]; then
	# shellcheck disable=SC2086
	check "purge what the install pulled in: $extra" \
		env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q $extra
fi
finish
