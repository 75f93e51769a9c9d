// Event-log page: the sections a reader opened or closed stay so when the filters replace the analysis (htmx
// swaps #analysis, whose sections come back in their default state).
(function () {
  "use strict";
  var state = null;

  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "analysis") { return; }
    state = {};
    Array.prototype.forEach.call(target.querySelectorAll("details.section[id]"), function (section) {
      state[section.id] = section.open;
    });
  });

  document.addEventListener("htmx:afterSwap", function () {
    if (!state) { return; }
    Object.keys(state).forEach(function (id) {
      var section = document.getElementById(id);
      if (section && section.tagName === "DETAILS") { section.open = state[id]; }
    });
    state = null;
  });
})();
