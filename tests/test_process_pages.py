"""The process registry pages (HTML, htmx fragments), driven like a browser would: cookie login, CSRF."""

from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.core import db as core_db
from app.core.audit import AuditRecord
from app.core.migrate import upgrade
from app.processes.models import Process, ProcessStatus
from app.processes.schemas import ProcessUpdate
from app.processes.service import update_process
from app.users.models import Role, User
from tests.factories import PASSWORD, Factory
from tests.helpers import csrf_tokens, fast_hashing, page_login  # noqa: F401 - fast_hashing is a fixture

HTMX = {"HX-Request": "true"}
pytestmark = pytest.mark.usefixtures("fast_hashing")


def login(client, user: User) -> str:  # noqa: ANN001
    """Log in through the form; the CSRF token of the session, as a page shows it."""
    r = page_login(client, user.email, PASSWORD)
    assert r.status_code == 303, r.text
    page = client.get("/processes")
    assert page.status_code == 200
    header_token, fields = csrf_tokens(page.text)
    assert header_token and set(fields) <= {header_token}
    return header_token


def count(session: Session) -> int:
    return session.exec(select(sa.func.count()).select_from(Process)).one()


def tag(page: str, name: str, value: str | None = None) -> str:
    """The first `<input>`/`<textarea>`/`<select>` tag named `name` (and with `value`, when given)."""
    for m in re.finditer(r"<(?:input|textarea|select)\b[^>]*>", page):
        t = m.group(0)
        if f'name="{name}"' in t and (value is None or f'value="{html.escape(value)}"' in t):
            return t
    raise AssertionError(f"no field {name}={value} in the page")


def field_value(page: str, name: str) -> str:
    m = re.search(r'value="([^"]*)"', tag(page, name))
    return html.unescape(m.group(1)) if m else ""


def textarea(page: str, name: str) -> str:
    m = re.search(rf'<textarea\b[^>]*name="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    assert m, f"no textarea {name}"
    return html.unescape(m.group(1))


def codes_in(page: str) -> list[str]:
    return [html.unescape(c) for c in re.findall(r'<a href="/processes/\d+" class="code">([^<]*)</a>', page)]


def vary(r) -> set[str]:  # noqa: ANN001
    return {v.strip().lower() for v in r.headers.get("vary", "").split(",")}


# --- list and live search -------------------------------------------------------------------------


def test_list_page(client, factory: Factory):
    member = factory.user(Role.member)
    factory.process(member, code="YH-LC02", name="发票核对")
    factory.process(member, code="YH-LC01", name="Registration")
    login(client, member)
    r = client.get("/processes")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "<html" in r.text
    assert codes_in(r.text) == ["YH-LC01", "YH-LC02"]
    assert "发票核对" in r.text
    assert "hx-request" in vary(r)
    assert 'href="/processes/new"' in r.text  # members may create


def test_live_search_returns_only_the_rows(client, factory: Factory):
    member = factory.user(Role.member)
    factory.process(member, code="YH-LC01", name="用户注册流程")
    factory.process(member, code="YH-LC02", name="Invoice check")
    login(client, member)
    r = client.get("/processes", params={"q": "lc01"}, headers=HTMX)
    assert r.status_code == 200
    assert "<html" not in r.text and "<form" not in r.text
    assert codes_in(r.text) == ["YH-LC01"]
    assert "hx-request" in vary(r)
    assert codes_in(client.get("/processes", params={"q": "注册"}, headers=HTMX).text) == ["YH-LC01"]
    none = client.get("/processes", params={"q": "100%"}, headers=HTMX)
    assert codes_in(none.text) == [] and "<html" not in none.text
    # the same URL without htmx is the whole page, with the search box filled in
    full = client.get("/processes", params={"q": "lc01"})
    assert "<html" in full.text and field_value(full.text, "q") == "lc01"
    assert codes_in(full.text) == ["YH-LC01"]


def test_show_more_pages_through_the_list(client, factory: Factory, session):
    member = factory.user(Role.member)
    session.add_all(Process(code=f"M-{i:02d}", code_norm=f"M-{i:02d}", name=f"m {i}", name_norm=f"m {i}",
                            owner_id=member.id) for i in range(27))
    session.flush()
    login(client, member)
    first = client.get("/processes")
    shown = codes_in(first.text)
    assert shown == [f"M-{i:02d}" for i in range(25)]
    more = re.search(r'<tr[^>]*id="more-row"[^>]*>.*?hx-get="([^"]+)"', first.text, re.S)
    assert more, "no 'show more' row"
    rest = client.get(html.unescape(more.group(1)), headers=HTMX)
    assert rest.status_code == 200 and "<html" not in rest.text
    assert codes_in(rest.text) == ["M-25", "M-26"]
    assert 'id="more-row"' not in rest.text


# --- create ---------------------------------------------------------------------------------------

FORM = {"code": "YH-LC01", "name": "用户注册流程", "description": "Sign-up\nactivation",
        "owner_department": "technology", "departments": ["operations", "legal"]}


def test_new_form_with_bad_code_is_shown_again_with_the_values_typed(client, factory: Factory, session):
    member = factory.user(Role.member)
    csrf = login(client, member)
    before = count(session)
    r = client.post("/processes/new", data={**FORM, "code": "bad code!", "csrf_token": csrf})
    assert r.status_code == 422
    page = r.text
    assert "<html" in page
    assert re.search(r'<p class="field-error" id="code-error">[^<]+</p>', page)
    assert 'aria-invalid="true"' in tag(page, "code")
    assert "code-error" in tag(page, "code")
    assert field_value(page, "code") == "bad code!"
    assert field_value(page, "name") == FORM["name"]
    assert textarea(page, "description").strip() == FORM["description"]
    assert "selected" in re.search(r'<option value="technology"[^>]*>', page).group(0)
    assert "checked" in tag(page, "departments", "operations") and "checked" in tag(page, "departments", "legal")
    assert "checked" not in tag(page, "departments", "finance")
    assert 'id="name-error"' not in page
    assert count(session) == before


def test_new_form_errors_from_the_service_are_inline_too(client, factory: Factory, session):
    member = factory.user(Role.member)
    factory.process(member, code="YH-LC01")
    csrf = login(client, member)
    before = count(session)
    audit_before = session.exec(select(sa.func.count()).select_from(AuditRecord)).one()
    taken = client.post("/processes/new", data={**FORM, "code": "yh-lc01", "csrf_token": csrf})
    assert taken.status_code == 422
    assert 'id="code-error"' in taken.text and field_value(taken.text, "code") == "yh-lc01"
    unknown = client.post("/processes/new", data={**FORM, "code": "YH-LC09", "departments": ["nowhere"],
                                                   "csrf_token": csrf})
    assert unknown.status_code == 422
    assert 'id="departments-error"' in unknown.text and field_value(unknown.text, "code") == "YH-LC09"
    assert count(session) == before
    assert session.exec(select(sa.func.count()).select_from(AuditRecord)).one() == audit_before


def test_new_form_through_htmx_returns_only_the_form(client, factory: Factory, session):
    csrf = login(client, factory.user(Role.member))
    r = client.post("/processes/new", data={**FORM, "name": ""}, headers={**HTMX, "X-CSRF-Token": csrf})
    assert r.status_code == 422
    assert "<html" not in r.text and r.text.lstrip().startswith("<form")
    assert 'id="name-error"' in r.text and field_value(r.text, "code") == FORM["code"]
    assert "hx-request" in vary(r)
    ok = client.post("/processes/new", data=FORM, headers={**HTMX, "X-CSRF-Token": csrf})
    assert ok.status_code == 200
    created = session.exec(select(Process).where(Process.code == FORM["code"])).one()
    assert ok.headers["HX-Redirect"] == f"/processes/{created.id}"


def test_valid_new_form_redirects_to_the_detail_page(client, factory: Factory, session):
    member = factory.user(Role.member)
    csrf = login(client, member)
    r = client.post("/processes/new", data={**FORM, "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    created = session.exec(select(Process).where(Process.code == FORM["code"])).one()
    assert r.headers["location"] == f"/processes/{created.id}"
    assert (created.name, created.description, created.owner_id) == (FORM["name"], FORM["description"], member.id)
    detail = client.get(r.headers["location"])
    assert detail.status_code == 200
    assert FORM["code"] in detail.text and FORM["name"] in detail.text
    assert f'href="/processes/{created.id}/edit"' in detail.text
    rec = session.exec(select(AuditRecord).where(AuditRecord.entity_type == "process",
                                                 AuditRecord.entity_id == created.id)).one()
    assert (rec.action, rec.actor_id) == ("create", member.id)


def test_unsafe_requests_need_the_csrf_token(client, factory: Factory, session):
    member = factory.user(Role.member)
    p = factory.process(member)
    csrf = login(client, member)
    before = count(session)
    assert client.post("/processes/new", data=FORM).status_code == 403
    assert client.post("/processes/new", data={**FORM, "csrf_token": "0" * 64}).status_code == 403
    assert client.post(f"/processes/{p.id}/archive", data={}).status_code == 403
    assert count(session) == before
    session.refresh(p)
    assert p.status == ProcessStatus.active
    assert client.post("/processes/new", data=FORM, headers={"X-CSRF-Token": csrf},
                       follow_redirects=False).status_code == 303
    assert count(session) == before + 1


# --- edit -----------------------------------------------------------------------------------------


def test_edit_with_a_stale_version_shows_the_conflict_and_keeps_the_other_change(client, factory: Factory,
                                                                                session):
    member, lead = factory.user(Role.member), factory.user(Role.lead)
    p = factory.process(member, code="YH-LC01", name="Original")
    csrf = login(client, member)
    form = client.get(f"/processes/{p.id}/edit")
    assert form.status_code == 200
    assert field_value(form.text, "name") == "Original"
    version = int(field_value(form.text, "version"))
    assert version == p.version

    # someone else saves first
    update_process(session, p.id, ProcessUpdate(name="Lead's name"), lead, expected_version=version)
    session.flush()

    r = client.post(f"/processes/{p.id}/edit", data={
        "csrf_token": csrf, "version": str(version), "name": "Member's name", "description": "",
        "owner_department": "operations", "departments": ["operations"]})
    assert r.status_code in (409, 422)
    assert re.search(r'class="flash flash-error" role="alert">[^<]+<', r.text)
    assert field_value(r.text, "name") == "Lead's name"  # theirs, to apply the change again
    assert int(field_value(r.text, "version")) == version + 1
    session.refresh(p)
    assert (p.name, p.version) == ("Lead's name", version + 1)

    again = client.post(f"/processes/{p.id}/edit", data={
        "csrf_token": csrf, "version": str(version + 1), "name": "Member's name", "description": "",
        "owner_department": "operations", "departments": ["operations"]}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == f"/processes/{p.id}"
    session.refresh(p)
    assert (p.name, p.version) == ("Member's name", version + 2)


def test_edit_with_invalid_values_keeps_them(client, factory: Factory, session):
    member = factory.user(Role.member)
    p = factory.process(member, name="Original")
    csrf = login(client, member)
    r = client.post(f"/processes/{p.id}/edit", data={
        "csrf_token": csrf, "version": str(p.version), "name": "", "description": "typed",
        "owner_department": "", "departments": ["finance"]})
    assert r.status_code == 422
    assert 'id="name-error"' in r.text
    assert textarea(r.text, "description") == "typed"
    assert "checked" in tag(r.text, "departments", "finance")
    session.refresh(p)
    assert (p.name, p.version) == ("Original", 1)


def test_member_cannot_edit_anothers_process(client, factory: Factory, session):
    owner, other = factory.user(Role.member), factory.user(Role.member)
    p = factory.process(owner, name="Original")
    csrf = login(client, other)
    assert client.get(f"/processes/{p.id}/edit").status_code == 403
    detail = client.get(f"/processes/{p.id}")
    assert detail.status_code == 200 and f"/processes/{p.id}/edit" not in detail.text
    r = client.post(f"/processes/{p.id}/edit", data={"csrf_token": csrf, "version": "1", "name": "Mine now"})
    assert r.status_code == 403
    assert client.post(f"/processes/{p.id}/archive", data={"csrf_token": csrf}).status_code == 403
    session.refresh(p)
    assert (p.name, p.status) == ("Original", ProcessStatus.active)


def test_archive_and_restore_buttons(client, factory: Factory, session):
    member = factory.user(Role.member)
    p = factory.process(member)
    csrf = login(client, member)
    r = client.post(f"/processes/{p.id}/archive", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/processes/{p.id}"
    session.refresh(p)
    assert p.status == ProcessStatus.archived
    assert f'action="/processes/{p.id}/restore"' in client.get(f"/processes/{p.id}").text
    client.post(f"/processes/{p.id}/restore", data={"csrf_token": csrf})
    session.refresh(p)
    assert p.status == ProcessStatus.active


def test_history_page_for_leads_only(client, factory: Factory):
    member, lead = factory.user(Role.member), factory.user(Role.lead)
    p = factory.process(member, code="YH-LC01")
    factory.session.flush()
    login(client, member)
    assert client.get(f"/processes/{p.id}/history").status_code == 403
    assert f"/processes/{p.id}/history" not in client.get(f"/processes/{p.id}").text
    login(client, lead)
    r = client.get(f"/processes/{p.id}/history")
    assert r.status_code == 200 and "YH-LC01" in r.text


# --- who may see what -----------------------------------------------------------------------------


def test_viewer_gets_a_403_page_for_the_new_form(client, factory: Factory, session):
    csrf = login(client, factory.user(Role.viewer))
    r = client.get("/processes/new", follow_redirects=False)
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("text/html") and "<html" in r.text
    assert 'href="/processes/new"' not in client.get("/processes").text
    before = count(session)
    assert client.post("/processes/new", data={**FORM, "csrf_token": csrf}).status_code == 403
    assert count(session) == before


@pytest.mark.parametrize("path", ["/processes", "/processes/new", "/processes/1", "/processes/1/edit"])
def test_unauthenticated_pages_redirect_to_login(client, path):
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/login?next={path}"


def test_unauthenticated_htmx_request_is_told_to_redirect(client):
    r = client.get("/processes", params={"q": "x"}, headers=HTMX, follow_redirects=False)
    assert r.status_code in (200, 204)
    assert r.headers["HX-Redirect"].startswith("/login?next=/processes")


def test_unknown_process_page_is_404(client, factory: Factory):
    login(client, factory.user(Role.member))
    r = client.get("/processes/987654")
    assert r.status_code == 404 and "<html" in r.text


def test_error_pages_of_logged_in_users_with_the_apps_own_sessions(app, tmp_path):
    """No dependency override: the request sessions are the app's (`get_session`), on a database of
    their own, and a 403/404 raised in a handler is still rendered as that page."""
    url = f"sqlite:///{tmp_path / 'own.db'}"
    upgrade(url)
    engine, previous = core_db.make_engine(url), core_db._engine
    core_db.set_engine(engine)
    try:
        with Session(engine, expire_on_commit=False) as s:
            viewer = Factory(s).user(Role.viewer)
            s.commit()
        with TestClient(app, raise_server_exceptions=False) as own:
            login(own, viewer)
            missing = own.get("/processes/987654")
            assert missing.status_code == 404 and "<html" in missing.text
            forbidden = own.get("/processes/new")
            assert forbidden.status_code == 403 and "<html" in forbidden.text
    finally:
        core_db.set_engine(previous)
        engine.dispose()


# --- language -------------------------------------------------------------------------------------


def html_lang(page: str) -> str:
    m = re.search(r'<html\b[^>]*\blang="([^"]+)"', page)
    assert m, "no <html lang>"
    return m.group(1)


def test_language_switch_cookie(client, factory: Factory):
    login(client, factory.user(Role.member))
    assert html_lang(client.get("/processes").text) == "en"
    assert html_lang(client.get("/processes", headers={"Accept-Language": "fr-FR, en;q=0.5"}).text) == "en"

    r = client.get("/lang", params={"set": "zh_CN", "next": "/processes?q=x"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/processes?q=x"
    assert "procopt_lang=zh_CN" in r.headers["set-cookie"]
    assert html_lang(client.get("/processes").text) == "zh-CN"
    assert html_lang(client.get("/processes", headers={"Accept-Language": "en"}).text) == "zh-CN"  # choice wins
    assert html_lang(client.get("/processes/new").text) == "zh-CN"
    client.get("/lang", params={"set": "en"})
    assert html_lang(client.get("/processes").text) == "en"
    assert client.get("/lang", params={"set": "https://evil.example", "next": "//evil.example"},
                      follow_redirects=False).headers["location"] == "/"


def test_accept_language_zh_cn(client, factory: Factory):
    login(client, factory.user(Role.member))
    assert html_lang(client.get("/processes", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text) == "zh-CN"


def test_login_page_language(client):
    assert html_lang(client.get("/login").text) == "en"
    assert html_lang(client.get("/login", headers={"Accept-Language": "zh-CN"}).text) == "zh-CN"
