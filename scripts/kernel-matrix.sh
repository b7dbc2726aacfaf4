#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# kernel-matrix: boot each of Debian's kernel packages in the matrix in QEMU
# (scripts/vm-run.sh) and run there, as root, the smoke path (scripts/smoke.sh) and the kernel
# tests of build/tests/. Prints one pass/fail line per kernel; exits non-zero when any kernel
# fails. Build first: make all, the kernel tests and build/test-bin/portrsv (make kernel-matrix
# does).
#
#   scripts/kernel-matrix.sh [--serial | --parallel] [--tests "T..."] [--timeout S] [KERNEL...]
#
#   KERNEL      6.1 (Debian 12's stock kernel), 6.12 (its backports kernel), or a linux-image
#               .deb; default: $KERNEL_MATRIX, else "6.1 6.12"
#   --tests     the test programs of build/tests/ to run (default: $KERNEL_MATRIX_TESTS, else
#               every build/tests/kernel_* program)
#   --parallel  boot the kernels at the same time, one QEMU each (default when the machine
#               has at least 2 CPUs); --serial one after the other ($KERNEL_MATRIX_PARALLEL=0)
#   --timeout   seconds for each kernel's VM, boot included (default 3600)
#
# The console of each VM goes to build/vm/kernel-matrix-KERNEL.log and, prefixed with
# [KERNEL], to stdout. CI=true is set in the guest (unless CI is set otherwise here): there a
# skipped kernel test fails, but for a test that names the kernel feature it lacks.
set -euo pipefail

checkout=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$checkout"

# ---- in the guest: scripts/kernel-matrix.sh --in-guest TEST... -------------------------------
if [ "${1:-}" = "--in-guest" ]; then
	shift
	status=0
	echo "kernel-matrix-guest: kernel $(uname -r)"
	t0=$SECONDS
	if scripts/smoke.sh build/portrsv build/examples/bindtry; then
		echo "kernel-matrix-guest: smoke ok in $((SECONDS - t0)) s"
	else
		echo "kernel-matrix-guest: smoke FAIL in $((SECONDS - t0)) s"
		status=1
	fi
	for t in "$@"; do
		t0=$SECONDS rc=0
		echo "kernel-matrix-guest: start $t"
		# --verbose for the [SKIP] lines (a test naming the feature this kernel lacks);
		# the [RUN] and [PASS] line of every test are left out.
		set +e
		# As make kernel-test runs them: the command under test is the test build (with
		# fault injection), PORTRSV_RELEASE_BIN the one that ships.
		PORTRSV_BIN=$checkout/build/test-bin/portrsv \
			PORTRSV_RELEASE_BIN=$checkout/build/portrsv \
			PORTRSV_CNI_BIN=$checkout/build/portrsv-cni \
			PORTRSV_EXAMPLES=$checkout/build/examples \
			"build/tests/$t" --verbose 2>&1 | grep --line-buffered -vE '^\[(RUN |PASS)\]'
		rc=${PIPESTATUS[0]}
		set -e
		echo "kernel-matrix-guest: done $t exit $rc in $((SECONDS - t0)) s"
		[ $rc -eq 0 ] || status=1
	done
	exit $status
fi

# ---- on the host ---------------------------------------------------------------------------
usage() { sed -n '4,22p' "$0" | sed 's/^# \{0,1\}//'; }
kernels=() tests=${KERNEL_MATRIX_TESTS:-} timeout=3600
parallel=${KERNEL_MATRIX_PARALLEL:-}
while [ $# -gt 0 ]; do
	case "$1" in
	--serial) parallel=0; shift ;;
	--parallel) parallel=1; shift ;;
	--tests) [ $# -ge 2 ] || { usage >&2; exit 2; }; tests=$2; shift 2 ;;
	--timeout) [ $# -ge 2 ] || { usage >&2; exit 2; }; timeout=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	-*) echo "kernel-matrix: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	*) kernels+=("$1"); shift ;;
	esac
done
[ ${#kernels[@]} -gt 0 ] || read -r -a kernels <<<"${KERNEL_MATRIX:-6.1 6.12}"
if [ -z "$tests" ]; then
	tests=$(cd build/tests 2>/dev/null && ls kernel_* 2>/dev/null | tr '\n' ' ') || true
fi
read -r -a tests <<<"$tests"
[ ${#tests[@]} -gt 0 ] || { echo "kernel-matrix: no kernel tests in build/tests (make first)" >&2; exit 2; }
for f in build/portrsv build/portrsv-cni build/test-bin/portrsv build/examples/bindtry "${tests[@]/#/build/tests/}"; do
	[ -x "$f" ] || { echo "kernel-matrix: $f is missing: build first (make kernel-matrix)" >&2; exit 2; }
done
[ -n "$parallel" ] || { [ "$(nproc)" -ge 2 ] && parallel=1 || parallel=0; }
mkdir -p build/vm

pids=()
cleanup() {
	local p
	trap - EXIT INT TERM
	for p in ${pids[@]+"${pids[@]}"}; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'echo "kernel-matrix: interrupted" >&2; exit 130' INT TERM

logname() { local k=${1##*/}; echo "build/vm/kernel-matrix-${k%.deb}.log"; }

# One kernel: the VM's output to its log and, prefixed, to stdout; its status in LOG.rc.
run_one() {
	local k=$1 log rc=0
	log=$(logname "$k")
	: >"$log"
	{ scripts/vm-run.sh --kernel "$k" --timeout "$timeout" --env "CI=${CI:-true}" -- \
		scripts/kernel-matrix.sh --in-guest "${tests[@]}" 2>&1 || rc=$?
	  echo "kernel-matrix-host: vm-run exit $rc"; } |
		tee -a "$log" | sed -u "s/^/[$k] /"
}

t_all=$SECONDS
for k in "${kernels[@]}"; do
	if [ "$parallel" = 1 ]; then
		run_one "$k" &
		pids+=($!)
	else
		run_one "$k"
	fi
done
for p in ${pids[@]+"${pids[@]}"}; do wait "$p" || true; done
pids=()

# One line per kernel, from its log.
status=0
for k in "${kernels[@]}"; do
	log=$(logname "$k")
	summary=$(awk -v k="$k" '
		/^kernel-matrix-guest: kernel / { kver = $3 }
		/^kernel-matrix-guest: smoke ok/ { smoke = "ok" }
		/^kernel-matrix-guest: smoke FAIL/ { smoke = "FAIL" }
		/^kernel-matrix-guest: start / { cur = $3 }
		/^kernel-matrix-guest: done / { ran++; if ($5 != 0) { bad = bad sep $3; sep = ", " } }
		/Synthesis: Tested:/ { for (i = 1; i <= NF; i++) {
			if ($i == "Passing:") p += $(i + 1)
			if ($i == "Failing:") f += $(i + 1)
			if ($i == "Crashing:") f += $(i + 1) } }
		/^\[SKIP\]/ && !/Test is disabled/ { s++
			if (match($0, /lacks [^ ]+/)) { x = substr($0, RSTART + 6, RLENGTH - 6)
				if (!(x in lack)) { lack[x] = 1; lacks = lacks (lacks == "" ? "" : " ") x } } }
		/^vm-run: .*(timed out|did not start|boot failed|stopped|could not|unreachable|not found)/ {
			sub(/^vm-run: /, ""); vmerr = $0 }
		/^kernel-matrix-host: vm-run exit / { rc = $4 }
		/^\[ *[0-9]+\.[0-9]+\] (WARNING:|BUG:|Oops|Kernel panic|general protection)/ { kw++ }
		END {
			if (kver == "") kver = k
			if (smoke == "") smoke = "not run"
			ok = (rc == 0 && smoke == "ok" && f == 0 && bad == "" && ran == n)
			out = sprintf("%s: %s (smoke %s, %d passed, %d failed", kver, ok ? "pass" : "FAIL",
				smoke, p, f)
			if (s) out = out ", " s " skipped" (lacks != "" ? ": kernel lacks " lacks : "")
			if (bad != "") out = out "; failing: " bad
			if (vmerr != "") out = out "; " vmerr
			else if (ran < n) out = out "; " ran " of " n " test programs ran"
			if (kw) out = out "; " kw " kernel WARNING/BUG lines in the log"
			print out ")"
			exit !ok
		}' n=${#tests[@]} "$log") && ok=1 || ok=0
	secs=$(awk '/^vm-run: .* after [0-9]+ s$/ { t = $(NF - 1) } END { print t }' "$log")
	echo "kernel-matrix: ${summary:-$k: FAIL (no summary: see $log)}${secs:+ in $secs s}"
	[ $ok -eq 1 ] || status=1
done
echo "kernel-matrix: ${#kernels[@]} kernel(s) in $((SECONDS - t_all)) s; logs in build/vm/kernel-matrix-*.log"
exit $status
