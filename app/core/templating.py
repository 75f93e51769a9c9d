"""Page rendering: Jinja2 with htmx fragments (jinja2-fragments) and per-request translations."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2_fragments.fastapi import Jinja2Blocks

from app.core.config import PROJECT_ROOT, get_settings
from app.core.i18n import LOCALES, gettext_for, html_lang, negotiate, pgettext_for
from app.core.labels import FLASH, label
from app.core.security import csrf_token_for

templates = Jinja2Blocks(directory=str(PROJECT_ROOT / "templates"))
templates.env.autoescape = True
FLASH_COOKIE = "procopt_flash"


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _context(request: Request, extra: dict[str, Any]) -> dict[str, Any]:
    locale = negotiate(request)
    gettext = gettext_for(locale)
    actor = getattr(request.state, "actor", None)
    tz = ZoneInfo(get_settings().business_timezone)

    def fmt_dt(value: datetime | None) -> str:
        if value is None:
            return ""
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")  # digits only: the same in every locale

    flash_key = request.cookies.get(FLASH_COOKIE)
    ctx: dict[str, Any] = {
        "request": request,
        "_": gettext,
        "pgettext": pgettext_for(locale),
        "locale": locale,
        "html_lang": html_lang(locale),
        "locales": LOCALES,
        "actor": actor,
        "csrf_token": csrf_token_for(actor.session_id) if actor and actor.session_id else "",
        "label": lambda kind, value: label(kind, value, gettext),
        "fmt_dt": fmt_dt,
        "flash": gettext(FLASH[flash_key]) if flash_key in FLASH else None,
    }
    ctx.update(extra)
    return ctx


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    block: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The full page, or only `block` for an htmx request."""
    ctx = _context(request, context or {})
    kwargs: dict[str, Any] = {"status_code": status_code}
    if block and is_htmx(request):
        kwargs["block_name"] = block
    response = templates.TemplateResponse(request, template, ctx, **kwargs)
    response.headers["Vary"] = "HX-Request, Cookie, Accept-Language"
    if ctx["flash"] and not is_htmx(request):
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect(request: Request, url: str, *, flash: str | None = None) -> RedirectResponse | HTMLResponse:
    """After a successful form post: a 303 for plain requests, `HX-Redirect` for htmx."""
    response: RedirectResponse | HTMLResponse
    if is_htmx(request):
        response = HTMLResponse("", headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    if flash:
        response.set_cookie(FLASH_COOKIE, flash, max_age=60, httponly=True, samesite="lax", path="/")
    return response
