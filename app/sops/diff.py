"""Comparing two versions of an SOP, section by section.

List sections are matched by a key: steps and control points by their stable `id`, forms by name, special
cases and contingencies by kind and situation, the case attributes the rules use by name (a renamed form is
one removed and one added). Items of both versions keep their relative order unless moved:
`difflib.SequenceMatcher` over the keys finds the longest runs kept in order, an item outside them is moved.
A nested part of an item (a control point's `rule`) is compared field by field, named by its path
(`rule.condition`, `rule.requirement.activity`). Text is compared character by character (Chinese has no
spaces to split words on).
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable, Hashable
from difflib import SequenceMatcher
from os.path import commonprefix
from typing import Any, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, Field
from sqlmodel import Session

from app.core.errors import RuleViolation, field_error
from app.sops import service
from app.sops.models import SopVersion
from app.sops.schemas import (
    Attribute,
    Bump,
    Contingency,
    ControlPoint,
    EditSection,
    FormItem,
    RaciActivity,
    SopContent,
    SopVersionSummary,
    Step,
)
from app.users.models import User

__all__ = ["AttributesDiff", "Change", "FieldChange", "ItemChange", "ListDiff", "RaciCellChange", "RaciDiff",
           "SectionsDiff", "SopDiff", "StepsDiff", "TextOp", "diff_contents", "diff_text", "diff_versions"]

Item = TypeVar("Item", bound=BaseModel)


class TextOp(BaseModel):
    """A run of characters: kept, inserted (only in the newer text) or deleted (only in the older one)."""

    op: Literal["equal", "insert", "delete"] = Field(description="`equal`: in both texts; `insert`: only in the "
                                                                 "`to` version; `delete`: only in the `from` one.")
    text: str = Field(description="The characters of the run.", examples=["并"])


class FieldChange(BaseModel):
    """One field whose value differs between the two versions."""

    field: str = Field(description="The field's name in the section's schema; a field of a nested part by its "
                                   "path (`rule.condition`, `rule.requirement.within_minutes`).",
                       examples=["instructions"])
    old: Any = Field(description="The value in the `from` version.")
    new: Any = Field(description="The value in the `to` version.")
    ops: list[TextOp] = Field(default_factory=list,
                              description="For a text field: the character-level edit from `old` to `new`, in "
                                          "order (their `equal` and `delete` runs spell `old`, `equal` and "
                                          "`insert` runs spell `new`); empty for other fields (numbers, lists, "
                                          "choices such as a form's kind, ids such as `step_id`).")
    added: list[Any] = Field(default_factory=list, description="For a list field: values only in `new`.")
    removed: list[Any] = Field(default_factory=list, description="For a list field: values only in `old`.")


class Change(enum.StrEnum):
    """How an item of a list section differs."""

    added = "added"
    removed = "removed"
    moved = "moved"  # same content, another place in the order
    changed = "changed"  # fields differ (and `moved` says whether it moved too)


class ItemChange(BaseModel, Generic[Item]):
    """An item of a list section (a step, a control point, ...) added, removed, moved or changed."""

    change: Change = Field(description="`added` / `removed`: in one version only; `moved`: in both, same "
                                       "fields, another place in the order; `changed`: in both, fields differ.")
    key: str = Field(description="What the items are matched by: a step's or control point's id, a form's "
                                 "or case attribute's name, a special case's kind and situation.")
    old_position: int | None = Field(description="1-based place in the `from` version; none when added.")
    new_position: int | None = Field(description="1-based place in the `to` version; none when removed.")
    moved: bool = Field(description="In both versions, out of the order of the items kept in place.")
    old: Item | None = Field(description="The item in the `from` version; none when added.")
    new: Item | None = Field(description="The item in the `to` version; none when removed.")
    fields: list[FieldChange] = Field(description="The fields that differ (for `changed`).")


class ListDiff(BaseModel, Generic[Item]):
    """A list section compared."""

    items: list[ItemChange[Item]] = Field(description="The items that differ, in document order: the `to` "
                                                      "version's, with removed items where they were.")

    def of(self, change: Change) -> list[ItemChange[Item]]:
        """The items that differ that way."""
        return [i for i in self.items if i.change == change]


class StepsDiff(ListDiff[Step]):
    """详细步骤: steps matched by id."""


class ControlPointsDiff(ListDiff[ControlPoint]):
    """关键节点: control points matched by id."""


class FormsDiff(ListDiff[FormItem]):
    """表单/工具: forms and tools matched by name."""


class ContingenciesDiff(ListDiff[Contingency]):
    """应急方案 / 特殊场景: matched by kind and situation."""


class AttributesDiff(ListDiff[Attribute]):
    """The case attributes the control points' rules use, matched by name (a changed type is a changed field)."""


class RaciActivitiesDiff(ListDiff[RaciActivity]):
    """The RACI's activities (rows), matched by name."""


class RaciCellChange(BaseModel):
    """An activity × role cell whose letters differ."""

    activity: str = Field(description="The activity's name.")
    role: str = Field(description="The role's name.")
    old: str = Field(description='Letters in the `from` version ("" when none).', examples=["R"])
    new: str = Field(description='Letters in the `to` version ("" when none).', examples=["RA"])


class RaciDiff(BaseModel):
    """职责分工: roles and activities added or removed, and every activity × role cell whose letters changed."""

    roles_added: list[str] = Field(description="Roles (columns) only in the `to` version.")
    roles_removed: list[str] = Field(description="Roles (columns) only in the `from` version.")
    activities: RaciActivitiesDiff
    cells: list[RaciCellChange] = Field(description="Cells whose letters differ, including the cells of added or "
                                                    "removed roles and activities.")


class SectionsDiff(BaseModel):
    """The seven sections compared, and the case attributes the control points' rules use."""

    purpose: list[FieldChange] = Field(description="流程目的: the fields that differ (text, KPI, baseline, "
                                                   "target, unit).")
    scope: list[FieldChange] = Field(description="适用范围: scenarios, departments and roles added or removed.")
    raci: RaciDiff
    steps: StepsDiff
    control_points: ControlPointsDiff
    forms: FormsDiff
    contingencies: ContingenciesDiff
    attributes: AttributesDiff = Field(description="The case attributes (a part of the version beside the seven "
                                                   "sections): added, removed, type changed.")

    @property
    def changed_sections(self) -> list[EditSection]:
        raci = self.raci
        raci_changed = bool(raci.roles_added or raci.roles_removed or raci.activities.items or raci.cells)
        changed = {"purpose": bool(self.purpose), "scope": bool(self.scope), "raci": raci_changed,
                   "steps": bool(self.steps.items), "control_points": bool(self.control_points.items),
                   "forms": bool(self.forms.items), "contingencies": bool(self.contingencies.items),
                   "attributes": bool(self.attributes.items)}
        return [s for s in EditSection if changed[s.value]]


class SopDiff(BaseModel):
    """Two versions of one SOP compared, section by section."""

    sop_id: int
    from_version: SopVersionSummary = Field(description="The older side (`from`): id, number (`V1.0`, none for a "
                                                        "draft), state and status today.")
    to_version: SopVersionSummary = Field(description="The newer side (`to`).")
    changed: bool = Field(description="Any section differs.")
    changed_sections: list[EditSection] = Field(description="The sections that differ, in the document's order, "
                                                          "then `attributes` when the case attributes do.")
    sections: SectionsDiff
    suggested_bump: Bump = Field(description="The version bump the changes call for, by the publishing rule: "
                                             "steps added or removed or a RACI A changed: major; anything else "
                                             "(control points and their rules, special cases, case attributes "
                                             "included): minor.")


# ---------------------------------------------------------------- text and fields

def diff_text(old: str, new: str) -> list[TextOp]:
    """Character-level edit from `old` to `new` (a replaced run is a delete then an insert). The common head
    and tail are set aside first: `SequenceMatcher` then works on the edited middle only."""
    head = len(commonprefix([old, new]))
    tail = len(commonprefix([old[head:][::-1], new[head:][::-1]]))
    a, b = old[head:len(old) - tail], new[head:len(new) - tail]
    ops = [TextOp(op="equal", text=old[:head])] if head else []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            ops.append(TextOp(op="equal", text=a[i1:i2]))
            continue
        if i2 > i1:
            ops.append(TextOp(op="delete", text=a[i1:i2]))
        if j2 > j1:
            ops.append(TextOp(op="insert", text=b[j1:j2]))
    if tail:
        ops.append(TextOp(op="equal", text=old[len(old) - tail:]))
    return ops


def _field_change(name: str, old: Any, new: Any, *, text: bool = True) -> FieldChange:
    change = FieldChange(field=name, old=old, new=new)
    if text and isinstance(old, str | None) and isinstance(new, str | None):
        change.ops = diff_text(old or "", new or "")
    elif isinstance(old, list) and isinstance(new, list):
        change.added = [v for v in new if v not in old]
        change.removed = [v for v in old if v not in new]
    return change


def _flat(path: str, value: Any) -> dict[str, Any]:
    """A JSON value by path: a nested part's fields each on its own (`rule.requirement.role`), anything else
    as it is. A part left out (none) has no fields: the other side's are compared with none."""
    if not isinstance(value, dict):
        return {path: value}
    out: dict[str, Any] = {}
    for name, v in value.items():
        out.update(_flat(f"{path}.{name}", v))
    return out


def _fields(old: BaseModel, new: BaseModel) -> list[FieldChange]:
    """The fields whose JSON values differ, in the schema's order; the fields of a nested part (a control
    point's rule) each by its path. A choice (an enum: a form's kind, an attribute's type) or a reference (the
    id of a step or of a control point) is no text: no character-level edit."""
    a, b = old.model_dump(mode="json"), new.model_dump(mode="json")
    changes = []
    for name in a:
        if a[name] == b[name]:
            continue
        text = not any(isinstance(getattr(m, name), enum.Enum | UUID) for m in (old, new))
        fa, fb = _flat(name, a[name]), _flat(name, b[name])
        changes += [_field_change(path, fa.get(path), fb.get(path), text=text)
                    for path in dict.fromkeys([*fa, *fb]) if fa.get(path) != fb.get(path)]
    return changes


# ---------------------------------------------------------------- list sections

def _keyed(items: list[Item], key: Callable[[Item], Hashable]) -> list[tuple[Hashable, int]]:
    """Each item's key with its occurrence (two forms of one name are matched in order)."""
    seen: Counter = Counter()
    out = []
    for item in items:
        k = key(item)
        out.append((k, seen[k]))
        seen[k] += 1
    return out


def _label(key: tuple[Hashable, int]) -> str:
    k, n = key
    text = "/".join(map(str, k)) if isinstance(k, tuple) else str(k)
    return f"{text}#{n + 1}" if n else text


def _entry(change: Change, key: tuple[Hashable, int], old: Item | None, new: Item | None, *, i: int | None = None,
           j: int | None = None, moved: bool = False, fields: list[FieldChange] | None = None) -> dict[str, Any]:
    return {"change": change, "key": _label(key), "old_position": None if i is None else i + 1,
            "new_position": None if j is None else j + 1, "moved": moved, "old": old, "new": new,
            "fields": fields or []}


def _diff_list(old: list[Item], new: list[Item], key: Callable[[Item], Hashable], model: type[ListDiff[Item]]
              ) -> ListDiff[Item]:
    """The items of a list section that differ, in document order."""
    old_keys, new_keys = _keyed(old, key), _keyed(new, key)
    old_at = {k: i for i, k in enumerate(old_keys)}
    new_keys_set = set(new_keys)
    entries: list[dict[str, Any]] = []

    def both(i: int, j: int, moved: bool) -> None:
        fields = _fields(old[i], new[j])
        if fields or moved:
            entries.append(_entry(Change.changed if fields else Change.moved, new_keys[j], old[i], new[j], i=i, j=j,
                                  moved=moved, fields=fields))

    for tag, i1, i2, j1, j2 in SequenceMatcher(None, old_keys, new_keys, autojunk=False).get_opcodes():
        if tag == "equal":
            for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                both(i, j, moved=False)
            continue
        for i in range(i1, i2):  # an item moved elsewhere is told at its new place
            if old_keys[i] not in new_keys_set:
                entries.append(_entry(Change.removed, old_keys[i], old[i], None, i=i))
        for j in range(j1, j2):
            if new_keys[j] in old_at:
                both(old_at[new_keys[j]], j, moved=True)
            else:
                entries.append(_entry(Change.added, new_keys[j], None, new[j], j=j))
    return model(items=entries)


# ---------------------------------------------------------------- RACI

def _raci(old: SopContent, new: SopContent) -> RaciDiff:
    a, b = old.raci, new.raci
    old_cells = {(c.activity, c.role): c.letters for c in a.cells}
    new_cells = {(c.activity, c.role): c.letters for c in b.cells}
    cells = [RaciCellChange(activity=act, role=role, old=old_cells.get((act, role), ""),
                            new=new_cells.get((act, role), ""))
             for act, role in {**new_cells, **old_cells} if old_cells.get((act, role)) != new_cells.get((act, role))]
    return RaciDiff(roles_added=[r for r in b.roles if r not in a.roles],
                    roles_removed=[r for r in a.roles if r not in b.roles],
                    activities=_diff_list(a.activities, b.activities, lambda x: x.name, RaciActivitiesDiff),
                    cells=cells)


# ---------------------------------------------------------------- the document

def diff_contents(old: SopContent, new: SopContent) -> SectionsDiff:
    """The seven sections of `old` (the `from` version) and `new` (the `to` one) compared, and their case
    attributes."""
    return SectionsDiff(
        purpose=_fields(old.purpose, new.purpose),
        scope=_fields(old.scope, new.scope),
        raci=_raci(old, new),
        steps=_diff_list(old.steps, new.steps, lambda s: s.id or s.name, StepsDiff),
        control_points=_diff_list(old.control_points, new.control_points, lambda c: c.id or c.description,
                                 ControlPointsDiff),
        forms=_diff_list(old.forms, new.forms, lambda f: f.name, FormsDiff),
        contingencies=_diff_list(old.contingencies, new.contingencies, lambda c: (c.kind.value, c.situation),
                                ContingenciesDiff),
        attributes=_diff_list(old.attributes, new.attributes, lambda a: a.name, AttributesDiff),
    )


def _of_sop(session: Session, sop_id: int, version_id: int, param: str, actor: User) -> SopVersion:
    """Version `version_id`, read by the rule of reading a version (`service.read_version`), when it is one of
    SOP `sop_id`; else a 422 naming the query parameter."""
    v = service.read_version(session, version_id, actor)
    if v.sop_id != sop_id:
        detail = f"SOP version {version_id} is a version of another SOP."
        raise RuleViolation(detail, errors=[field_error(param, "not a version of this SOP", "other_sop", loc="query")])
    return v


def diff_versions(session: Session, sop_id: int, from_id: int, to_id: int, actor: User) -> SopDiff:
    """Version `from_id` and version `to_id` of SOP `sop_id` compared (either order, any states the actor may
    read: everyone reads published versions, drafts only their team, reviewers and signer)."""
    sop = service.get_sop(session, sop_id)
    old_v, new_v = (_of_sop(session, sop_id, from_id, "from", actor), _of_sop(session, sop_id, to_id, "to", actor))
    old, new = service.content_of(old_v), service.content_of(new_v)
    sections = diff_contents(old, new)
    summary_from, summary_to = service.summaries(session, sop, [old_v, new_v])
    changed = sections.changed_sections
    return SopDiff(sop_id=sop_id, from_version=summary_from, to_version=summary_to, changed=bool(changed),
                   changed_sections=changed, sections=sections, suggested_bump=service.suggest_bump(old_v.content, new_v.content))
