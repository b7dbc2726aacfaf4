#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# check-man.sh: lint the man pages in man/ and check that they have not drifted from the
# code. Needs man-db and groff; uses mandoc and lexgrog when present. Independent of the
# Makefile: run it from anywhere as tests/check-man.sh. Prints one line per check and exits
# 1 if any check failed (a warning is a failure).
#
#   lint     man --warnings (as lintian runs it), mandoc -T lint -W warning, lexgrog, and
#            no unescaped '-' where a minus or an option dash is meant
#   links    every man/NAME.3 other than portrsv.3 is exactly '.so man3/portrsv.3', and
#            'man NAME' finds every documented name in a man tree made of man/
#   drift    every command (user/cli/main.c) and option (user/cli/common.c) of the command, every exit status and getenv()
#            variable and every kernel feature of user/features.c is in portrsv.8; every PORTRSV_API function of include/portrsv.h
#            and every PORTRSV_WINAPI function and Windows code of
#            include/portrsv/iphlpapi.h and include/portrsv/mstcpip.h is in portrsv.3
#            with a link page; the store's
#            header and records are in portrsv-store.5; every page carries the Makefile's
#            VERSION; every portrsv page cited exists
set -eu
cd "$(dirname "$0")/.."

fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

command -v man >/dev/null || { echo "check-man: man (man-db) is not installed" >&2; exit 1; }
command -v groff >/dev/null || { echo "check-man: groff is not installed" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A man tree (man3/, man5/, man8/) made of man/*, so that .so links resolve as installed.
pages=0
for f in man/*; do
	sec=${f##*.}
	case $sec in
	[1-9]) ;;
	*) fail "$f: no section suffix"; continue ;;
	esac
	mkdir -p "$tmp/man$sec"
	cp "$f" "$tmp/man$sec/"
	pages=$((pages + 1))
done

is_link() { [ "$(head -c 4 "$1")" = ".so " ]; }

# --- lint -----------------------------------------------------------------------------
out=$(cd "$tmp" && for f in man*/*; do
	# lintian's manpage check: man's warnings at its own width and encoding.
	w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$f" 2>&1 >/dev/null)
	[ -z "$w" ] || printf '%s: %s\n' "$f" "$w"
done)
[ -z "$out" ] && ok "man --warnings: $pages pages, no warning" || fail "man --warnings:
$out"

if command -v mandoc >/dev/null; then
	# Link pages are the .so that dh_installman turns into symlinks; mandoc calls every .so
	# fragile, so it reads the pages they point to, and the links check covers them.
	out=$(cd "$tmp" && for f in man*/*; do is_link "$f" || echo "$f"; done |
		xargs mandoc -T lint -W warning 2>&1) || true
	[ -z "$out" ] && ok "mandoc -T lint -W warning: no message (link pages: see links)" ||
		fail "mandoc:
$out"
else
	echo "skip: mandoc is not installed (apt-get install mandoc)"
fi

if command -v lexgrog >/dev/null; then
	out=$(for f in man/*; do is_link "$f" || lexgrog "$f" >/dev/null 2>&1 ||
		echo "$f: lexgrog finds no whatis entry (NAME section)"; done)
	[ -z "$out" ] && ok "lexgrog: every page has a whatis entry" || fail "$out"
else
	echo "skip: lexgrog is not installed (man-db)"
fi

# A '-' that starts a word (an option, a negative number) must be written \-: groff prints
# a plain '-' as a hyphen, which cannot be copied into a shell. Comment lines are exempt.
out=$(grep -nE '(^|[[:space:]"([|=])-+[[:alnum:]]' man/* | grep -vE '^[^:]*:[0-9]+:\.\\"' || true)
[ -z "$out" ] && ok "hyphens: every minus and option dash is written \\-" || fail "hyphen used as minus sign:
$out"

if grep -nE '/(work|farm)/' man/* >/dev/null; then fail "machine-specific path: $(grep -nE '/(work|farm)/' man/*)"; fi

# --- links ----------------------------------------------------------------------------
natives=$(grep -E '^PORTRSV_API' include/portrsv.h | sed -E 's/^[^(]*[ *]([A-Za-z_0-9]+)\(.*/\1/')
windows=$(grep -E '^PORTRSV_WINAPI' include/portrsv/iphlpapi.h | sed -E 's/^[^(]*[ *]([A-Za-z_0-9]+)\(.*/\1/')
winsock=$(grep -E '^PORTRSV_WINAPI' include/portrsv/mstcpip.h | sed -E 's/^[^(]*[ *]([A-Za-z_0-9]+)\(.*/\1/')
[ -n "$natives" ] || fail "no PORTRSV_API function found in include/portrsv.h"
[ "$(echo "$windows" | wc -l)" -eq 6 ] || fail "want the six Windows functions in iphlpapi.h, found: $windows"
[ "$(echo $winsock)" = "WSAIoctl WSAGetLastError" ] || fail "want WSAIoctl and WSAGetLastError in mstcpip.h, found: $winsock"
windows="$windows $winsock"
functions="$natives $windows"

out=
for f in man/*.3; do
	[ "$f" = man/portrsv.3 ] && continue
	name=$(basename "$f" .3)
	[ "$(cat "$f")" = ".so man3/portrsv.3" ] || out="$out
$f: not exactly '.so man3/portrsv.3'"
	echo " $functions " | tr '\n' ' ' | grep -q " $name " || out="$out
$f: no public function $name in the headers"
done
for n in $functions; do
	[ -f "man/$n.3" ] || out="$out
$n: no link page man/$n.3"
	# What 'man NAME' does once installed: find the page, follow the .so, show portrsv(3).
	r=$(MANPATH="$tmp" MANWIDTH=200 man -P cat 3 "$n" 2>/dev/null | grep -c "$n" || true)
	[ "${r:-0}" -gt 0 ] || out="$out
$n: 'man 3 $n' does not show portrsv(3)"
done
[ -z "$out" ] && ok "links: $(echo $functions | wc -w) functions, each with a page that 'man' resolves" ||
	fail "links:$out"

# --- drift: the command ---------------------------------------------------------------
p8=man/portrsv.8
# The command table: { "load", cmd_load }, ...
cmds=$(sed -n '/cmds\[\] = {/,/^};/p' user/cli/main.c |
	grep -oE '\{ "[a-z]+", cmd_' | sed -E 's/\{ "([a-z]+)".*/\1/' | sort -u)
[ -n "$cmds" ] || fail "no command table found in user/cli/main.c"
out=
for c in $cmds; do
	grep -qE "^\.SY \"portrsv $c\"" "$p8" || out="$out
$c: not in the SYNOPSIS (.SY \"portrsv $c\")"
	awk -v c="$c" 'prev == ".TP" && $1 ~ /^\.B[IR]?$/ && $2 == c { found = 1 } { prev = $0 }
		END { exit !found }' "$p8" || out="$out
$c: no .TP entry in COMMANDS"
done
[ -z "$out" ] && ok "commands: $(echo $cmds | wc -w) commands of user/cli/main.c, each in portrsv.8's SYNOPSIS and COMMANDS" ||
	fail "commands:$out"

opts=$(grep -oE '\{ "[a-z-]+", (required|no|optional)_argument' user/cli/common.c | sed -E 's/\{ "([a-z-]+)".*/\1/')
out=
for o in $opts; do
	esc=$(echo "$o" | sed 's/-/\\\\-/g')
	grep -q "\\\\-\\\\-$esc" "$p8" || out="$out --$o"
done
[ -z "$out" ] && ok "options: $(echo $opts | wc -w) options of user/cli/common.c, each in portrsv.8" ||
	fail "options missing from portrsv.8:$out"

codes=$(grep -E '^#define PORTRSV_EXIT_[A-Z]+ +[0-9]+' include/portrsv/abi.h | awk '{ print $3 }')
out=
for n in $codes; do
	awk -v n="$n" '/^\.SH EXIT STATUS/ { in_s = 1; next } /^\.SH/ { in_s = 0 }
		in_s && prev == ".TP" && $0 == ".B " n { found = 1 } { prev = $0 }
		END { exit !found }' "$p8" || out="$out $n"
done
[ -z "$out" ] && ok "exit status: $(echo $codes | wc -w) codes of abi.h, each in portrsv.8's EXIT STATUS" ||
	fail "exit codes missing from portrsv.8's EXIT STATUS:$out"

envs=$(grep -ohE '(secure_)?getenv\("[A-Z_]+"' user/*.c user/cli/*.c | sed -E 's/.*"([A-Z_]+)"/\1/' | sort -u)
out=
for e in PORTRSV_PIN_DIR PORTRSV_STATE_DIR $envs; do
	awk -v e="$e" '/^\.SH ENVIRONMENT/ { in_s = 1; next } /^\.SH/ { in_s = 0 }
		in_s && $0 == ".B " e { found = 1 } END { exit !found }' "$p8" || out="$out $e"
done
[ -z "$out" ] && ok "environment: PORTRSV_PIN_DIR, PORTRSV_STATE_DIR and every getenv() of user/ in portrsv.8" ||
	fail "environment variables missing from portrsv.8's ENVIRONMENT:$out"

# The kernel features that status probes (user/features.c): each named in portrsv.8's KERNELS
# with the release that brought it.
out=
feats=0
if [ -f user/features.c ]; then
	for nf in $(awk -F'"' '/\.name = "/ { n = $2 } /\.since = "/ { print n "=" $2 }' user/features.c); do
		feats=$((feats + 1))
		grep -q "lacks ${nf%%=*} (Linux ${nf#*=})" "$p8" || out="$out ${nf%%=*}"
		grep -qE "(Linux|from Linux) ${nf#*=}" "$p8" || out="$out ${nf%%=*}(${nf#*=})"
	done
fi
[ -z "$out" ] && ok "kernel features: $feats probed by user/features.c, each in portrsv.8 with its release" ||
	fail "kernel features missing from portrsv.8:$out"

# --- drift: the library ---------------------------------------------------------------
p3=man/portrsv.3
name_sec=$(sed -n '/^\.SH NAME/,/^\.SH/p' "$p3" | tr ',\n' '  ')
synopsis=$(sed -n '/^\.SH SYNOPSIS/,/^\.SH/p' "$p3")
out=
for n in $functions; do
	echo " $name_sec " | grep -q " $n " || out="$out
$n: not in NAME"
	echo "$synopsis" | grep -q "[ *]$n(" || out="$out
$n: no prototype in SYNOPSIS"
	sed '/^\.SH SYNOPSIS/,/^\.SH DESCRIPTION/d' "$p3" | grep -qE "^\.BR $n \(\)" || out="$out
$n: not described (no '.BR $n ()' after the SYNOPSIS)"
done
[ -z "$out" ] && ok "functions: $(echo $natives | wc -w) of portrsv.h and $(echo $windows | wc -w) of iphlpapi.h, each in portrsv.3's NAME, SYNOPSIS and text" ||
	fail "functions:$out"

out=
for c in $(grep -oE '^#define (NO_ERROR|ERROR_[A-Z_]+) +PORTRSV_WIN_[A-Z_]+' include/portrsv/iphlpapi.h |
	   awk '{ print $2 "=" $3 }'); do
	name=${c%%=*}
	val=$(awk -v m="${c#*=}" '$1 == "#define" && $2 == m { print $3 }' include/portrsv/abi.h)
	grep -qF ".BR $name \" ($val)\"" "$p3" || out="$out $name($val)"
done
[ -z "$out" ] && ok "Windows codes: every code of iphlpapi.h, with its value, in portrsv.3" ||
	fail "Windows codes missing from portrsv.3:$out"

out=
for c in $(grep -oE '^#define (WSAE[A-Z]+|WSASYSCALLFAILURE) +PORTRSV_WSA[A-Z]+' include/portrsv/mstcpip.h |
	   awk '{ print $2 "=" $3 }'); do
	name=${c%%=*}
	val=$(awk -v m="${c#*=}" '$1 == "#define" && $2 == m { print $3 }' include/portrsv/abi.h)
	grep -qE "^\.BR? .*\b$name\"? \" \($val\)\"" "$p3" || out="$out $name($val)"
done
[ -z "$out" ] && ok "Winsock codes: every WSAE* code of mstcpip.h, with its value, in portrsv.3" ||
	fail "Winsock codes missing from portrsv.3:$out"

# --- drift: the store -----------------------------------------------------------------
p5=man/portrsv-store.5
hdr=$(sed -nE 's/^#define HEADER "([a-z-]+)"/\1/p' user/store.c)
ver=$(sed -nE 's/^#define PORTRSV_STORE_VERSION ([0-9]+)/\1/p' user/store.h)
out=
grep -qx "$(echo "$hdr" | sed 's/-/\\\\-/g') $ver" "$p5" || out="$out header '$hdr $ver';"
for r in $(grep -oE 'strcmp\(f\[0\], "[a-z]+"\)' user/store.c | sed -E 's/.*"([a-z]+)".*/\1/'); do
	grep -qE "^$r " "$p5" || out="$out record '$r';"
done
[ -z "$out" ] && ok "store: header '$hdr $ver' and every record type of user/store.c in portrsv-store.5" ||
	fail "store format drift in portrsv-store.5:$out"

# --- every page: version, citations -----------------------------------------------------
version=$(sed -nE 's/^VERSION +:= *([^ ]+)/\1/p' Makefile)
out=
for f in man/*; do
	is_link "$f" && continue
	grep -qE "^\.TH .*\"portrsv $version\"" "$f" || out="$out $f"
done
[ -z "$out" ] && ok "version: every page says portrsv $version (Makefile)" ||
	fail "pages without \"portrsv $version\" in .TH:$out"

out=
for ref in $(grep -ohE '^\.BR (portrsv[a-z_\\-]*|[A-Z][A-Za-z]+PortReservation) \([0-9]\)' man/* |
	     sed -E 's/^\.BR ([^ ]+) \(([0-9])\)/\1.\2/; s/\\-/-/g' | sort -u); do
	[ -f "man/$ref" ] || out="$out $ref"
done
[ -z "$out" ] && ok "citations: every portrsv page cited exists" || fail "cited pages that do not exist:$out"

if [ "$fails" -ne 0 ]; then
	echo "check-man: $fails check(s) failed"
	exit 1
fi
echo "check-man: $pages pages, every check passed"
