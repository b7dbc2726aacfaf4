#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Tests of scripts/portrsv.bash-completion: sources it in bash (with bash-completion's helpers
# when installed, and once without them), sets COMP_WORDS as bash would split the line, and
# checks COMPREPLY. The stored blocks come from a stand-in portrsv that prints `show --json`,
# so no root and no loaded programs are needed; the /run/netns cases run as root only, in a
# private mount namespace with a tmpfs on /run/netns.
#   tests/completion.sh [COMPLETION_FILE]     (default: scripts/portrsv.bash-completion)
# Ends with one line: "completion: N passed, N failed".
cd "$(dirname "$0")/.." || exit 1
file=${1:-scripts/portrsv.bash-completion}
file=$(cd "$(dirname "$file")" && pwd)/$(basename "$file")
[ -r "$file" ] || { echo "completion: $file: not readable" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/cg/a.slice" "$tmp/cg/b.slice" "$tmp/bin"
: > "$tmp/cg/notadir"
own_ns=$(readlink /proc/self/ns/net)
own_ino=${own_ns#net:[}
own_ino=${own_ino%]}

# A stand-in portrsv: `show PROTO --json` prints what the real one would, with a reservation
# in another netns, keys in another order, and braces, quotes and a fake key in a comment.
cat > "$tmp/bin/portrsv" <<EOF
#!/bin/sh
[ "\$1" = show ] || exit 2
[ -e "$tmp/fail" ] && { echo "portrsv: show: Operation not permitted" >&2; exit 5; }
case "\$2" in
tcp) cat <<'JSON'
[
  {"proto": "tcp", "start": 5000, "count": 10, "end": 5009, "token": "0x1111111111111111", "owner": null, "netns": "net:[$own_ino]", "netns_cookie": 1, "comment": "web {pool}", "created": "2026-11-25T00:00:00Z", "denied": 0, "persistent": true},
  {"count": 1, "proto": "tcp", "comment": "a \"start\": 7, } odd one", "start": 6000, "netns": "net:[$own_ino]", "netns_cookie": 1},
  {"proto": "tcp", "start": 5000, "count": 20, "netns": "net:[4026532999]", "netns_cookie": 42, "comment": "", "owner": "/sys/fs/cgroup/x"},
  {"proto": "tcp", "start": 7000, "count": 100, "netns": "net:[$own_ino]", "netns_cookie": 1, "kind": "pool", "limit": 4, "in_use": 3},
  {"proto": "tcp", "start": 7010, "count": 3, "netns": "net:[$own_ino]", "netns_cookie": 1, "kind": "runtime", "pool": 7000, "pid": 1},
  {
    "proto": "tcp",
    "start": 8000,
    "count": 5,
    "netns": "green",
    "netns_ino": 4026532888,
    "netns_cookie": 7
  }
]
JSON
;;
udp) printf '[\n  {"proto": "udp", "start": 53, "count": 2, "netns": "net:[%s]", "netns_cookie": 1}\n]\n' "$own_ino" ;;
esac
EOF
chmod +x "$tmp/bin/portrsv"

# One bash per run, so that every case sees a fresh shell: prints "ok"/"FAIL" lines.
cat > "$tmp/cases.sh" <<'EOF'
# comp LINE: complete LINE (cursor at its end) as bash would split it, into COMPREPLY.
comp() {
	local line="$PORTRSV ${1#portrsv }" w
	COMP_LINE=$line COMP_POINT=${#line}
	COMP_WORDS=()
	# bash splits at blanks and makes each run of COMP_WORDBREAKS (= and : here) a word.
	for w in $line; do
		while [[ $w =~ ^([^=:]*)([=:]+)(.*)$ ]]; do
			[[ -n ${BASH_REMATCH[1]} ]] && COMP_WORDS+=("${BASH_REMATCH[1]}")
			COMP_WORDS+=("${BASH_REMATCH[2]}")
			w=${BASH_REMATCH[3]}
		done
		[[ -n $w ]] && COMP_WORDS+=("$w")
	done
	[[ $line == *' ' ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_portrsv portrsv "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" 2>"$TMP/err"
}
# expect LINE WORD...: COMPREPLY is exactly these words (in any order), and nothing on stderr.
expect() {
	local line=$1 got want
	shift
	comp "$line"
	got=$(printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | tr '\n' ' ')
	want=$(printf '%s\n' "$@" | sed '/^$/d' | sort | tr '\n' ' ')
	if [[ $got == "$want" && ! -s $TMP/err ]]; then
		echo "ok   [$MODE] '$line' -> ${got:-(nothing)}"
	else
		echo "FAIL [$MODE] '$line': got '${got}' want '${want}'$([[ -s $TMP/err ]] && printf '; stderr: %s' "$(head -c 200 "$TMP/err")")"
	fi
}
EOF

common_cases() {
	cat <<'EOF'
expect "portrsv " load unload attach detach add delete lookup run show why restore gc status monitor --help --version
expect "portrsv de" delete detach
expect "portrsv --v" --version
expect "portrsv add " tcp udp
expect "portrsv add u" udp
expect "portrsv add tcp 5000 10 " --owner --netns --comment --pool --limit --json
expect "portrsv add tcp 5000 10 --comment web --" --owner --netns --comment --pool --limit --json
expect "portrsv add tcp 5000 10 --comment " 
expect "portrsv add tcp 5000 10 --pool --l" --limit
expect "portrsv add tcp 5000 10 --pool --limit " 
expect "portrsv add tcp 5000 10 --pool --limit=" 
expect "portrsv add tcp 5000 10 --pool --limit 4 --p" --pool
expect "portrsv show " tcp udp
expect "portrsv show --" --json
expect "portrsv status --" --json
expect "portrsv monitor " --json --log --rate
expect "portrsv load --" --cgroup --json
expect "portrsv unload --"
expect "portrsv restore "
expect "portrsv restore --" --json
expect "portrsv gc "
expect "portrsv gc --" --json
expect "portrsv why tcp 80 --" --netns --json
expect "portrsv why " tcp udp
expect "portrsv lookup tcp 5000 10 --" --netns --json
expect "portrsv delete tcp 5000 10 --" --netns
expect "portrsv load --cgroup $CG/" $CG/a.slice $CG/b.slice
expect "portrsv load --cgroup $CG/a" $CG/a.slice
expect "portrsv attach $CG/b" $CG/b.slice
expect "portrsv add tcp 1 1 --owner=$CG/a" $CG/a.slice
expect "portrsv delete " tcp udp
expect "portrsv delete tcp " 5000 6000 7000
expect "portrsv delete tcp 5" 5000
expect "portrsv delete tcp 7000 " 100
expect "portrsv lookup tcp 7010 " 
expect "portrsv delete tcp 5000 " 10
expect "portrsv lookup udp " 53
expect "portrsv lookup udp 53 " 2
expect "portrsv delete tcp --netns=/proc/self/ns/net " 5000 6000 7000
expect "portrsv delete tcp 5000 10 " --netns
expect "portrsv lookup icmp "
expect "portrsv ru" run
expect "portrsv run " tcp udp
expect "portrsv run u" udp
expect "portrsv run tcp " 0
expect "portrsv run tcp 0 "
expect "portrsv run tcp 0 4 " --
expect "portrsv run tcp 5000 4 -" --
expect "portrsv run tcp 0 4 -- truncat" truncate
expect "portrsv run udp 0 1 -- no-such-command-portrsv"
expect "portrsv run tcp 0 4 truncat" truncate
expect "portrsv run tcp 0 4 -- ls $CG/a" $CG/a.slice
expect "portrsv run tcp 0 4 -- ls --netns $CG/b" $CG/b.slice
touch "$TMP/fail"
expect "portrsv delete tcp "
expect "portrsv lookup udp 53 "
rm -f "$TMP/fail"
EOF
}

# Names with colons: bash splits them at ':', bash-completion puts them together again, and
# what bash gets back is the part after the last colon of the word being completed.
colon_cases() {
	cat <<'EOF'
expect "portrsv delete tcp --netns net:[4026532999]:42 " 5000
expect "portrsv delete tcp --netns net:[4026532999]:42 5000 " 20
expect "portrsv delete tcp --netns net:[4026532888]:7 " 8000
expect "portrsv delete tcp 5000 10 --netns net:[40265329" [4026532999]:42
expect "portrsv delete tcp 5000 10 --netns net:[4026532999]:" 42
EOF
}

netns_cases() {
	cat <<'EOF'
expect "portrsv add tcp 1 1 --netns " /run/netns/blue /run/netns/red
expect "portrsv add tcp 1 1 --netns /run/netns/r" /run/netns/red
expect "portrsv add tcp 1 1 --netns=/run/netns/b" /run/netns/blue
expect "portrsv why tcp 80 --netns /run/net" /run/netns/blue /run/netns/red
expect "portrsv delete tcp 1 1 --netns " /run/netns/blue /run/netns/red green net:[4026532999]:42 net:[$OWN_INO]:1
EOF
}

# script MODE NETNS: the cases for one bash; MODE "bash-completion" loads its helpers first;
# NETNS "yes" adds the /run/netns cases on a tmpfs of fake entries (in a private mount ns).
script() {
	if [ "$2" = yes ]; then
		echo 'mkdir -p /run/netns && mount -t tmpfs portrsv-test /run/netns || exit 1'
		echo 'touch /run/netns/red /run/netns/blue'
	fi
	[ "$1" = bash-completion ] && echo '. /usr/share/bash-completion/bash_completion'
	echo ". '$file'"
	cat "$tmp/cases.sh"
	common_cases
	[ "$1" = bash-completion ] && colon_cases
	[ "$2" = yes ] && netns_cases
}

modes=plain
if [ -r /usr/share/bash-completion/bash_completion ]; then
	modes="bash-completion plain"
else
	echo "completion: bash-completion is not installed: testing without its helpers only"
fi
netns=no
if [ "$(id -u)" -eq 0 ] && unshare -m --propagation private true 2>/dev/null; then
	netns=yes
else
	echo "completion: not root: the /run/netns cases are skipped"
fi
out=$tmp/out
: > "$out"
for m in $modes; do
	script "$m" "$netns" > "$tmp/run.sh"
	set -- env
	[ "$netns" = yes ] && set -- unshare -m --propagation private env
	"$@" MODE="$m" TMP="$tmp" CG="$tmp/cg" PORTRSV="$tmp/bin/portrsv" OWN_INO="$own_ino" \
		bash --norc --noprofile "$tmp/run.sh" >> "$out" 2>&1
done
cat "$out"
pass=$(grep -c '^ok ' "$out")
fail=$(grep -vc '^ok ' "$out")
echo "completion: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
