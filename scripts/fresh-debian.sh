#!/usr/bin/env bash
# Run the README's first two commands on a fresh Debian 12 (bookworm) tree, as a new user would:
# as root, with nothing but what debootstrap's minbase variant installs (no make, no gcc, no
# sudo, no git). The tree is debootstrapped into build/fresh/root (cached as a tarball of the
# finished tree, so the next run only unpacks it), the checkout's committed HEAD is copied to
# /root/portrsv inside it, and each command runs in a chroot with /proc, /sys, /dev, the cgroup
# v2 mount and bpffs bound in and a tmpfs /run. Every mount lives in a private mount namespace
# of its own and is unmounted on every exit path; none ever shows on the host.
#
#   scripts/fresh-debian.sh              debootstrap or unpack, copy HEAD, run the two commands
#   scripts/fresh-debian.sh --worktree   copy the working tree as it is instead (development)
#   scripts/fresh-debian.sh --no-cache   debootstrap afresh even when the tarball exists
#   scripts/fresh-debian.sh --no-run     prepare the tree only (timings of the bootstrap)
#   scripts/fresh-debian.sh --also CMD   then run CMD too, in the same tree (repeatable; to try
#                                        a fix or look closer, e.g. --also 'make kernel-test')
#   scripts/fresh-debian.sh --clean      remove build/fresh
#   FRESH_CACHE=FILE    the tarball of the tree (default build/fresh/bookworm-minbase.tgz), e.g.
#                       outside a CI clone so that the next clone reuses it
#   FRESH_MIRROR=URL    the Debian mirror (default: this machine's apt source for bookworm)
#
# Streams each command's output (kept in build/fresh/log/), then prints one line per command
# (exit status, seconds, packages it installed) with the last lines of each failed one, and ends
# with `fresh-debian: pass` or `fresh-debian: fail`; exits non-zero on failure. The tree stays
# in build/fresh/root for a look until the next run. Needs root.
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd -P)/$(basename "$0")"
cd "$(dirname "$self")/.."
top=$(pwd -P)
fresh="$top/build/fresh"
root="$fresh/root"
cache=${FRESH_CACHE:-$fresh/bookworm-minbase.tgz} # FRESH_CACHE: keep it out of the checkout
suite=bookworm
say() { printf 'fresh-debian: %s\n' "$*"; }
die() { printf 'fresh-debian: %s\n' "$*" >&2; exit 1; }

# Mount points (field 5 of mountinfo) at or under $1, deepest first.
mounts_under() {
	awk -v p="$1" '$5 == p || index($5, p "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}
# Mount points whose filesystem type is $1 (the field after the " - " separator).
mounts_of_type() {
	awk -v t="$1" '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == t) print $5; break } }' \
		/proc/self/mountinfo
}
# Processes whose root directory is the tree: whatever a command left running in the chroot.
chroot_pids() {
	local d
	for d in /proc/[0-9]*; do
		[ "$(readlink "$d/root" 2>/dev/null)" = "$root" ] && echo "${d#/proc/}"
	done
	return 0
}
kill_chroot_pids() {
	local pids p
	pids=$(chroot_pids)
	[ -n "$pids" ] || return 0
	for p in $pids; do
		say "left running in the tree: pid $p $(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null)"
	done
	# shellcheck disable=SC2086
	kill -TERM $pids 2>/dev/null || true
	sleep 2
	pids=$(chroot_pids)
	# shellcheck disable=SC2086
	[ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
}
# Unmount everything under the tree; lazily as the last resort. Returns non-zero if any is left.
unmount_tree() {
	local m left
	for m in $(mounts_under "$root"); do
		umount "$m" 2>/dev/null || true
	done
	for m in $(mounts_under "$root"); do
		umount -R "$m" 2>/dev/null || umount -R -l "$m" 2>/dev/null || true
	done
	left=$(mounts_under "$root")
	[ -z "$left" ] || { say "still mounted: $left" >&2; return 1; }
}
# Remove the tree, never through a mount.
remove_tree() {
	[ -e "$root" ] || return 0
	unmount_tree || die "refusing to remove $root while something is mounted under it"
	rm -rf --one-file-system "$root"
}

# ---- Inside the private mount namespace: mount, run the commands, unmount. ----
if [ "${1:-}" = "--in-namespace" ]; then
	results="$2"
	# shellcheck disable=SC2317 # called by the traps
	teardown() {
		local rc=$?
		trap - EXIT INT TERM HUP
		kill_chroot_pids
		if unmount_tree; then
			say "unmounted everything under build/fresh/root"
		else
			rc=1
		fi
		exit "$rc"
	}
	trap teardown EXIT
	# A signal stops the run after the command in progress (which got it too, when it came to
	# the whole process group, as a terminal's ^C does), then the trap above unmounts.
	stop=
	trap 'stop=130' INT
	trap 'stop=143' TERM
	trap 'stop=129' HUP

	# The tree's / a mount point of its own, as a real host's is: tests that make "/" private
	# in a mount namespace of theirs (mount --make-rprivate /) need one.
	mount --bind "$root" "$root"
	mount -t proc proc "$root/proc"
	mount --rbind /sys "$root/sys"
	mount --make-rslave "$root/sys"
	# The cgroup v2 and bpffs mounts at the same paths as on the host, wherever they are, so
	# the tree's /proc/self/mountinfo shows them as the host's does (rbind /sys brought those
	# under /sys).
	for m in $(mounts_of_type cgroup2) $(mounts_of_type bpf); do
		case "$m" in /sys/*|"$root"|"$root"/*) continue ;; esac
		mkdir -p "$root$m"
		mount --bind "$m" "$root$m"
	done
	mount --rbind /dev "$root/dev"
	mount --make-rslave "$root/dev"
	mountpoint -q "$root/dev/pts" || mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts"
	mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root/run"
	mkdir -p "$root/run/lock" && chmod 1777 "$root/run/lock"
	# shellcheck disable=SC2016 # awk's $5, not the shell's
	cg2=$(chroot "$root" /usr/bin/awk '{ for (i = 7; i <= NF; i++) if ($i == "-") {
		if ($(i + 1) == "cgroup2") print $5; break } }' /proc/self/mountinfo | head -n 1)
	[ -n "$cg2" ] || die "no cgroup2 mount visible inside the tree"
	mountpoint -q "$root/sys/fs/bpf" || die "no bpffs at /sys/fs/bpf inside the tree"
	say "mounted in the tree: /proc, /sys (cgroup v2 at $cg2, bpffs at /sys/fs/bpf), /dev, /dev/pts, /run"

	status=0
	n=0
	while IFS= read -r cmd; do
		[ -z "$stop" ] || { say "interrupted: stopping before command $((n + 1))"; exit "$stop"; }
		n=$((n + 1))
		log="$fresh/log/cmd-$n.log"
		before=$(chroot "$root" dpkg-query -W -f='.\n' | wc -l)
		kb0=$(du -sk --one-file-system "$root" | cut -f1)
		printf '\n'
		say "[$n] # $cmd"
		t0=$EPOCHREALTIME
		set +e
		chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			TERM=dumb CI=true sh -c "cd /root/portrsv && $cmd" </dev/null 9>&- 2>&1 | tee "$log"
		rc=${PIPESTATUS[0]}
		set -e
		t1=$EPOCHREALTIME
		kill_chroot_pids
		after=$(chroot "$root" dpkg-query -W -f='.\n' | wc -l)
		kb1=$(du -sk --one-file-system "$root" | cut -f1)
		secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
		[ "$rc" -eq 0 ] || status=1
		printf '%s\t%s\t%s\t%s\t%s\n' "$rc" "$secs" "$((after - before))" \
			"$(((kb1 - kb0) / 1024))" "$cmd" >> "$results"
	done < "$fresh/commands"
	[ -z "$stop" ] || exit "$stop"
	exit "$status"
fi

# ---- On the host. ----
worktree=0 nocache=0 norun=0 clean=0
also=()
while [ $# -gt 0 ]; do
	a=$1
	shift
	case "$a" in
	--also) [ $# -gt 0 ] || die "--also needs a command"; also+=("$1"); shift ;;
	--worktree) worktree=1 ;;
	--no-cache) nocache=1 ;;
	--no-run) norun=1 ;;
	--clean) clean=1 ;;
	-h|--help) sed -n '2,24p' "$self" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option $a (see --help)" ;;
	esac
done
[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap, chroot and mounts need it)"
start=$EPOCHREALTIME
# Any unexpected failure on the host side still ends with the verdict line.
verdict='' interrupted=''
trap 'rc=$?; [ -n "$verdict" ] || [ "$rc" -eq 0 ] || say "fail (exit $rc)"' EXIT
trap 'interrupted=130; exit 130' INT
trap 'interrupted=143; exit 143' TERM
trap 'interrupted=129; exit 129' HUP

mkdir -p "$fresh"
exec 9> "$fresh/.lock"
flock -n 9 || die "another run holds build/fresh/.lock"

if [ "$clean" -eq 1 ]; then
	remove_tree
	rm -rf --one-file-system "$fresh"
	say "removed build/fresh"
	exit 0
fi

# The host's own Debian mirror: the first deb source for $suite (deb822 .sources, then
# sources.list). FRESH_MIRROR overrides it.
host_mirror() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v s="$1" 'BEGIN { RS = ""; FS = "\n" }
			{ types = uris = suites = ""
			  for (i = 1; i <= NF; i++) {
				if ($i ~ /^Types:/) types = " " substr($i, 7) " "
				if ($i ~ /^URIs:/) uris = substr($i, 6)
				if ($i ~ /^Suites:/) suites = " " substr($i, 8) " " }
			  if (types ~ / deb / && suites ~ (" " s " ")) { split(uris, u, " "); print u[1]; exit } }' \
			"$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk -v s="$1" '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
			if ($(i + 1) == s) print $i }' "$f"
	done
}
mirror=${FRESH_MIRROR:-$(host_mirror "$suite" | head -n 1)}
[ -n "$mirror" ] || die "no deb source for $suite in /etc/apt/sources.list{,.d}; set FRESH_MIRROR"
security=$(host_mirror "$suite-security" | head -n 1)
updates=$(host_mirror "$suite-updates" | head -n 1)

# The tree, fresh each run: unpack the cached tarball, or debootstrap and cache the result.
[ ! -e "$root" ] || say "removing the previous tree"
remove_tree
rm -rf "$fresh/log" "$fresh/commands" "$fresh/results"
mkdir -p "$fresh/log"
if [ -f "$cache" ] && [ "$nocache" -eq 0 ] && [ "$(cat "$cache.mirror" 2>/dev/null)" = "$mirror" ]; then
	say "unpacking the cached tree ${cache#"$top"/}"
	t0=$EPOCHREALTIME
	mkdir "$root"
	tar -xpzf "$cache" --numeric-owner --xattrs --xattrs-include='*' -C "$root"
	how="unpacked from the cache"
else
	if ! command -v debootstrap > /dev/null; then
		say "installing debootstrap"
		DEBIAN_FRONTEND=noninteractive apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			debootstrap debian-archive-keyring > /dev/null
	fi
	say "debootstrap --variant=minbase $suite from $mirror"
	t0=$EPOCHREALTIME
	# In a private mount namespace: the /proc and /sys debootstrap mounts in the tree go away
	# with it even if debootstrap dies half way.
	if ! unshare --mount --propagation private \
		debootstrap --variant=minbase "$suite" "$root" "$mirror" > "$fresh/log/debootstrap.log" 2>&1; then
		tail -n 20 "$fresh/log/debootstrap.log" >&2
		die "debootstrap failed; its log: build/fresh/log/debootstrap.log"
	fi
	rm -f "$root"/var/cache/apt/archives/*.deb
	t1=$EPOCHREALTIME
	say "debootstrap: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s; caching the tree"
	mkdir -p "$(dirname "$cache")"
	tar -czf "$cache.tmp.$$" --numeric-owner --xattrs --xattrs-include='*' -C "$root" .
	mv "$cache.tmp.$$" "$cache"
	printf '%s\n' "$mirror" > "$cache.mirror"
	how="debootstrapped"
fi
t1=$EPOCHREALTIME
boot_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
say "tree $how in $boot_secs s ($(chroot "$root" dpkg-query -W -f='.\n' | wc -l) packages, $(du -sh --one-file-system "$root" | cut -f1))"

# What the installer gives a new Debian 12 and debootstrap does not: updates and security in the
# apt sources (same hosts as this machine's), a resolver. Two things for the chroot's sake only,
# neither a package nor a file our scripts could lean on: policy-rc.d keeps package scripts from
# starting daemons in the chroot, where they would outlive it, and dpkg skips its fsyncs.
{
	printf 'deb %s %s main\n' "$mirror" "$suite"
	[ -z "$updates" ] || printf 'deb %s %s-updates main\n' "$updates" "$suite"
	[ -z "$security" ] || printf 'deb %s %s-security main\n' "$security" "$suite"
} > "$root/etc/apt/sources.list"
cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || : > "$root/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
# dpkg's fsync of every file costs minutes on a busy disk and proves nothing here.
printf 'force-unsafe-io\n' > "$root/etc/dpkg/dpkg.cfg.d/fresh-debian-unsafe-io"

# The checkout at /root/portrsv, in a /root that the unprivileged test user cannot traverse.
chmod 0700 "$root/root"
mkdir -m 0755 "$root/root/portrsv"
if [ "$worktree" -eq 1 ]; then
	git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
		tar -c --null --no-recursion --owner=0 --group=0 -f - -T - | tar -xf - -C "$root/root/portrsv"
	src="the working tree (uncommitted changes included)"
else
	git archive --format=tar HEAD | tar -xf - -C "$root/root/portrsv"
	src="HEAD $(git rev-parse --short HEAD)"
fi
say "copied $src to /root/portrsv"

# The README's first two commands: the first two command lines of its first ```sh block,
# without their trailing comments.
awk '/^```sh[[:space:]]*$/ && !in_block && !done { in_block = 1; next }
	in_block && /^```/ { in_block = 0; done = 1; next }
	in_block { sub(/[[:space:]]+#.*$/, ""); sub(/^[[:space:]]+/, ""); sub(/[[:space:]]+$/, "")
		if ($0 != "" && $0 !~ /^#/ && n < 2) { print; n++ } }' \
	"$root/root/portrsv/README.md" > "$fresh/commands"
[ "$(wc -l < "$fresh/commands")" -eq 2 ] ||
	die "README.md: no two command lines in its first \`\`\`sh block"
say "the README's first two commands:"
sed 's/^/    /' "$fresh/commands"
for c in "${also[@]}"; do
	printf '%s\n' "$c" >> "$fresh/commands"
	say "and with --also: $c"
done
want=$((2 + ${#also[@]}))
if [ "$norun" -eq 1 ]; then
	say "tree ready in build/fresh/root (--no-run)"
	exit 0
fi

# bpffs on the host first, so that the tree sees the same one.
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

: > "$fresh/results"
# While the namespace runs, a signal waits for it to stop and unmount, then the summary says so.
trap 'interrupted=130' INT
trap 'interrupted=143' TERM
trap 'interrupted=129' HUP
set +e
unshare --mount --propagation private -- "$BASH" "$self" --in-namespace "$fresh/results"
inner=$?
set -e
[ -z "$interrupted" ] || { say "interrupted (signal $((interrupted - 128)))"; inner=$interrupted; }

printf '\n'
say "tree: $how in $boot_secs s"
n=0
while IFS=$'\t' read -r rc secs pkgs mib cmd; do
	n=$((n + 1))
	if [ "$rc" -eq 0 ]; then word=ok; else word="FAILED (exit $rc)"; fi
	[ "$n" -le 2 ] || cmd="(--also) $cmd"
	say "[$n] $cmd: $word in $secs s, $pkgs packages installed, tree +$mib MiB; log: build/fresh/log/cmd-$n.log"
	[ "$rc" -eq 0 ] || grep -v '^\[----\] *$' "$fresh/log/cmd-$n.log" | tail -n 8 | sed 's/^/      | /'
done < "$fresh/results"
say "$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s in all"
left=$(mounts_under "$root")
if [ -n "$left" ]; then
	say "mounts left on the host under build/fresh/root: $left"
	inner=1
fi
if [ "$inner" -eq 0 ] && [ "$n" -eq "$want" ]; then
	verdict=pass
	say pass
	exit 0
fi
[ "$n" -eq "$want" ] || say "only $n of $want commands ran (namespace exit $inner)"
verdict=fail
say fail
exit 1
