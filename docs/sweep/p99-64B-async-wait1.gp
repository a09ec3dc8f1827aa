# SPDX-License-Identifier: Apache-2.0
# Written by `shardwal bench --sweep`; re-render with: gnuplot p99-64B-async-wait1.gp
# (in this directory). One data block per line of the chart: writers, value.
$d0 << EOD
1 0.25
4 1.279
16 1.615
64 2.143
256 1.543
EOD
$d1 << EOD
1 0.281
4 1.175
16 1.167
64 1.063
256 1.359
EOD
$d2 << EOD
1 0.371
4 1.143
16 1.135
64 6.815
256 1.135
EOD
$d3 << EOD
1 0.401
4 1.087
16 0.943
64 1.807
256 1.119
EOD
$d4 << EOD
1 0.391
4 1.607
16 12.159
64 2.015
256 1.535
EOD
$d5 << EOD
1 3.487
4 78.847
16 11.199
64 565.247
256 2113.535
EOD
$d6 << EOD
1 9.215
4 203.775
16 3964.927
64 5734.399
256 15466.495
EOD
set title "p99 latency vs writers: 64-byte records, durability async, appends never wait" noenhanced
set xlabel "writers"
set ylabel "p99 per append (us)"
set logscale x 2
set logscale y 10
set grid
set key outside right top noenhanced
set style data linespoints
set terminal pngcairo size 1100,650
set output "p99-64B-async-wait1.png"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
set terminal svg size 1100,650 dynamic
set output "p99-64B-async-wait1.svg"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
unset output
