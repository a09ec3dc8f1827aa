# SPDX-License-Identifier: Apache-2.0
# Written by `shardwal bench --sweep`; re-render with: gnuplot p99-4096B-group-wait1.gp
# (in this directory). One data block per line of the chart: writers, value.
$d0 << EOD
1 222.207
4 501.759
16 452.607
64 2359.295
256 25427.967
EOD
$d1 << EOD
1 288.767
4 573.439
16 614.399
64 4915.199
256 39321.599
EOD
$d2 << EOD
1 395.263
4 3145.727
16 5013.503
64 14024.703
256 29229.055
EOD
$d3 << EOD
1 413.695
4 5013.503
16 30408.703
64 50331.647
256 147849.215
EOD
$d4 << EOD
1 229.375
4 305.151
16 417.791
64 3358.719
256 20054.015
EOD
$d5 << EOD
1 240.639
4 1310.719
16 6389.759
64 27394.047
256 162529.279
EOD
$d6 << EOD
1 294.911
4 720.895
16 2670.591
64 8781.823
256 41418.751
EOD
set title "p99 latency vs writers: 4096-byte records, durability group, each append waits" noenhanced
set xlabel "writers"
set ylabel "p99 per append (us)"
set logscale x 2
set logscale y 10
set grid
set key outside right top noenhanced
set style data linespoints
set terminal pngcairo size 1100,650
set output "p99-4096B-group-wait1.png"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
set terminal svg size 1100,650 dynamic
set output "p99-4096B-group-wait1.svg"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
unset output
