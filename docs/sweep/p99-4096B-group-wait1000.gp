# SPDX-License-Identifier: Apache-2.0
# Written by `shardwal bench --sweep`; re-render with: gnuplot p99-4096B-group-wait1000.gp
# (in this directory). One data block per line of the chart: writers, value.
$d0 << EOD
1 125304.831
4 147849.215
16 270532.607
64 952107.007
256 2428452.479
EOD
$d1 << EOD
1 41156.607
4 71827.455
16 165675.007
64 675282.943
256 2181038.079
EOD
$d2 << EOD
1 61079.551
4 102760.447
16 185597.951
64 566231.039
256 1468006.399
EOD
$d3 << EOD
1 66584.575
4 310378.495
16 341569.249
64 541065.215
256 1283457.023
EOD
$d4 << EOD
1 27131.903
4 86507.519
16 106954.751
64 746586.111
256 1583798.154
EOD
$d5 << EOD
1 17660.79
4 153092.095
16 763363.327
64 1795162.111
256 4831838.207
EOD
$d6 << EOD
1 40210.811
4 132658.417
16 546581.464
64 1572333.222
256 10046271.45
EOD
set title "p99 latency vs writers: 4096-byte records, durability group, a wait every 1000 appends" noenhanced
set xlabel "writers"
set ylabel "p99 per wait (us)"
set logscale x 2
set logscale y 10
set grid
set key outside right top noenhanced
set style data linespoints
set terminal pngcairo size 1100,650
set output "p99-4096B-group-wait1000.png"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
set terminal svg size 1100,650 dynamic
set output "p99-4096B-group-wait1000.svg"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
unset output
