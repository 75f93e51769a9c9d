"""/api/docs: the vendored Swagger UI page under the app's CSP, its OAuth2 redirect page, the credentials
declared in /openapi.json, Swagger's token request, and API_DOCS=false (both pages 404)."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from app.core import docs
from app.core.config import PROJECT_ROOT, Settings, get_settings
from app.core.middleware import CSP
from app.main import create_app
from tests.factories import PASSWORD


class Links(HTMLParser):
    """The URLs a page loads (src, href) and the text of its scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[tuple[str | None, str]] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]
        if tag == "script":
            self.scripts.append((values.get("src"), ""))
            self._in_script = True
        if tag == "div" and values.get("id") == "swagger-ui":
            self.urls += [values["data-openapi-url"] or "", values["data-oauth2-redirect-url"] or ""]

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script:
            src, text = self.scripts[-1]
            self.scripts[-1] = (src, text + data)


def parse(html: str) -> Links:
    links = Links()
    links.feed(html)
    return links


def test_docs_page_loads_only_the_apps_own_files(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CSP  # the app's own, not weakened
    links = parse(response.text)
    assert links.scripts == [("/static/vendor/swagger-ui/swagger-ui-bundle.js?v=5.35.0", ""),
                             ("/static/js/swagger-init.js?v=5.35.0", "")]  # no inline script
    assert "style=" not in response.text and "<style" not in response.text
    fetched = [u for u in links.urls if not u.startswith("data:")]  # the icon is inline, as on the pages
    assert "/static/vendor/swagger-ui/swagger-ui.css?v=5.35.0" in fetched
    assert all(u.startswith("/static/") for u in fetched if u not in ("/openapi.json", docs.OAUTH2_REDIRECT_URL))
    assert not re.search(r"(https?:)?//", " ".join(links.urls).replace("http://www.w3.org/2000/svg", ""))
    for url in fetched:
        assert client.get(url).status_code == 200, url


def test_init_script_configures_the_redirect_page_and_no_validator():
    script = (PROJECT_ROOT / "static/js/swagger-init.js").read_text()
    assert "oauth2RedirectUrl" in script and "root.dataset.oauth2RedirectUrl" in script
    assert "validatorUrl: null" in script
    assert "http" not in script.split("*/", 1)[1]


def test_vendored_files_match_the_checksums_in_the_readme():
    readme = (PROJECT_ROOT / "static/vendor/README.md").read_text()
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "oauth2-redirect.js"):
        digest = hashlib.sha256((PROJECT_ROOT / "static/vendor/swagger-ui" / name).read_bytes()).hexdigest()
        assert re.search(rf"`swagger-ui/{re.escape(name)}` \| `{digest}`", readme), name
    assert "swagger-ui-dist@5.35.0" in readme


def test_oauth2_redirect_page_answers(client):
    response = client.get(docs.OAUTH2_REDIRECT_URL)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CSP
    assert parse(response.text).scripts == [("/static/vendor/swagger-ui/oauth2-redirect.js?v=5.35.0", "")]
    assert client.get("/static/vendor/swagger-ui/oauth2-redirect.js?v=5.35.0").status_code == 200
    assert client.get("/docs/oauth2-redirect").status_code == 404  # FastAPI's default is gone


def test_openapi_declares_the_password_flow_and_service_tokens(client):
    spec = client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["OAuth2PasswordBearer"]["flows"] == {"password": {"tokenUrl": "/api/v1/auth/token", "scopes": {}}}
    assert schemes["ServiceToken"] == {**schemes["ServiceToken"], "type": "http", "scheme": "bearer"}
    assert spec["security"] == [{"OAuth2PasswordBearer": []}, {"ServiceToken": []}]
    assert spec["paths"]["/api/v1/auth/token"]["post"]["security"] == []
    assert spec["paths"]["/healthz"]["get"]["security"] == []
    assert "security" not in spec["paths"]["/api/v1/processes"]["get"]  # the global requirement applies
    assert not [p for p in spec["paths"] if p.startswith("/api/docs")]


def test_token_endpoint_accepts_swaggers_form_post(client, factory):
    """What Swagger UI's Authorize sends by default: grant_type and an empty scope beside the
    credentials, and the (empty) client id and secret as a Basic header."""
    user = factory.user()
    response = client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "scope": "", "username": user.email, "password": PASSWORD},
        headers={"Authorization": "Basic " + base64.b64encode(b":").decode()},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == user.email


def test_api_docs_setting_reads_the_environment(monkeypatch):
    assert Settings(_env_file=None).api_docs is True
    monkeypatch.setenv("API_DOCS", "false")
    assert Settings(_env_file=None).api_docs is False


@pytest.fixture
def client_without_docs(monkeypatch) -> TestClient:  # noqa: ANN001
    off = get_settings().model_copy(update={"api_docs": False})
    monkeypatch.setattr(docs, "get_settings", lambda: off)
    return TestClient(create_app(), raise_server_exceptions=False)


def test_docs_off_means_404(client_without_docs):
    assert client_without_docs.get("/api/docs").status_code == 404
    assert client_without_docs.get(docs.OAUTH2_REDIRECT_URL).status_code == 404
    spec = client_without_docs.get("/openapi.json")
    assert spec.status_code == 200
    assert "OAuth2PasswordBearer" in spec.json()["components"]["securitySchemes"]
