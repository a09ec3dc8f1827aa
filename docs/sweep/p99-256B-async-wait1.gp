# SPDX-License-Identifier: Apache-2.0
# Written by `shardwal bench --sweep`; re-render with: gnuplot p99-256B-async-wait1.gp
# (in this directory). One data block per line of the chart: writers, value.
$d0 << EOD
1 0.431
4 1.127
16 1.615
64 2.079
256 1.407
EOD
$d1 << EOD
1 0.481
4 1.143
16 1.327
64 1.359
256 1.295
EOD
$d2 << EOD
1 0.491
4 1.103
16 1.239
64 1.303
256 1.031
EOD
$d3 << EOD
1 1.487
4 1.895
16 1.535
64 2.783
256 2.095
EOD
$d4 << EOD
1 0.471
4 1.719
16 1.623
64 1.887
256 3.103
EOD
$d5 << EOD
1 4.863
4 66.047
16 5.791
64 593.919
256 2441.215
EOD
$d6 << EOD
1 12.735
4 199.679
16 3555.327
64 5931.007
256 13565.951
EOD
set title "p99 latency vs writers: 256-byte records, durability async, appends never wait" noenhanced
set xlabel "writers"
set ylabel "p99 per append (us)"
set logscale x 2
set logscale y 10
set grid
set key outside right top noenhanced
set style data linespoints
set terminal pngcairo size 1100,650
set output "p99-256B-async-wait1.png"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
set terminal svg size 1100,650 dynamic
set output "p99-256B-async-wait1.svg"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
unset output
