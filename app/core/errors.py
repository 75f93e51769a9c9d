"""Typed errors raised by services, rendered as RFC 9457 problem details.

Under `/api` every error is `application/problem+json`; pages get an error page, or an
inline fragment for htmx requests (see `app.core.pages_errors`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PROBLEM_BASE = "/problems/"


class AppError(Exception):
    status: int = 400
    code: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        """`detail` is English; with `params` it is a template ("Problem {issue_id} not found.", marked
        with N_) that the API sends filled in and pages show translated (`translated`)."""
        self.template = detail if params else None
        self.params = params or {}
        detail = detail.format(**self.params) if detail and params else detail
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra

    def translated(self, gettext: Callable[[str], str]) -> str:
        """The detail in the reader's language: fixed details and templates have msgids."""
        if self.template is None:
            return gettext(self.detail)
        params = {k: gettext(v) if isinstance(v, str) else v for k, v in self.params.items()}
        return gettext(self.template).format(**params)

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class NotAuthenticated(AppError):
    status, code, title = 401, "not-authenticated", "Not authenticated"

    def __init__(self, detail: str | None = None, **kw: Any) -> None:
        kw["headers"] = {"WWW-Authenticate": "Bearer", **(kw.get("headers") or {})}
        super().__init__(detail or "Missing or invalid credentials.", **kw)


class Forbidden(AppError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(AppError):
    status, code, title = 404, "not-found", "Not found"


class MethodNotAllowed(AppError):
    status, code, title = 405, "method-not-allowed", "Method not allowed"


class Conflict(AppError):
    status, code, title = 409, "conflict", "Conflict"


class PreconditionFailed(AppError):
    status, code, title = 412, "precondition-failed", "Precondition failed"


class PayloadTooLarge(AppError):
    status, code, title = 413, "payload-too-large", "Payload too large"


class RuleViolation(AppError):
    status, code, title = 422, "validation-error", "Validation error"


class PreconditionRequired(AppError):
    status, code, title = 428, "precondition-required", "Precondition required"


class TooManyRequests(AppError):
    status, code, title = 429, "too-many-requests", "Too many requests"

    def __init__(self, detail: str | None = None, retry_after: int | None = None, **kw: Any) -> None:
        if retry_after is not None:
            kw["headers"] = {**(kw.get("headers") or {}), "Retry-After": str(retry_after)}
        super().__init__(detail, **kw)


STATUS_CLASSES: dict[int, type[AppError]] = {
    cls.status: cls
    for cls in (
        NotAuthenticated,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PreconditionFailed,
        PayloadTooLarge,
        RuleViolation,
        PreconditionRequired,
        TooManyRequests,
    )
}


def field_errors(pydantic_errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic/FastAPI validation errors as `errors[]` entries with a location."""
    out = []
    for err in pydantic_errors:
        loc = [str(p) for p in err.get("loc", ())]
        out.append(
            {
                "loc": loc,
                "field": ".".join(p for p in loc if p not in ("body", "query", "path", "header", "form")),
                "message": err.get("msg", "invalid"),
                "type": err.get("type", "value_error"),
            }
        )
    return out


def field_error(field: str, message: str, type_: str = "value_error", loc: str = "body") -> dict[str, Any]:
    """One `errors[]` entry of a rule a service checks itself (pydantic's own: `field_errors`)."""
    return {"loc": [loc, *field.split(".")], "field": field, "message": message, "type": type_}


def rule(detail: str, field: str, type_: str = "value_error", message: str | None = None) -> RuleViolation:
    """A 422 naming one field."""
    return RuleViolation(detail, errors=[field_error(field, message or detail, type_)])


def no_nulls(changes: dict[str, Any], fields: tuple[str, ...]) -> None:
    """PATCH: a field that may be left out may still not be sent as null."""
    for key in fields:
        if key in changes and changes[key] is None:
            raise rule(f"{key} cannot be null.", key, "null", "may not be null")
