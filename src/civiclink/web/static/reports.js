// The reports page and the 排班计划 page: draw the charts whose ECharts options the server built (web/reports.py,
// web/calls.py). No words here.
// For tests: window.civiclinkCharts = {name: echartsInstance}.
(function () {
  "use strict";

  const source = document.getElementById("report-view");
  if (!source || !window.echarts) {
    return;
  }
  const view = JSON.parse(source.textContent);
  const charts = {};
  window.civiclinkCharts = charts;
  Object.keys(view.charts).forEach(function (name) {
    const el = document.querySelector('[data-chart="' + name + '"]');
    if (!el) {
      return;
    }
    const chart = echarts.init(el, null, { renderer: "svg" });
    chart.setOption(view.charts[name]);
    charts[name] = chart;
  });
  window.addEventListener("resize", function () {
    Object.keys(charts).forEach(function (name) {
      charts[name].resize();
    });
  });
})();
