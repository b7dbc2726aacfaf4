#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# vm-run: boot one of Debian's own kernel packages in QEMU (software emulation, TCG) and run a
# command as root inside it, in the checkout, with the host's root file system shared
# read-only. The exit status is the command's.
#
# The guest sees the host's / over virtio-9p, read-only, so the checkout is at the same path,
# whatever it is. Its init (busybox, in a small initramfs) mounts that root, then inside it
# proc, sysfs, devtmpfs, tmpfs on /tmp /run /var/tmp /dev/shm, bpffs on /sys/fs/bpf and
# cgroup2 on /sys/fs/cgroup, binds the kernel package's own /lib/modules so that modprobe
# (and the kernel's module autoload) works, brings lo up and runs the command there. Its
# output goes to the serial console, streamed here; its exit status comes back through a
# second, writable 9p share of a results directory under build/vm/.
#
# Kernel packages come from the Debian archive that the host's apt is configured with,
# through a private apt directory (build/apt/): the host's /etc/apt is never changed. They
# are cached, extracted, in build/kernels/; when the archive cannot be reached, the last
# kernel cached for that VERSION is used.
set -euo pipefail

prog=vm-run
usage() {
	cat <<EOF
usage: scripts/vm-run.sh --kernel VERSION [options] -- CMD [ARGS...]

Boot Debian's kernel package VERSION in QEMU (TCG, no KVM) and run CMD as root inside, with
the current directory set to the checkout. Exits with CMD's exit status.

VERSION:
  6.1             Debian 12's stock kernel (linux-image-amd64 of bookworm/bookworm-security)
  6.12            Debian 12's backports kernel (linux-image-amd64 of bookworm-backports)
  FILE.deb        a linux-image .deb file

options:
  --timeout SECONDS   the whole run, boot included (default 1800)
  --boot-timeout SECONDS
                      from start until CMD starts in the guest (default 300)
  --mem MIB           guest memory (default 2048)
  --smp N             guest CPUs (default 1; TCG runs them all on one host thread)
  --env NAME=VALUE    set NAME in CMD's environment (repeatable); CI is passed on when set
  --quiet-kernel      print only the kernel's errors on the console, not its warnings
  -h, --help          this text

exit status: CMD's; 124 when the timeout or boot timeout ran out; 125 when the VM could not be
started or ended without reporting CMD's status (boot failure, kernel panic); 2 bad usage.

environment: VM_APT_MIRROR, VM_APT_SECURITY_MIRROR (Debian archive and security archive URIs;
default: those of the host's apt sources), VM_QEMU (default qemu-system-x86_64).
EOF
}
die() { echo "$prog: $*" >&2; exit 125; }
usage_error() { echo "$prog: $*" >&2; echo "try: scripts/vm-run.sh --help" >&2; exit 2; }

kernel='' timeout=1800 boot_timeout=300 mem=2048 smp=1 loglevel=4
envs=()
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) [ $# -ge 2 ] || usage_error "--kernel needs a VERSION"; kernel=$2; shift 2 ;;
	--kernel=*) kernel=${1#*=}; shift ;;
	--timeout) [ $# -ge 2 ] || usage_error "--timeout needs SECONDS"; timeout=$2; shift 2 ;;
	--timeout=*) timeout=${1#*=}; shift ;;
	--boot-timeout) [ $# -ge 2 ] || usage_error "--boot-timeout needs SECONDS"
		boot_timeout=$2; shift 2 ;;
	--boot-timeout=*) boot_timeout=${1#*=}; shift ;;
	--mem) [ $# -ge 2 ] || usage_error "--mem needs MIB"; mem=$2; shift 2 ;;
	--mem=*) mem=${1#*=}; shift ;;
	--smp) [ $# -ge 2 ] || usage_error "--smp needs N"; smp=$2; shift 2 ;;
	--smp=*) smp=${1#*=}; shift ;;
	--env) [ $# -ge 2 ] || usage_error "--env needs NAME=VALUE"; envs+=("$2"); shift 2 ;;
	--env=*) envs+=("${1#*=}"); shift ;;
	--quiet-kernel) loglevel=3; shift ;;
	-h|--help) usage; exit 0 ;;
	--) shift; break ;;
	*) usage_error "unknown argument '$1'" ;;
	esac
done
[ -n "$kernel" ] || usage_error "--kernel VERSION is required"
[ $# -gt 0 ] || usage_error "no command given after --"
for n in "$timeout" "$boot_timeout" "$mem" "$smp"; do
	[[ "$n" =~ ^[1-9][0-9]*$ ]] || usage_error "'$n' is not a positive number"
done
for e in ${envs[@]+"${envs[@]}"}; do
	[[ "$e" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || usage_error "--env '$e' is not NAME=VALUE"
done
[ "$(id -u)" -eq 0 ] || die "run as root (the guest's root is the host's file system, as root)"

checkout=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
build=$checkout/build
kcache=$build/kernels
aptdir=$build/apt
qemu=${VM_QEMU:-qemu-system-x86_64}
codename=bookworm # Debian 12: the release whose kernels "6.1" and "6.12" name

# Single quotes for sh (dash in the chroot, busybox ash in the initramfs).
shq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# What this script needs on the host; installed from Debian's packages when missing.
ensure_deps() {
	local missing=() p
	for p in qemu-system-x86 busybox-static cpio kmod xz-utils zstd; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "$prog: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 || true
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
		die "could not install ${missing[*]}"
}

# The archive URIs of the host's apt sources for the codename and its security suite.
archive_uris() {
	local targets
	mirror=${VM_APT_MIRROR:-} security=${VM_APT_SECURITY_MIRROR:-}
	targets=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 'Created-By: Packages' \
		2>/dev/null | sort -u) || true
	[ -n "$mirror" ] || mirror=$(awk -v s="$codename" '$2 == s { print $1; exit }' <<<"$targets")
	[ -n "$security" ] ||
		security=$(awk -v s="$codename-security" '$2 == s { print $1; exit }' <<<"$targets")
	[ -n "$mirror" ] || die "no '$codename' source in the host's apt configuration; set VM_APT_MIRROR"
}

apt_opts() {
	printf '%s\n' -o "Dir::Etc::SourceList=$aptdir/sources.list" \
		-o "Dir::Etc::SourceParts=$aptdir/sources.list.d" \
		-o "Dir::Etc::Preferences=$aptdir/preferences" \
		-o "Dir::Etc::PreferencesParts=$aptdir/preferences.d" \
		-o "Dir::State::Lists=$aptdir/lists" -o "Dir::Cache=$aptdir/cache" \
		-o "Dir::State::status=$aptdir/status" -o "APT::Sandbox::User=root" \
		-o "Acquire::Languages=none" -o "Acquire::Retries=3"
}

# The private apt directory: bookworm, its updates, security and backports, main only.
apt_setup() {
	local key=/usr/share/keyrings/debian-archive-keyring.gpg
	[ -r "$key" ] || die "$key is missing (package debian-archive-keyring)"
	archive_uris
	mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" \
		"$aptdir/sources.list.d" "$aptdir/preferences.d"
	: >"$aptdir/status"
	{
		echo "deb [signed-by=$key] $mirror $codename main"
		echo "deb [signed-by=$key] $mirror $codename-updates main"
		[ -z "$security" ] || echo "deb [signed-by=$key] $security $codename-security main"
		echo "deb [signed-by=$key] $mirror $codename-backports main"
	} >"$aptdir/sources.list"
}

# Resolve VERSION to a linux-image package, download and extract it into the cache (once);
# sets kver (the kernel release) and kroot (the extracted tree).
fetch_kernel() {
	local series=$1 target=() ver dep pkg pver deb lists_ok=0 opts
	mapfile -t opts < <(apt_opts)
	case "$series" in
	6.1) ;;
	6.12) target=(-t "$codename-backports") ;;
	esac
	apt_setup
	# The lists are fetched again when older than an hour (VM_APT_UPDATE=1: always).
	if [ "${VM_APT_UPDATE:-0}" != 1 ] && [ -n "$(find "$aptdir/lists/.updated" -mmin -60 2>/dev/null)" ] &&
		cmp -s "$aptdir/sources.list" "$aptdir/lists/.updated"; then
		lists_ok=1
	elif apt-get "${opts[@]}" -qq update >"$aptdir/update.log" 2>&1; then
		cp "$aptdir/sources.list" "$aptdir/lists/.updated"
		lists_ok=1
	elif compgen -G "$aptdir/lists/*_Packages" >/dev/null; then
		echo "$prog: apt-get update failed (see $aptdir/update.log); using the lists as they were" >&2
		lists_ok=1
	fi
	if [ $lists_ok -eq 1 ]; then
		ver=$(apt-cache "${opts[@]}" ${target[@]+"${target[@]}"} policy linux-image-amd64 |
			awk '/Candidate:/ { print $2; exit }')
		case "$ver" in
		"$series".*) ;;
		"" | "(none)") die "linux-image-amd64 not found in the $codename archive" ;;
		*) die "linux-image-amd64 of ${target[1]:-$codename} is $ver, not $series" ;;
		esac
		dep=$(apt-cache "${opts[@]}" show "linux-image-amd64=$ver" |
			awk -F': ' '$1 == "Depends" { print $2; exit }')
		pkg=$(sed -n 's/^\(linux-image-[^ ,]*\) (= \([^)]*\)).*/\1/p' <<<"$dep")
		pver=$(sed -n 's/^\(linux-image-[^ ,]*\) (= \([^)]*\)).*/\2/p' <<<"$dep")
		[ -n "$pkg" ] && [ -n "$pver" ] || die "cannot read the kernel package from '$dep'"
		kver=${pkg#linux-image-}
		if [ ! -e "$kcache/$kver/.complete" ]; then
			echo "$prog: downloading $pkg $pver" >&2
			rm -f "$kcache/${pkg}_"*.deb
			(cd "$kcache" && apt-get "${opts[@]}" -qq download "$pkg=$pver") >&2 ||
				die "apt-get download $pkg=$pver failed"
			deb=$(ls "$kcache/${pkg}_"*.deb | head -n 1)
			extract_kernel "$deb"
		fi
		echo "$kver" >"$kcache/last-$series"
	else
		[ -s "$kcache/last-$series" ] ||
			die "the archive is unreachable (see $aptdir/update.log) and no $series kernel is cached"
		kver=$(cat "$kcache/last-$series")
		echo "$prog: the archive is unreachable; using the cached $kver" >&2
	fi
	kroot=$kcache/$kver
	[ -e "$kroot/.complete" ] || die "the cached kernel $kroot is incomplete"
}

# Extract a linux-image .deb into $kcache/KVER and index its modules; sets kver.
extract_kernel() {
	local deb=$1 tmp
	tmp=$(mktemp -d "$kcache/.extract.XXXXXX")
	dpkg-deb -x "$deb" "$tmp" || { rm -rf "$tmp"; die "dpkg-deb -x $deb failed"; }
	kver=$(ls "$tmp/lib/modules" 2>/dev/null | head -n 1)
	[ -n "$kver" ] && [ -e "$tmp/boot/vmlinuz-$kver" ] || {
		rm -rf "$tmp"; die "$deb holds no kernel (boot/vmlinuz-*, lib/modules/*)"; }
	# Debian's package leaves modules.dep to its postinst.
	depmod -b "$tmp" "$kver" || { rm -rf "$tmp"; die "depmod failed for $kver"; }
	rm -rf "${kcache:?}/$kver"
	mv "$tmp" "$kcache/$kver"
	touch "$kcache/$kver/.complete"
}

# The kernel's ELF image, decompressed from the bzImage once: QEMU boots it through its PVH
# entry, which saves decompressing the kernel under TCG at every boot (seconds, with XZ).
# Prints the image to boot: the ELF when it has the PVH note, else the bzImage.
boot_image() {
	local bz=$kroot/boot/vmlinuz-$kver elf=$kroot/boot/vmlinux-$kver pos tmp
	if [ ! -e "$elf" ] && [ ! -e "$elf.none" ]; then
		tmp=$elf.tmp
		for pos in $(LC_ALL=C grep -abo -P '\xfd7zXZ\x00|\x28\xb5\x2f\xfd' "$bz" |
			LC_ALL=C sed 's/:\xfd.*/:xz/; s/:\x28.*/:zstd/'); do
			case ${pos#*:} in
			xz) tail -c +$((${pos%%:*} + 1)) "$bz" | xz -qdc >"$tmp" 2>/dev/null || true ;;
			*) tail -c +$((${pos%%:*} + 1)) "$bz" | zstd -qdc >"$tmp" 2>/dev/null || true ;;
			esac
			[ "$(head -c 4 "$tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] || continue
			# XEN_ELFNOTE_PHYS32_ENTRY (18): the PVH entry point
			if LC_ALL=C readelf -n "$tmp" 2>/dev/null | grep -q 'note type: (0x00000012)'; then
				mv "$tmp" "$elf"
				break
			fi
		done
		rm -f "$tmp"
		[ -e "$elf" ] || touch "$elf.none"
	fi
	[ -e "$elf" ] && echo "$elf" || echo "$bz"
}

# The initramfs: busybox, the modules that mounting the 9p root needs (in dependency order,
# decompressed), and init.
make_initramfs() {
	local dir=$1 out=$2 mdir=$kroot/lib/modules/$kver m f
	local -a order=()
	local -A seen=()
	add_module() { # NAME: add its dependencies first, then the module; built-in: nothing
		local name=$1 line deps d i f
		line=$(grep -E "(^|/)${name//_/[_-]}\.ko(\.xz|\.zst|\.gz)?:" "$mdir/modules.dep" || true)
		if [ -z "$line" ]; then
			grep -qE "(^|/)${name//_/[_-]}\.ko$" "$mdir/modules.builtin" ||
				die "module $name is neither in $kver's modules.dep nor built in"
			return 0
		fi
		f=${line%%:*}
		[ -z "${seen[$f]:-}" ] || return 0
		seen[$f]=1
		read -r -a deps <<<"${line#*:}"
		for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
			d=${deps[i]##*/}
			add_module "${d%%.ko*}"
		done
		order+=("$f")
	}
	for m in virtio_pci 9pnet_virtio 9p; do add_module "$m"; done
	mkdir -p "$dir"/{bin,dev,proc,sys,newroot,results,keep,modules}
	cp /bin/busybox "$dir/bin/busybox"
	: >"$dir/modules/order"
	for f in ${order[@]+"${order[@]}"}; do
		m=${f##*/}
		case "$m" in
		*.ko.xz) xz -dc "$mdir/$f" >"$dir/modules/${m%.xz}" ;;
		*.ko.zst) zstd -qdc "$mdir/$f" >"$dir/modules/${m%.zst}" ;;
		*.ko.gz) gzip -dc "$mdir/$f" >"$dir/modules/${m%.gz}" ;;
		*) cp "$mdir/$f" "$dir/modules/$m" ;;
		esac
		echo "${m%.ko*}.ko" >>"$dir/modules/order"
	done
	write_init >"$dir/init"
	chmod 0755 "$dir/init"
	(cd "$dir" && find . | cpio -o -H newc --quiet) >"$out"
}

# The guest's PID 1. It reads /results/vm.conf (CHECKOUT, KVER, KROOT) and runs
# /results/job.sh in the host's root; writes /results/started, then /results/rc.
write_init() {
	cat <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
say() { echo "vm-init: $*"; }
halt() { sync; poweroff -f; sleep 5; echo o >/proc/sysrq-trigger; }
fail() {
	say "boot failed: $*"
	[ -d /results/. ] && echo "$*" >/results/boot-error 2>/dev/null
	halt
}
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do
	insmod "/modules/$m" || fail "insmod $m"
done </modules/order
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none results /results ||
	fail "cannot mount the results share"
. /results/vm.conf || fail "cannot read /results/vm.conf"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=loose,ro hostroot /newroot ||
	fail "cannot mount the host's root (9p tag hostroot)"
R=/newroot
# The checkout may lie under a directory that a tmpfs covers below (a mktemp dir in /tmp):
# keep a handle on it and put it back after.
mount --bind "$R$CHECKOUT" /keep || fail "the checkout $CHECKOUT is not in the host's root"
mount -t proc proc $R/proc || fail "mount proc"
mount -t sysfs sysfs $R/sys || fail "mount sysfs"
mount -t devtmpfs devtmpfs $R/dev || fail "mount devtmpfs"
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts $R/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $R/dev/shm
for d in /tmp /var/tmp; do mount -t tmpfs -o mode=1777 tmpfs $R$d || fail "tmpfs on $d"; done
mount -t tmpfs -o mode=0755 tmpfs $R/run || fail "tmpfs on /run"
mkdir -p $R/run/netns $R/run/lock $R/run/vm
mount -t bpf -o mode=0700 bpf $R/sys/fs/bpf || fail "mount bpffs"
mount -t cgroup2 -o nsdelegate cgroup2 $R/sys/fs/cgroup || fail "mount cgroup2"
mount -t tracefs tracefs $R/sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs $R/sys/kernel/debug 2>/dev/null
if [ ! -d "$R$CHECKOUT/." ] || [ ! "$R$CHECKOUT/." -ef /keep/. ]; then
	mkdir -p "$R$CHECKOUT" && mount --bind /keep "$R$CHECKOUT" ||
		fail "cannot put the checkout back at $CHECKOUT"
fi
# The kernel package's modules: the kernel's own module autoload (a usermode helper, whose
# root is this initramfs) goes through the host's modprobe pointed at them; CMD's modprobe
# gets the same through MODPROBE_OPTIONS (see job.sh).
printf '#!/bin/sh\nexec chroot /newroot /sbin/modprobe -d "%s" "$@"\n' "$KROOT" >/bin/vm-modprobe
chmod 0755 /bin/vm-modprobe
chroot $R /sbin/modprobe -V >/dev/null 2>&1 && echo /bin/vm-modprobe >/proc/sys/kernel/modprobe ||
	say "warning: no /sbin/modprobe in the host's root (package kmod): no module autoload"
mount --bind /results $R/run/vm || fail "bind the results share"
ip link set lo up || fail "lo up"
hostname vm 2>/dev/null
read -r up _ </proc/uptime
say "$(uname -r): running the command (kernel up $up s)"
echo started >/results/started
chroot $R /bin/sh /run/vm/job.sh </dev/null >/dev/console 2>&1
rc=$?
echo $rc >/results/rc.tmp && mv /results/rc.tmp /results/rc
say "command exited with status $rc"
cd /
umount $R/run/vm 2>/dev/null
halt
INIT
}

ensure_deps
command -v "$qemu" >/dev/null || die "$qemu not found"
mkdir -p "$kcache" "$build/vm"

# Downloading and extracting is serialized between concurrent runs.
exec 9>"$kcache/.lock"
flock 9
case "$kernel" in
6.1 | 6.12) fetch_kernel "$kernel" ;;
*.deb)
	[ -r "$kernel" ] || usage_error "cannot read $kernel"
	kver=$(dpkg-deb -f "$kernel" Package) && kver=${kver#linux-image-}
	[ -e "$kcache/$kver/.complete" ] || extract_kernel "$kernel"
	kroot=$kcache/$kver ;;
*) usage_error "unknown kernel '$kernel' (6.1, 6.12 or a linux-image .deb)" ;;
esac
image=$(boot_image)
flock -u 9
exec 9>&-

# What a run killed with SIGKILL left (its QEMU went with it: --pdeathsig below).
find "$build/vm" -maxdepth 1 -name 'run.*' -mmin +1440 -exec rm -rf {} + 2>/dev/null || true
res=$(mktemp -d "$build/vm/run.XXXXXX")
qpid='' tpid=''
cleanup() {
	local s=$?
	trap - EXIT INT TERM
	[ -z "$qpid" ] || { kill "$qpid" 2>/dev/null && wait "$qpid" 2>/dev/null; } || true
	[ -z "$tpid" ] || { kill "$tpid" 2>/dev/null; wait "$tpid" 2>/dev/null; } || true
	rm -rf "$res"
	exit "$s"
}
trap cleanup EXIT
trap 'echo "$prog: interrupted" >&2; exit 130' INT TERM

make_initramfs "$res/initramfs" "$res/initrd.cpio"
rm -rf "$res/initramfs"
{
	echo "CHECKOUT=$(shq "$checkout")"
	echo "KVER=$(shq "$kver")"
	echo "KROOT=$(shq "$kroot")"
} >"$res/vm.conf"
{
	echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	echo "export HOME=/root TERM=dumb LANG=C.UTF-8"
	echo "export MODPROBE_OPTIONS=$(shq "-d $kroot")"
	[ -z "${CI:-}" ] || echo "export CI=$(shq "$CI")"
	for e in ${envs[@]+"${envs[@]}"}; do echo "export ${e%%=*}=$(shq "${e#*=}")"; done
	echo "cd $(shq "$checkout") || exit 125"
	printf 'exec'
	for a in "$@"; do printf ' %s' "$(shq "$a")"; done
	echo
} >"$res/job.sh"

echo "$prog: booting $kver (TCG, ${smp} CPU, ${mem} MiB)" >&2
: >"$res/console.log"
start=$SECONDS
# QEMU ends with this script, however it ends (parent death signal).
setpriv --pdeathsig KILL "$qemu" -accel tcg,thread=single -cpu "${VM_CPU:-max}" -smp "$smp" -m "$mem" \
	-nodefaults -display none -no-reboot -monitor none \
	-serial "file:$res/console.log" \
	-kernel "$image" -initrd "$res/initrd.cpio" \
	-append "console=ttyS0 loglevel=$loglevel panic=-1 mitigations=off rdinit=/init" \
	-fsdev "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap" \
	-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
	-fsdev "local,id=results,path=$res,security_model=none,multidevs=remap" \
	-device virtio-9p-pci,fsdev=results,mount_tag=results \
	</dev/null >"$res/qemu.log" 2>&1 &
qpid=$!
tail -n +1 -f --pid="$qpid" "$res/console.log" | sed -u 's/\r$//' &
tpid=$!

status='' booted=0
while kill -0 "$qpid" 2>/dev/null; do
	sleep 1
	elapsed=$((SECONDS - start))
	if [ $booted -eq 0 ] && [ -e "$res/started" ]; then
		booted=1
		echo "$prog: $kver: booted; the command started after $elapsed s" >&2
	fi
	if [ ! -e "$res/started" ] && [ -z "$status" ] && [ "$elapsed" -ge "$boot_timeout" ]; then
		status=124 msg="the guest did not start the command within $boot_timeout s (boot hung?)"
	elif [ -z "$status" ] && [ "$elapsed" -ge "$timeout" ]; then
		status=124 msg="timed out after $timeout s"
	fi
	if [ -n "$status" ]; then
		kill "$qpid" 2>/dev/null || true
		break
	fi
done
wait "$qpid" 2>/dev/null && qrc=0 || qrc=$?
qpid=
wait "$tpid" 2>/dev/null || true
tpid=
elapsed=$((SECONDS - start))
if [ -n "$status" ]; then
	echo "$prog: $kver: $msg" >&2
	exit "$status"
fi
if [ -s "$res/rc" ]; then
	rc=$(cat "$res/rc")
	echo "$prog: $kver: command exited with status $rc after $elapsed s" >&2
	exit "$rc"
fi
if [ -s "$res/boot-error" ]; then
	echo "$prog: $kver: boot failed: $(cat "$res/boot-error")" >&2
elif [ -e "$res/started" ]; then
	echo "$prog: $kver: the guest stopped while the command ran (kernel panic or crash?), after $elapsed s" >&2
else
	echo "$prog: $kver: the guest stopped before starting the command (qemu status $qrc)" >&2
fi
[ ! -s "$res/qemu.log" ] || sed 's/^/qemu: /' "$res/qemu.log" >&2
exit 125
