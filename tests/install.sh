#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# make install / make uninstall in scratch DESTDIRs (no root needed, nothing outside them):
#  1. the default layout (PREFIX=/usr/local): every file where it belongs, the unit's
#     ExecStart following the command to sbin; the tree moved elsewhere, a small program
#     compiled and linked against it (shared and static) through PKG_CONFIG_PATH and
#     `pkg-config --define-prefix`, and run; uninstall leaves no file behind;
#  2. Debian's layout (PREFIX=/usr, multiarch LIBDIR, as debian/rules installs): units and
#     completion where systemd and bash-completion look, the program built through
#     PKG_CONFIG_SYSROOT_DIR; uninstall leaves no file behind;
#  3. UNITDIR= and COMPLETIONDIR= override.
# Expects `make` to have built the tree (make check-install does). Ends with one line:
# "install: N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 1
MAKE=${MAKE:-make}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
CC=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
check() { # check DESCRIPTION COMMAND...
	_what=$1
	shift
	if "$@" > "$tmp/out" 2>&1; then ok "$_what"; else bad "$_what"; sed 's/^/     /' "$tmp/out"; fi
}
files() { (cd "$1" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort); }

cat > "$tmp/probe.c" <<'EOF'
/* Uses both public headers and the library without privileges or loaded programs. */
#include <stdio.h>
#include <string.h>
#include <portrsv.h>
#include <portrsv/iphlpapi.h>

int main(void)
{
	ULONG64 token = 1;

	if (CreatePersistentTcpPortReservation(0, 1, &token) != ERROR_INVALID_PARAMETER)
		return 1;
	if (portrsv_associate(-1, 1) >= 0)
		return 1;
	printf("probe: %s\n", portrsv_strerror(-PORTRSV_ENOTLOADED));
	return 0;
}
EOF

# The files install must put under DESTDIR for prefix P, libdir L, sbin S, unit dir U,
# completion dir C and CNI plugin dir N: derived from the tree, as the Makefile does.
expected() {
	_p=$1 _l=$2 _s=$3 _u=$4 _c=$5 _n=$6
	{
		echo "${_s#/}/portrsv"
		echo "${_n#/}/portrsv-cni"
		for _f in libportrsv.a libportrsv.so libportrsv.so.0 pkgconfig/portrsv.pc; do
			echo "${_l#/}/$_f"
		done
		echo "${_p#/}/include/portrsv.h"
		for _f in include/portrsv/*.h; do echo "${_p#/}/$_f"; done
		for _f in man/*.[0-9]; do
			[ -e "$_f" ] && echo "${_p#/}/share/man/man${_f##*.}/${_f##*/}"
		done
		for _f in scripts/*.service scripts/*.path scripts/*.socket scripts/*.timer; do
			[ -e "$_f" ] && echo "${_u#/}/${_f##*/}"
		done
		echo "${_c#/}/portrsv"
	} | sort
}

layout() { # layout NAME DESTDIR EXPECTED-ARGS...: install's file list is exactly that
	_name=$1 _dir=$2
	shift 2
	expected "$@" > "$tmp/want"
	files "$_dir" > "$tmp/got"
	check "$_name: install put exactly the expected files" diff -u "$tmp/want" "$tmp/got"
}

unit_execstart() { # the ExecStart of each installed unit names SBINDIR/portrsv
	for _f in "$1"/*.service; do
		grep -q "^ExecStart=$2/portrsv " "$_f" || { echo "$_f: $(grep ExecStart "$_f")"; return 1; }
		! grep -q @BINDIR@ "$_f" || { echo "$_f: @BINDIR@ left"; return 1; }
	done
}

probe() { # probe NAME: compile probe.c with the flags in $cflags $libs, run it from $libpath
	# shellcheck disable=SC2086 # the flags are words
	"$CC" -o "$tmp/$1" "$tmp/probe.c" $cflags $libs && LD_LIBRARY_PATH=$libpath "$tmp/$1"
}

# 1. The default layout, then moved.
d=$tmp/default
if $MAKE -s install DESTDIR="$d" > "$tmp/log" 2>&1; then ok "default: make install"
else bad "default: make install"; cat "$tmp/log"; fi
layout default "$d" /usr/local /usr/local/lib /usr/local/sbin /usr/local/lib/systemd/system \
	/usr/local/share/bash-completion/completions /usr/local/lib/cni
check "default: unit ExecStart is /usr/local/sbin/portrsv" \
	unit_execstart "$d/usr/local/lib/systemd/system" /usr/local/sbin
check "default: portrsv.pc is relative to \${prefix}" \
	grep -qx "libdir=\${prefix}/lib" "$d/usr/local/lib/pkgconfig/portrsv.pc"
check "default: libportrsv.so is a link to libportrsv.so.0" \
	test "$(readlink "$d/usr/local/lib/libportrsv.so")" = libportrsv.so.0
mkdir -p "$tmp/moved"
mv "$d/usr/local" "$tmp/moved/portrsv"
m=$tmp/moved/portrsv
export PKG_CONFIG_PATH="$m/lib/pkgconfig"
cflags=$($PKG_CONFIG --define-prefix --cflags portrsv) libs=$($PKG_CONFIG --define-prefix --libs portrsv)
# (libbpf's own flags, from Requires.private, come along: Debian's libbpf.pc is multiarch, so
# --define-prefix misplaces its include dir, harmlessly; only portrsv's flags are checked.)
has() { case " $1 " in *" $2 "*) ;; *) echo "'$2' not in '$1'"; return 1 ;; esac; }
check "moved: pkg-config --define-prefix --cflags points into the moved tree" \
	has "$cflags" "-I$m/include"
check "moved: pkg-config --define-prefix --libs points into the moved tree" \
	has "$libs" "-L$m/lib -lportrsv"
libpath=$m/lib
check "moved: a program compiles, links and runs against the shared library" probe probe-shared
check "moved: it really uses the moved libportrsv.so.0" \
	sh -c "LD_LIBRARY_PATH='$m/lib' ldd '$tmp/probe-shared' | grep -q '$m/lib/libportrsv.so.0'"
libs=$($PKG_CONFIG --define-prefix --static --libs portrsv | sed 's/-lportrsv/-l:libportrsv.a/')
check "moved: and statically (pkg-config --static brings libbpf's libraries)" probe probe-static
check "moved: the static program needs no libportrsv.so" \
	sh -c "! ldd '$tmp/probe-static' | grep -q libportrsv"
unset PKG_CONFIG_PATH
mv "$m" "$d/usr/local"
$MAKE -s uninstall DESTDIR="$d" > "$tmp/log" 2>&1 || { cat "$tmp/log"; bad "default: make uninstall"; }
files "$d" > "$tmp/left"
check "default: make uninstall leaves no file" test ! -s "$tmp/left"
[ -s "$tmp/left" ] && sed 's/^/     left: /' "$tmp/left"

# 2. Debian's layout.
triplet=$($CC -print-multiarch 2>/dev/null)
[ -n "$triplet" ] || triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)
d=$tmp/debian
unitdir=$($PKG_CONFIG --variable=systemdsystemunitdir systemd 2>/dev/null)
[ -n "$unitdir" ] || unitdir=/usr/lib/systemd/system
compdir=$($PKG_CONFIG --variable=completionsdir bash-completion 2>/dev/null)
[ -n "$compdir" ] || compdir=/usr/share/bash-completion/completions
if $MAKE -s install DESTDIR="$d" PREFIX=/usr LIBDIR="/usr/lib/$triplet" > "$tmp/log" 2>&1
then ok "debian: make install PREFIX=/usr LIBDIR=/usr/lib/$triplet"
else bad "debian: make install"; cat "$tmp/log"; fi
# Debian's CNI plugin directory (containernetworking-plugins), not the multiarch libdir.
layout debian "$d" /usr "/usr/lib/$triplet" /usr/sbin "$unitdir" "$compdir" /usr/lib/cni
check "debian: unit ExecStart is /usr/sbin/portrsv" unit_execstart "$d$unitdir" /usr/sbin
check "debian: portrsv.pc libdir is \${prefix}/lib/$triplet" \
	grep -qx "libdir=\${prefix}/lib/$triplet" "$d/usr/lib/$triplet/pkgconfig/portrsv.pc"
export PKG_CONFIG_SYSROOT_DIR="$d" PKG_CONFIG_PATH="$d/usr/lib/$triplet/pkgconfig"
cflags=$($PKG_CONFIG --cflags portrsv) libs=$($PKG_CONFIG --libs portrsv)
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_PATH
check "debian: pkg-config with PKG_CONFIG_SYSROOT_DIR points into DESTDIR" \
	has "$libs" "-L$d/usr/lib/$triplet -lportrsv"
libpath=$d/usr/lib/$triplet
check "debian: a program builds against the tree through PKG_CONFIG_SYSROOT_DIR and runs" \
	probe probe-deb
$MAKE -s uninstall DESTDIR="$d" PREFIX=/usr LIBDIR="/usr/lib/$triplet" > "$tmp/log" 2>&1 ||
	{ cat "$tmp/log"; bad "debian: make uninstall"; }
files "$d" > "$tmp/left"
check "debian: make uninstall leaves no file" test ! -s "$tmp/left"

# 3. Overrides.
d=$tmp/override
$MAKE -s install DESTDIR="$d" UNITDIR=/etc/systemd/system COMPLETIONDIR=/etc/bash_completion.d \
	CNIDIR=/opt/cni/bin > "$tmp/log" 2>&1 || { cat "$tmp/log"; bad "override: make install"; }
layout override "$d" /usr/local /usr/local/lib /usr/local/sbin /etc/systemd/system \
	/etc/bash_completion.d /opt/cni/bin
$MAKE -s uninstall DESTDIR="$d" UNITDIR=/etc/systemd/system COMPLETIONDIR=/etc/bash_completion.d \
	CNIDIR=/opt/cni/bin > "$tmp/log" 2>&1 || { cat "$tmp/log"; bad "override: make uninstall"; }
files "$d" > "$tmp/left"
check "override: make uninstall leaves no file" test ! -s "$tmp/left"

echo "install: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
