# SPDX-License-Identifier: Apache-2.0
# Written by `shardwal bench --sweep`; re-render with: gnuplot throughput-256B-group-wait1.gp
# (in this directory). One data block per line of the chart: writers, value.
$d0 << EOD
1 7030.954279
4 19846.71301
16 63332.88756
64 178903.4364
256 182478.0256
EOD
$d1 << EOD
1 6795.199152
4 15674.49617
16 32044.88841
64 80278.69388
256 117045.5026
EOD
$d2 << EOD
1 5879.250437
4 12309.13202
16 33582.80802
64 54046.35666
256 59328.0997
EOD
$d3 << EOD
1 4000.154509
4 9454.802436
16 14655.86026
64 38267.71111
256 80243.28669
EOD
$d4 << EOD
1 7108.202275
4 23136.22893
16 57300.79368
64 157303.5479
256 186978.6404
EOD
$d5 << EOD
1 5924.063435
4 7044.685419
16 5129.254807
64 6841.781628
256 6410.162471
EOD
$d6 << EOD
1 6288.97977
4 12207.02933
16 24272.58585
64 38088.7069
256 46199.03953
EOD
set title "records/s vs writers: 256-byte records, durability group, each append waits" noenhanced
set xlabel "writers"
set ylabel "records/s"
set logscale x 2
set logscale y 10
set grid
set key outside right top noenhanced
set style data linespoints
set terminal pngcairo size 1100,650
set output "throughput-256B-group-wait1.png"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
set terminal svg size 1100,650 dynamic
set output "throughput-256B-group-wait1.svg"
plot $d0 using 1:2 title "shardwal 1 shard" lw 2 pt 7, $d1 using 1:2 title "shardwal 2 shards" lw 2 pt 7, $d2 using 1:2 title "shardwal 4 shards" lw 2 pt 7, $d3 using 1:2 title "shardwal 8 shards" lw 2 pt 7, $d4 using 1:2 title "single-log" lw 2 pt 7, $d5 using 1:2 title "naive" lw 2 pt 7, $d6 using 1:2 title "rocksdb" lw 2 pt 7
unset output
