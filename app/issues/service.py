"""Rules and queries of problems (issues), fishbone causes, 5-Whys chains and the priority matrix."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import sqlalchemy as sa
from annotated_types import Interval
from sqlmodel import Session, col, func, select

from app.core.audit import record
from app.core.errors import NotFound, rule
from app.core.ids import Id
from app.core.labels import N_, label
from app.core.pagination import Cursor, page_window
from app.core.versioning import bump, changes_of, check_version, delete_audited, save_new, save_update
from app.initiatives.models import Initiative
from app.initiatives.schemas import UserRef
from app.initiatives.service import editable, get_initiative
from app.issues.models import (
    CauseCategory,
    Issue,
    IssueCause,
    IssueStatus,
    IssueStep,
    IssueWhy,
    ProblemCategory,
    Quadrant,
)
from app.issues.schemas import (
    CauseCreate,
    CauseRead,
    CauseUpdate,
    IssueCreate,
    IssueRead,
    IssueSort,
    IssueUpdate,
    MatrixEntry,
    PriorityMatrix,
    QuadrantFilter,
    WhyCreate,
    WhyRead,
    WhyUpdate,
)
from app.survey.service import steps_of_initiative
from app.users.models import User

MAX_CAUSES = 200
MAX_CAUSE_DEPTH = 4  # a cause on a bone (0) and up to four levels of sub-causes
MAX_WHYS = 10
QUADRANT_ORDER = (Quadrant.do_first, Quadrant.schedule, Quadrant.quick_fix, Quadrant.defer)

# impact x urgency, each 1-5 (0 while unscored): a sort key of the priority cursor.
_Score = Annotated[int, Interval(ge=0, le=25)]


def quadrant(impact: int | None, urgency: int | None, threshold: int) -> Quadrant | None:
    """Impact x urgency: high when >= threshold."""
    if impact is None or urgency is None:
        return None
    high_i, high_u = impact >= threshold, urgency >= threshold
    if high_i:
        return Quadrant.do_first if high_u else Quadrant.schedule
    return Quadrant.quick_fix if high_u else Quadrant.defer


def priority_key(issue: Issue) -> tuple:
    """Within a quadrant: impact x urgency descending, then impact descending, then oldest first."""
    return (-(issue.impact or 0) * (issue.urgency or 0), -(issue.impact or 0), issue.created_at, issue.id)


@dataclass(frozen=True)
class IssueFilter:
    category: ProblemCategory | None = None
    status: IssueStatus | None = None
    quadrant: QuadrantFilter | None = None
    q: str | None = None
    sort: IssueSort = IssueSort.created


# ---------------------------------------------------------------- issues

def get_issue(session: Session, issue_id: int) -> Issue:
    issue = session.get(Issue, issue_id)
    if issue is None:
        raise NotFound(N_("Problem {issue_id} not found."), params={"issue_id": issue_id})
    return issue


def _owner(session: Session, owner_id: int | None) -> int | None:
    if owner_id is None:
        return None
    user = session.get(User, owner_id)
    if user is None or not user.is_active:
        raise rule("The owner must be an active user.", "owner_id", "unknown_user", "unknown or inactive user")
    return owner_id


def _set_steps(session: Session, issue: Issue, step_ids: list[int]) -> None:
    session.exec(sa.delete(IssueStep).where(IssueStep.issue_id == issue.id))
    session.add_all(IssueStep(issue_id=issue.id, step_id=i) for i in step_ids)


def create_issue(session: Session, initiative_id: int, data: IssueCreate, actor: User) -> Issue:
    ini = editable(session, actor, initiative_id)
    steps_of_initiative(session, ini.id, data.step_ids, "step_ids")
    issue = Issue(initiative_id=ini.id, title=data.title, description=data.description, category=data.category,
                  source=data.source, owner_id=_owner(session, data.owner_id), status=data.status,
                  impact=data.impact, urgency=data.urgency, created_by_id=actor.id)
    session.add(issue)
    session.flush()
    _set_steps(session, issue, data.step_ids)
    session.flush()
    record(session, actor, "create", "issue", issue.id, None, snapshot(session, issue))
    return issue


def update_issue(session: Session, issue_id: int, data: IssueUpdate, actor: User, *,
                 expected_version: int | None) -> Issue:
    issue = get_issue(session, issue_id)
    editable(session, actor, issue.initiative_id)
    check_version(issue, expected_version, "problem")
    changes = changes_of(data, ("title", "description", "category", "source", "step_ids", "status"))
    before = snapshot(session, issue)
    if "step_ids" in changes:
        _set_steps(session, issue, steps_of_initiative(session, issue.initiative_id, changes.pop("step_ids"),
                                                       "step_ids"))
    if "owner_id" in changes:
        issue.owner_id = _owner(session, changes.pop("owner_id"))
    return save_update(session, actor, issue, "issue", before, lambda e: snapshot(session, e), changes=changes)


def delete_issue(session: Session, issue_id: int, actor: User) -> int:
    issue = get_issue(session, issue_id)
    editable(session, actor, issue.initiative_id)
    delete_audited(session, actor, issue, "issue", snapshot(session, issue))
    return issue.initiative_id


def _quadrant_clause(q: QuadrantFilter, t: int) -> sa.ColumnElement[bool]:
    scored = sa.and_(col(Issue.impact).is_not(None), col(Issue.urgency).is_not(None))
    return {
        QuadrantFilter.do_first: sa.and_(scored, Issue.impact >= t, Issue.urgency >= t),
        QuadrantFilter.schedule: sa.and_(scored, Issue.impact >= t, Issue.urgency < t),
        QuadrantFilter.quick_fix: sa.and_(scored, Issue.impact < t, Issue.urgency >= t),
        QuadrantFilter.defer: sa.and_(scored, Issue.impact < t, Issue.urgency < t),
        QuadrantFilter.unscored: sa.not_(scored),
    }[q]


def list_issues(session: Session, initiative_id: int, flt: IssueFilter, *, limit: int, cursor: str | None
                ) -> tuple[list[Issue], str | None]:
    ini = get_initiative(session, initiative_id)
    stmt = select(Issue).where(Issue.initiative_id == ini.id)
    if flt.category is not None:
        stmt = stmt.where(Issue.category == flt.category)
    if flt.status is not None:
        stmt = stmt.where(Issue.status == flt.status)
    if flt.quadrant is not None:
        stmt = stmt.where(_quadrant_clause(flt.quadrant, ini.priority_threshold))
    if flt.q:
        stmt = stmt.where(func.lower(Issue.title).contains(flt.q.strip().lower(), autoescape=True))
    if flt.sort == IssueSort.priority:
        score_col = func.coalesce(Issue.impact, 0) * func.coalesce(Issue.urgency, 0)
        impact_col = func.coalesce(Issue.impact, 0)
        keys: tuple[str, ...] = ("score", "impact", "id")
        if cursor:
            score, impact, last_id = Cursor.decode(cursor, keys, (_Score, _Score, Id)).values
            stmt = stmt.where(sa.or_(
                score_col < score,
                sa.and_(score_col == score, impact_col < impact),
                sa.and_(score_col == score, impact_col == impact, Issue.id > last_id)))
        stmt = stmt.order_by(score_col.desc(), impact_col.desc(), col(Issue.id).asc())
        rows = list(session.exec(stmt.limit(limit + 1)))
        return page_window(rows, limit, lambda i: Cursor(keys, (
            (i.impact or 0) * (i.urgency or 0), i.impact or 0, i.id)))
    keys = ("id",)
    desc = flt.sort == IssueSort.created_desc
    if cursor:
        (last_id,) = Cursor.decode(cursor, keys, (Id,)).values
        stmt = stmt.where(Issue.id < last_id if desc else Issue.id > last_id)
    stmt = stmt.order_by(col(Issue.id).desc() if desc else col(Issue.id).asc())
    rows = list(session.exec(stmt.limit(limit + 1)))
    return page_window(rows, limit, lambda i: Cursor(keys, (i.id,)))


def root_cause_counts(session: Session, issue_ids: list[int]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for model in (IssueCause, IssueWhy):
        stmt = (select(model.issue_id, func.count()).where(col(model.issue_id).in_(issue_ids),
                                                           col(model.is_root).is_(True))
                .group_by(model.issue_id))
        for issue_id, n in session.exec(stmt):
            counts[issue_id] = counts.get(issue_id, 0) + n
    return counts


def to_read(session: Session, issues: list[Issue]) -> list[IssueRead]:
    """Shape problems for output with a fixed number of queries (no N+1)."""
    if not issues:
        return []
    ids = [i.id for i in issues]
    steps: dict[int, list[int]] = {}
    for link in session.exec(select(IssueStep).where(col(IssueStep.issue_id).in_(ids))
                             .order_by(IssueStep.step_id)):
        steps.setdefault(link.issue_id, []).append(link.step_id)
    owners = {u.id: u for u in session.exec(select(User).where(
        col(User.id).in_({i.owner_id for i in issues if i.owner_id})))}
    thresholds = dict(session.exec(select(Initiative.id, Initiative.priority_threshold).where(
        col(Initiative.id).in_({i.initiative_id for i in issues}))).all())
    roots = root_cause_counts(session, ids)
    return [IssueRead(
        id=i.id, initiative_id=i.initiative_id, title=i.title, description=i.description, category=i.category,
        source=i.source, step_ids=steps.get(i.id, []),
        owner=UserRef(id=i.owner_id, display_name=owners[i.owner_id].display_name) if i.owner_id in owners
        else None,
        status=i.status, impact=i.impact, urgency=i.urgency,
        score=i.impact * i.urgency if i.impact is not None and i.urgency is not None else None,
        quadrant=quadrant(i.impact, i.urgency, thresholds[i.initiative_id]), root_causes=roots.get(i.id, 0),
        created_at=i.created_at, updated_at=i.updated_at, version=i.version) for i in issues]


def snapshot(session: Session, issue: Issue) -> dict[str, Any]:
    return to_read(session, [issue])[0].model_dump(
        mode="json", exclude={"created_at", "updated_at", "root_causes", "quadrant", "score"})


# ---------------------------------------------------------------- priority matrix

def priority_matrix(session: Session, initiative_id: int, *, include_resolved: bool = False) -> PriorityMatrix:
    ini = get_initiative(session, initiative_id)
    stmt = select(Issue).where(Issue.initiative_id == ini.id)
    if not include_resolved:
        stmt = stmt.where(Issue.status != IssueStatus.resolved)
    issues = list(session.exec(stmt))
    groups: dict[Quadrant | None, list[Issue]] = {q: [] for q in QUADRANT_ORDER}
    groups[None] = []
    for issue in issues:
        groups[quadrant(issue.impact, issue.urgency, ini.priority_threshold)].append(issue)

    def entries(items: list[Issue]) -> list[MatrixEntry]:
        return [MatrixEntry(id=i.id, title=i.title, category=i.category, status=i.status, impact=i.impact,
                            urgency=i.urgency,
                            score=i.impact * i.urgency if i.impact is not None and i.urgency is not None else None,
                            rank=n, version=i.version)
                for n, i in enumerate(sorted(items, key=priority_key), start=1)]

    return PriorityMatrix(
        initiative_id=ini.id, threshold=ini.priority_threshold,
        quadrants={q: entries(groups[q]) for q in QUADRANT_ORDER},
        unscored=entries(sorted(groups[None], key=lambda i: (i.created_at, i.id))),
    )


# Columns of the matrix's CSV and XLSX, translated with the export's language.
MATRIX_COLUMNS = (N_("Quadrant"), N_("Rank"), N_("Problem"), N_("Category"), N_("Impact"), N_("Urgency"),
                  N_("Score"), N_("Status"))


def matrix_rows(matrix: PriorityMatrix, gettext: Callable[[str], str]) -> Iterator[list[Any]]:
    """The priority matrix as a table for CSV and XLSX: a header, then a row per problem quadrant by quadrant in
    priority order (do first, schedule, quick fix, defer), the unscored last; labels in `gettext`'s language."""
    yield [gettext(c) for c in MATRIX_COLUMNS]
    groups: list[tuple[str, list[MatrixEntry]]] = [(q.value, matrix.quadrants.get(q, [])) for q in QUADRANT_ORDER]
    for key, entries in [*groups, ("unscored", matrix.unscored)]:
        for e in entries:
            yield [label("quadrant", key, gettext), e.rank, e.title, label("problem_category", e.category, gettext),
                   "" if e.impact is None else e.impact, "" if e.urgency is None else e.urgency,
                   "" if e.score is None else e.score, label("issue_status", e.status, gettext)]


# ---------------------------------------------------------------- fishbone causes

def _editable_issue(session: Session, issue_id: int, actor: User) -> Issue:
    issue = get_issue(session, issue_id)
    editable(session, actor, issue.initiative_id)
    return issue


def _cause(session: Session, issue: Issue, cause_id: int) -> IssueCause:
    cause = session.get(IssueCause, cause_id)
    if cause is None or cause.issue_id != issue.id:
        raise NotFound(N_("Cause {cause_id} not found in problem {issue_id}."), params={"cause_id": cause_id, "issue_id": issue.id})
    return cause


def causes_of(session: Session, issue_id: int) -> list[IssueCause]:
    return list(session.exec(select(IssueCause).where(IssueCause.issue_id == issue_id)
                             .order_by(IssueCause.position, IssueCause.id)))


def _parent(session: Session, issue: Issue, parent_id: int) -> IssueCause:
    parent = session.get(IssueCause, parent_id)
    if parent is None or parent.issue_id != issue.id:
        raise rule(f"Cause {parent_id} is not a cause of this problem.", "parent_id", "unknown_cause",
                   "not a cause of this problem")
    return parent


def _depth(session: Session, cause: IssueCause) -> int:
    depth, seen = 0, {cause.id}
    while cause.parent_id is not None:
        cause = session.get(IssueCause, cause.parent_id)
        if cause is None or cause.id in seen:  # pragma: no cover - prevented on write
            break
        seen.add(cause.id)
        depth += 1
    return depth


def _subtree_height(children: dict[int | None, list[IssueCause]], cause_id: int) -> int:
    kids = children.get(cause_id, [])
    return 1 + max((_subtree_height(children, k.id) for k in kids), default=0)


def _children(session: Session, issue_id: int) -> dict[int | None, list[IssueCause]]:
    out: dict[int | None, list[IssueCause]] = {}
    for c in causes_of(session, issue_id):
        out.setdefault(c.parent_id, []).append(c)
    return out


def _descendants(children: dict[int | None, list[IssueCause]], cause_id: int) -> list[IssueCause]:
    out, stack = [], list(children.get(cause_id, []))
    while stack:
        c = stack.pop()
        out.append(c)
        stack.extend(children.get(c.id, []))
    return out


def _next_position(session: Session, issue_id: int) -> int:
    return int(session.exec(select(func.coalesce(func.max(IssueCause.position), 0))
                            .where(IssueCause.issue_id == issue_id)).one()) + 1


def create_cause(session: Session, issue_id: int, data: CauseCreate, actor: User) -> IssueCause:
    issue = _editable_issue(session, issue_id, actor)
    count = session.exec(select(func.count()).select_from(IssueCause).where(IssueCause.issue_id == issue.id)).one()
    if count >= MAX_CAUSES:
        raise rule(f"A fishbone has at most {MAX_CAUSES} causes.", "text", "too_long")
    category = data.category
    if data.parent_id is not None:
        parent = _parent(session, issue, data.parent_id)
        if category is not None and category != parent.category:
            raise rule("A sub-cause stays on its parent's bone.", "category", "category_mismatch")
        if _depth(session, parent) + 1 > MAX_CAUSE_DEPTH:
            raise rule(f"Sub-causes nest at most {MAX_CAUSE_DEPTH} levels deep.", "parent_id", "too_deep")
        category = parent.category
    elif category is None:
        raise rule("Choose the bone (man, machine, material, method, environment).", "category", "missing")
    cause = IssueCause(issue_id=issue.id, parent_id=data.parent_id, category=category, text=data.text,
                       is_root=data.is_root, position=_next_position(session, issue.id))
    return save_new(session, actor, cause, "issue_cause", cause_snapshot)


def update_cause(session: Session, issue_id: int, cause_id: int, data: CauseUpdate, actor: User, *,
                 expected_version: int | None) -> IssueCause:
    issue = _editable_issue(session, issue_id, actor)
    cause = _cause(session, issue, cause_id)
    check_version(cause, expected_version, "cause")
    changes = changes_of(data, ("category", "text", "is_root"))
    before = cause_snapshot(cause)
    children = _children(session, issue.id)
    if "parent_id" in changes and changes["parent_id"] != cause.parent_id:
        new_parent_id = changes["parent_id"]
        if new_parent_id is not None:
            parent = _parent(session, issue, new_parent_id)
            if new_parent_id == cause.id or parent.id in {d.id for d in _descendants(children, cause.id)}:
                raise rule("A cause cannot be placed under itself or one of its own sub-causes.", "parent_id",
                           "cycle")
            if _depth(session, parent) + _subtree_height(children, cause.id) > MAX_CAUSE_DEPTH:
                raise rule(f"Sub-causes nest at most {MAX_CAUSE_DEPTH} levels deep.", "parent_id", "too_deep")
            if "category" in changes and changes["category"] != parent.category:
                raise rule("A sub-cause stays on its parent's bone.", "category", "category_mismatch")
            changes["category"] = parent.category
        cause.parent_id = new_parent_id
    if "category" in changes and changes["category"] != cause.category:
        if cause.parent_id is not None and "parent_id" not in data.model_fields_set:
            raise rule("A sub-cause stays on its parent's bone; move its top-level cause instead.", "category",
                       "category_mismatch")
        for d in _descendants(children, cause.id):  # the whole branch moves to the new bone
            d.category = changes["category"]
            bump(d)
            session.add(d)
        cause.category = changes["category"]
    if "text" in changes:
        cause.text = changes["text"]
    if "is_root" in changes:
        cause.is_root = changes["is_root"]
    return save_update(session, actor, cause, "issue_cause", before, cause_snapshot)


def delete_cause(session: Session, issue_id: int, cause_id: int, actor: User) -> None:
    """Delete a cause and its sub-causes."""
    issue = _editable_issue(session, issue_id, actor)
    cause = _cause(session, issue, cause_id)
    removed = [cause_snapshot(c) for c in [cause, *_descendants(_children(session, issue.id), cause.id)]]
    session.delete(cause)
    session.flush()
    record(session, actor, "delete", "issue_cause", cause_id, {"causes": removed}, None)


def cause_snapshot(cause: IssueCause) -> dict[str, Any]:
    return {"id": cause.id, "issue_id": cause.issue_id, "parent_id": cause.parent_id,
            "category": cause.category.value, "text": cause.text, "is_root": cause.is_root, "version": cause.version}


def cause_tree(session: Session, issue_id: int) -> list[CauseRead]:
    """Causes in tree order: bone by bone (人 機 料 法 環), each cause followed by its sub-causes."""
    get_issue(session, issue_id)
    children = _children(session, issue_id)
    out: list[CauseRead] = []

    def walk(cause: IssueCause, depth: int) -> None:
        out.append(CauseRead(id=cause.id, issue_id=cause.issue_id, parent_id=cause.parent_id,
                             category=cause.category, text=cause.text, is_root=cause.is_root, depth=depth,
                             position=cause.position, version=cause.version))
        for child in children.get(cause.id, []):
            walk(child, depth + 1)

    for category in CauseCategory:
        for top in children.get(None, []):
            if top.category == category:
                walk(top, 0)
    return out


def cause_read(session: Session, issue_id: int, cause_id: int) -> CauseRead:
    for c in cause_tree(session, issue_id):
        if c.id == cause_id:
            return c
    raise NotFound(N_("Cause {cause_id} not found in problem {issue_id}."), params={"cause_id": cause_id, "issue_id": issue_id})


# ---------------------------------------------------------------- 5-Whys

def whys_of(session: Session, issue_id: int) -> list[IssueWhy]:
    return list(session.exec(select(IssueWhy).where(IssueWhy.issue_id == issue_id)
                             .order_by(IssueWhy.position, IssueWhy.id)))


def _why(session: Session, issue: Issue, why_id: int) -> IssueWhy:
    why = session.get(IssueWhy, why_id)
    if why is None or why.issue_id != issue.id:
        raise NotFound(N_("Why {why_id} not found in problem {issue_id}."), params={"why_id": why_id, "issue_id": issue.id})
    return why


def create_why(session: Session, issue_id: int, data: WhyCreate, actor: User) -> IssueWhy:
    issue = _editable_issue(session, issue_id, actor)
    chain = whys_of(session, issue.id)
    if len(chain) >= MAX_WHYS:
        raise rule(f"A 5-Whys chain has at most {MAX_WHYS} links.", "question", "too_long")
    if chain and chain[-1].is_root:
        raise rule("The chain already ends in a root cause; unmark it to ask another why.", "question",
                   "chain_closed")
    why = IssueWhy(issue_id=issue.id, position=len(chain) + 1, question=data.question, answer=data.answer,
                   is_root=data.is_root)
    return save_new(session, actor, why, "issue_why", why_snapshot)


def update_why(session: Session, issue_id: int, why_id: int, data: WhyUpdate, actor: User, *,
               expected_version: int | None) -> IssueWhy:
    issue = _editable_issue(session, issue_id, actor)
    why = _why(session, issue, why_id)
    check_version(why, expected_version, "why")
    changes = changes_of(data, ("question", "answer", "is_root"))
    if changes.get("is_root") and why.id != whys_of(session, issue.id)[-1].id:
        raise rule("Only the last answer of the chain can be its root cause.", "is_root", "not_last")
    before = why_snapshot(why)
    return save_update(session, actor, why, "issue_why", before, why_snapshot, changes=changes)


def delete_why(session: Session, issue_id: int, why_id: int, actor: User) -> None:
    issue = _editable_issue(session, issue_id, actor)
    why = _why(session, issue, why_id)
    before = why_snapshot(why)
    session.delete(why)
    session.flush()
    for i, w in enumerate(whys_of(session, issue.id), start=1):
        if w.position != i:
            w.position = i
            session.add(w)
    session.flush()
    record(session, actor, "delete", "issue_why", why_id, before, None)


def why_snapshot(why: IssueWhy) -> dict[str, Any]:
    return WhyRead.model_validate(why, from_attributes=True).model_dump(mode="json")


def why_reads(session: Session, issue_id: int) -> list[WhyRead]:
    get_issue(session, issue_id)
    return [WhyRead.model_validate(w, from_attributes=True) for w in whys_of(session, issue_id)]
