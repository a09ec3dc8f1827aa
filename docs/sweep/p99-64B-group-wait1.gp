# SPDX-License-Identifier: Apache-2.0
# Written by `shardwal bench --sweep`; re-render with: gnuplot p99-64B-group-wait1.gp
# (in this directory). One data block per line of the chart: writers, value.
$d0 << EOD
1 182.271
4 307.199
16 471.039
64 835.583
256 4915.199
EOD
$d1 << EOD
1 246.783
4 446.463
16 565.247
64 1245.183
256 12189.695
EOD
$d2 << EOD
1 215.039
4 438.271
16 2588.671
64 1400.831
256 13107.199
EOD
$d3 << EOD
1 7503.871
4 6225.919
16 15400.959
64 31588.351
256 22806.527
EOD
$d4 << EOD
1 206.847
4 272.383
16 372.735
64 806.911
256 3112.959
EOD
$d5 << EOD
1 235.519
4 1384.447
16 6848.511
64 21364.735
256 285212.671
EOD
$d6 << EOD
1 243.711
4 585.727
16 1028.095
64 4390.911
256 15859.711
EOD
set title "p99 latency vs writers: 64-byte records, durability group, each append waits" noenhanced
set xlabel "writers"
set ylabel "p99 per append (us)"
set logscale x 2
set logscale y 10
set grid
set key outside right top noenhanced
set style data linespoints
set terminal pngcairo size 1100,650
set output "p99-64B-group-wait1.png"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
set terminal svg size 1100,650 dynamic
set output "p99-64B-group-wait1.svg"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
unset output
