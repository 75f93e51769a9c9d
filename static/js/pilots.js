/* A pilot's evaluation: every element with a `data-pilot-chart` attribute is drawn with Apache ECharts as a
   staged bar chart (before / pilot / after) from the JSON in it, with the target and the expected value as lines
   and the observations behind each bar; a bar on too few observations is drawn pale and marked.
   No inline script (CSP). Charts are drawn again after htmx swaps (the section loads itself again). */
(function () {
  "use strict";

  var COLORS = ["#8a94a6", "#1f6feb", "#2e7d32"];  // before, pilot, after
  var TARGET = "#2e7d32", EXPECTED = "#b26a00";

  function round(v) { return Math.round(v * 100) / 100; }

  // A dashed line across the bars, unlabelled: the chart's caption names the target and the expected value in
  // the same colours (labels on the lines overlap when the two are close, 10 and 8 min).
  function markLine(value, label, color) {
    return { name: label, yAxis: value, lineStyle: { color: color, type: "dashed", width: 1.5 }, label: { show: false } };
  }

  // The y axis: about five steps of a round size (1, 2, 2.5 or 5 times a power of ten), room above the highest
  // bar or line for its label.
  function axis(max) {
    var top = max > 0 ? max * 1.15 : 1;
    var p = Math.pow(10, Math.floor(Math.log10(top / 5)));
    var step = [1, 2, 2.5, 5, 10].map(function (m) { return m * p; }).filter(function (m) { return top / m <= 5; })[0];
    return { interval: step, max: Math.round(Math.ceil(top / step) * step * 1e6) / 1e6 };
  }

  // A pale tint of a "#rrggbb" colour, for a bar on too few observations (not `opacity`: it would fade the
  // bar's label too).
  function pale(hex) {
    var n = parseInt(hex.slice(1), 16);
    var mix = function (c) { return Math.round(c + (255 - c) * 0.65); };
    return "rgb(" + mix(n >> 16) + "," + mix((n >> 8) & 255) + "," + mix(n & 255) + ")";
  }

  function option(data) {
    var marks = [];
    if (data.target !== null) { marks.push(markLine(data.target, data.text.target, TARGET)); }
    if (data.expected !== null) { marks.push(markLine(data.expected, data.text.expected, EXPECTED)); }
    var bars = data.values.map(function (v, i) {
      var few = data.too_few[i];
      return {
        value: v,
        itemStyle: { color: few ? pale(COLORS[i]) : COLORS[i], borderColor: COLORS[i],
                     borderType: few ? "dashed" : "solid", borderWidth: few ? 1.5 : 0 }
      };
    });
    var shown = data.values.filter(function (v) { return v !== null; });
    var all = shown.concat(data.target === null ? [] : [data.target], data.expected === null ? [] : [data.expected]);
    var scale = axis(all.length ? Math.max.apply(null, all) : 1);
    return {
      animation: false,
      grid: { left: 16, right: 16, top: 30, bottom: 4, containLabel: true },
      tooltip: {
        trigger: "axis", renderMode: "richText", axisPointer: { type: "shadow" },
        formatter: function (params) {
          var p = params[0], i = p.dataIndex, v = data.values[i];
          var line = data.labels[i] + ": " + (v === null ? "—" : round(v) + " " + data.unit);
          if (data.counts[i] !== null) { line += "\n" + data.text.count + ": " + data.counts[i]; }
          if (data.too_few[i]) { line += "\n⚠ " + data.text.too_few; }
          return line;
        }
      },
      // the observations behind each bar under its stage: on top they would cross the target's line
      xAxis: {
        type: "category", axisTick: { show: false }, axisLabel: { lineHeight: 16 },
        data: data.labels.map(function (label, i) {
          return data.counts[i] === null ? label : label + "\nn=" + data.counts[i];
        })
      },
      yAxis: {
        type: "value", name: data.unit, nameTextStyle: { align: "right" }, min: 0,
        max: scale.max, interval: scale.interval, splitLine: { lineStyle: { color: "#e4e7eb" } }
      },
      series: [{
        type: "bar", data: bars, barMaxWidth: 56,
        label: {
          show: true, position: "top", color: "#1f2933", fontSize: 12, fontWeight: 600,
          backgroundColor: "rgba(255, 255, 255, 0.85)", padding: [1, 3], borderRadius: 2,
          formatter: function (p) {
            var i = p.dataIndex;
            return data.values[i] === null ? "" : round(data.values[i]) + (data.too_few[i] ? " ⚠" : "");
          }
        },
        markLine: { silent: true, symbol: ["none", "none"], data: marks }
      }],
      graphic: shown.length ? [] : [{
        type: "text", left: "center", top: "middle", style: { text: data.text.empty, fill: "#616e7c", fontSize: 13 }
      }]
    };
  }

  procoptCharts.register("data-pilot-chart", option);  // drawn, redrawn after htmx swaps, resized: static/js/charts.js
})();
