// SPDX-License-Identifier: Apache-2.0
// The live dashboard HttpEndpoint serves at "/": one self-contained page
// (inline CSS, vanilla JS, SVG charts drawn by the script; no external
// scripts, styles or fonts), so it works on a machine with no internet.
//
// It polls /metrics.json (every second; ?interval_ms=N changes that, at
// least 100) and derives everything from the difference of two snapshots:
// commits/s (appends), fsyncs/s, average batch (records per batch over the
// interval), append-to-durable latency p50/p99/p999 of the interval (from
// the histogram buckets; the since-open percentiles when buckets are
// absent), and per shard the buffered bytes and durable frontier. Rates use
// the snapshot's uptime_seconds as their clock (the browser's when absent).
//
// The charts' time axes are absolute clock times (HH:MM:SS, the browser's
// time zone) of the server's wall clock: start_time_seconds + uptime_seconds.
//
// Elements the tests (tests/http_test.cc) read, by data-testid: "updates"
// (snapshots received), "last-lsn", "durable-lsn", "replicated-lsn", "status", "commits-rate",
// "fsyncs-rate", "avg-batch", "p99", "fsync-p99", "write-rate",
// "checkpoint-lsn", "min-free", "errors-total", "js-errors" (script errors
// caught on the page; 0 when healthy), "shard-row" (one per shard), and the
// charts "chart-<name>", each with data-points (points drawn).
#pragma once

namespace shardwal {

inline constexpr const char* kDashboardHtml = R"shardwal_html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>shardwal dashboard</title>
<style>
:root {
  --bg: #0e1116; --panel: #161b22; --border: #262c36; --fg: #d6dde6; --muted: #8b97a5;
  --grid: #262c36; --ok: #3fb950; --bad: #f85149; --warn: #d29922;
  --c1: #58a6ff; --c2: #f0883e; --c3: #d2a8ff; --c4: #3fb950;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { display: flex; align-items: center; gap: 14px; padding: 12px 20px; border-bottom: 1px solid var(--border); }
header h1 { font-size: 18px; margin: 0; font-weight: 600; letter-spacing: .3px; }
.badge { padding: 2px 10px; border-radius: 10px; font-weight: 600; font-size: 12px; text-transform: uppercase;
  background: var(--border); color: var(--muted); }
.badge.ok { background: rgba(63,185,80,.15); color: var(--ok); }
.badge.failed { background: rgba(248,81,73,.15); color: var(--bad); }
.badge.stale { background: rgba(210,153,34,.15); color: var(--warn); }
#error { color: var(--bad); font-family: ui-monospace, monospace; font-size: 12px; overflow-wrap: anywhere; }
.meta { margin-left: auto; color: var(--muted); font-size: 12px; text-align: right; }
main { padding: 14px 20px 20px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(118px, 1fr)); gap: 10px; margin-bottom: 14px; }
.tile { background: var(--panel); border: 1px solid var(--border); border-radius: 6px; padding: 8px 12px; }
.tile .label { color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .4px; }
.tile .value { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; white-space: nowrap; }
.tile .unit { color: var(--muted); font-size: 12px; margin-left: 3px; font-weight: 400; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 10px; margin-bottom: 14px; }
.chart { background: var(--panel); border: 1px solid var(--border); border-radius: 6px; padding: 8px 10px 4px; }
.chart h2 { font-size: 13px; margin: 0 0 4px; font-weight: 600; display: flex; gap: 12px; align-items: baseline; }
.chart h2 .note { color: var(--muted); font-weight: 400; font-size: 11px; }
.legend { display: flex; gap: 12px; font-size: 11px; color: var(--muted); margin-left: auto; }
.legend span { white-space: nowrap; }
.legend i { display: inline-block; width: 10px; height: 3px; vertical-align: middle; margin-right: 4px; }
svg.plot { width: 100%; height: 170px; display: block; }
svg.plot text { fill: var(--muted); font-size: 10px; font-family: inherit; }
svg.plot .gridline { stroke: var(--grid); stroke-width: 1; }
svg.plot polyline { fill: none; stroke-width: 1.8; stroke-linejoin: round; }
section.panel { background: var(--panel); border: 1px solid var(--border); border-radius: 6px; padding: 8px 12px; }
section.panel h2 { font-size: 13px; margin: 0 0 6px; font-weight: 600; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: right; padding: 4px 8px; border-bottom: 1px solid var(--border); white-space: nowrap; }
th { color: var(--muted); font-weight: 500; font-size: 11px; text-transform: uppercase; }
th:first-child, td:first-child { text-align: left; }
td.bar { width: 30%; }
.barwrap { display: flex; align-items: center; gap: 8px; }
.bartrack { flex: 1; height: 8px; background: var(--bg); border-radius: 4px; overflow: hidden; min-width: 60px; }
.barfill { height: 100%; background: var(--c1); width: 0; }
.barfill.frontier { background: var(--c4); }
.dim { color: var(--muted); }
footer { color: var(--muted); font-size: 12px; padding: 0 20px 16px; }
footer a { color: var(--c1); }
</style>
</head>
<body>
<header>
  <h1>shardwal</h1>
  <span id="status" class="badge" data-testid="status">connecting</span>
  <span id="error" data-testid="error"></span>
  <div class="meta">
    <div>updates: <span id="updates" data-testid="updates">0</span>
      &middot; uptime <span id="uptime">&mdash;</span></div>
    <div id="updated" class="dim">waiting for the first snapshot</div>
  </div>
</header>
<main>
  <div class="tiles">
    <div class="tile"><div class="label">commits/s</div><div class="value"><span id="commits-rate" data-testid="commits-rate">&mdash;</span></div></div>
    <div class="tile"><div class="label">fsyncs/s</div><div class="value"><span id="fsyncs-rate" data-testid="fsyncs-rate">&mdash;</span></div></div>
    <div class="tile"><div class="label">avg batch</div><div class="value"><span id="avg-batch" data-testid="avg-batch">&mdash;</span><span class="unit">records</span></div></div>
    <div class="tile" title="append to durable, p99 over the last interval"><div class="label">p99 latency</div><div class="value"><span id="p99" data-testid="p99">&mdash;</span></div></div>
    <div class="tile"><div class="label">last LSN</div><div class="value"><span id="last-lsn" data-testid="last-lsn">&mdash;</span></div></div>
    <div class="tile"><div class="label">durable LSN</div><div class="value"><span id="durable-lsn" data-testid="durable-lsn">&mdash;</span></div></div>
    <div class="tile" title="the replicated watermark R: durable here and acknowledged by the replica (Durability::kReplicated); 0 without a replicator"><div class="label">replicated LSN</div><div class="value"><span id="replicated-lsn" data-testid="replicated-lsn">&mdash;</span></div></div>
    <div class="tile"><div class="label">watermark lag</div><div class="value"><span id="lag" data-testid="lag">&mdash;</span><span class="unit">LSNs</span></div></div>
    <div class="tile"><div class="label">buffered</div><div class="value"><span id="buffered" data-testid="buffered">&mdash;</span></div></div>
    <div class="tile" title="WAL bytes on disk: every segment file, prepared and recycled ones included"><div class="label">WAL size (retained)</div><div class="value"><span id="wal-bytes" data-testid="wal-bytes">&mdash;</span></div></div>
    <div class="tile" title="fdatasync p99 over the last interval, all shards (since open when the interval had none)"><div class="label">fdatasync p99</div><div class="value"><span id="fsync-p99" data-testid="fsync-p99">&mdash;</span></div></div>
    <div class="tile"><div class="label">write rate</div><div class="value"><span id="write-rate" data-testid="write-rate">&mdash;</span><span class="unit">MB/s</span></div></div>
    <div class="tile"><div class="label">checkpoint LSN</div><div class="value"><span id="checkpoint-lsn" data-testid="checkpoint-lsn">&mdash;</span></div></div>
    <div class="tile" title="the least free space of any shard's device"><div class="label">min free space</div><div class="value"><span id="min-free" data-testid="min-free">&mdash;</span></div></div>
    <div class="tile" title="failed calls since open, all kinds"><div class="label">errors</div><div class="value"><span id="errors-total" data-testid="errors-total">&mdash;</span></div></div>
  </div>
  <div class="charts">
    <div class="chart"><h2>fdatasync latency <span class="note">per interval, all shards, log scale</span>
      <span class="legend"><span><i style="background:var(--c4)"></i>p50</span><span><i style="background:var(--c1)"></i>p99</span></span></h2>
      <svg class="plot" id="chart-fsync-latency" data-testid="chart-fsync-latency"></svg></div>
    <div class="chart"><h2>Write throughput <span class="note">MB/s written to segment files, framing included</span>
      <span class="legend"><span><i style="background:var(--c2)"></i>MB/s</span></span></h2>
      <svg class="plot" id="chart-write" data-testid="chart-write"></svg></div>
    <div class="chart"><h2>Commits/s <span class="note">appends per second</span>
      <span class="legend"><span><i style="background:var(--c1)"></i>appends/s</span></span></h2>
      <svg class="plot" id="chart-commits" data-testid="chart-commits"></svg></div>
    <div class="chart"><h2>Append&rarr;durable latency <span class="note" id="latency-note">per interval, log scale</span>
      <span class="legend"><span><i style="background:var(--c4)"></i>p50</span><span><i style="background:var(--c1)"></i>p99</span><span><i style="background:var(--c2)"></i>p999</span></span></h2>
      <svg class="plot" id="chart-latency" data-testid="chart-latency"></svg></div>
    <div class="chart"><h2>Free space per shard device
      <span class="legend" id="free-legend"></span></h2>
      <svg class="plot" id="chart-free" data-testid="chart-free"></svg></div>
    <div class="chart"><h2>Errors and waits <span class="note">per second</span>
      <span class="legend"><span><i style="background:var(--bad)"></i>failed calls</span><span><i style="background:var(--warn)"></i>backpressure waits</span><span><i style="background:var(--c3)"></i>rotation waits</span></span></h2>
      <svg class="plot" id="chart-errors" data-testid="chart-errors"></svg></div>
    <div class="chart"><h2>Checkpoint <span class="note">checkpoint and durable LSN</span>
      <span class="legend"><span><i style="background:var(--c3)"></i>checkpoint LSN</span><span><i style="background:var(--c4)"></i>durable LSN</span></span></h2>
      <svg class="plot" id="chart-checkpoint" data-testid="chart-checkpoint"></svg></div>
    <div class="chart"><h2>Retained WAL bytes <span class="note">segment files on disk (what max_wal_bytes caps)</span>
      <span class="legend"><span><i style="background:var(--c1)"></i>bytes</span></span></h2>
      <svg class="plot" id="chart-retained" data-testid="chart-retained"></svg></div>
    <div class="chart"><h2>Segments <span class="note">files held and recycled, all shards</span>
      <span class="legend"><span><i style="background:var(--c1)"></i>segment files</span><span><i style="background:var(--c2)"></i>recycled</span></span></h2>
      <svg class="plot" id="chart-segments" data-testid="chart-segments"></svg></div>
    <div class="chart"><h2>Fsyncs/s <span class="note">fdatasync calls per second, all shards</span>
      <span class="legend"><span><i style="background:var(--c2)"></i>fsyncs/s</span></span></h2>
      <svg class="plot" id="chart-fsyncs" data-testid="chart-fsyncs"></svg></div>
    <div class="chart"><h2>Average batch <span class="note">records per flushed batch, per interval</span>
      <span class="legend"><span><i style="background:var(--c3)"></i>records/batch</span></span></h2>
      <svg class="plot" id="chart-batch" data-testid="chart-batch"></svg></div>
  </div>
  <section class="panel">
    <h2>Shards</h2>
    <table>
      <thead><tr><th>shard</th><th>buffered bytes</th><th>buffered records</th><th>durable frontier</th>
        <th>appends/s</th><th>fsyncs/s</th><th>fdatasync p99</th><th>segments</th><th>device free</th><th>last flush</th><th>flush thread</th></tr></thead>
      <tbody id="shards" data-testid="shards"><tr><td colspan="11" class="dim">no data yet</td></tr></tbody>
    </table>
  </section>
</main>
<footer>
  Polls <a href="metrics.json">/metrics.json</a> every <span id="interval">1</span> s.
  Also: <a href="metrics">/metrics</a> (Prometheus) &middot; <a href="health">/health</a>.
  Rates and latency percentiles are over the last interval; times are this browser's clock zone.
  Script errors: <span id="js-errors" data-testid="js-errors" data-value="0">0</span>
</footer>
<script>
(function () {
  'use strict';
  var params = new URLSearchParams(location.search);
  var INTERVAL_MS = Math.max(100, Number(params.get('interval_ms')) || 1000);
  var HISTORY = 300;  // points kept per chart
  var $ = function (id) { return document.getElementById(id); };

  var updates = 0;
  var prev = null;            // {m, clock}
  var series = { t: [], commits: [], fsyncs: [], batch: [], p50: [], p99: [], p999: [],
                 fsync50: [], fsync99: [], write: [], errors: [], bpwaits: [], rotwaits: [],
                 checkpoint: [], durable: [], retained: [], segments: [], recycled: [] };
  var freeSeries = {};        // shard id -> free bytes, aligned with series.t
  var SHARD_COLORS = ['var(--c1)', 'var(--c2)', 'var(--c3)', 'var(--c4)', '#ff7b72', '#79c0ff', '#e3b341', '#56d364'];
  var shardPrev = {};
  var jsErrors = 0;
  function reportError(msg) {
    jsErrors++;
    var el = $('js-errors');
    if (el) { el.textContent = jsErrors + ' (' + msg + ')'; el.setAttribute('data-value', String(jsErrors)); }
  }
  window.addEventListener('error', function (e) { reportError(String(e.message || e)); });

  function num(x) { return typeof x === 'number' && isFinite(x) ? x : 0; }
  function obj(x) { return x && typeof x === 'object' ? x : {}; }
  function setText(id, text, value) {
    var el = $(id);
    if (!el) return;
    el.textContent = text;
    if (value !== undefined) el.setAttribute('data-value', String(value));
  }
  function fmtNum(x) {
    if (x === null || x === undefined || !isFinite(x)) return '\u2014';
    if (x === 0) return '0';
    var a = Math.abs(x);
    if (a >= 1e9) return (x / 1e9).toFixed(2) + 'G';
    if (a >= 1e6) return (x / 1e6).toFixed(2) + 'M';
    if (a >= 1e4) return (x / 1e3).toFixed(1) + 'k';
    if (a >= 100) return x.toFixed(0);
    if (a >= 10) return x.toFixed(1);
    return x.toFixed(2);
  }
  function fmtSec(s) {
    if (s === null || s === undefined || !isFinite(s)) return '\u2014';
    if (s === 0) return '0';
    if (s < 1e-3) return (s * 1e6).toPrecision(3) + ' \u00b5s';
    if (s < 1) return (s * 1e3).toPrecision(3) + ' ms';
    return s.toPrecision(3) + ' s';
  }
  function fmtBytes(b) {
    if (!isFinite(b)) return '\u2014';
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;
    while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
    return (i === 0 ? b.toFixed(0) : b.toFixed(1)) + ' ' + u[i];
  }
  function pad2(n) { return (n < 10 ? '0' : '') + n; }
  // Unix seconds -> HH:MM:SS in the browser's time zone.
  function fmtClock(unix) {
    var d = new Date(unix * 1000);
    return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds());
  }
  function fmtDuration(s) {
    if (!isFinite(s) || s <= 0) return '\u2014';
    var h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), sec = Math.floor(s % 60);
    return (h ? h + 'h ' : '') + (h || m ? m + 'm ' : '') + sec + 's';
  }

  // ---- interval percentiles from two cumulative histogram snapshots ----
  function buckets(h) {
    var out = [];
    (Array.isArray(h && h.buckets) ? h.buckets : []).forEach(function (b) {
      if (Array.isArray(b) && b.length === 2) out.push([b[0] === null ? Infinity : Number(b[0]), num(b[1])]);
    });
    out.sort(function (a, b) { return a[0] - b[0]; });
    return out;
  }
  function cumulativeAt(list, le) {  // count of values <= le (list: [le, cumulative])
    var c = 0;
    for (var i = 0; i < list.length && list[i][0] <= le; i++) c = list[i][1];
    return c;
  }
  // [p50, p99, p999] of what the histogram gained since `before`; null
  // entries when nothing was recorded; null when there are no buckets.
  function intervalPercentiles(before, now, qs) {
    var cur = buckets(now);
    if (!cur.length) return null;
    var old = buckets(before);
    var total = num(now && now.count) - num(before && before.count);
    if (total <= 0) return qs.map(function () { return null; });
    var delta = cur.map(function (b) { return [b[0], Math.max(0, b[1] - cumulativeAt(old, b[0]))]; });
    return qs.map(function (q) {
      var target = q * total;
      for (var i = 0; i < delta.length; i++) {
        if (delta[i][1] >= target) {
          var hi = delta[i][0], lo = i > 0 ? delta[i - 1][0] : hi / 1.19;
          var below = i > 0 ? delta[i - 1][1] : 0;
          if (!isFinite(hi)) return num(now.max) || lo;
          var span = delta[i][1] - below;
          return span > 0 ? lo + (hi - lo) * (target - below) / span : hi;
        }
      }
      return num(now.max) || null;
    });
  }

  // ---- charts: polylines in an SVG sized to its element ----
  function niceMax(v) {
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v))), f = v / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
  }
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return '&#' + c.charCodeAt(0) + ';'; }); }
  function drawChart(svg, lines, opts) {
    var W = svg.clientWidth || 600, H = svg.clientHeight || 170;
    var L = 58, R = 8, T = 8, B = 18, pw = W - L - R, ph = H - T - B;
    var t = series.t, n = t.length;
    var vals = [];
    lines.forEach(function (l) { l.values.forEach(function (v) { if (v !== null && isFinite(v) && (!opts.log || v > 0)) vals.push(v); }); });
    var lo, hi, y;
    if (opts.log) {
      var mn = vals.length ? Math.min.apply(null, vals) : 1e-5, mx = vals.length ? Math.max.apply(null, vals) : 1e-3;
      lo = Math.floor(Math.log10(mn)); hi = Math.ceil(Math.log10(mx));
      if (hi <= lo) hi = lo + 1;
      y = function (v) { return T + ph - (Math.log10(v) - lo) / (hi - lo) * ph; };
    } else {
      lo = 0; hi = niceMax(vals.length ? Math.max.apply(null, vals) * 1.05 : 0);
      y = function (v) { return T + ph - (v - lo) / (hi - lo) * ph; };
    }
    // The window grows with the data, up to HISTORY points.
    var t1 = n ? t[n - 1] : 0, span = Math.max(10, n > 1 ? t1 - t[0] : 10), t0 = t1 - span;
    var x = function (tt) { return L + (tt - t0) / span * pw; };
    var out = [];
    var ticks = opts.log ? (function () { var a = []; for (var e = lo; e <= hi; e++) a.push(Math.pow(10, e)); return a; })()
                         : [0, hi / 4, hi / 2, 3 * hi / 4, hi];
    ticks.forEach(function (v) {
      var yy = y(v).toFixed(1);
      out.push('<line class="gridline" x1="' + L + '" x2="' + (W - R) + '" y1="' + yy + '" y2="' + yy + '"/>');
      out.push('<text x="' + (L - 6) + '" y="' + yy + '" dy="3" text-anchor="end">' + esc(opts.fmt(v)) + '</text>');
    });
    if (n) {
      [0, 0.25, 0.5, 0.75, 1].forEach(function (f) {
        var tt = t0 + f * span;
        out.push('<text class="xtick" x="' + x(tt).toFixed(1) + '" y="' + (H - 4) + '" text-anchor="' +
                 (f === 1 ? 'end' : f === 0 ? 'start' : 'middle') + '">' + fmtClock(tt) + '</text>');
      });
    }
    var drawn = 0;
    lines.forEach(function (l) {
      var pts = [];
      var flush = function () {
        if (pts.length === 1) pts.push(pts[0]);
        if (pts.length) out.push('<polyline stroke="' + l.color + '" points="' + pts.join(' ') + '"/>');
        pts = [];
      };
      for (var i = 0; i < n; i++) {
        var v = l.values[i];
        if (v === null || !isFinite(v) || (opts.log && v <= 0)) { flush(); continue; }
        pts.push(x(t[i]).toFixed(1) + ',' + Math.max(T, Math.min(T + ph, y(v))).toFixed(1));
        drawn++;
      }
      flush();
    });
    if (!n) out.push('<text x="' + (L + pw / 2) + '" y="' + (T + ph / 2) + '" text-anchor="middle">waiting for two snapshots</text>');
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.setAttribute('data-points', String(drawn));
    svg.innerHTML = out.join('');
  }
  function drawAll() {
    drawChart($('chart-commits'), [{ color: 'var(--c1)', values: series.commits }], { fmt: fmtNum });
    drawChart($('chart-fsyncs'), [{ color: 'var(--c2)', values: series.fsyncs }], { fmt: fmtNum });
    drawChart($('chart-batch'), [{ color: 'var(--c3)', values: series.batch }], { fmt: fmtNum });
    drawChart($('chart-latency'), [
      { color: 'var(--c4)', values: series.p50 },
      { color: 'var(--c1)', values: series.p99 },
      { color: 'var(--c2)', values: series.p999 }], { fmt: fmtSec, log: true });
    drawChart($('chart-fsync-latency'), [
      { color: 'var(--c4)', values: series.fsync50 },
      { color: 'var(--c1)', values: series.fsync99 }], { fmt: fmtSec, log: true });
    drawChart($('chart-write'), [{ color: 'var(--c2)', values: series.write }], { fmt: fmtNum });
    drawChart($('chart-free'), Object.keys(freeSeries).sort(function (a, b) { return a - b; }).map(function (id, i) {
      return { color: SHARD_COLORS[i % SHARD_COLORS.length], values: freeSeries[id] };
    }), { fmt: fmtBytes });
    drawChart($('chart-errors'), [
      { color: 'var(--bad)', values: series.errors },
      { color: 'var(--warn)', values: series.bpwaits },
      { color: 'var(--c3)', values: series.rotwaits }], { fmt: fmtNum });
    drawChart($('chart-checkpoint'), [
      { color: 'var(--c3)', values: series.checkpoint },
      { color: 'var(--c4)', values: series.durable }], { fmt: fmtNum });
    drawChart($('chart-retained'), [{ color: 'var(--c1)', values: series.retained }], { fmt: fmtBytes });
    drawChart($('chart-segments'), [
      { color: 'var(--c1)', values: series.segments },
      { color: 'var(--c2)', values: series.recycled }], { fmt: fmtNum });
  }
  function sumErrors(c) {
    var e = obj(c.errors), n = 0;
    Object.keys(e).forEach(function (k) { n += num(e[k]); });
    return n;
  }
  function sumShards(shards, group, key) {
    var n = 0;
    shards.forEach(function (s) { n += num(obj(s[group])[key]); });
    return n;
  }

  // ---- one snapshot ----
  function render(m, clock) {
    var c = obj(m.counters), g = obj(m.gauges), hs = obj(m.histograms), health = obj(m.health);
    updates++;
    setText('updates', String(updates), updates);
    var status = health.status || (health.ok === false ? 'failed' : 'ok');
    var badge = $('status');
    badge.textContent = status;
    badge.className = 'badge ' + (status === 'ok' ? 'ok' : 'failed');
    setText('error', health.error ? String(health.error) : '');
    setText('last-lsn', String(num(g.last_lsn)), num(g.last_lsn));
    setText('durable-lsn', String(num(g.durable_lsn)), num(g.durable_lsn));
    setText('replicated-lsn', String(num(g.replicated_lsn)), num(g.replicated_lsn));
    setText('lag', String(num(g.watermark_lag)), num(g.watermark_lag));
    setText('buffered', fmtBytes(num(g.buffered_bytes)), num(g.buffered_bytes));
    setText('wal-bytes', fmtBytes(num(g.wal_bytes)), num(g.wal_bytes));
    setText('checkpoint-lsn', String(num(g.checkpoint_lsn)), num(g.checkpoint_lsn));
    setText('errors-total', fmtNum(sumErrors(c)), sumErrors(c));
    setText('uptime', fmtDuration(num(m.uptime_seconds)));
    // The server's wall clock at the snapshot (the browser's when absent).
    var wall = num(m.start_time_seconds) > 0 ? num(m.start_time_seconds) + num(m.uptime_seconds) : Date.now() / 1000;
    setText('updated', 'last snapshot ' + fmtClock(wall) +
            (num(m.start_time_seconds) > 0 ? ' \u00b7 opened ' + fmtClock(num(m.start_time_seconds)) : ''));

    var shards = Array.isArray(m.shards) ? m.shards : [];
    var minFree = null;
    shards.forEach(function (s) {
      var f = obj(s.health).device_free_bytes;
      if (typeof f === 'number' && (minFree === null || f < minFree)) minFree = f;
    });
    setText('min-free', minFree === null ? '\u2014' : fmtBytes(minFree), minFree === null ? -1 : minFree);
    var dt = 0;
    if (prev) {
      var pu = num(prev.m.uptime_seconds), cu = num(m.uptime_seconds);
      dt = pu > 0 && cu > pu ? cu - pu : (clock - prev.clock) / 1000;
    }
    if (prev && dt > 0) {
      var pc = obj(prev.m.counters), phs = obj(prev.m.histograms);
      var dApp = num(c.appends) - num(pc.appends), dFs = num(c.fsyncs) - num(pc.fsyncs);
      var dBat = num(c.batches) - num(pc.batches);
      var commits = Math.max(0, dApp) / dt, fsyncs = Math.max(0, dFs) / dt;
      var batch = dBat > 0 ? dApp / dBat : null;
      var lat = intervalPercentiles(phs.append_to_durable_seconds, hs.append_to_durable_seconds, [0.5, 0.99, 0.999]);
      if (lat === null) {  // no buckets: the since-open percentiles
        var h = obj(hs.append_to_durable_seconds);
        lat = num(h.count) > 0 ? [num(h.p50), num(h.p99), num(h.p999)] : [null, null, null];
        setText('latency-note', 'since open, log scale');
      } else {
        setText('latency-note', 'per interval, log scale');
      }
      setText('commits-rate', fmtNum(commits), commits);
      setText('fsyncs-rate', fmtNum(fsyncs), fsyncs);
      setText('avg-batch', batch === null ? '\u2014' : fmtNum(batch), batch === null ? 0 : batch);
      setText('p99', fmtSec(lat[1]), lat[1] === null ? 0 : lat[1]);
      var fl = intervalPercentiles(phs.fsync_seconds, hs.fsync_seconds, [0.5, 0.99]);
      if (fl === null) {
        var fh = obj(hs.fsync_seconds);
        fl = num(fh.count) > 0 ? [num(fh.p50), num(fh.p99)] : [null, null];
      }
      var write = Math.max(0, num(c.write_bytes) - num(pc.write_bytes)) / dt / 1e6;
      var perSec = function (now, before) { return Math.max(0, now - before) / dt; };
      // The tile: this interval's p99, or since open when the interval had
      // no fdatasync (an idle WAL, or polls closer together than its syncs).
      var fTile = fl[1];
      if (fTile === null) {
        var fo = obj(hs.fsync_seconds);
        fTile = num(fo.count) > 0 ? num(fo.p99) : null;
      }
      setText('fsync-p99', fmtSec(fTile), fTile === null ? 0 : fTile);
      setText('write-rate', fmtNum(write), write);
      var pshards = Array.isArray(prev.m.shards) ? prev.m.shards : [];
      series.t.push(wall);
      series.fsync50.push(fl[0]);
      series.fsync99.push(fl[1]);
      series.write.push(write);
      series.errors.push(perSec(sumErrors(c), sumErrors(pc)));
      series.bpwaits.push(perSec(num(c.backpressure_waits), num(pc.backpressure_waits)));
      series.rotwaits.push(perSec(sumShards(shards, 'counters', 'rotation_waits'), sumShards(pshards, 'counters', 'rotation_waits')));
      series.checkpoint.push(num(g.checkpoint_lsn));
      series.durable.push(num(g.durable_lsn));
      series.retained.push(num(g.wal_bytes));
      series.segments.push(sumShards(shards, 'gauges', 'segment_files'));
      series.recycled.push(sumShards(shards, 'gauges', 'recycled_pool'));
      var n0 = series.t.length - 1;
      shards.forEach(function (s) {
        var id = String(s.shard), f = obj(s.health).device_free_bytes;
        if (!freeSeries[id]) freeSeries[id] = [];
        while (freeSeries[id].length < n0) freeSeries[id].push(null);
        freeSeries[id].push(typeof f === 'number' ? f : null);
      });
      Object.keys(freeSeries).forEach(function (id) {
        while (freeSeries[id].length < series.t.length) freeSeries[id].push(null);
      });
      series.commits.push(commits);
      series.fsyncs.push(fsyncs);
      series.batch.push(batch);
      series.p50.push(lat[0]);
      series.p99.push(lat[1]);
      series.p999.push(lat[2]);
      if (series.t.length > HISTORY) {
        Object.keys(series).forEach(function (k) { series[k].shift(); });
        Object.keys(freeSeries).forEach(function (k) { freeSeries[k].shift(); });
      }
    }
    renderShards(shards, dt, num(g.last_lsn), prev ? (Array.isArray(prev.m.shards) ? prev.m.shards : []) : []);
    renderFreeLegend(shards);
    drawAll();
    prev = { m: m, clock: clock };
  }

  function renderFreeLegend(shards) {
    var ids = shards.map(function (s) { return String(s.shard); }).sort(function (a, b) { return a - b; });
    $('free-legend').innerHTML = ids.map(function (id, i) {
      return '<span><i style="background:' + SHARD_COLORS[i % SHARD_COLORS.length] + '"></i>shard ' + esc(id) + '</span>';
    }).join('');
  }

  function renderShards(shards, dt, lastLsn, prevShards) {
    var body = $('shards');
    if (!shards.length) { body.innerHTML = '<tr><td colspan="11" class="dim">no shards reported</td></tr>'; return; }
    var prevById = {};
    prevShards.forEach(function (s) { prevById[String(s.shard)] = s; });
    var maxBuf = 1;
    shards.forEach(function (s) { maxBuf = Math.max(maxBuf, num(obj(s.gauges).buffered_bytes)); });
    var rows = shards.map(function (s) {
      var sc = obj(s.counters), sg = obj(s.gauges), sh = obj(s.health);
      var id = String(s.shard), p = shardPrev[id];
      var apps = '\u2014', fs = '\u2014';
      if (p && dt > 0) {
        apps = fmtNum(Math.max(0, num(sc.appends) - p.appends) / dt);
        fs = fmtNum(Math.max(0, num(sc.fsyncs) - p.fsyncs) / dt);
      }
      shardPrev[id] = { appends: num(sc.appends), fsyncs: num(sc.fsyncs) };
      var buf = num(sg.buffered_bytes), util = num(sh.buffer_utilization);
      var fill = util > 0 ? Math.min(1, util) : buf / maxBuf;
      var frontier = num(sg.durable_frontier);
      var ffill = lastLsn > 0 ? Math.min(1, frontier / lastLsn) : 0;
      var since = sh.seconds_since_last_flush;
      var alive = sh.flush_thread_alive;
      var ps = prevById[id], fsp99 = null;
      if (ps) {
        var q = intervalPercentiles(obj(obj(ps.histograms).fsync_seconds), obj(obj(s.histograms).fsync_seconds), [0.99]);
        fsp99 = q === null ? null : q[0];
      }
      var free = sh.device_free_bytes, total = sh.device_total_bytes;
      var freeText = typeof free === 'number'
          ? esc(fmtBytes(free)) + (typeof total === 'number' && total > 0 ? ' <span class="dim">(' + (100 * free / total).toFixed(0) + '%)</span>' : '')
          : '<span class="dim">\u2014</span>';
      return '<tr data-testid="shard-row" title="' + esc(s.dir || '') + '"><td>' + esc(id) + '</td>' +
        '<td class="bar"><div class="barwrap"><div class="bartrack"><div class="barfill" style="width:' + (fill * 100).toFixed(1) + '%"></div></div>' +
        '<span data-testid="shard-buffered">' + esc(fmtBytes(buf)) + '</span></div></td>' +
        '<td>' + esc(String(num(sg.buffered_records))) + '</td>' +
        '<td><div class="barwrap"><div class="bartrack"><div class="barfill frontier" style="width:' + (ffill * 100).toFixed(1) + '%"></div></div>' +
        '<span data-testid="shard-frontier">' + esc(String(frontier)) + '</span></div></td>' +
        '<td>' + apps + '</td><td>' + fs + '</td>' +
        '<td>' + esc(fmtSec(fsp99)) + '</td>' +
        '<td>' + esc(String(num(sg.segment_files))) + (num(sg.recycled_pool) ? ' <span class="dim">+' + esc(String(num(sg.recycled_pool))) + ' recycled</span>' : '') + '</td>' +
        '<td data-testid="shard-free" data-value="' + (typeof free === 'number' ? free : -1) + '">' + freeText + '</td>' +
        '<td>' + (typeof since === 'number' && since >= 0 ? esc(fmtSec(since)) + ' ago' : '<span class="dim">\u2014</span>') + '</td>' +
        '<td>' + (alive === true ? 'alive' : alive === false ? '<span class="dim">stopped</span>' : '\u2014') + '</td></tr>';
    });
    body.innerHTML = rows.join('');
  }

  function poll() {
    fetch('metrics.json', { cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(function (m) {
        try {
          render(m, performance.now());
        } catch (e) {
          reportError('render: ' + (e && e.message ? e.message : String(e)));
          throw e;
        }
      })
      .catch(function (e) {
        var badge = $('status');
        badge.textContent = 'unreachable';
        badge.className = 'badge stale';
        setText('error', 'cannot fetch metrics.json: ' + e.message);
      })
      .then(function () { setTimeout(poll, INTERVAL_MS); });
  }
  setText('interval', String(INTERVAL_MS / 1000));
  drawAll();
  window.addEventListener('resize', drawAll);
  poll();
})();
</script>
</body>
</html>
)shardwal_html";

}  // namespace shardwal
