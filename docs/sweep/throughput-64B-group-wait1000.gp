# SPDX-License-Identifier: Apache-2.0
# Written by `shardwal bench --sweep`; re-render with: gnuplot throughput-64B-group-wait1000.gp
# (in this directory). One data block per line of the chart: writers, value.
$d0 << EOD
1 2375042.756
4 3222676.427
16 4022443.061
64 4441095.581
256 5716316.915
EOD
$d1 << EOD
1 1739778.406
4 3896867.132
16 3939637.403
64 5444743.579
256 5559067.345
EOD
$d2 << EOD
1 1541837.202
4 2732734.784
16 4710838.073
64 5466160.085
256 5922184.26
EOD
$d3 << EOD
1 566664.0702
4 1683014.578
16 2768533.649
64 5230241.256
256 5223260.841
EOD
$d4 << EOD
1 2647499.94
4 3213102.389
16 4105611.779
64 4852968.025
256 4396103.58
EOD
$d5 << EOD
1 714702.2529
4 518515.6061
16 652388.8261
64 611774.9331
256 516431.4494
EOD
$d6 << EOD
1 165142.928
4 142221.8998
16 121777.1896
64 85035.83674
256 54028.75174
EOD
set title "records/s vs writers: 64-byte records, durability group, a wait every 1000 appends" noenhanced
set xlabel "writers"
set ylabel "records/s"
set logscale x 2
set logscale y 10
set grid
set key outside right top noenhanced
set style data linespoints
set terminal pngcairo size 1100,650
set output "throughput-64B-group-wait1000.png"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
set terminal svg size 1100,650 dynamic
set output "throughput-64B-group-wait1000.svg"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
unset output
