# GB/s vs payload size at S=1 shard, W=1 client: asyncps against raw ZeroMQ.
# Usage: gnuplot -e "csv='results.csv'; png='ps_throughput.png'" plot.gp
if (!exists("csv")) csv = 'ps.csv'
if (!exists("png")) png = 'ps_throughput.png'

# Rows of one op at S=1 W=1 (columns: op,floats,shards,workers,ops_per_s,gb_per_s,...).
series(op) = sprintf("< awk -F, '$1 == \"%s\" && $3 == 1 && $4 == 1 {print $2, $6}' '%s'", op, csv)

set terminal pngcairo size 960,600 noenhanced
set output png
set title "asyncps vs raw ZeroMQ on 127.0.0.1 (S=1 shard, W=1 client; medians)"
set xlabel "payload (float32 elements per message)"
set ylabel "GB/s (payload bytes, both directions)"
set logscale x 2
set format x "%.0s%c"
set grid
set key top left
set arrow from 1048853, graph 0 to 1048853, graph 1 nohead dashtype 3 lc rgb "gray"
set label "seed CNN (1,048,853)" at 1048853, graph 0.05 right offset -0.5, 0 textcolor rgb "gray"
plot series("commit-and-pull") using 1:2 with linespoints lw 2 pt 7 title "asyncps commit-and-pull", \
     series("raw-req-rep") using 1:2 with linespoints lw 2 pt 5 title "raw ZeroMQ REQ/REP (copying)", \
     series("push") using 1:2 with linespoints dashtype 2 pt 6 title "asyncps push (commit)", \
     series("pull") using 1:2 with linespoints dashtype 2 pt 4 title "asyncps pull", \
     series("raw-push-pull") using 1:2 with linespoints dashtype 2 pt 8 title "raw ZeroMQ PUSH/PULL (one way)"
