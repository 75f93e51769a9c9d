"""Rules and queries of the process registry, shared by the JSON API and the pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import pydantic_core
import sqlalchemy as sa
import sqlalchemy.orm
from pydantic import TypeAdapter
from sqlmodel import Session, col, select

from app.core.audit import AuditRecord, history, record
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, NotFound, RuleViolation
from app.core.ids import Id
from app.core.labels import N_
from app.core.pagination import Cursor, bad_cursor, page_window
from app.core.versioning import check_version
from app.departments.models import Department
from app.departments.service import by_codes
from app.processes.models import Process, ProcessDepartment, ProcessStatus
from app.processes.schemas import ProcessCreate, ProcessRead, ProcessSort, ProcessUpdate
from app.users.models import Role, User

EDITOR_ROLES = (Role.admin, Role.lead)


@dataclass(frozen=True)
class ProcessFilter:
    status: ProcessStatus | None = None
    department: str | None = None
    q: str | None = None
    sort: ProcessSort = ProcessSort.code


def can_create(actor: User) -> bool:
    return actor.role != Role.viewer


def can_edit(actor: User, process: Process) -> bool:
    return actor.role in EDITOR_ROLES or (actor.role == Role.member and process.owner_id == actor.id)


def _require_edit(actor: User, process: Process) -> None:
    if not can_edit(actor, process):
        raise Forbidden("Only the process owner, leads and administrators may change this process.")


def get_process(session: Session, process_id: int) -> Process:
    process = session.get(Process, process_id)
    if process is None:
        raise NotFound(N_("Process {process_id} not found."), params={"process_id": process_id})
    return process


def _get_for_change(session: Session, process_id: int) -> Process:
    """The process with its row locked until the unit of work ends (FOR UPDATE; SQLite has a single
    writer anyway). Without the lock two changes sent with the same If-Match both pass the version check
    and the second silently overwrites the first."""
    process = session.get(Process, process_id, with_for_update=True, populate_existing=True)
    if process is None:
        raise NotFound(N_("Process {process_id} not found."), params={"process_id": process_id})
    return process


def _owner(session: Session, owner_id: int, actor: User) -> int:
    if owner_id != actor.id and actor.role not in EDITOR_ROLES:
        raise Forbidden("Only leads and administrators may make someone else the owner.")
    owner = session.get(User, owner_id)
    if owner is None or not owner.is_active:
        raise RuleViolation("The owner must be an active user.",
                            errors=[{"loc": ["body", "owner_id"], "field": "owner_id",
                                     "message": "unknown or inactive user", "type": "unknown_user"}])
    return owner_id


def _set_departments(session: Session, process: Process, codes: list[str]) -> None:
    depts = by_codes(session, codes, "departments")
    session.exec(sa.delete(ProcessDepartment).where(ProcessDepartment.process_id == process.id))
    session.add_all(ProcessDepartment(process_id=process.id, department_id=d.id) for d in depts)
    process.department_codes = ",".join(sorted(d.code for d in depts))


def create_process(session: Session, data: ProcessCreate, actor: User) -> Process:
    if not can_create(actor):
        raise Forbidden("Viewers cannot create processes.")
    code_norm = data.code.upper()
    if session.exec(select(Process.id).where(Process.code_norm == code_norm)).first() is not None:
        raise Conflict(f"A process with the code {data.code} already exists.",
                       errors=[{"loc": ["body", "code"], "field": "code",
                                "message": "already used", "type": "conflict"}])
    owner_dept = by_codes(session, [data.owner_department], "owner_department")[0] if data.owner_department else None
    by_codes(session, data.departments, "departments")  # fail before anything is written
    process = Process(
        code=data.code,
        code_norm=code_norm,
        name=data.name,
        name_norm=data.name.casefold(),
        description=data.description,
        owner_department_id=owner_dept.id if owner_dept else None,
        owner_id=_owner(session, data.owner_id or actor.id, actor),
    )
    session.add(process)
    try:
        session.flush()
    except sa.exc.IntegrityError as exc:  # a concurrent create won the race for the code
        raise Conflict(f"A process with the code {data.code} already exists.") from exc
    _set_departments(session, process, data.departments)
    session.flush()
    record(session, actor, "create", "process", process.id, None, snapshot(session, process))
    return process


def update_process(session: Session, process_id: int, data: ProcessUpdate, actor: User, *,
                   expected_version: int) -> Process:
    process = _get_for_change(session, process_id)
    _require_edit(actor, process)
    check_version(process, expected_version, "process")
    before = snapshot(session, process)
    changes = data.model_dump(exclude_unset=True)
    for key in ("name", "description", "departments", "owner_id"):
        if key in changes and changes[key] is None:
            raise RuleViolation(f"{key} cannot be null.",
                                errors=[{"loc": ["body", key], "field": key, "message": "may not be null",
                                         "type": "null"}])
    if "name" in changes:
        process.name = changes["name"]
        process.name_norm = process.name.casefold()
    if "description" in changes:
        process.description = changes["description"]
    if "owner_department" in changes:
        code = changes["owner_department"]
        process.owner_department_id = by_codes(session, [code], "owner_department")[0].id if code else None
    if "owner_id" in changes and changes["owner_id"] != process.owner_id:
        process.owner_id = _owner(session, changes["owner_id"], actor)
    if "departments" in changes:
        _set_departments(session, process, changes["departments"])
    return _bump(session, process, actor, "update", before)


def set_status(session: Session, process_id: int, status: ProcessStatus, actor: User, *,
               expected_version: int | None) -> Process:
    process = _get_for_change(session, process_id)
    _require_edit(actor, process)
    if expected_version is not None:
        check_version(process, expected_version, "process")
    if process.status == status:
        return process
    before = snapshot(session, process)
    process.status = status
    return _bump(session, process, actor, "archive" if status == ProcessStatus.archived else "restore", before)


def _bump(session: Session, process: Process, actor: User, action: str, before: dict[str, Any]) -> Process:
    process.version += 1
    process.updated_at = utcnow()
    session.add(process)
    session.flush()
    after = snapshot(session, process)
    record(session, actor, action, "process", process.id, before, after)
    return process


def snapshot(session: Session, process: Process) -> dict[str, Any]:
    return to_read(session, [process])[0].model_dump(mode="json", exclude={"created_at", "updated_at"})


_OWNER_DEPARTMENT = sa.orm.aliased(Department)
# A process as its API shape, in one statement: the owner's name and the owner department's code are
# joined; the involved departments' codes come from the row's own copy (`Process.department_codes`).
# The status is read as its plain string: `pydantic_core.to_json` took twice as long for the page with
# the enum's members in it.
_READ_SELECT = (
    sa.select(
        Process.id, Process.code, Process.name, Process.description, _OWNER_DEPARTMENT.code,
        Process.department_codes,
        Process.owner_id, User.display_name, sa.type_coerce(Process.status, sa.String), Process.created_at, Process.updated_at,
        Process.version,
        # the sort keys, for the cursor
        Process.code_norm, Process.name_norm,
    )
    .join_from(Process, User, User.id == Process.owner_id)
    .outerjoin(_OWNER_DEPARTMENT, _OWNER_DEPARTMENT.id == Process.owner_department_id)
)


def _read_dict(row: sa.Row) -> dict[str, Any]:
    """One row of `_READ_SELECT` as a `ProcessRead`-shaped dict (department codes are `[a-z0-9_-]`,
    stored sorted)."""
    (id_, code, name, description, owner_department, involved, owner_id, owner_name, status, created_at,
     updated_at, version, _, _) = row
    return {
        "id": id_, "code": code, "name": name, "description": description,
        "owner_department": owner_department,
        "departments": involved.split(",") if involved else [],
        "owner": {"id": owner_id, "display_name": owner_name},
        "status": status, "created_at": created_at, "updated_at": updated_at, "version": version,
    }


def to_read(session: Session, processes: list[Process]) -> list[ProcessRead]:
    """Processes in their API shape, in the order given, with one query in all (no N+1)."""
    if not processes:
        return []
    rows = session.connection().execute(_READ_SELECT.where(col(Process.id).in_([p.id for p in processes])))
    by_id = {row[0]: row for row in rows}
    return reads([_read_dict(by_id[p.id]) for p in processes])


def reads(items: list[dict[str, Any]]) -> list[ProcessRead]:
    """Dicts of `_read_dict` as models (the pages read enum members and datetimes from them)."""
    return _READS.validate_python(items)


def page_json(items: list[dict[str, Any]], next_cursor: str | None) -> bytes:
    """A `ProcessPage` as JSON, straight from `list_processes`' dicts.

    The dicts come from typed columns in the shape of `ProcessRead` (a test holds the two equal), so
    the page is not validated again: for 50 items that took longer than the query.
    """
    return pydantic_core.to_json({"items": items, "next_cursor": next_cursor})


_READS = TypeAdapter(list[ProcessRead])

_SORT_COLUMNS = {
    "code": Process.code_norm,
    "name": Process.name_norm,
    "created_at": Process.created_at,
    "updated_at": Process.updated_at,
}


def _sort_value(row: sa.Row, key: str) -> Any:
    value = getattr(row, {"code": "code_norm", "name": "name_norm"}.get(key, key))
    return value.isoformat() if isinstance(value, datetime) else value


def _cursor_values(cursor: str, keys: tuple[str, str], key: str) -> tuple[Any, int]:
    """The decoded values, checked: a tampered cursor is a 422, never a database error."""
    value, last_id = Cursor.decode(cursor, keys, (str, Id)).values
    if key in ("created_at", "updated_at"):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise bad_cursor() from exc
        if value.tzinfo is None:
            raise bad_cursor()
    return value, last_id


def _like_pattern(needle: str) -> str:
    """`needle` anywhere, its `%` and `_` literal (escape character `/`)."""
    return "%" + needle.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


@lru_cache(maxsize=128)
def _page_statement(sort: ProcessSort, status: bool, department: bool, search: bool, after: bool) -> sa.Select:
    """The page query of one shape, built once per process: the values are bound parameters, so every
    request executes this same object, whose compiled form SQLAlchemy reuses as it is (rebuilding the
    statement per request cost about as much as running it, bench/api.py)."""
    key = sort.value.lstrip("-")
    desc = sort.value.startswith("-")
    column = _SORT_COLUMNS[key]
    stmt = _READ_SELECT
    if status:
        stmt = stmt.where(Process.status == sa.bindparam("status"))
    if department:
        # an unknown code gives NULL, which matches nothing (not the processes without a department)
        dept = sa.select(Department.id).where(Department.code == sa.bindparam("department")).scalar_subquery()
        involved = sa.select(ProcessDepartment.process_id).where(ProcessDepartment.department_id == dept)
        stmt = stmt.where(sa.or_(Process.owner_department_id == dept, col(Process.id).in_(involved)))
    if search:
        stmt = stmt.where(sa.or_(
            col(Process.code_norm).like(sa.bindparam("code_pattern"), escape="/"),
            col(Process.name_norm).like(sa.bindparam("name_pattern"), escape="/"),
        ))
    if after:
        last = sa.tuple_(sa.bindparam("after_value", type_=column.type), sa.bindparam("after_id", type_=sa.Integer))
        stmt = stmt.where(sa.tuple_(column, Process.id) < last if desc else sa.tuple_(column, Process.id) > last)
    order = (column.desc(), col(Process.id).desc()) if desc else (column.asc(), col(Process.id).asc())
    return stmt.order_by(*order).limit(sa.bindparam("limit", type_=sa.Integer))


def list_processes(session: Session, flt: ProcessFilter, *, limit: int, cursor: str | None
                   ) -> tuple[list[dict[str, Any]], str | None]:
    """A page of processes in their API shape (`ProcessRead` as dicts), from one query."""
    key = flt.sort.value.lstrip("-")
    params: dict[str, Any] = {"limit": limit + 1}
    if flt.status is not None:
        params["status"] = flt.status
    if flt.department:
        params["department"] = flt.department
    if flt.q:
        needle = flt.q.strip()
        params["code_pattern"] = _like_pattern(needle.upper())
        params["name_pattern"] = _like_pattern(needle.casefold())
    # The direction is part of the keys: a cursor of `code` must not be used for `-code`.
    keys = (flt.sort.value, "id")
    if cursor:
        params["after_value"], params["after_id"] = _cursor_values(cursor, keys, key)
    stmt = _page_statement(flt.sort, flt.status is not None, bool(flt.department), bool(flt.q), bool(cursor))
    rows = session.connection().execute(stmt, params).all()
    rows, next_cursor = page_window(rows, limit, lambda r: Cursor(keys, (_sort_value(r, key), r.id)))
    return [_read_dict(row) for row in rows], next_cursor


def can_see_history(actor: User) -> bool:
    return actor.role in EDITOR_ROLES


def process_history(session: Session, process_id: int, actor: User) -> list[AuditRecord]:
    if not can_see_history(actor):
        raise Forbidden("Only administrators and leads see the history.")
    get_process(session, process_id)
    return history(session, "process", process_id)
