/* Swagger UI on /api/docs (app/core/docs.py). A file of its own, not an inline script: the page runs
   under the app's strict Content Security Policy. The page says where the OpenAPI document and the
   OAuth2 redirect page are (data-* attributes on #swagger-ui). */
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    oauth2RedirectUrl: window.location.origin + root.dataset.oauth2RedirectUrl,
    validatorUrl: null  // never send the schema to swagger.io's validator
  });
})();
