# SPDX-License-Identifier: Apache-2.0
# Written by `shardwal bench --sweep`; re-render with: gnuplot p99-256B-group-wait1000.gp
# (in this directory). One data block per line of the chart: writers, value.
$d0 << EOD
1 7274.495
4 22151.167
16 136314.879
64 156237.823
256 383778.815
EOD
$d1 << EOD
1 8716.287
4 22282.239
16 42729.471
64 146800.639
256 185597.951
EOD
$d2 << EOD
1 12320.767
4 29884.415
16 72351.743
64 97517.567
256 272629.759
EOD
$d3 << EOD
1 53739.519
4 109576.191
16 128974.847
64 187695.103
256 442499.071
EOD
$d4 << EOD
1 2555.903
4 19267.583
16 26738.687
64 56623.103
256 274726.911
EOD
$d5 << EOD
1 2736.127
4 26738.687
16 169869.311
64 566231.039
256 1392508.927
EOD
$d6 << EOD
1 18087.935
4 84934.655
16 354418.687
64 1357487.473
256 5190945.524
EOD
set title "p99 latency vs writers: 256-byte records, durability group, a wait every 1000 appends" noenhanced
set xlabel "writers"
set ylabel "p99 per wait (us)"
set logscale x 2
set logscale y 10
set grid
set key outside right top noenhanced
set style data linespoints
set terminal pngcairo size 1100,650
set output "p99-256B-group-wait1000.png"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
set terminal svg size 1100,650 dynamic
set output "p99-256B-group-wait1000.svg"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
unset output
