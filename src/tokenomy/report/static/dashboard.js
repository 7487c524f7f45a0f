/* Tokenomy dashboard: renders one page from the /api/report/... JSON, polling every few
 * seconds. Money arrives as exact decimal strings and is shown as such. */
(function () {
  "use strict";
  var POLL_MS = 3000;
  var DIMENSIONS = ["model", "account", "team", "key", "provider", "modality", "class",
                    "origin", "day"];
  var C = function () { return window.TokenomyCharts; };

  function query() {
    var q = new URLSearchParams(window.location.search), out = new URLSearchParams();
    ["since", "until"].forEach(function (k) { if (q.get(k)) { out.set(k, q.get(k)); } });
    return out;
  }

  function api(path, extra) {
    var q = query();
    Object.keys(extra || {}).forEach(function (k) { q.set(k, extra[k]); });
    var qs = q.toString();
    return fetch("/api/report/" + path + (qs ? "?" + qs : "")).then(function (r) {
      if (!r.ok) { throw new Error(path + ": HTTP " + r.status); }
      return r.json();
    });
  }

  function section(id, title, extra) {
    var s = document.createElement("section");
    s.id = "section-" + id;
    s.innerHTML = "<h2>" + title + "</h2>" + (extra || "") +
      "<div class='chart' id='chart-" + id + "'></div><div id='table-" + id + "'></div>";
    document.getElementById("main").appendChild(s);
  }

  function table(id, columns, rows, emptyText) {
    var host = document.getElementById("table-" + id);
    if (!rows.length) {
      host.innerHTML = "<p class='empty'>" + (emptyText || "No data yet.") + "</p>";
      return;
    }
    var t = document.createElement("table");
    var head = t.insertRow();
    columns.forEach(function (c) {
      var th = document.createElement("th"); th.textContent = c[1]; head.appendChild(th);
    });
    rows.forEach(function (row) {
      var tr = t.insertRow();
      columns.forEach(function (c) {
        var td = tr.insertCell(), v = row[c[0]];
        td.textContent = v === null || v === undefined ? "—" : String(v);
        td.setAttribute("data-col", c[0]);
      });
    });
    host.innerHTML = "";
    host.appendChild(t);
  }

  function by() {
    var s = document.getElementById("by");
    return s ? s.value : "model";
  }

  var pages = {
    spend: {
      setup: function () {
        var options = DIMENSIONS.map(function (d) {
          return "<option value='" + d + "'>" + d + "</option>"; }).join("");
        section("spend", "Spend by <select id='by'>" + options + "</select>");
        section("series", "Spend over time (USD)");
        section("stu", "Standard Token Units (STU)");
        section("origin", "Tokens by provider's country of origin (China / US)");
        document.getElementById("by").addEventListener("change", refresh);
      },
      refresh: function () {
        return Promise.all([api("spend", {by: by()}), api("series", {by: by()}),
                            api("spend", {by: "origin"})]).then(function (r) {
          var spend = r[0], series = r[1], origin = r[2];
          var labels = spend.rows.map(function (x) { return x.group; });
          C().bar(document.getElementById("chart-spend"), {labels: labels, series: [
            {name: "cost USD", values: spend.rows.map(function (x) { return x.cost_usd; })}]},
            {empty: "No requests in this window."});
          table("spend", [["group", by()], ["requests", "requests"], ["ok_requests", "ok"],
                          ["tokens", "tokens"], ["stu", "STU"], ["cost_usd", "cost USD"],
                          ["cost_per_success_usd", "USD / successful request"]], spend.rows);
          C().line(document.getElementById("chart-series"), {labels: series.buckets,
            series: series.groups.map(function (g, i) {
              return {name: g, values: series.cost_usd[i]}; })});
          C().bar(document.getElementById("chart-stu"), {labels: labels, series: [
            {name: "STU", values: spend.rows.map(function (x) { return x.stu; })}]});
          C().bar(document.getElementById("chart-origin"), {
            labels: origin.rows.map(function (x) { return x.group; }), series: [
              {name: "tokens", values: origin.rows.map(function (x) { return String(x.tokens); })}]});
          table("origin", [["group", "origin"], ["tokens", "tokens"], ["cost_usd", "cost USD"],
                           ["stu", "STU"]], origin.rows);
        });
      }
    },
    budgets: {
      setup: function () {
        section("budgets", "Budgets: % used (spent + reserved of granted)");
        section("engineers", "Per-engineer budgets");
      },
      refresh: function () {
        return api("budgets").then(function (b) {
          C().bar(document.getElementById("chart-budgets"), {
            labels: b.budgets.map(function (x) { return x.name; }),
            series: [{name: "% used", values: b.budgets.map(function (x) { return x.used_pct; })}]},
            {unit: "%", empty: "No budgets yet."});
          table("budgets", [["name", "budget"], ["kind", "kind"], ["granted", "granted"],
            ["spent", "spent"], ["reserved", "reserved"], ["remaining", "remaining"],
            ["used_pct", "% used"], ["burn_usd_per_hour", "burn USD/h"],
            ["exhausted_at", "exhausted at"], ["open_reservations", "open reservations"],
            ["window_tokens", "tokens"]], b.budgets, "No budgets yet.");
          C().bar(document.getElementById("chart-engineers"), {
            labels: b.engineers.map(function (x) { return x.owner || x.name; }),
            series: [{name: "% used", values: b.engineers.map(function (x) { return x.used_pct; })}]},
            {unit: "%", empty: "No per-engineer (kind user) budgets."});
          table("engineers", [["owner", "engineer"], ["name", "budget"], ["granted", "granted"],
            ["spent", "spent"], ["used_pct", "% used"], ["window_tokens", "tokens"]],
            b.engineers, "No per-engineer budgets.");
        });
      }
    },
    goodput: {
      setup: function () {
        section("goodput", "Good-put by team and model (good tokens ÷ billed tokens)");
      },
      refresh: function () {
        return api("goodput").then(function (g) {
          C().bar(document.getElementById("chart-goodput"), {
            labels: g.rows.map(function (x) { return x.team + " · " + x.model; }),
            series: [{name: "good-put", values: g.rows.map(function (x) { return x.goodput; })}]},
            {empty: "No billed requests in this window."});
          table("goodput", [["team", "team"], ["model", "model"], ["billed_tokens", "billed tokens"],
            ["good_tokens", "good tokens"], ["goodput", "good-put"], ["requests", "requests"],
            ["good_requests", "good requests"]], g.rows.concat(g.rows.length ? [g.total] : []));
        });
      }
    },
    market: {
      setup: function () {
        section("index", "Token price index per grade (USD per 1M tokens)");
        section("book", "Order book depth");
        section("trades", "Recent trades");
        section("curve", "Futures curve (USD per 1M tokens)");
      },
      refresh: function () {
        return api("market").then(function (m) {
          var priced = m.index.filter(function (x) { return x.value !== null; });
          C().bar(document.getElementById("chart-index"), {
            labels: priced.map(function (x) { return x.grade; }),
            series: [{name: "index", values: priced.map(function (x) { return x.value; })}]},
            {empty: "No index value (no trades and no list prices)."});
          table("index", [["grade", "grade"], ["value", "USD / 1M"], ["method", "method"],
                          ["volume", "volume"]], m.index);
          var levels = [];
          m.books.forEach(function (b) {
            b.bids.forEach(function (l) { levels.push({symbol: b.symbol, side: "bid",
              price: l.price, quantity: l.quantity, orders: l.orders}); });
            b.asks.forEach(function (l) { levels.push({symbol: b.symbol, side: "ask",
              price: l.price, quantity: l.quantity, orders: l.orders}); });
          });
          C().bar(document.getElementById("chart-book"), {
            labels: levels.map(function (l) { return l.symbol + " " + l.side + " " + l.price; }),
            series: [{name: "quantity", values: levels.map(function (l) { return String(l.quantity); })}]},
            {empty: "No market data: no resting orders."});
          table("book", [["symbol", "symbol"], ["side", "side"], ["price", "price"],
                         ["quantity", "quantity"], ["orders", "orders"]], levels,
                "No resting orders.");
          document.getElementById("chart-trades").setAttribute("data-rendered", "1");
          table("trades", [["symbol", "symbol"], ["price", "price"], ["quantity", "quantity"],
                           ["taker_side", "taker"], ["at", "at"]], m.trades,
                "No market data: no trades yet.");
          var grades = [], months = [];
          m.curve.forEach(function (p) {
            if (grades.indexOf(p.grade) < 0) { grades.push(p.grade); }
            if (months.indexOf(p.month) < 0) { months.push(p.month); }
          });
          months.sort();
          var series = grades.map(function (g) {
            return {name: g, values: months.map(function (mo) {
              var p = m.curve.filter(function (x) { return x.grade === g && x.month === mo; })[0];
              return p && p.price !== null ? p.price : null; })};
          }).filter(function (s) { return s.values.some(function (v) { return v !== null; }); });
          if (!series.length) {
            C().empty(document.getElementById("chart-curve"), "No market data: no futures prices.");
          } else {
            C().line(document.getElementById("chart-curve"), {labels: months, series: series});
          }
        });
      }
    },
    factory: {
      setup: function () { section("factory", "Factory: tokens per joule and cost per 1M tokens"); },
      refresh: function () {
        return fetch("/api/report/factory").then(function (r) { return r.json(); }).then(function (f) {
          var rows = f.rows || [];
          var drawn = rows.filter(function (x) { return x.tokens_per_joule !== null; });
          C().bar(document.getElementById("chart-factory"), {
            labels: drawn.map(function (x) { return x.name; }),
            series: [{name: "tokens/J", values: drawn.map(function (x) { return x.tokens_per_joule; })}]},
            {empty: "No factory data."});
          table("factory", [["name", "setup"], ["source", "source"], ["tokens_per_joule", "tokens/J"],
                            ["tokens_per_s", "tokens/s"], ["cost_per_mtok_usd", "USD / 1M tokens"]],
                rows, f.note);
        });
      }
    }
  };

  var page = null;

  function refresh() {
    var status = document.getElementById("status");
    return page.refresh().then(function () {
      status.textContent = "updated " + new Date().toISOString().slice(11, 19) + " UTC";
      document.body.setAttribute("data-loaded", String(Number(document.body.getAttribute("data-loaded") || 0) + 1));
    }).catch(function (err) {
      status.textContent = "update failed: " + err.message;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var name = document.body.getAttribute("data-page");
    page = pages[name] || pages.spend;
    var link = document.querySelector("[data-nav='" + name + "']");
    if (link) { link.className = "current"; }
    page.setup();
    refresh();
    window.setInterval(refresh, POLL_MS);
  });
})();
