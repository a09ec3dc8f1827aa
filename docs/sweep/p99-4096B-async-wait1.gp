# SPDX-License-Identifier: Apache-2.0
# Written by `shardwal bench --sweep`; re-render with: gnuplot p99-4096B-async-wait1.gp
# (in this directory). One data block per line of the chart: writers, value.
$d0 << EOD
1 1.615
4 3.551
16 52.479
64 58.879
256 107479.039
EOD
$d1 << EOD
1 1.735
4 11.647
16 53.247
64 479.231
256 32767.999
EOD
$d2 << EOD
1 2.463
4 9.087
16 41.983
64 864.255
256 25034.751
EOD
$d3 << EOD
1 3.487
4 10.175
16 55.807
64 1925.119
256 16515.071
EOD
$d4 << EOD
1 1.359
4 7.327
16 106.495
64 176.127
256 10158.079
EOD
$d5 << EOD
1 21.119
4 44.287
16 27.007
64 36.607
256 173015.039
EOD
$d6 << EOD
1 37.119
4 2441.215
16 4587.519
64 8224.767
256 16908.287
EOD
set title "p99 latency vs writers: 4096-byte records, durability async, appends never wait" noenhanced
set xlabel "writers"
set ylabel "p99 per append (us)"
set logscale x 2
set logscale y 10
set grid
set key outside right top noenhanced
set style data linespoints
set terminal pngcairo size 1100,650
set output "p99-4096B-async-wait1.png"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
set terminal svg size 1100,650 dynamic
set output "p99-4096B-async-wait1.svg"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
unset output
