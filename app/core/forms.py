"""HTML forms validated with the same pydantic schemas as the API, errors shown per field."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

from app.core.errors import AppError
from app.core.labels import N_

M = TypeVar("M", bound=BaseModel)

ERROR_MESSAGES = {
    "missing": N_("This field is required."),
    "string_too_short": N_("This field is required."),
    "string_too_long": N_("This is too long."),
    "string_pattern_mismatch": N_("This format is not valid."),
    "value_error": N_("This value is not valid."),
    "enum": N_("Choose one of the options."),
    "literal_error": N_("Choose one of the options."),
    "int_parsing": N_("Enter a whole number."),
    "conflict": N_("This is already in use."),
    "unknown_department": N_("Unknown department."),
    "unknown_user": N_("Unknown or inactive user."),
    "too_long": N_("Too many entries."),
}


def message_for(error_type: str, gettext, fallback: str) -> str:  # noqa: ANN001
    msgid = ERROR_MESSAGES.get(error_type)
    return gettext(msgid) if msgid else fallback


def parse_form(schema: type[M], data: dict[str, Any], gettext) -> tuple[M | None, dict[str, str]]:  # noqa: ANN001
    try:
        return schema.model_validate(data), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "__all__"
            errors.setdefault(field, message_for(err["type"], gettext, err["msg"]))
        return None, errors


def service_errors(exc: AppError, gettext) -> dict[str, str]:  # noqa: ANN001
    """Field errors carried by a service error; the rest goes under `__all__`."""
    errors: dict[str, str] = {}
    for err in exc.errors or []:
        field = err.get("field") or "__all__"
        errors.setdefault(field, message_for(err.get("type", ""), gettext, err.get("message", exc.detail)))
    if not errors:
        errors["__all__"] = exc.detail
    return errors


async def form_data(request: Request) -> dict[str, Any]:
    """The submitted form as a dict (repeated fields as lists), read once, before a sync handler runs."""
    form = await request.form()
    data: dict[str, Any] = {}
    for key in form:
        values = [v for v in form.getlist(key) if isinstance(v, str)]
        data[key] = values if len(values) > 1 else (values[0] if values else "")
    return data


FormData = Annotated[dict[str, Any], Depends(form_data)]
