/* KPI charts: every element with a `data-chart` attribute is drawn with Apache ECharts from the JSON in it
   (no inline script: CSP). Charts are drawn again after htmx swaps (the period switch). */
(function () {
  "use strict";

  var COLORS = { line: "#1f6feb", area: "rgba(31, 111, 235, 0.10)", target: "#2e7d32", baseline: "#8a94a6" };

  function markLine(value, label, color) {
    return {
      name: label, yAxis: value, symbol: "none",
      lineStyle: { color: color, type: "dashed", width: 1.5 },
      label: { formatter: label + " {c}", position: "insideEndTop", color: color, fontSize: 11 }
    };
  }

  function niceCeil(x) {
    if (x <= 0) { return 1; }
    var p = Math.pow(10, Math.floor(Math.log10(x)));
    return Math.ceil(x / p * 2) / 2 * p;
  }

  function option(data) {
    var marks = [];
    if (data.target !== null) { marks.push(markLine(data.target, data.text.target, COLORS.target)); }
    if (data.baseline !== null) { marks.push(markLine(data.baseline, data.text.baseline, COLORS.baseline)); }
    var values = data.values.filter(function (v) { return v !== null; });
    var all = values.concat(data.target === null ? [] : [data.target], data.baseline === null ? [] : [data.baseline]);
    var max = all.length ? Math.max.apply(null, all) : 1;
    var min = all.length ? Math.min.apply(null, all) : 0;
    return {
      animation: false,
      grid: { left: 40, right: 44, top: 28, bottom: 24, containLabel: true },
      tooltip: {
        trigger: "axis", renderMode: "richText",
        valueFormatter: function (v) { return v === null || v === undefined ? "—" : (Math.round(v * 100) / 100) + " " + data.unit; }
      },
      xAxis: { type: "category", data: data.labels, boundaryGap: false, axisLabel: { hideOverlap: true } },
      yAxis: {
        type: "value", name: data.unit, nameTextStyle: { align: "right" },
        min: min >= 0 ? 0 : null, max: niceCeil(max * 1.05),
        splitLine: { lineStyle: { color: "#e4e7eb" } }
      },
      series: [{
        name: data.text.value, type: "line", data: data.values, showSymbol: data.values.length <= 60,
        symbolSize: 5, connectNulls: false, lineStyle: { width: 2, color: COLORS.line },
        itemStyle: { color: COLORS.line }, areaStyle: { color: COLORS.area },
        markLine: { silent: true, data: marks }
      }],
      graphic: data.values.length ? [] : [{
        type: "text", left: "center", top: "middle", style: { text: data.text.empty, fill: "#616e7c", fontSize: 14 }
      }]
    };
  }

  procoptCharts.register("data-chart", option);  // drawn, redrawn after htmx swaps, resized: static/js/charts.js
})();
