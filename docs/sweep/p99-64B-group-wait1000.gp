# SPDX-License-Identifier: Apache-2.0
# Written by `shardwal bench --sweep`; re-render with: gnuplot p99-64B-group-wait1000.gp
# (in this directory). One data block per line of the chart: writers, value.
$d0 << EOD
1 737.279
4 5472.255
16 25165.823
64 67633.151
256 124780.543
EOD
$d1 << EOD
1 4292.607
4 6815.743
16 40632.319
64 56885.247
256 156237.823
EOD
$d2 << EOD
1 6258.687
4 17432.575
16 61341.695
64 80216.063
256 150994.943
EOD
$d3 << EOD
1 23855.103
4 34340.863
16 73924.607
64 98566.143
256 209715.199
EOD
$d4 << EOD
1 606.207
4 18219.007
16 24379.391
64 42467.327
256 110624.767
EOD
$d5 << EOD
1 1851.391
4 24772.607
16 147849.215
64 603979.775
256 1300234.239
EOD
$d6 << EOD
1 7274.495
4 68681.727
16 329252.863
64 1388957.111
256 4772147.96
EOD
set title "p99 latency vs writers: 64-byte records, durability group, a wait every 1000 appends" noenhanced
set xlabel "writers"
set ylabel "p99 per wait (us)"
set logscale x 2
set logscale y 10
set grid
set key outside right top noenhanced
set style data linespoints
set terminal pngcairo size 1100,650
set output "p99-64B-group-wait1000.png"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
set terminal svg size 1100,650 dynamic
set output "p99-64B-group-wait1000.svg"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
unset output
