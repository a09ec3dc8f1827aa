# SPDX-License-Identifier: Apache-2.0
# Written by `shardwal bench --sweep`; re-render with: gnuplot throughput-64B-group-wait1.gp
# (in this directory). One data block per line of the chart: writers, value.
$d0 << EOD
1 8897.551238
4 20944.88996
16 63148.19459
64 152551.9036
256 173128.7577
EOD
$d1 << EOD
1 6151.745056
4 16189.94057
16 44871.95339
64 100750.2547
256 136462.7316
EOD
$d2 << EOD
1 6549.005802
4 15704.51568
16 31716.53468
64 82441.17097
256 135672.9166
EOD
$d3 << EOD
1 3220.430707
4 7916.037033
16 16932.10028
64 36255.18936
256 94922.6326
EOD
$d4 << EOD
1 8512.180932
4 23871.92503
16 61407.07909
64 154947.3277
256 206587.846
EOD
$d5 << EOD
1 7715.512974
4 6402.530315
16 6310.50921
64 6528.815636
256 5851.864935
EOD
$d6 << EOD
1 6924.039179
4 12502.20839
16 24064.92982
64 40963.48373
256 50056.86532
EOD
set title "records/s vs writers: 64-byte records, durability group, each append waits" noenhanced
set xlabel "writers"
set ylabel "records/s"
set logscale x 2
set logscale y 10
set grid
set key outside right top noenhanced
set style data linespoints
set terminal pngcairo size 1100,650
set output "throughput-64B-group-wait1.png"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
set terminal svg size 1100,650 dynamic
set output "throughput-64B-group-wait1.svg"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
unset output
