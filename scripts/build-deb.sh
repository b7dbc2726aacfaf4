#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Build the Debian packages into build/deb/ and check them with lintian; nothing is written
# outside the checkout. The tree (as it is now, uncommitted changes included) is copied to
# build/deb/src and built there with dpkg-buildpackage -us -uc -b, whose results land in the
# parent directory: build/deb/*.deb, .buildinfo, .changes.
#   scripts/build-deb.sh        as root it installs what the build lacks (apt-get build-dep)
# Environment: LINTIAN=0 skips lintian; DEB_BUILD_OPTIONS is passed on (nocheck, parallel=N).
# Exits non-zero when the build fails or lintian reports an error or a warning.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
out=$top/build/deb
src=$out/src
start=$(date +%s)

need() { # need PACKAGE...: install those that are missing (root), or say which
	missing=
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "build-deb: missing:$missing (run as root to install them)" >&2
		exit 1
	fi
	echo "build-deb: installing$missing"
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
}

need dpkg-dev build-essential
[ "${LINTIAN:-1}" = 0 ] || need lintian

rm -rf "$out"
mkdir -p "$src"
# The files git knows (as they are now; deleted ones skipped) plus new ones it does not
# ignore; a tree without git: everything but build/.
if git rev-parse --show-toplevel >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do
			if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
		done | tar -C "$top" --null --no-recursion --files-from=- -cf - | tar -C "$src" -xf -
else
	tar -C "$top" --exclude=./build -cf - . | tar -C "$src" -xf -
fi

cd "$src"
if ! dpkg-checkbuilddeps >/dev/null 2>&1; then
	if [ "$(id -u)" -ne 0 ]; then
		dpkg-checkbuilddeps || true
		echo "build-deb: build dependencies missing (run as root to install them)" >&2
		exit 1
	fi
	echo "build-deb: installing the build dependencies"
	DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -q ./
fi

echo "build-deb: dpkg-buildpackage -us -uc -b in build/deb/src"
dpkg-buildpackage -us -uc -b > "$out/build.log" 2>&1 || {
	tail -n 60 "$out/build.log" >&2
	echo "build-deb: dpkg-buildpackage failed; the whole log is build/deb/build.log" >&2
	exit 1
}
cd "$out"
changes=$(ls ./*.changes)
echo "build-deb: built (log: build/deb/build.log):"
for f in ./*.deb; do
	printf '  %-48s %8s bytes\n' "${f#./}" "$(stat -c %s "$f")"
done

status=0
if [ "${LINTIAN:-1}" != 0 ]; then
	echo "build-deb: lintian $changes"
	lintian --display-info --display-experimental --pedantic --show-overrides \
		--tag-display-limit 0 --fail-on error,warning \
		"$changes" > lintian.log 2>&1 || status=1
	if [ -s lintian.log ]; then sed 's/^/  /' lintian.log; else echo "  (no tags)"; fi
	[ "$status" -eq 0 ] || echo "build-deb: lintian reported errors or warnings" >&2
fi
echo "build-deb: $(($(date +%s) - start)) s"
exit "$status"
