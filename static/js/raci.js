// RACI grid keyboard support: arrow keys move focus between the letter buttons; Enter or space toggles
// (native button behaviour). Focus is kept on the same button after htmx swaps the grid.
(function () {
  "use strict";
  var lastFocused = null;

  function buttonsOf(row) {
    return Array.prototype.slice.call(row.querySelectorAll("button.raci-letter"));
  }

  document.addEventListener("keydown", function (event) {
    var button = event.target;
    if (!button.classList || !button.classList.contains("raci-letter")) { return; }
    var row = button.closest("tr");
    var body = row && row.parentElement;
    if (!body) { return; }
    var rows = Array.prototype.slice.call(body.querySelectorAll("tr"));
    var r = rows.indexOf(row);
    var index = buttonsOf(row).indexOf(button);
    var target = null;
    if (event.key === "ArrowLeft") { target = buttonsOf(row)[index - 1]; }
    else if (event.key === "ArrowRight") { target = buttonsOf(row)[index + 1]; }
    else if (event.key === "ArrowUp" && r > 0) { target = buttonsOf(rows[r - 1])[index]; }
    else if (event.key === "ArrowDown" && r < rows.length - 1) { target = buttonsOf(rows[r + 1])[index]; }
    else { return; }
    event.preventDefault();
    if (target) { target.focus(); }
  });

  document.addEventListener("htmx:beforeRequest", function () {
    var active = document.activeElement;
    lastFocused = active && active.id ? active.id : null;
  });

  document.addEventListener("htmx:afterSwap", function () {
    if (!lastFocused) { return; }
    var again = document.getElementById(lastFocused);
    if (again) { again.focus(); }
  });
})();
