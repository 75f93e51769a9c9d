"""RACI rules and queries, shared by the JSON API and the page.

Authorization as for the initiative's other content: everyone reads; the team's members (not viewers)
and administrators change it (`app.initiatives.service.editable`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.core.audit import record
from app.core.db import control_message
from app.core.errors import Conflict, NotFound, RuleViolation, field_error, rule
from app.core.labels import N_
from app.core.spreadsheets import csv_bytes, workbook_bytes, write_table
from app.initiatives.service import editable, get_initiative, membership
from app.raci.labels import CHECK_MESSAGES
from app.raci.models import CELL_VALUES, LETTERS, RaciActivity, RaciCell, RaciRole
from app.raci.schemas import (
    ActivityCreate,
    ActivityRead,
    ActivityUpdate,
    CellRead,
    CellSet,
    ImportResult,
    RaciRead,
    RoleCreate,
    RoleRead,
    RoleUpdate,
    Violation,
    normalize_letters,
)
from app.survey.models import SurveyStep
from app.users.models import User

MAX_CONSULTED = 3
MIN_ROLES_FOR_EVERYONE = 3  # with one or two roles, "everyone involved" is normal
MAX_IMPORT_BYTES = 1024 * 1024
Item = RaciRole | RaciActivity


@dataclass
class Matrix:
    roles: list[RaciRole]
    activities: list[RaciActivity]
    cells: dict[tuple[int, int], str]  # (activity_id, role_id) -> letters

    def letters(self, activity_id: int, role_id: int) -> str:
        return self.cells.get((activity_id, role_id), "")


# ---------------------------------------------------------------- reading

def roles(session: Session, initiative_id: int) -> list[RaciRole]:
    return list(session.exec(select(RaciRole).where(RaciRole.initiative_id == initiative_id)
                             .order_by(RaciRole.position, RaciRole.id)))


def activities(session: Session, initiative_id: int) -> list[RaciActivity]:
    return list(session.exec(select(RaciActivity).where(RaciActivity.initiative_id == initiative_id)
                             .order_by(RaciActivity.position, RaciActivity.id)))


def matrix(session: Session, initiative_id: int) -> Matrix:
    get_initiative(session, initiative_id)
    rs, acts = roles(session, initiative_id), activities(session, initiative_id)
    ids = [a.id for a in acts]
    cells = {}
    if ids:
        for c in session.exec(select(RaciCell).where(col(RaciCell.activity_id).in_(ids))):
            cells[(c.activity_id, c.role_id)] = c.letters
    return Matrix(rs, acts, cells)


def to_read(m: Matrix) -> RaciRead:
    role_pos = {r.id: i for i, r in enumerate(m.roles)}
    act_pos = {a.id: i for i, a in enumerate(m.activities)}
    cells = sorted(m.cells.items(), key=lambda kv: (act_pos[kv[0][0]], role_pos[kv[0][1]]))
    return RaciRead(
        roles=[RoleRead.model_validate(r, from_attributes=True) for r in m.roles],
        activities=[ActivityRead.model_validate(a, from_attributes=True) for a in m.activities],
        cells=[CellRead(activity_id=a, role_id=r, letters=v) for (a, r), v in cells])


def snapshot(m: Matrix) -> dict[str, Any]:
    return to_read(m).model_dump()


# ---------------------------------------------------------------- check

def check(m: Matrix, gettext: Callable[[str], str] = lambda s: s) -> list[Violation]:
    """Errors (no A, more than one A, no R per activity) first, then warnings (idle role, more than
    3 C, everyone involved)."""
    out: list[Violation] = []
    warnings: list[Violation] = []

    def add(target: list[Violation], rule_: str, severity: str, **kw: Any) -> None:
        params = {k: v for k, v in kw.items() if k not in ("activity_id", "role_id")}
        ids = {k: v for k, v in kw.items() if k in ("activity_id", "role_id")}
        target.append(Violation(rule=rule_, severity=severity,
                                message=gettext(CHECK_MESSAGES[rule_]).format(**params), **ids))

    for a in m.activities:
        row = [m.letters(a.id, r.id) for r in m.roles]
        n_a = sum("A" in v for v in row)
        if n_a == 0:
            add(out, "no_accountable", "error", activity_id=a.id, activity=a.name)
        elif n_a > 1:
            add(out, "multiple_accountable", "error", activity_id=a.id, activity=a.name, count=n_a)
        if not any("R" in v for v in row):
            add(out, "no_responsible", "error", activity_id=a.id, activity=a.name)
        for r, v in zip(m.roles, row, strict=True):
            if v and v not in CELL_VALUES:  # stored before the cell rule
                add(out, "invalid_cell", "error", activity_id=a.id, role_id=r.id, activity=a.name, role=r.name,
                    letters=v)
        n_c = sum("C" in v for v in row)
        if n_c > MAX_CONSULTED:
            add(warnings, "too_many_consulted", "warning", activity_id=a.id, activity=a.name, count=n_c)
        if len(m.roles) >= MIN_ROLES_FOR_EVERYONE and all(row):
            add(warnings, "everyone_involved", "warning", activity_id=a.id, activity=a.name)
    for r in m.roles:
        if not any(("R" in m.letters(a.id, r.id) or "A" in m.letters(a.id, r.id)) for a in m.activities):
            add(warnings, "role_idle", "warning", role_id=r.id, role=r.name)
    return out + warnings


def load(m: Matrix) -> dict[int, dict[str, int]]:
    """Per role: how many activities it holds each letter in."""
    out = {r.id: dict.fromkeys(LETTERS, 0) for r in m.roles}
    for (_, role_id), letters in m.cells.items():
        for letter in letters:
            out[role_id][letter] += 1
    return out


# ---------------------------------------------------------------- roles and activities

def _check_member(session: Session, initiative_id: int, user_id: int | None) -> None:
    if user_id is None:
        return
    user = session.get(User, user_id)
    if user is None or membership(session, initiative_id, user) is None:
        raise rule(f"User {user_id} is not on the initiative's team.", "member_user_id", "unknown_user",
                   "not a team member")


def _item(session: Session, model: type[Item], initiative_id: int, item_id: int) -> Item:
    obj = session.get(model, item_id)
    if obj is None or obj.initiative_id != initiative_id:
        what = N_("Role") if model is RaciRole else N_("Activity")
        raise NotFound(N_("{what} {item_id} not found in initiative {initiative_id}."), params={"what": what, "item_id": item_id, "initiative_id": initiative_id})
    return obj


def _items(session: Session, model: type[Item], initiative_id: int) -> list[Item]:
    return roles(session, initiative_id) if model is RaciRole else activities(session, initiative_id)


def _place(session: Session, model: type[Item], initiative_id: int, obj: Item, position: int | None) -> None:
    """Insert `obj` last or at `position`; renumber 1..n."""
    items = [i for i in _items(session, model, initiative_id) if i.id != obj.id]
    at = len(items) if position is None else min(max(position - 1, 0), len(items))
    items.insert(at, obj)
    _renumber(session, items)


def _renumber(session: Session, items: list[Item]) -> None:
    for n, item in enumerate(items, start=1):
        if item.position != n:
            item.position = n
            session.add(item)
    session.flush()


def _audit(session: Session, actor: User, action: str, initiative_id: int, before: dict | None) -> None:
    record(session, actor, action, "raci", initiative_id, before, snapshot(matrix(session, initiative_id)))


def create_role(session: Session, initiative_id: int, data: RoleCreate, actor: User) -> RaciRole:
    editable(session, actor, initiative_id)
    _check_member(session, initiative_id, data.member_user_id)
    role = RaciRole(initiative_id=initiative_id, name=data.name, member_user_id=data.member_user_id, position=0)
    session.add(role)
    session.flush()
    _place(session, RaciRole, initiative_id, role, data.position)
    _audit(session, actor, "create_role", initiative_id, None)
    return role


def update_role(session: Session, initiative_id: int, role_id: int, data: RoleUpdate, actor: User) -> RaciRole:
    editable(session, actor, initiative_id)
    role = _item(session, RaciRole, initiative_id, role_id)
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is None:
        raise rule("name cannot be null.", "name", "null", "may not be null")
    if "member_user_id" in changes:
        _check_member(session, initiative_id, changes["member_user_id"])
    for key, value in changes.items():
        setattr(role, key, value)
    session.add(role)
    session.flush()
    _audit(session, actor, "update_role", initiative_id, None)
    return role


def create_activity(session: Session, initiative_id: int, data: ActivityCreate, actor: User) -> RaciActivity:
    editable(session, actor, initiative_id)
    if data.survey_step_id is not None:
        step = session.get(SurveyStep, data.survey_step_id)
        if step is None or step.initiative_id != initiative_id:
            raise rule(f"Survey step {data.survey_step_id} is not a step of this initiative.", "survey_step_id",
                       "unknown_step", "not a step of this initiative")
    act = RaciActivity(initiative_id=initiative_id, name=data.name, survey_step_id=data.survey_step_id, position=0)
    session.add(act)
    session.flush()
    _place(session, RaciActivity, initiative_id, act, data.position)
    _audit(session, actor, "create_activity", initiative_id, None)
    return act


def update_activity(session: Session, initiative_id: int, activity_id: int, data: ActivityUpdate,
                    actor: User) -> RaciActivity:
    editable(session, actor, initiative_id)
    act = _item(session, RaciActivity, initiative_id, activity_id)
    if data.name is None:
        raise rule("name cannot be null.", "name", "null", "may not be null")
    act.name = data.name
    session.add(act)
    session.flush()
    _audit(session, actor, "update_activity", initiative_id, None)
    return act


def activities_from_survey(session: Session, initiative_id: int, actor: User) -> list[RaciActivity]:
    """One activity per survey step not yet in the matrix, in the survey's order, after the current ones."""
    editable(session, actor, initiative_id)
    linked = {a.survey_step_id for a in activities(session, initiative_id)}
    steps = session.exec(select(SurveyStep).where(SurveyStep.initiative_id == initiative_id)
                         .order_by(SurveyStep.position, SurveyStep.id))
    created = []
    position = len(activities(session, initiative_id))
    for step in steps:
        if step.id in linked:
            continue
        position += 1
        act = RaciActivity(initiative_id=initiative_id, name=step.name, survey_step_id=step.id, position=position)
        session.add(act)
        created.append(act)
    session.flush()
    if created:
        _audit(session, actor, "activities_from_survey", initiative_id, None)
    return created


def delete_item(session: Session, model: type[Item], initiative_id: int, item_id: int, actor: User) -> None:
    editable(session, actor, initiative_id)
    before = snapshot(matrix(session, initiative_id))
    obj = _item(session, model, initiative_id, item_id)
    column = RaciCell.role_id if model is RaciRole else RaciCell.activity_id
    for cell in session.exec(select(RaciCell).where(column == item_id)):
        session.delete(cell)
    session.delete(obj)
    session.flush()
    _renumber(session, _items(session, model, initiative_id))
    _audit(session, actor, "delete_" + ("role" if model is RaciRole else "activity"), initiative_id, before)


def reorder(session: Session, model: type[Item], initiative_id: int, ids: list[int], actor: User) -> list[Item]:
    editable(session, actor, initiative_id)
    items = _items(session, model, initiative_id)
    by_id = {i.id: i for i in items}
    if sorted(ids) != sorted(by_id):
        raise rule("Name every role or activity of the initiative exactly once.", "ids", "value_error",
                   "must list every id exactly once")
    ordered = [by_id[i] for i in ids]
    _renumber(session, ordered)
    return ordered


def move(session: Session, model: type[Item], initiative_id: int, item_id: int, delta: int, actor: User) -> None:
    """Move one place up (-1) or down (+1)."""
    editable(session, actor, initiative_id)
    items = _items(session, model, initiative_id)
    obj = _item(session, model, initiative_id, item_id)
    i = items.index(obj)
    j = min(max(i + delta, 0), len(items) - 1)
    items.insert(j, items.pop(i))
    _renumber(session, items)


# ---------------------------------------------------------------- cells

def set_cells(session: Session, initiative_id: int, cells: list[CellSet], actor: User) -> Matrix:
    """Set every cell or none: an activity or role of another initiative is a 422 naming its entry."""
    editable(session, actor, initiative_id)
    role_ids = {r.id for r in roles(session, initiative_id)}
    act_ids = {a.id for a in activities(session, initiative_id)}
    errors = []
    for i, c in enumerate(cells):
        if c.activity_id not in act_ids:
            errors.append(field_error(f"cells.{i}.activity_id", "not an activity of this initiative", "unknown_activity"))
        if c.role_id not in role_ids:
            errors.append(field_error(f"cells.{i}.role_id", "not a role of this initiative", "unknown_role"))
    if errors:
        raise RuleViolation("Cells must name activities and roles of this initiative; nothing was changed.",
                            errors=errors)
    before = snapshot(matrix(session, initiative_id))
    for c in cells:
        _write(session, c.activity_id, c.role_id, c.letters)
    session.flush()
    m = matrix(session, initiative_id)
    record(session, actor, "set_cells", "raci", initiative_id, before, snapshot(m))
    return m


def _write(session: Session, activity_id: int, role_id: int, letters: str) -> None:
    cell = session.get(RaciCell, (activity_id, role_id))
    if not letters:
        if cell is not None:
            session.delete(cell)
    elif cell is None:
        session.add(RaciCell(activity_id=activity_id, role_id=role_id, letters=letters))
    else:
        cell.letters = letters
        session.add(cell)
    try:
        session.flush()
    except sa.exc.IntegrityError as exc:  # the same cell created by a concurrent request
        raise Conflict("Someone else changed this cell at the same moment; reload the matrix.") from exc


def toggle(session: Session, initiative_id: int, activity_id: int, role_id: int, letter: str, actor: User) -> Matrix:
    """Add or remove one letter of a cell (the page's click). R and A add up to RA; another letter replaces
    what the cell held, so a click never makes a cell the rule refuses.

    The activity's row is locked first (FOR UPDATE; SQLite has a single writer), so two people clicking
    letters of one row at the same moment take turns: each adds to what the other saved, where reading
    first would have let the second click overwrite the first (a lost update)."""
    editable(session, actor, initiative_id)  # before taking any lock
    session.get(RaciActivity, activity_id, with_for_update=True)
    current = matrix(session, initiative_id).letters(activity_id, role_id)
    try:
        letter = normalize_letters(letter)
    except ValueError as exc:
        raise rule(str(exc), "letter", "value_error") from exc
    if len(letter) != 1:
        raise rule("Toggle one letter: R, A, C or I.", "letter", "value_error")
    if letter in current:
        new = current.replace(letter, "")
    else:  # R and A combine (RA); any other letter takes the cell's place (CELL_VALUES)
        combined = "".join(c for c in LETTERS if c in current + letter)
        new = combined if combined in CELL_VALUES else letter
    return set_cells(session, initiative_id, [CellSet(activity_id=activity_id, role_id=role_id, letters=new)],
                     actor)


# ---------------------------------------------------------------- CSV, XLSX

ACTIVITY_HEADER = {"en": "Activity", "zh_CN": "活动"}


def export_rows(m: Matrix, lang: str) -> list[list[str]]:
    rows = [[ACTIVITY_HEADER.get(lang, "Activity"), *[r.name for r in m.roles]]]
    for a in m.activities:
        rows.append([a.name, *[m.letters(a.id, r.id) for r in m.roles]])
    return rows


def to_csv(m: Matrix, lang: str) -> bytes:
    return csv_bytes(export_rows(m, lang))


def to_xlsx(m: Matrix, lang: str) -> bytes:
    # openpyxl takes ~0.1 s to import: loaded when a spreadsheet is read or written, not at start-up
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.title = "RACI"
    rows = export_rows(m, lang)
    write_table(ws, None, rows, [36] + [14] * (len(rows[0]) - 1), wrap=lambda c: c == 1)
    ws.freeze_panes = "B2"
    return workbook_bytes(wb)


def _import_error(row: int, column: str, message: str) -> dict[str, Any]:
    return {"loc": ["file", str(row), column], "field": "file", "row": row, "column": column,
            "message": message, "type": "value_error"}


def import_csv(session: Session, initiative_id: int, content: bytes, actor: User) -> ImportResult:
    """The export's layout: a header (activity, then one column per role), one row per activity.
    Roles and activities are matched by name (created when new); every cell of the file is set.
    A bad letter is reported with its row and column, and nothing is imported."""
    editable(session, actor, initiative_id)
    if len(content) > MAX_IMPORT_BYTES:
        raise RuleViolation("The file is larger than 1 MB.", errors=[_import_error(0, "", "file too large")])
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RuleViolation("The file is not UTF-8 text.",
                            errors=[_import_error(0, "", "not UTF-8 text")]) from exc
    rows = [r for r in csv.reader(io.StringIO(text)) if any(v.strip() for v in r)]
    if not rows or len(rows[0]) < 2:
        raise RuleViolation("The file needs a header: activity, then one column per role.",
                            errors=[_import_error(1, "", "missing header")])
    header = [h.strip().lstrip("'") for h in rows[0]]
    role_names = header[1:]
    errors = []
    for j, name in enumerate(role_names, start=2):
        if not name or len(name) > 120:
            errors.append(_import_error(1, name, f"column {j}: a role needs a name of 1 to 120 characters"))
        elif message := control_message(name):
            errors.append(_import_error(1, "", f"column {j}: the name {message}"))
    if len(set(role_names)) != len(role_names):
        errors.append(_import_error(1, "", "a role is named twice"))
    parsed: list[tuple[str, list[str]]] = []
    for i, row in enumerate(rows[1:], start=2):
        name = (row[0] if row else "").strip().lstrip("'")
        if not name or len(name) > 200:
            errors.append(_import_error(i, header[0], "an activity needs a name of 1 to 200 characters"))
        elif message := control_message(name):
            errors.append(_import_error(i, header[0], f"the name {message}"))
        letters = []
        for j, role in enumerate(role_names, start=1):
            raw = row[j] if j < len(row) else ""
            try:
                letters.append(normalize_letters(raw))
            except ValueError as exc:
                errors.append(_import_error(i, role, f"“{raw}”: {exc}"))
        if len(row) > len(header) and any(v.strip() for v in row[len(header):]):
            errors.append(_import_error(i, "", "more values than columns"))
        parsed.append((name, letters))
    if errors:
        raise RuleViolation(f"{len(errors)} problem(s) in the file; nothing was imported.", errors=errors)
    before = snapshot(matrix(session, initiative_id))
    existing_roles = {r.name: r for r in roles(session, initiative_id)}
    existing_acts = {a.name: a for a in activities(session, initiative_id)}
    n_roles = n_acts = n_cells = 0
    role_ids = []
    for name in role_names:
        role = existing_roles.get(name)
        if role is None:
            role = RaciRole(initiative_id=initiative_id, name=name, position=len(existing_roles) + 1)
            session.add(role)
            session.flush()
            existing_roles[name] = role
            n_roles += 1
        role_ids.append(role.id)
    for name, letters in parsed:
        act = existing_acts.get(name)
        if act is None:
            act = RaciActivity(initiative_id=initiative_id, name=name, position=len(existing_acts) + 1)
            session.add(act)
            session.flush()
            existing_acts[name] = act
            n_acts += 1
        for role_id, value in zip(role_ids, letters, strict=True):
            _write(session, act.id, role_id, value)
            n_cells += bool(value)
    session.flush()
    record(session, actor, "import", "raci", initiative_id, before, snapshot(matrix(session, initiative_id)))
    return ImportResult(roles_created=n_roles, activities_created=n_acts, cells_set=n_cells)
