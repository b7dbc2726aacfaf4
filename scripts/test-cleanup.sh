#!/bin/sh
# Remove what a crashed kernel test left behind: its pins, cgroups and state directories.
# Only names with the tests' prefix are touched.
set -u
cg=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo 2>/dev/null)
for pin in /sys/fs/bpf/portrsv-test-* /sys/fs/bpf/portrsv-demo-* /sys/fs/bpf/portrsv-bench-*; do
	[ -d "$pin" ] || continue
	find "$pin" -depth -mindepth 1 -exec rm -rf {} + 2>/dev/null
	rmdir "$pin" 2>/dev/null
done
if [ -n "$cg" ]; then
	for d in "$cg"/portrsv-test-* "$cg"/portrsv-demo-* "$cg"/portrsv-bench-*; do
		[ -d "$d" ] || continue
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
fi
rm -rf /tmp/portrsv-test-* /tmp/portrsv-demo-* /tmp/portrsv-bench-* 2>/dev/null
exit 0
