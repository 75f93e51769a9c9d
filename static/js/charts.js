/* The life of the pages' Apache ECharts charts, for every kind of chart (static/js/metrics.js, pilots.js):
   `procoptCharts.register(attribute, option)` draws each element carrying `attribute` (its value: the chart's
   JSON data, `option(data)` making the ECharts option; `data.locale` the chart's locale) when the page loads
   and after every htmx swap that brings new ones, disposes of the charts an htmx swap removes, and resizes
   them with the window. Load it (deferred) after ECharts and before the scripts that register. No inline
   script (CSP). */
window.procoptCharts = (function () {
  "use strict";

  function register(attribute, option) {
    function nodes(root) {
      return root && root.querySelectorAll ? root.querySelectorAll("[" + attribute + "]") : [];
    }

    function each(root, fn) {
      if (typeof echarts === "undefined") { return; }
      Array.prototype.forEach.call(nodes(root), fn);
    }

    function draw(root) {
      each(root, function (el) {
        var data;
        try { data = JSON.parse(el.getAttribute(attribute)); } catch (e) { return; }
        var chart = echarts.getInstanceByDom(el) || echarts.init(el, null, { renderer: "canvas", locale: data.locale });
        chart.setOption(option(data), true);
      });
    }

    function dispose(root) {
      each(root, function (el) {
        var chart = echarts.getInstanceByDom(el);
        if (chart) { chart.dispose(); }
      });
    }

    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", function () { draw(document); });
    } else {
      draw(document);
    }
    document.addEventListener("htmx:beforeSwap", function (event) { dispose(event.detail.target); });
    document.addEventListener("htmx:afterSettle", function (event) { draw(event.detail.elt); });
    var pending = null;
    window.addEventListener("resize", function () {
      clearTimeout(pending);
      pending = setTimeout(function () {
        each(document, function (el) {
          var chart = echarts.getInstanceByDom(el);
          if (chart) { chart.resize(); }
        });
      }, 150);
    });
  }

  return { register: register };
})();
