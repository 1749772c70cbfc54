/* Draws each analytics chart from the JSON the page embeds (the table below it has the same
   figures). Colours follow the current theme and are redrawn when it changes. */
(function () {
  "use strict";
  var charts = [];
  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }
  function palette() {
    return [css("--dm-c1"), css("--dm-c2"), css("--dm-c3"), css("--dm-c4"), css("--dm-c5"),
            css("--dm-c6"), css("--dm-c7"), css("--dm-c8")];
  }
  function build(canvas, spec) {
    var colours = palette();
    var fg = css("--fg") || "#1b1f24";
    var grid = css("--border") || "#d0d7de";
    var pie = spec.type === "doughnut";
    var datasets = spec.datasets.map(function (d, i) {
      return {
        label: d.label,
        data: d.data,
        backgroundColor: pie ? [colours[1], colours[3]] : colours[i % colours.length],
        borderWidth: pie ? 0 : 1,
      };
    });
    var scales = pie ? {} : {
      x: { stacked: !!spec.stacked, ticks: { color: fg }, grid: { color: grid } },
      y: { stacked: !!spec.stacked, beginAtZero: true, ticks: { color: fg }, grid: { color: grid } },
    };
    return new window.Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        indexAxis: spec.horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { labels: { color: fg } } },
        scales: scales,
      },
    });
  }
  function drawAll() {
    charts.forEach(function (c) { c.destroy(); });
    charts = [];
    if (!window.Chart) return;
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var source = document.getElementById(canvas.dataset.chart);
      if (!source) return;
      charts.push(build(canvas, JSON.parse(source.textContent)));
    });
  }
  document.addEventListener("DOMContentLoaded", drawAll);
  document.addEventListener("dm:theme", drawAll);
  if (window.matchMedia) {
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", drawAll);
  }
})();
