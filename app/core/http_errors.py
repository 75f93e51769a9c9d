"""One place that turns errors into responses: RFC 9457 problem+json under `/api`, pages elsewhere."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.core.errors import STATUS_CLASSES, AppError, PayloadTooLarge, RuleViolation, field_errors
from app.core.i18n import gettext_for, negotiate
from app.core.labels import N_
from app.core.limits import BodyTooLarge, format_size
from app.core.templating import is_htmx, render

log = logging.getLogger("procopt")
PROBLEM_JSON = "application/problem+json"
BAD_ADDRESS = N_("This address is not valid: a number or value in it is out of range or malformed.")
FORM_TOO_LARGE = N_("This form is too large (at most %(limit)s). Shorten the longest text and send it again.")
FILE_TOO_LARGE = N_("This file is too large (at most %(limit)s). Choose a smaller file, or split it, and send it again.")
HTMX_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


class InternalError(AppError):
    status, code, title = 500, "internal-error", "Internal server error"


def wants_problem(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path in ("/healthz", "/readyz")


def problem_response(request: Request, exc: AppError) -> Response:
    if not wants_problem(request):
        return page_error(request, exc)
    instance = quote(request.url.path, safe="/!$&'()*+,;=:@-._~")  # a URI reference, whatever the path held
    return JSONResponse(exc.problem(instance=instance), status_code=exc.status,
                        headers=exc.headers, media_type=PROBLEM_JSON)


def page_error(request: Request, exc: AppError) -> Response:
    if exc.status == 401:
        target = "/login?next=" + quote(request.url.path, safe="/")
        if is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
    if isinstance(exc, BodyTooLarge):
        return body_too_large_page(request, exc)
    if is_htmx(request):
        response = render(request, "components/error_fragment.html", {"error": exc}, status_code=exc.status)
        response.headers["HX-Retarget"] = "#messages"
        response.headers["HX-Reswap"] = "innerHTML"
    else:
        response = render(request, "error.html", {"error": exc}, status_code=exc.status)
    for key, value in exc.headers.items():
        if key.lower() != "www-authenticate":
            response.headers[key] = value
    return response


def body_too_large_page(request: Request, exc: BodyTooLarge) -> Response:
    """A page's post refused before it was read (app.core.middleware.BodyLimit), in the reader's words: for
    htmx, a message at the top of the form that was sent (htmx names it in `HX-Target`), whose earlier
    errors are removed; otherwise an error page."""
    gettext = gettext_for(negotiate(request))
    message = gettext(FILE_TOO_LARGE if exc.limit.upload else FORM_TOO_LARGE) % {"limit": format_size(exc.limit.shown)}
    if not is_htmx(request):
        return render(request, "error.html", {"error": PayloadTooLarge(message)}, status_code=413)
    target = request.headers.get("hx-target", "")
    form = target if HTMX_ID.fullmatch(target) else None
    response = render(request, "components/too_large_fragment.html", {"message": message, "form": form},
                      status_code=413)
    response.headers["HX-Retarget"] = f"#{form}" if form else "#messages"
    response.headers["HX-Reswap"] = "afterbegin" if form else "innerHTML"
    return response


def install(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError) -> Response:
        return problem_response(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400 and isinstance(exc.__cause__, (UnicodeDecodeError, ValueError)):
            # FastAPI's "There was an error parsing the body": bytes that are not UTF-8 or not JSON. The body
            # is invalid input like any other: a 422 naming it, as the OpenAPI says.
            reason = "is not UTF-8 text" if isinstance(exc.__cause__, UnicodeDecodeError) else "cannot be parsed"
            return problem_response(request, RuleViolation(f"The request body {reason}.", errors=[
                {"loc": ["body"], "field": "", "message": f"the body {reason}", "type": "body_parsing"}]))
        cls = STATUS_CLASSES.get(exc.status_code)
        if cls is None:
            err = AppError(str(exc.detail), headers=dict(exc.headers or {}))
            try:
                err.title = HTTPStatus(exc.status_code).phrase
            except ValueError:
                err.title = "Error"
            err.status = exc.status_code
            err.code = re.sub(r"[^a-z0-9]+", "-", err.title.lower()).strip("-") or "error"
        else:
            detail = {404: "No such resource.", 405: f"{request.method} is not allowed here."}.get(
                exc.status_code, str(exc.detail))
            headers = dict(exc.headers or {})
            if exc.status_code == 405:
                headers = {k: v for k, v in headers.items() if k.lower() != "allow"}
                headers["Allow"] = allowed_methods(request)
            err = cls(detail, headers=headers)
        return problem_response(request, err)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = field_errors(list(exc.errors()))
        if not wants_problem(request):  # a page's path or query: a broken or edited link, said in their language
            return page_error(request, RuleViolation(BAD_ADDRESS, errors=errors))
        summary = "; ".join(f"{e['field'] or e['loc'][-1]}: {e['message']}" for e in errors[:5])
        return problem_response(request, RuleViolation(f"The request is not valid: {summary}", errors=errors))

    @app.exception_handler(StatementError)
    async def statement_error(request: Request, exc: StatementError) -> Response:
        """Our own refusal raised while SQLAlchemy bound a value (a JSON column's text with NUL, see
        `app.core.db`) arrives wrapped; anything else is unexpected."""
        if isinstance(exc.orig, AppError):
            return problem_response(request, exc.orig)
        return await unexpected(request, exc)

    app.add_exception_handler(Exception, unexpected)


# The order methods are listed in an `Allow` header.
METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str:
    """Every method some route of the app answers on the request's path, asked of the routes themselves.
    The router's 405 names the methods of the first route that matched the path only: `GET` on
    `/api/v1/processes/1`, where `PATCH` is a route of its own."""
    routes = request.app.router.routes  # included routers are routes that match what they include
    return ", ".join(method for method in METHOD_ORDER
                     if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes))


async def unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(request, InternalError("Something went wrong on our side; it has been logged."))
