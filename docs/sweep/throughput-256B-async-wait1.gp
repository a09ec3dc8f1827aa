# SPDX-License-Identifier: Apache-2.0
# Written by `shardwal bench --sweep`; re-render with: gnuplot throughput-256B-async-wait1.gp
# (in this directory). One data block per line of the chart: writers, value.
$d0 << EOD
1 2081927.277
4 2682916.23
16 2451616.648
64 2128378.439
256 2259171.635
EOD
$d1 << EOD
1 3166128.204
4 3678038.672
16 3440539.664
64 3628405.372
256 3589439.13
EOD
$d2 << EOD
1 2892694.632
4 3648439.46
16 3640936.554
64 3237020.399
256 3883084.865
EOD
$d3 << EOD
1 3457895.063
4 2593816.747
16 2893333.625
64 2975916.318
256 3031109.762
EOD
$d4 << EOD
1 4178468.326
4 3819020.294
16 2734381.325
64 2784683.502
256 2528850.394
EOD
$d5 << EOD
1 785799.1792
4 608430.5925
16 666043.4371
64 608618.0589
256 591104.2641
EOD
$d6 << EOD
1 151758.1199
4 108271.9128
16 82522.90593
64 93203.28348
256 63180.36698
EOD
set title "records/s vs writers: 256-byte records, durability async, appends never wait" noenhanced
set xlabel "writers"
set ylabel "records/s"
set logscale x 2
set logscale y 10
set grid
set key outside right top noenhanced
set style data linespoints
set terminal pngcairo size 1100,650
set output "throughput-256B-async-wait1.png"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
set terminal svg size 1100,650 dynamic
set output "throughput-256B-async-wait1.svg"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
unset output
