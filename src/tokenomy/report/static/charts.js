/* Tokenomy charts: a small SVG charting module (bar and line charts), no dependencies.
 * Copyright Tokenomy contributors. Apache-2.0 (see LICENSE-charts.txt).
 *
 * Values arrive as exact decimal strings; they are turned into numbers only to draw.
 * Every bar and point carries data-label, data-series and data-value (the exact string),
 * and the chart element gets data-rendered="1" with data-points = the number drawn.
 */
(function (global) {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var COLORS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
                "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function text(parent, x, y, content, attrs) {
    var t = el("text", Object.assign({x: x, y: y, "font-size": 11, fill: "#333"}, attrs || {}),
               parent);
    t.textContent = content;
    return t;
  }

  function frame(container, opts) {
    while (container.firstChild) { container.removeChild(container.firstChild); }
    var width = opts.width || 640, height = opts.height || 260;
    var svg = el("svg", {viewBox: "0 0 " + width + " " + height, width: "100%",
                         role: "img", "aria-label": opts.title || "chart"}, container);
    return {svg: svg, width: width, height: height, left: 70, right: 10, top: 24, bottom: 40};
  }

  function maxOf(series) {
    var max = 0;
    series.forEach(function (s) {
      s.values.forEach(function (v) { var n = Number(v); if (n > max) { max = n; } });
    });
    return max > 0 ? max : 1;
  }

  function empty(container, message) {
    while (container.firstChild) { container.removeChild(container.firstChild); }
    var p = document.createElement("p");
    p.className = "empty";
    p.textContent = message || "No data yet.";
    container.appendChild(p);
    container.setAttribute("data-rendered", "1");
    container.setAttribute("data-points", "0");
  }

  function legend(f, series) {
    series.forEach(function (s, i) {
      var x = f.left + i * 110;
      el("rect", {x: x, y: 4, width: 10, height: 10, fill: COLORS[i % COLORS.length]}, f.svg);
      text(f.svg, x + 14, 13, s.name);
    });
  }

  function axis(f, max, unit) {
    var plotH = f.height - f.top - f.bottom;
    for (var i = 0; i <= 4; i++) {
      var y = f.top + plotH - plotH * i / 4;
      el("line", {x1: f.left, x2: f.width - f.right, y1: y, y2: y, stroke: "#ddd"}, f.svg);
      text(f.svg, f.left - 4, y + 4, (max * i / 4).toPrecision(3) + (unit || ""),
           {"text-anchor": "end"});
    }
  }

  /* bar(container, {labels: [...], series: [{name, values: ["1.5", ...]}], unit}) */
  function bar(container, data, opts) {
    opts = opts || {};
    if (!data.labels.length) { return empty(container, opts.empty); }
    var f = frame(container, opts), max = maxOf(data.series);
    var tight = (f.width - f.left - f.right) / data.labels.length < 70;  /* slant the labels */
    if (tight) { f.bottom = 120; f.left = 130; }
    var plotW = f.width - f.left - f.right, plotH = f.height - f.top - f.bottom;
    var groupW = plotW / data.labels.length, n = data.series.length;
    var barW = Math.max(2, (groupW * 0.8) / n), points = 0;
    axis(f, max, opts.unit);
    legend(f, data.series);
    data.labels.forEach(function (label, li) {
      data.series.forEach(function (s, si) {
        var value = s.values[li], h = plotH * Number(value) / max;
        var x = f.left + li * groupW + groupW * 0.1 + si * barW;
        var r = el("rect", {x: x, y: f.top + plotH - h, width: barW, height: Math.max(h, 0),
                            fill: COLORS[si % COLORS.length], "class": "bar",
                            "data-label": label, "data-series": s.name, "data-value": value},
                   f.svg);
        el("title", {}, r).textContent = label + " · " + s.name + ": " + value;
        points += 1;
      });
      var lx = f.left + li * groupW + groupW / 2, ly = f.height - f.bottom + 14;
      text(f.svg, lx, ly, String(label).slice(0, tight ? 30 : 18), tight
           ? {"text-anchor": "end", "font-size": "9", transform: "rotate(-40 " + lx + " " + ly + ")"}
           : {"text-anchor": "middle"});
    });
    container.setAttribute("data-rendered", "1");
    container.setAttribute("data-points", String(points));
  }

  /* line(container, {labels: [x...], series: [{name, values}]}) — null values are gaps */
  function line(container, data, opts) {
    opts = opts || {};
    if (!data.labels.length) { return empty(container, opts.empty); }
    var f = frame(container, opts), max = maxOf(data.series.map(function (s) {
      return {values: s.values.filter(function (v) { return v !== null; })};
    }));
    var plotW = f.width - f.left - f.right, plotH = f.height - f.top - f.bottom;
    var step = data.labels.length > 1 ? plotW / (data.labels.length - 1) : 0, points = 0;
    axis(f, max, opts.unit);
    legend(f, data.series);
    data.series.forEach(function (s, si) {
      var color = COLORS[si % COLORS.length], path = [];
      s.values.forEach(function (value, i) {
        if (value === null) { return; }
        var x = f.left + (data.labels.length > 1 ? i * step : plotW / 2);
        var y = f.top + plotH - plotH * Number(value) / max;
        path.push((path.length ? "L" : "M") + x.toFixed(1) + "," + y.toFixed(1));
        var c = el("circle", {cx: x, cy: y, r: 3.5, fill: color, "class": "point",
                              "data-label": data.labels[i], "data-series": s.name,
                              "data-value": value}, f.svg);
        el("title", {}, c).textContent = data.labels[i] + " · " + s.name + ": " + value;
        points += 1;
      });
      if (path.length > 1) {
        el("path", {d: path.join(" "), fill: "none", stroke: color, "stroke-width": 2}, f.svg);
      }
    });
    var every = Math.max(1, Math.ceil(data.labels.length / 6));
    data.labels.forEach(function (label, i) {
      if (i % every) { return; }
      var x = f.left + (data.labels.length > 1 ? i * step : plotW / 2);
      text(f.svg, x, f.height - f.bottom + 14, String(label).slice(5, 16),
           {"text-anchor": "middle"});
    });
    container.setAttribute("data-rendered", "1");
    container.setAttribute("data-points", String(points));
  }

  global.TokenomyCharts = {bar: bar, line: line, empty: empty};
})(window);
