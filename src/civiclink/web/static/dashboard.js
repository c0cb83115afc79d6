// The dashboard (大屏): draws the charts whose ECharts options the server built (web/dashboard.py), and
// refreshes tiles, charts and hotspots from /dashboard/data every data-refresh seconds, without a reload.
// No words here: every text arrives from the server's catalogue (in the view or in data-* attributes).
//
// For tests: window.civiclinkCharts = {name: echartsInstance} (chart.getOption() shows series data and axis
// labels); window.civiclinkDashboard.refresh() fetches now and returns a promise.
(function () {
  "use strict";

  const root = document.getElementById("dashboard");
  if (!root || !window.echarts) {
    return;
  }
  const wall = root.dataset.wall === "1";
  const charts = {};
  window.civiclinkCharts = charts;

  // SVG renderer: crisp at any size (the 1920×1080 wall screen) and light for a handful of small charts.
  function draw(view) {
    Object.keys(view.charts).forEach(function (name) {
      const el = root.querySelector('[data-chart="' + name + '"]');
      if (!el) {
        return;
      }
      let chart = charts[name];
      if (!chart) {
        chart = echarts.init(el, wall ? "dark" : null, { renderer: "svg" });
        charts[name] = chart;
        chart.setOption(view.charts[name]);
        return;
      }
      // Series carry ids: the drawn ones move to their new values; one that disappeared (a transfer kind with
      // no transfers any more) is removed.
      chart.setOption(view.charts[name], { replaceMerge: ["series"] });
    });
  }

  function fillTiles(view) {
    view.tiles.forEach(function (tile) {
      const el = root.querySelector('[data-tile="' + tile.key + '"]');
      if (!el) {
        return;
      }
      el.querySelector('[data-role="value"]').textContent = tile.value;
      el.querySelector('[data-role="note"]').textContent = tile.note;
      el.querySelector(".label").textContent = tile.label;
      el.className = "tile" + (tile.tone ? " " + tile.tone : "");
    });
  }

  function cell(text, numeric) {
    const td = document.createElement("td");
    td.textContent = String(text);
    if (numeric) {
      td.className = "num";
    }
    return td;
  }

  function fillHotspots(view) {
    const body = root.querySelector('[data-role="hotspots"]');
    if (!body) {
      return;
    }
    const rows = view.hotspots.map(function (h) {
      const tr = document.createElement("tr");
      tr.append(cell(h.category), cell(h.place), cell(h.recent, true), cell(h.baseline, true),
        cell(h.ratio, true), cell(h.reason));
      return tr;
    });
    if (!rows.length) {
      const tr = document.createElement("tr");
      tr.className = "empty";
      const td = cell(root.dataset.emptyText || "");
      td.colSpan = 6;
      tr.append(td);
      rows.push(tr);
    }
    body.replaceChildren.apply(body, rows);
  }

  const updated = root.querySelector('[data-role="updated"]');

  function show(view) {
    fillTiles(view);
    draw(view);
    fillHotspots(view);
    updated.textContent = view.updated;
    root.classList.remove("stale");
    root.dataset.generatedAt = view.generated_at;
    window.civiclinkDashboard.view = view;
  }

  function refresh() {
    return fetch(root.dataset.source, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      cache: "no-store",
    }).then(function (response) {
      if (response.status === 401) {
        window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname + window.location.search));
        throw new Error("login expired");
      }
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      return response.json();
    }).then(show).catch(function () {
      // Keep the last figures on the screen and say they are old; the next tick tries again.
      root.classList.add("stale");
      updated.textContent = root.dataset.staleText;
    });
  }

  const initial = JSON.parse(document.getElementById("dash-view").textContent);
  window.civiclinkDashboard = { charts: charts, refresh: refresh, view: initial };
  draw(initial);

  const seconds = parseInt(root.dataset.refresh, 10) || 60;
  window.setInterval(refresh, seconds * 1000);

  let resizing = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(resizing);
    resizing = window.setTimeout(function () {
      Object.keys(charts).forEach(function (name) { charts[name].resize(); });
    }, 100);
  });
})();
