"""HTML forms validated with the same pydantic schemas as the API, errors shown per field."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from app.core.db import undo_on_error
from app.core.errors import AppError, Conflict, PreconditionFailed, RuleViolation
from app.core.labels import N_

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")

ERROR_MESSAGES = {
    "missing": N_("This field is required."),
    "string_too_short": N_("This field is required."),
    "too_short": N_("Choose at least one."),
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
    "decimal_parsing": N_("Enter a number, e.g. 30 or 12.5."),
    "decimal_type": N_("Enter a number, e.g. 30 or 12.5."),
    "decimal_max_places": N_("At most two decimals."),
    "decimal_max_digits": N_("This number is too large."),
    "finite_number": N_("Enter a number, e.g. 30 or 12.5."),
    "greater_than_equal": N_("This is too small."),
    "less_than_equal": N_("This is too large."),
    "greater_than": N_("This is too small."),
    "int_type": N_("Enter a whole number."),
    "date_from_datetime_parsing": N_("Enter a date."),
    "date_parsing": N_("Enter a date."),
    "date_type": N_("Enter a date."),
    "unknown_step": N_("Choose steps of this initiative."),
    "viewer_member": N_("Viewers cannot be team members."),
    "unknown_process": N_("Unknown process."),
    "date_order": N_("The end is before the start."),
    "leader_required": N_("A team has exactly one leader: make another member the leader first."),
    "second_leader": N_("A team has exactly one leader."),
    "cycle": N_("A cause cannot be placed under itself or one of its own sub-causes."),
    "too_deep": N_("Sub-causes nest at most four levels deep."),
    "category_mismatch": N_("A sub-cause stays on its parent's bone."),
    "unknown_cause": N_("Not a cause of this problem."),
    "not_last": N_("Only the last answer of the chain can be its root cause."),
    "chain_closed": N_("The chain already ends in a root cause; unmark it to ask another why."),
    "phase_order": N_("Only an initiative in pilot, rollout or monitoring can return to design."),
    "initiative_active": N_("The initiative must be active."),
    "import_file": N_("The file cannot be read."),
    "import_empty": N_("The file has no steps."),
    "not_a_permutation": N_("Send every step exactly once."),
}


# Messages that name the limit a value broke, from pydantic's error context (`ctx`); without one (a
# service's error) the plain message above is shown.
LIMIT_MESSAGES = {
    "string_too_long": N_("At most %(max_length)s characters."),
}


def message_for(error_type: str, gettext, fallback: str, ctx: dict[str, Any] | None = None) -> str:  # noqa: ANN001
    templated = LIMIT_MESSAGES.get(error_type)
    if templated and ctx:
        try:
            return gettext(templated) % {k: f"{v:,}" if isinstance(v, int) else v for k, v in ctx.items()}
        except (KeyError, TypeError, ValueError):
            pass
    msgid = ERROR_MESSAGES.get(error_type)
    return gettext(msgid) if msgid else fallback


def parse_form(schema: type[M], data: dict[str, Any], gettext,  # noqa: ANN001
               value_messages: Mapping[str, str] | None = None) -> tuple[M | None, dict[str, str]]:
    """`data` validated with `schema`, or its errors by field (`__all__` for a model validator's). A schema's
    own checks (`ValueError("a wave ends on or after its start")`) are shown in the words `value_messages`
    gives them (their text -> msgid), in the reader's language."""
    try:
        return schema.model_validate(data), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "__all__"
            own = (value_messages or {}).get(str(err["msg"]).removeprefix("Value error, "))
            errors.setdefault(field, gettext(own) if own else message_for(err["type"], gettext, err["msg"],
                                                                          err.get("ctx")))
        return None, errors


@dataclass
class Submitted(Generic[R]):
    """What became of a page's form (`submit`): the service's result, or the form's errors."""

    result: R | None = None
    errors: dict[str, str] = field(default_factory=dict)
    stale: bool = False  # refused because someone else changed the record first (412)

    @property
    def ok(self) -> bool:
        return not self.errors


def submit(session: Session, gettext, schema: type[M], values: dict[str, Any],  # noqa: ANN001
           call: Callable[[M], R], *, stale: str | None = None,
           refused: tuple[type[AppError], ...] = (RuleViolation, Conflict),
           fields: tuple[str, ...] | None = None, messages: Mapping[tuple[str, str], str] | None = None,
           value_messages: Mapping[str, str] | None = None, checks: dict[str, str] | None = None) -> Submitted[R]:
    """A page form's round, the way the API does it: `values` validated with the API's `schema`, then
    `call(data)` (the service) in `undo_on_error`, so a refused call leaves nothing behind and the page can
    show the form again from the database as it was. The service's `refused` errors become the form's
    errors in the reader's language; a stale version becomes `stale` (the message to show), or goes on to
    the error page when the form has none. Anything else (403, 404) goes on to the error page too.

    A form that shows its messages at its own `fields` passes them: a message for no field of the form goes
    on top of it (`__all__`), and a refusal is worded by `messages` ((field, type) -> msgid, see
    `refusal_errors`). `checks` are the page's own findings from reading the form (a date that is not one),
    shown together with the schema's; `value_messages` words the schema's own checks (`parse_form`)."""
    data, errors = parse_form(schema, values, gettext, value_messages)
    errors = {**errors, **(checks or {})}
    if data is None or errors:
        if fields is not None:
            errors = _onto(errors, fields)
        return Submitted(errors=errors or {"__all__": gettext(ERROR_MESSAGES["value_error"])})
    try:
        with undo_on_error(session):
            return Submitted(result=call(data))
    except PreconditionFailed:
        if stale is None:
            raise
        return Submitted(errors={"__all__": stale}, stale=True)
    except refused as exc:
        if fields is None:
            return Submitted(errors=service_errors(exc, gettext))
        return Submitted(errors=refusal_errors(exc, gettext, fields, messages or {}))


def _onto(errors: dict[str, str], fields: tuple[str, ...]) -> dict[str, str]:
    """Messages at the form's fields; one for no field of the form goes on top of it."""
    shown: dict[str, str] = {}
    for key, text in errors.items():
        shown.setdefault(key if key in fields else "__all__", text)
    return shown


def service_errors(exc: AppError, gettext) -> dict[str, str]:  # noqa: ANN001
    """Field errors carried by a service error; the rest goes under `__all__`."""
    errors: dict[str, str] = {}
    for err in exc.errors or []:
        field = (err.get("field") or "__all__").split(".")[0]
        errors.setdefault(field, message_for(err.get("type", ""), gettext, err.get("message", exc.detail)))
    if not errors:
        errors["__all__"] = exc.translated(gettext)
    return errors


def refusal_errors(exc: AppError, gettext, fields: tuple[str, ...],  # noqa: ANN001
                   messages: dict[tuple[str, str], str]) -> dict[str, str]:
    """A service's refusal as a form's messages: at the field it names, in the domain's own wording for that
    field and error type (`messages`: (field, type) -> msgid) or the shared one (`ERROR_MESSAGES`); under
    `__all__` when the form has no such field or the refusal names none (a conflict)."""
    errors: dict[str, str] = {}
    for err in exc.errors or []:
        field = (err.get("field") or "").lstrip(".").split(".")[0]
        kind = err.get("type", "")
        msgid = messages.get((field, kind)) or ERROR_MESSAGES.get(kind)
        text = gettext(msgid) if msgid else gettext(err.get("message") or exc.detail)
        errors.setdefault(field if field in fields else "__all__", text)
    if not errors:
        errors["__all__"] = exc.translated(gettext)
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


LIST_SPLIT = re.compile(r"[,，、;；\n]+")

# An id or count from a form has at most this many digits: more would not fit the database's integers.
MAX_DIGITS = 18


def number(raw: Any) -> Any:
    """A whole number from a form field when it is one; anything else goes to the schema as given (and is
    refused there with a message): other digits than 0-9 ("²") and numbers too long to be an id."""
    text = str(raw if raw is not None else "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS else (text or None)


def as_list(raw: Any) -> list[str]:
    if raw is None or raw == "":
        return []
    return raw if isinstance(raw, list) else [raw]


def field_text(form: dict[str, Any], key: str) -> str:
    """A field's text (the first, when it was sent more than once), stripped."""
    value = form.get(key, "")
    return str(value[0] if isinstance(value, list) else value).strip()


def field_ids(form: dict[str, Any], key: str) -> list[int]:
    """The ids a repeated field (checkboxes, a multiple select) holds; what is not one is left out."""
    return [n for n in (number(v) for v in as_list(form.get(key))) if isinstance(n, int)]


def split(raw: Any) -> list[str]:
    """A list typed in one field: separated by commas, semicolons or new lines (either language's)."""
    return [p.strip() for p in LIST_SPLIT.split(str(raw or "")) if p.strip()]


def version(form: dict[str, Any]) -> int:
    """The record version a form was rendered with (-1 when missing: never current)."""
    try:
        return int(form.get("version", ""))
    except (TypeError, ValueError):
        return -1
