/* The bpmn.io viewer (bpmn-js's navigated viewer, vendored in static/vendor/, global `BpmnJS`) on the map pages
   (templates/maps/viewer.html): `#bpmn-canvas[data-bpmn-url]` is filled with the BPMN 2.0 file at that URL
   (same origin, the page's session cookie). A file of its own, not an inline script: the page runs under the
   app's strict Content Security Policy (bpmn-js sets styles through the CSSOM, which the CSP allows).

   The box takes the diagram's height at the page's width (within limits) and the diagram is fitted in it, not
   below a readable scale: a long flow is then dragged (or scrolled with the wheel, zoomed with Ctrl + wheel).
   `[data-bpmn-fit]` (a button, shown once drawn) puts it back so, as does a change of the window's width.
   On failure the text of `data-error-text` goes into the element with role=alert (`data-error-id`, by default
   #bpmn-error). The state is on the box for tests: `data-bpmn-state` is "loading", then "ready" (with
   `data-bpmn-warnings`, the number of import warnings, and `data-bpmn-fits`, whether all of it is in view) or
   "error". The "powered by bpmn.io" watermark is bpmn-js's own and stays visible (bpmn.io license). */
(function () {
  "use strict";

  var PAD = 24;          // room around the diagram, px
  var PAD_BOTTOM = 48;   // more below: the watermark sits in the bottom right corner
  var MIN_HEIGHT = 240;  // px
  var MAX_HEIGHT = 0.75; // of the window's height
  var MIN_SCALE = 0.8;   // smaller and the names (12 px) are too small to read: a long flow is dragged instead

  function showError(box, detail) {
    var alert = document.getElementById(box.getAttribute("data-error-id") || "bpmn-error");
    if (!alert) {
      alert = document.createElement("p");
      alert.setAttribute("role", "alert");
      box.parentNode.insertBefore(alert, box);
    }
    alert.textContent = box.getAttribute("data-error-text") || "The diagram could not be shown.";
    box.setAttribute("data-bpmn-state", "error");
    box.removeAttribute("aria-busy");
    if (window.console) { console.error("BPMN viewer:", detail); }
  }

  /* The box as high as the diagram drawn at the box's width (never enlarged, never below MIN_SCALE, the box no
     higher than MAX_HEIGHT), then the diagram in it with some room around: centred when it fits, else from its
     start (top left), the rest a drag away. */
  function fit(box, canvas) {
    canvas.resized();
    canvas.zoom(1);
    var inner = canvas.viewbox().inner;
    if (!inner.width || !inner.height) { return; }
    var width = box.clientWidth;
    var max = Math.max(MIN_HEIGHT, Math.round(window.innerHeight * MAX_HEIGHT));
    var scale = Math.max(MIN_SCALE, Math.min(1, (width - 2 * PAD) / inner.width));
    var height = Math.min(max, Math.max(MIN_HEIGHT, Math.ceil(inner.height * scale + PAD + PAD_BOTTOM)));
    box.style.height = height + "px";
    height = box.clientHeight;  // without the borders: the viewer's size
    canvas.resized();
    scale = Math.max(MIN_SCALE, Math.min(1, (width - 2 * PAD) / inner.width, (height - PAD - PAD_BOTTOM) / inner.height));
    var w = width / scale, h = height / scale;
    var spareX = w - 2 * PAD / scale - inner.width, spareY = h - (PAD + PAD_BOTTOM) / scale - inner.height;
    canvas.viewbox({
      x: inner.x - PAD / scale - Math.max(0, spareX) / 2,
      y: inner.y - PAD / scale - Math.max(0, spareY) / 2,
      width: w,
      height: h
    });
    box.setAttribute("data-bpmn-fits", spareX >= -1 && spareY >= -1 ? "true" : "false");
  }

  function show(box) {
    if (typeof BpmnJS === "undefined") { showError(box, "bpmn-js is not loaded"); return; }
    box.setAttribute("data-bpmn-state", "loading");
    box.setAttribute("aria-busy", "true");
    fetch(box.getAttribute("data-bpmn-url"), {
      credentials: "same-origin",
      headers: { Accept: "application/bpmn+xml, application/xml" }
    }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status + " for " + response.url); }
      return response.text();
    }).then(function (xml) {
      var viewer = new BpmnJS({ container: box });
      return viewer.importXML(xml).then(function (result) {
        var warnings = (result && result.warnings) || [];
        warnings.forEach(function (w) { console.warn("BPMN import:", w.message || w); });
        var canvas = viewer.get("canvas");
        fit(box, canvas);
        var button = document.querySelector("[data-bpmn-fit]");
        if (button) {
          button.hidden = false;
          button.addEventListener("click", function () { fit(box, canvas); });
        }
        var timer = null, lastWidth = box.clientWidth;
        window.addEventListener("resize", function () {
          window.clearTimeout(timer);
          timer = window.setTimeout(function () {
            if (box.clientWidth !== lastWidth) { lastWidth = box.clientWidth; fit(box, canvas); }
          }, 100);
        });
        box.setAttribute("data-bpmn-warnings", String(warnings.length));
        box.setAttribute("data-bpmn-state", "ready");
        box.removeAttribute("aria-busy");
      });
    }).catch(function (err) { showError(box, err); });
  }

  function start() {
    var box = document.querySelector("#bpmn-canvas[data-bpmn-url]");
    if (box) { show(box); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
