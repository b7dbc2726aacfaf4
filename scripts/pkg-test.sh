#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The Debian packages, installed: build them (scripts/build-deb.sh), install them on this
# machine with apt-get, and run the smoke path (scripts/smoke.sh) with the INSTALLED command,
# /usr/sbin/portrsv, and examples/bindtry built against the installed -dev package through
# pkg-config (shared and static). Also: `man -w` for each installed page, `systemd-analyze
# verify` of the installed unit, the unit enabled but not started, the installed completion
# loaded by bash-completion. Then it purges the packages and checks that nothing of them is
# left.
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
saved_store="" installed=""

installed_pkgs() { dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 2>/dev/null |
	awk '$1 ~ /^.i/ { print $2 }' | sort; }

# shellcheck disable=SC2317 # run by the traps
cleanup() {
	trap - EXIT INT TERM
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
# The CNI plugin where runtimes look for it, answering VERSION as a runtime asks.
# shellcheck disable=SC2016 # expanded by that sh
check "/usr/lib/cni/portrsv-cni answers VERSION with 1.0.0 and 1.1.0" sh -c \
	'echo "{\"cniVersion\":\"1.0.0\"}" | CNI_COMMAND=VERSION /usr/lib/cni/portrsv-cni |
	jq -e "(.supportedVersions | index(\"1.0.0\") != null) and (.supportedVersions | index(\"1.1.0\") != null)"'
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

# 3. Programs against the installed -dev package: pkg-config, headers, the shared and the
#    static library. The examples are what a user would build first; bindtry is also the
#    bind tool of the smoke path below.
check "pkg-config --cflags --libs portrsv (installed .pc)" pkg-config --exists portrsv
for ex in bindtry reserve; do
	# shellcheck disable=SC2046
	check "cc examples/$ex.c \$(pkg-config --cflags --libs portrsv): builds against the installed -dev" \
		cc -o "$tmp/$ex" "examples/$ex.c" $(pkg-config --cflags --libs portrsv)
done
check "it runs with the installed libportrsv.so.0" \
	sh -c "ldd '$tmp/bindtry' | grep -Eq '=> (/usr)?/lib/[^ ]*/libportrsv\.so\.0 '"
# shellcheck disable=SC2046
check "static: cc ... \$(pkg-config --static --libs portrsv), libportrsv.a" \
	cc -o "$tmp/bindtry-static" examples/bindtry.c $(pkg-config --cflags portrsv) \
	$(pkg-config --static --libs portrsv | sed 's/-lportrsv/-l:libportrsv.a/')
check "the static program runs without libportrsv.so.0" \
	sh -c "! ldd '$tmp/bindtry-static' | grep -q libportrsv && '$tmp/bindtry-static' tcp 0"
[ -x "$tmp/bindtry" ] || die "no bind tool: the smoke path cannot run"
check "bash-completion loads the installed completion of portrsv" \
	bash -c '. /usr/share/bash-completion/bash_completion
		_completion_loader portrsv # 124 when it loaded one: "complete again"
		complete -p portrsv | grep -q _portrsv'

# 4. The smoke path (scripts/smoke.sh, as in the kernel matrix), with the installed command
#    and the bind tool built against the installed library.
check "smoke path with $SBIN" scripts/smoke.sh "$SBIN" "$tmp/bindtry"

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
