# SPDX-License-Identifier: Apache-2.0
# Written by `shardwal bench --sweep`; re-render with: gnuplot throughput-4096B-group-wait1000.gp
# (in this directory). One data block per line of the chart: writers, value.
$d0 << EOD
1 175986.1735
4 270090.2469
16 251653.2677
64 216242.8644
256 150767.7195
EOD
$d1 << EOD
1 217665.2161
4 269325.1571
16 308228.4806
64 257639.6229
256 217115.0543
EOD
$d2 << EOD
1 203726.4715
4 267532.8717
16 329717.3294
64 250249.0916
256 339884.498
EOD
$d3 << EOD
1 163547.0734
4 252623.6241
16 264918.7968
64 305482.4877
256 356943.8055
EOD
$d4 << EOD
1 251705.7958
4 316632.7245
16 332097.5228
64 276148.5126
256 305005.8678
EOD
$d5 << EOD
1 115986.3369
4 117544.3214
16 116854.0969
64 90755.41324
256 76063.64396
EOD
$d6 << EOD
1 52557.8257
4 61609.44434
16 59216.81205
64 40669.42204
256 25468.47702
EOD
set title "records/s vs writers: 4096-byte records, durability group, a wait every 1000 appends" noenhanced
set xlabel "writers"
set ylabel "records/s"
set logscale x 2
set logscale y 10
set grid
set key outside right top noenhanced
set style data linespoints
set terminal pngcairo size 1100,650
set output "throughput-4096B-group-wait1000.png"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
set terminal svg size 1100,650 dynamic
set output "throughput-4096B-group-wait1000.svg"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
unset output
