"""Translations: every message in the code and templates has a Chinese translation, and pages use them.

When this fails after you added a string: `make i18n`, then translate the new entries in
app/translations/zh_CN/LC_MESSAGES/messages.po (keep the `%(name)s` / `{name}` placeholders).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from app.core import errors as core_errors
from app.core.http_errors import InternalError
from app.core.i18n import LANG_COOKIE, TRANSLATIONS_DIR
from app.core.labels import ERROR_TITLES
from app.users.models import Role

ROOT = Path(__file__).resolve().parents[1]
PERCENT = re.compile(r"%\((\w+)\)[sdifr]")
BRACES = re.compile(r"(?<!\{)\{(\w*)\}(?!\})")
LITERAL_PERCENT = re.compile(r"%%")  # a `%` in a %-formatted message


Key = tuple[str | None, str]  # (msgctxt, msgid)


def extracted_msgids() -> dict[Key, str]:
    """(context, msgid) -> a file using it, extracted with the project's babel.cfg (as `make i18n` does)."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh, "babel.cfg")
    keywords = {**DEFAULT_KEYWORDS, "N_": None, "NC_": ((1, "c"), 2)}
    found: dict[Key, str] = {}
    for filename, _lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault((context, msgid), filename)
    return found


def catalog(locale: str) -> dict[Key, object]:
    with (TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return {(m.context, m.id): m for m in read_po(fh) if m.id}


def _show(key: Key) -> str:
    context, msgid = key
    return f"{context}|{msgid!r}" if context else repr(msgid)


@pytest.fixture(scope="module")
def msgids() -> dict[Key, str]:
    found = extracted_msgids()
    assert len(found) > 50, "extraction found almost nothing: is babel.cfg right?"
    return found


def test_every_message_has_a_chinese_translation(msgids: dict[Key, str]) -> None:
    zh = catalog("zh_CN")
    missing = [f"{_show(key)} ({where})" for key, where in sorted(msgids.items(), key=lambda kv: (kv[0][1], kv[0][0] or ""))
               if key not in zh or not zh[key].string or zh[key].fuzzy]
    assert not missing, "untranslated in zh_CN (run `make i18n` and translate):\n  " + "\n  ".join(missing)


def test_placeholders_match(msgids: dict[Key, str]) -> None:
    zh = catalog("zh_CN")
    wrong = []
    for key in msgids:
        msgid = key[1]
        entry = zh.get(key)
        if entry is None or not entry.string:
            continue
        for pattern in (PERCENT, BRACES, LITERAL_PERCENT):
            if sorted(pattern.findall(msgid)) != sorted(pattern.findall(entry.string)):
                wrong.append(f"{msgid!r} -> {entry.string!r}")
                break
    assert not wrong, "placeholders differ:\n  " + "\n  ".join(wrong)


def test_english_catalog_lists_every_message(msgids: dict[Key, str]) -> None:
    en = catalog("en")
    assert not sorted(set(msgids) - set(en), key=_show), "app/translations/en is behind: run `make i18n`"


def test_every_error_title_is_marked() -> None:
    classes = [core_errors.AppError, InternalError, *core_errors.STATUS_CLASSES.values()]
    titles = {cls.title for cls in classes}
    assert titles <= set(ERROR_TITLES), f"add to ERROR_TITLES: {sorted(titles - set(ERROR_TITLES))}"


ZH_BROWSER = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}


def test_chinese_browser_gets_chinese(client) -> None:  # noqa: ANN001
    """No choice made yet: `Accept-Language: zh-CN` gets the Chinese login page."""
    r = client.get("/login", headers=ZH_BROWSER)
    assert r.status_code == 200 and '<html lang="zh-CN">' in r.text
    for text in ("登录 procopt", "邮箱", "密码", "流程优化与标准化"):
        assert text in r.text
    assert "Log in to procopt" not in r.text
    # Any Chinese variant gets the Simplified Chinese interface; English stays English.
    assert '<html lang="zh-CN">' in client.get("/login", headers={"Accept-Language": "zh"}).text
    assert '<html lang="en">' in client.get("/login", headers={"Accept-Language": "en-US,zh;q=0.5"}).text


def test_language_switch(client) -> None:  # noqa: ANN001
    r = client.get("/lang", params={"set": "zh_CN", "next": "/login"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert r.cookies.get(LANG_COOKIE) == "zh_CN"
    r = client.get("/login", headers={"Accept-Language": "en"})  # the choice outranks the browser's language
    assert r.status_code == 200 and '<html lang="zh-CN">' in r.text
    for text in ("登录 procopt", "邮箱", "密码", "流程优化与标准化"):
        assert text in r.text
    assert "Log in to procopt" not in r.text

    r = client.get("/lang", params={"set": "en", "next": "/login"}, follow_redirects=False)
    assert r.cookies.get(LANG_COOKIE) == "en"
    r = client.get("/login", headers=ZH_BROWSER)
    assert '<html lang="en">' in r.text and "Log in to procopt" in r.text and "邮箱" not in r.text


def test_unknown_language_is_ignored(client) -> None:  # noqa: ANN001
    r = client.get("/lang", params={"set": "xx", "next": "/login"}, follow_redirects=False)
    assert LANG_COOKIE not in r.cookies
    assert "Log in to procopt" in client.get("/login", headers={"Accept-Language": "fr"}).text


def test_error_page_in_chinese(client) -> None:  # noqa: ANN001
    client.cookies.set(LANG_COOKIE, "zh_CN")
    r = client.get("/no-such-page")
    assert r.status_code == 404
    assert "未找到" in r.text and "您访问的内容不存在。" in r.text


class _Text(HTMLParser):
    """Visible text and the attributes people read (placeholder, title, aria-label, data-label)."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in ("placeholder", "title", "aria-label", "data-label") and value:
                self.texts.append(value.strip())

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.texts.append(data.strip())


def test_pages_have_no_untranslated_labels(client, factory) -> None:  # noqa: ANN001
    """Every page shown in Chinese: no piece of text is still an English message of the catalog."""
    zh = catalog("zh_CN")
    english = {msgid for (_, msgid), entry in zh.items() if entry.string and entry.string != msgid}
    admin = factory.user(Role.admin)
    process = factory.process(owner=admin, code="I18N-01", name="报销流程")
    headers = factory.bearer(admin)
    client.cookies.set(LANG_COOKIE, "zh_CN")
    pages = ["/processes", "/processes/new", f"/processes/{process.id}", f"/processes/{process.id}/edit",
             f"/processes/{process.id}/history", "/admin/users", "/admin/users/new",
             f"/admin/users/{admin.id}/edit", "/admin/tokens"]
    leftovers = {}
    for page in pages:
        r = client.get(page, headers=headers)
        assert r.status_code == 200, (page, r.status_code)
        parser = _Text()
        parser.feed(r.text)
        found = sorted({t for t in parser.texts if t in english})
        if found:
            leftovers[page] = found
    assert not leftovers, f"English left on Chinese pages: {leftovers}"


def test_one_english_word_can_have_several_chinese_ones(client, factory) -> None:  # noqa: ANN001
    """"Active" is 启用 for an account, 有效 for a service token: translation contexts (msgctxt)."""
    from app.core.i18n import translations
    from app.core.labels import LABELS

    zh = translations("zh_CN")
    account, initiative = LABELS["field"]["is_active"], LABELS["initiative_status"]["active"]
    assert account == initiative == "Active"  # the same English word ...
    assert zh.gettext(account) != zh.gettext(initiative)  # ... not the same Chinese one
    assert zh.pgettext("account", "Active") == zh.gettext(account) != "Active"
    assert zh.pgettext("no such context", "Active") == "Active"  # unknown: the English text, as gettext does
    admin = factory.user(Role.admin)
    client.cookies.set(LANG_COOKIE, "zh_CN")
    page = client.get("/admin/users", headers=factory.bearer(admin)).text
    assert zh.pgettext("account", "Active") in page
