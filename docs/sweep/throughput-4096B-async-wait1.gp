# SPDX-License-Identifier: Apache-2.0
# Written by `shardwal bench --sweep`; re-render with: gnuplot throughput-4096B-async-wait1.gp
# (in this directory). One data block per line of the chart: writers, value.
$d0 << EOD
1 110465.9337
4 189722.2146
16 269882.7853
64 199567.0414
256 224531.689
EOD
$d1 << EOD
1 194020.3276
4 325153.044
16 347251.9506
64 325140.7328
256 311094.298
EOD
$d2 << EOD
1 205396.6582
4 334749.9906
16 321193.4671
64 294498.0973
256 273842.8018
EOD
$d3 << EOD
1 304568.1702
4 315879.1252
16 285449.6274
64 312730.2566
256 232869.689
EOD
$d4 << EOD
1 348875.3961
4 369754.8665
16 322073.3853
64 284548.7089
256 244774.1154
EOD
$d5 << EOD
1 186026.4715
4 196393.9298
16 177666.272
64 177946.404
256 172452.528
EOD
$d6 << EOD
1 66802.29668
4 61459.63631
16 43392.49165
64 37491.77725
256 31811.91731
EOD
set title "records/s vs writers: 4096-byte records, durability async, appends never wait" noenhanced
set xlabel "writers"
set ylabel "records/s"
set logscale x 2
set logscale y 10
set grid
set key outside right top noenhanced
set style data linespoints
set terminal pngcairo size 1100,650
set output "throughput-4096B-async-wait1.png"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
set terminal svg size 1100,650 dynamic
set output "throughput-4096B-async-wait1.svg"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
unset output
