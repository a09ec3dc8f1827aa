# SPDX-License-Identifier: Apache-2.0
# Written by `shardwal bench --sweep`; re-render with: gnuplot throughput-256B-group-wait1000.gp
# (in this directory). One data block per line of the chart: writers, value.
$d0 << EOD
1 1440361.165
4 2181399.281
16 2256146.126
64 2295591.334
256 2376860.297
EOD
$d1 << EOD
1 1376958.121
4 1845238.94
16 2487926.091
64 2901119.434
256 3341649.296
EOD
$d2 << EOD
1 935881.8992
4 1547600.651
16 2744098.364
64 3281377.824
256 3060037.13
EOD
$d3 << EOD
1 137201.4986
4 240561.177
16 1701014.256
64 2139840.837
256 2931740.571
EOD
$d4 << EOD
1 1559742.415
4 2195861.633
16 3108704.051
64 3432869.449
256 2260444.52
EOD
$d5 << EOD
1 520249.446
4 437008.3972
16 579819.547
64 582444.0991
256 509630.1679
EOD
$d6 << EOD
1 123909.7329
4 114568.1896
16 103575.9399
64 77963.64109
256 49869.68718
EOD
set title "records/s vs writers: 256-byte records, durability group, a wait every 1000 appends" noenhanced
set xlabel "writers"
set ylabel "records/s"
set logscale x 2
set logscale y 10
set grid
set key outside right top noenhanced
set style data linespoints
set terminal pngcairo size 1100,650
set output "throughput-256B-group-wait1000.png"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
set terminal svg size 1100,650 dynamic
set output "throughput-256B-group-wait1000.svg"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
unset output
