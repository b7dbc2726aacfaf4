# Chart of the benchmark: bind cost against the number of reserved ports, portrsv next to the
# baseline (no program) and Landlock. Reads the CSV that `build/bench --csv FILE` writes.
#
#   gnuplot -e "csv='build/bench/bench.csv'; out='tests/bench/bench.png'" tests/bench/chart.gp
#
# CSV columns: 1 family, 2 case, 3 x (0 none, 1 one, 2 10k, 3 60k; -1 not on the x axis),
# 4 median ns, 5 ratio to baseline (paired, same run), 6 overhead ns, 7 wall ns, 8 bpf ns/op,
# 9 bind ns, 10 label, 11 samples.
#
# The y axis is the cost of the cycle relative to the baseline measured in the same run (the
# benchmark's "x base"), so that 1.05 reads as the target; the labels give the nanoseconds.
if (!exists("csv")) csv = 'build/bench/bench.csv'
if (!exists("out")) out = 'tests/bench/bench.png'
if (!exists("subtitle")) subtitle = ''

# Only the first 10 columns: the per-repetition samples make lines too long for gnuplot.
data = '< cut -d, -f1-10 '."'".csv."'"

set terminal pngcairo size 1400,1100 font "DejaVu Sans,11" linewidth 1.5
set output out
set datafile separator comma

# Column col of the row (family, case), or NaN.
pick(fam, id, col) = (strcol(1) eq fam && strcol(2) eq id) ? column(col) : NaN
onaxis(fam) = (strcol(1) eq fam && column(3) >= 0) ? column(3) : NaN

set multiplot layout 2,2 title "portrsv: cost of one socket() + bind() + close() cycle, port outside every reservation\n(CPU time relative to the same loop with no program attached, same run; labels: ratio and ns per cycle)\nreserved: 1 = one 1,000-port block per protocol; 10,000 = 5,000 one-port blocks per protocol; 60,000 = 4 blocks of 15,000 per protocol\n".subtitle font ",13"
set xrange [-0.4:3.4]
set xtics ("no reservation" 0, "1 reservation" 1, "10,000 reservations" 2, "60,000 ports" 3)
set ylabel "x baseline"
set format y "%.2f"
set grid ytics
set key below horizontal maxcols 2 font ",10" spacing 1.1
set offsets 0, 0, graph 0.15, 0
set bmargin 8

do for [fam in "tcp4 tcp6 udp4 udp6"] {
	famlabel = fam[1:3]." / IPv".fam[4:4]
	set autoscale y  # stats honours a fixed range: none while reading the values
	stats data skip 1 using ((strcol(1) eq fam && column(3) >= 0) || (strcol(1) eq fam && strcol(2)[1:8] eq "landlock") ? column(5) : NaN) nooutput
	lo = STATS_min - 0.01 < 0.97 ? STATS_min - 0.01 : 0.97
	stats data skip 1 using (pick(fam, "baseline", 4)) nooutput
	base = STATS_max
	set yrange [lo:*]  # the same floor in every panel unless a value is below it
	set title famlabel font ",12"
	# Landlock rows exist only when the kernel has Landlock ABI >= 4 (network rules).
	have_ll = int(system(sprintf("grep -c '^%s,landlock1,' '%s' || true", fam, csv)))
	if (fam[1:3] eq "tcp" && have_ll > 0) {
		stats data skip 1 using (pick(fam, "landlock1", 5)) nooutput
		ll1 = STATS_max
		stats data skip 1 using (pick(fam, "landlock1", 4)) nooutput
		ll1ns = STATS_max
		stats data skip 1 using (pick(fam, "landlock1000", 5)) nooutput
		ll1000 = STATS_max
		stats data skip 1 using (pick(fam, "landlock1000", 4)) nooutput
		ll1000ns = STATS_max
		plot 1 with lines dt 2 lw 2 lc rgb "#555555" title sprintf("baseline, no program: 1.00 (%.0f ns)", base), \
		     1.05 with lines dt 1 lw 1 lc rgb "#bbbbbb" title "target for portrsv: 1.05", \
		     ll1 with lines dt 3 lw 2.5 lc rgb "#2a9d8f" title sprintf("Landlock, 1 port allowed: %.3f (%.0f ns)", ll1, ll1ns), \
		     ll1000 with lines dt 4 lw 2.5 lc rgb "#e76f51" title sprintf("Landlock, 1,000 ports allowed: %.3f (%.0f ns)", ll1000, ll1000ns), \
		     data skip 1 using (onaxis(fam)):5 with linespoints pt 7 ps 1.4 lw 2.5 lc rgb "#d62828" title "portrsv attached", \
		     data skip 1 using (onaxis(fam)):5:(sprintf("%.3f\n%.0f ns", $5, $4)) with labels offset 0,1.6 font ",9" notitle
	} else {
		plot 1 with lines dt 2 lw 2 lc rgb "#555555" title sprintf("baseline, no program: 1.00 (%.0f ns)", base), \
		     1.05 with lines dt 1 lw 1 lc rgb "#bbbbbb" title "target for portrsv: 1.05", \
		     data skip 1 using (onaxis(fam)):5 with linespoints pt 7 ps 1.4 lw 2.5 lc rgb "#d62828" title "portrsv attached (Landlock has no UDP port rules)", \
		     data skip 1 using (onaxis(fam)):5:(sprintf("%.3f\n%.0f ns", $5, $4)) with labels offset 0,1.6 font ",9" notitle
	}
}
unset multiplot
