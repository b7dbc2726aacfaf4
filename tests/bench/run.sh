#!/bin/bash
# Run the benchmark (as root), keep its table and CSV, draw the chart.
#
#   tests/bench/run.sh [bench options...]      e.g. --quick, --reps 15
#
# Environment: BENCH (the binary, default build/bench), BENCH_OUT (default
# build/bench-results). Writes $BENCH_OUT/bench.txt, bench.csv and, when gnuplot is installed
# (Debian: gnuplot-nox), bench.png. To publish a run, copy bench.png to tests/bench/bench.png,
# bench.csv to tests/bench/results.csv and bench.txt into tests/bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${BENCH:-build/bench}
out=${BENCH_OUT:-build/bench-results}
mkdir -p "$out"
rev=$(git describe --always --dirty 2>/dev/null || echo unknown)
{
	echo "source   portrsv $rev (git describe --always --dirty), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	"$bin" --csv "$out/bench.csv" "$@"
} | tee "$out/bench.txt"
if ! command -v gnuplot >/dev/null 2>&1; then
	echo "run.sh: gnuplot is not installed (apt-get install gnuplot-nox): no chart" >&2
	exit 0
fi
# The machine, for the chart's title; quotes would end gnuplot's string.
cpu=$(sed -n 's/^CPU *//p' "$out/bench.txt" | head -n1 | cut -d, -f1 | tr -d "'\"")
kernel=$(sed -n 's/^kernel *[^ ]* \([^ ]*\).*/\1/p' "$out/bench.txt" | head -n1 | tr -d "'\"")
gnuplot -e "csv='$out/bench.csv'; out='$out/bench.png'; subtitle='$cpu, Linux $kernel'" \
	tests/bench/chart.gp
echo "chart: $out/bench.png"
