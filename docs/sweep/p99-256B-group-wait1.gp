# SPDX-License-Identifier: Apache-2.0
# Written by `shardwal bench --sweep`; re-render with: gnuplot p99-256B-group-wait1.gp
# (in this directory). One data block per line of the chart: writers, value.
$d0 << EOD
1 246.783
4 331.775
16 376.831
64 651.263
256 3571.711
EOD
$d1 << EOD
1 266.239
4 421.887
16 4161.535
64 7241.727
256 6225.919
EOD
$d2 << EOD
1 268.287
4 573.439
16 806.911
64 2965.503
256 34340.863
EOD
$d3 << EOD
1 622.591
4 2572.287
16 15990.783
64 18350.079
256 20185.087
EOD
$d4 << EOD
1 241.663
4 274.431
16 438.271
64 819.199
256 3833.855
EOD
$d5 << EOD
1 430.079
4 1261.567
16 7012.351
64 22020.095
256 276824.063
EOD
$d6 << EOD
1 264.191
4 585.727
16 1081.343
64 3473.407
256 12386.303
EOD
set title "p99 latency vs writers: 256-byte records, durability group, each append waits" noenhanced
set xlabel "writers"
set ylabel "p99 per append (us)"
set logscale x 2
set logscale y 10
set grid
set key outside right top noenhanced
set style data linespoints
set terminal pngcairo size 1100,650
set output "p99-256B-group-wait1.png"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
set terminal svg size 1100,650 dynamic
set output "p99-256B-group-wait1.svg"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
unset output
