"""The API reference in the browser: Swagger UI at `/api/docs`, served by the app itself.

Swagger UI is vendored (`static/vendor/swagger-ui/`, see `static/vendor/README.md`): no CDN. The page
has no inline script (its set-up is `static/js/swagger-init.js`), so it runs under the app's own strict
Content Security Policy, unchanged. `API_DOCS=false` turns the pages off (404); `/openapi.json` stays.

`install` also declares the API's credentials in the OpenAPI document, whether or not the pages are
served: the OAuth2 password flow (`POST /api/v1/auth/token`, what Swagger UI's *Authorize* uses) and
service tokens (`Bearer pco_...`). Every operation requires one of them except the token endpoint and
the probes outside `/api/v1`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse

from app.core import openapi as openapi_doc
from app.core.config import get_settings

DOCS_URL = "/api/docs"
OAUTH2_REDIRECT_URL = "/api/docs/oauth2-redirect"
OPENAPI_URL = "/openapi.json"
TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 (a URL, not a secret)
SWAGGER_UI = "/static/vendor/swagger-ui"
SWAGGER_UI_VERSION = "5.35.0"  # in the asset URLs, so an upgrade is never served from a stale cache

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "OAuth2PasswordBearer": {
        "type": "oauth2",
        "description": "People: the account's email (as `username`) and password, exchanged for a Bearer "
                       "access token. Leave client_id and client_secret empty.",
        "flows": {"password": {"tokenUrl": TOKEN_URL, "scopes": {}}},
    },
    "ServiceToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "Machines: a service token `pco_...` created by an administrator.",
    },
}
SECURITY = [{"OAuth2PasswordBearer": []}, {"ServiceToken": []}]
# The same icon as the pages (templates/base.html); `data:` images are allowed by the CSP.
ICON = ("data:image/svg+xml,%3Csvg xmlns=%22http://www.w3.org/2000/svg%22 viewBox=%220 0 32 32%22%3E"
        "%3Crect width=%2232%22 height=%2232%22 rx=%227%22 fill=%22%23102a43%22/%3E%3Cpath d=%22M8 10h9M8 "
        "16h16M8 22h11%22 stroke=%22%23fff%22 stroke-width=%223%22 stroke-linecap=%22round%22/%3E%3Ccircle "
        "cx=%2223%22 cy=%2210%22 r=%223%22 fill=%22%234c9aff%22/%3E%3C/svg%3E")

DOCS_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>procopt API</title>
<link rel="icon" type="image/svg+xml" href="{ICON}">
<link rel="stylesheet" href="{SWAGGER_UI}/swagger-ui.css?v={SWAGGER_UI_VERSION}">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{OPENAPI_URL}" data-oauth2-redirect-url="{OAUTH2_REDIRECT_URL}"></div>
<script src="{SWAGGER_UI}/swagger-ui-bundle.js?v={SWAGGER_UI_VERSION}"></script>
<script src="/static/js/swagger-init.js?v={SWAGGER_UI_VERSION}"></script>
</body>
</html>
"""

# swagger-ui-dist's oauth2-redirect.html, with its script referenced from the vendored copy.
OAUTH2_REDIRECT_PAGE = f"""<!doctype html>
<html lang="en-US">
<head><meta charset="utf-8"><title>procopt API: OAuth2 redirect</title></head>
<body>
<script src="{SWAGGER_UI}/oauth2-redirect.js?v={SWAGGER_UI_VERSION}"></script>
</body>
</html>
"""

router = APIRouter(include_in_schema=False)


@router.get(DOCS_URL, response_class=HTMLResponse)
async def docs_page() -> HTMLResponse:
    return HTMLResponse(DOCS_PAGE)


@router.get(OAUTH2_REDIRECT_URL, response_class=HTMLResponse)
async def oauth2_redirect_page() -> HTMLResponse:
    return HTMLResponse(OAUTH2_REDIRECT_PAGE)


def _public(path: str) -> bool:
    return path == TOKEN_URL or not path.startswith("/api/v1/")


def install(app: FastAPI) -> None:
    """Declare the credentials in the app's OpenAPI document; serve the docs pages when API_DOCS is on."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()  # FastAPI's, cached in app.openapi_schema: the changes below are made once
        if "security" not in schema:
            schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
            schema["security"] = SECURITY
            for path, operations in schema.get("paths", {}).items():
                if _public(path):
                    for operation in operations.values():
                        operation["security"] = []
            openapi_doc.finish(app, schema, _public)  # If-Match, ETag, Link, 401 and problem+json
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    if get_settings().api_docs:
        app.include_router(router)
