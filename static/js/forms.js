// A form post refused before it was read (413: app/core/http_errors.py `body_too_large_page`) gets its message
// at the top of the form, and the messages of the form's last answer are removed (out-of-band, by the answer
// itself). The fields those messages marked invalid are unmarked here, so that only the current error shows.
(function () {
  "use strict";
  document.addEventListener("htmx:afterSwap", function (event) {
    var xhr = event.detail.xhr;
    var form = event.detail.target;
    if (!xhr || xhr.status !== 413 || !form || form.tagName !== "FORM") { return; }
    Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), function (field) {
      field.removeAttribute("aria-invalid");
      field.removeAttribute("aria-describedby");
    });
  });
})();
