# SPDX-License-Identifier: Apache-2.0
# Written by `shardwal bench --sweep`; re-render with: gnuplot throughput-4096B-group-wait1.gp
# (in this directory). One data block per line of the chart: writers, value.
$d0 << EOD
1 7395.82717
4 17268.37313
16 53516.86793
64 115392.4557
256 108592.3295
EOD
$d1 << EOD
1 5898.441978
4 13723.77605
16 43726.94621
64 80678.10118
256 69341.62835
EOD
$d2 << EOD
1 4719.276875
4 7988.390289
16 27895.35959
64 52694.83605
256 69124.37603
EOD
$d3 << EOD
1 4351.403605
4 8040.237363
16 8685.037866
64 18466.02841
256 21016.35724
EOD
$d4 << EOD
1 7823.054357
4 18979.41696
16 57971.62333
64 100085.863
256 98083.95274
EOD
$d5 << EOD
1 6452.595315
4 6253.71203
16 5978.525334
64 5255.066271
256 5367.594591
EOD
$d6 << EOD
1 5438.894621
4 9318.34337
16 17835.26526
64 25556.86578
256 23652.87293
EOD
set title "records/s vs writers: 4096-byte records, durability group, each append waits" noenhanced
set xlabel "writers"
set ylabel "records/s"
set logscale x 2
set logscale y 10
set grid
set key outside right top noenhanced
set style data linespoints
set terminal pngcairo size 1100,650
set output "throughput-4096B-group-wait1.png"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
set terminal svg size 1100,650 dynamic
set output "throughput-4096B-group-wait1.svg"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
unset output
