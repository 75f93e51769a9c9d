"""Form parsing for the initiative, survey and issue pages: the API's schemas, messages in the user's language."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from app.core.errors import AppError
from app.core.forms import ERROR_MESSAGES
from app.initiatives.labels import FORM_MESSAGES

M = TypeVar("M", bound=BaseModel)
LIST_SPLIT = re.compile(r"[,，、;；\n]+")


def message(error_type: str, gettext, fallback: str) -> str:  # noqa: ANN001
    msgid = ERROR_MESSAGES.get(error_type) or FORM_MESSAGES.get(error_type)
    return gettext(msgid) if msgid else fallback


def parse(schema: type[M], data: dict[str, Any], gettext) -> tuple[M | None, dict[str, str]]:  # noqa: ANN001
    try:
        return schema.model_validate(data), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "__all__"
            errors.setdefault(field, message(err["type"], gettext, err["msg"]))
        return None, errors


def service_errors(exc: AppError, gettext) -> dict[str, str]:  # noqa: ANN001
    errors: dict[str, str] = {}
    for err in exc.errors or []:
        field = (err.get("field") or "__all__").split(".")[0]
        errors.setdefault(field, message(err.get("type", ""), gettext, err.get("message", exc.detail)))
    if not errors:
        errors["__all__"] = gettext(exc.detail)
    return errors


def number(raw: Any) -> Any:
    """A whole number from a form field when it is one; anything else goes to the schema as given."""
    text = str(raw if raw is not None else "").strip()
    return int(text) if text.isdigit() else (text or None)


def as_list(raw: Any) -> list[str]:
    if raw is None or raw == "":
        return []
    return raw if isinstance(raw, list) else [raw]


def split(raw: Any) -> list[str]:
    return [p.strip() for p in LIST_SPLIT.split(str(raw or "")) if p.strip()]


def version(form: dict[str, Any]) -> int:
    try:
        return int(form.get("version", ""))
    except (TypeError, ValueError):
        return -1
