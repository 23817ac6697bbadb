/* Charts of the goal pages and the dashboard (vendored Chart.js, no build step). Each chart is a
   <canvas data-chart="goal|pillars|series" data-source="ID"> whose data is the JSON of the element ID
   (Django's json_script); an accessible table with the same figures follows every chart. */
(function () {
  "use strict";
  function data(canvas) {
    var source = document.getElementById(canvas.dataset.source);
    return source ? JSON.parse(source.textContent) : null;
  }
  function goalChart(canvas, d) {
    var labels = canvas.dataset;
    return new window.Chart(canvas, {
      type: "line",
      data: {
        labels: d.labels,
        datasets: [
          { label: labels.labelActual, data: d.actual, borderColor: "#2563eb", pointRadius: 0, spanGaps: true },
          { label: labels.labelForecast, data: d.forecast, borderColor: "#7c3aed", borderDash: [6, 4], pointRadius: 0 },
          { label: labels.labelUpper, data: d.upper, borderColor: "rgba(124,58,237,0.15)", backgroundColor: "rgba(124,58,237,0.12)", pointRadius: 0, fill: "+1" },
          { label: labels.labelLower, data: d.lower, borderColor: "rgba(124,58,237,0.15)", pointRadius: 0, fill: false },
          { label: labels.labelTarget, data: d.labels.map(function () { return d.target; }), borderColor: "#16a34a", borderDash: [2, 2], pointRadius: 0 }
        ]
      },
      options: { animation: false, responsive: true, maintainAspectRatio: false, interaction: { mode: "index", intersect: false },
                 scales: { x: { ticks: { maxTicksLimit: 10 } } } }
    });
  }
  function pillarChart(canvas, d) {
    var labels = canvas.dataset;
    return new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: d.labels,
        datasets: [
          { label: labels.labelActual, data: d.actual, backgroundColor: d.colours },
          { label: labels.labelTarget, data: d.target, backgroundColor: "rgba(107,114,128,0.35)" }
        ]
      },
      options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true, suggestedMax: 100 } } }
    });
  }
  var COLOURS = ["#2563eb", "#16a34a", "#d97706", "#7c3aed", "#dc2626"];
  function seriesChart(canvas, d) {
    /* Generic: {type: "line"|"bar", labels: [...], datasets: [{label, data}]} (analytics/channels.py). */
    return new window.Chart(canvas, {
      type: d.type,
      data: {
        labels: d.labels,
        datasets: d.datasets.map(function (set, n) {
          var colour = COLOURS[n % COLOURS.length];
          return { label: set.label, data: set.data, borderColor: colour, backgroundColor: colour, spanGaps: true,
                   pointRadius: d.type === "line" ? 2 : 0 };
        })
      },
      options: { animation: false, responsive: true, maintainAspectRatio: false, interaction: { mode: "index", intersect: false },
                 scales: { x: { ticks: { maxTicksLimit: 12 } }, y: { beginAtZero: d.type === "bar" } } }
    });
  }
  function init() {
    if (!window.Chart) { return; }
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var d = data(canvas);
      if (!d) { return; }
      if (canvas.dataset.chart === "goal") { goalChart(canvas, d); }
      if (canvas.dataset.chart === "pillars") { pillarChart(canvas, d); }
      if (canvas.dataset.chart === "series") { seriesChart(canvas, d); }
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
