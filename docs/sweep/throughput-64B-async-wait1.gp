# SPDX-License-Identifier: Apache-2.0
# Written by `shardwal bench --sweep`; re-render with: gnuplot throughput-64B-async-wait1.gp
# (in this directory). One data block per line of the chart: writers, value.
$d0 << EOD
1 6519185.71
4 5420675.35
16 4238623.862
64 3878033.745
256 4235683.851
EOD
$d1 << EOD
1 8022348.433
4 5889413.112
16 6076250.618
64 5367953.709
256 5278176.939
EOD
$d2 << EOD
1 6235851.624
4 5642652.874
16 5975458.29
64 3790089.429
256 5478280.559
EOD
$d3 << EOD
1 5674313.883
4 5137762.602
16 5618076.276
64 4211597.986
256 5375651.373
EOD
$d4 << EOD
1 6762043.218
4 5040098.394
16 3496710.323
64 3865421.024
256 4284805.98
EOD
$d5 << EOD
1 966590.0145
4 664704.463
16 820888.537
64 599243.0845
256 680394.0053
EOD
$d6 << EOD
1 185600.6859
4 127807.3008
16 85009.82769
64 65940.65494
256 46902.17521
EOD
set title "records/s vs writers: 64-byte records, durability async, appends never wait" noenhanced
set xlabel "writers"
set ylabel "records/s"
set logscale x 2
set logscale y 10
set grid
set key outside right top noenhanced
set style data linespoints
set terminal pngcairo size 1100,650
set output "throughput-64B-async-wait1.png"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
set terminal svg size 1100,650 dynamic
set output "throughput-64B-async-wait1.svg"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
unset output
