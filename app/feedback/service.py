"""Feedback rules: who sends (anyone with an account, named or anonymous), who triages (the process's owner, the
team of an initiative on it, administrators), what an anonymous post keeps (nothing that names the sender), the
receipt code, the one file a feedback may carry (`app.feedback.attachments`), promoting feedback to a problem of an
initiative, and publishing the weekly counts as KPIs (`app.feedback.kpis`).

An anonymous post writes no audit record (there is no actor to name, by design), no time finer than the day and
no KPI observation (a batch keeps its sender and time); its access-log line has no client address
(`app.core.logs`). Named posts and the triage are audited as everywhere, and publish the counts."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.core.audit import record
from app.core.calendar import add_working_days, today
from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, NotFound, TooManyRequests, rule
from app.core.labels import N_
from app.core.versioning import check_version, save_update
from app.feedback import attachments, kpis
from app.feedback.models import (
    Feedback,
    FeedbackAttachment,
    FeedbackCategory,
    FeedbackReply,
    FeedbackStatus,
    FeedbackThrottle,
)
from app.feedback.schemas import (
    AttachmentRead,
    CloseRequest,
    FeedbackCreate,
    FeedbackKpis,
    FeedbackRead,
    PromoteRequest,
    ReceiptRead,
    ReplyCreate,
    ReplyRead,
)
from app.initiatives.models import Initiative
from app.initiatives.service import user_refs, works_on_process
from app.issues.models import IssueSource
from app.issues.schemas import IssueCreate
from app.issues.service import create_issue
from app.processes.models import Process
from app.processes.service import get_process
from app.sops import service as sops
from app.sops.models import SopVersion
from app.users.models import Role, User

RECEIPT_BYTES = 16  # 128 bits: a code cannot be guessed, so the receipt look-up needs no rate limit
WINDOW = timedelta(hours=1)


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def per_hour() -> int:
    return get_settings().feedback_anonymous_per_hour


def steps_of(v: SopVersion | None) -> list[Any]:
    """The steps of a version (those feedback may name), in order."""
    return [s for s in sops.content_of(v).steps if s.id] if v is not None else []


def version_in_force(session: Session, process_id: int) -> SopVersion | None:
    sop = sops.sop_of_process(session, process_id)
    current = sops.sop_read(session, sop).current_version_id if sop else None
    return session.get(SopVersion, current) if current else None


def _step_name(v: SopVersion | None, step_id: str | None) -> str | None:
    if v is None or step_id is None:
        return None
    return next((s.name for s in sops.content_of(v).steps if str(s.id) == step_id), None)


@dataclass(frozen=True)
class Upload:
    """A file as a router read it: its name as sent, and at most FEEDBACK_ATTACHMENT_MAX_BYTES + 1 bytes."""

    name: str
    data: bytes


def max_attachment_bytes() -> int:
    return get_settings().feedback_attachment_max_bytes


def post(session: Session, data: FeedbackCreate, actor: User, *, anonymous: bool,
         file: Upload | None = None) -> tuple[Feedback, str]:
    """Send feedback, with a file or not; the receipt code is returned once. Anonymous: no account, no audit
    record, the day only, a neutral file name and the file's metadata removed."""
    process = get_process(session, data.process_id)
    v = version_in_force(session, data.process_id)
    if data.step_id is not None and _step_name(v, data.step_id) is None:
        raise rule("Choose a step of the process's SOP version in force.", "step_id", "unknown_step")
    accepted = (attachments.accept(file.data, file.name, anonymous=anonymous, max_bytes=max_attachment_bytes())
                if file is not None else None)
    if anonymous:
        _throttle(session, actor)
    code = secrets.token_urlsafe(RECEIPT_BYTES)
    fb = Feedback(process_id=data.process_id, sop_version_id=v.id if v else None, step_id=data.step_id,
                  category=data.category, text=data.text, anonymous=anonymous,
                  author_id=None if anonymous else actor.id, received_on=today(), receipt_hash=_hash(code))
    session.add(fb)
    session.flush()
    if not anonymous:  # an anonymous post publishes no counts either (see app.feedback.kpis)
        record(session, actor, "create", "feedback", fb.id, None, snapshot(fb))
    if accepted is not None:
        _store(session, fb, accepted, actor)
    if not anonymous:
        kpis.refresh(session, process, actor, create=may_triage(session, process, actor))
    return fb, code


def _store(session: Session, fb: Feedback, accepted: attachments.Accepted, actor: User) -> FeedbackAttachment:
    att = FeedbackAttachment(feedback_id=fb.id, name=accepted.name, media_type=accepted.media_type,
                             size=len(accepted.data), sha256=accepted.sha256, data=accepted.data)
    session.add(att)
    session.flush()
    if not fb.anonymous:
        record(session, actor, "create", "feedback_attachment", att.id, None, {
            "feedback_id": fb.id, "name": att.name, "media_type": att.media_type, "size": att.size,
            "sha256": att.sha256})
    return att


def _by_code(session: Session, code: str) -> Feedback:
    fb = session.exec(select(Feedback).where(Feedback.receipt_hash == _hash(code))).first()
    if fb is None:
        raise NotFound(N_("No feedback has this receipt code."))
    return fb


def attach(session: Session, code: str, file: Upload, actor: User) -> FeedbackAttachment:
    """Add the one file to a feedback by its receipt code (its sender: whoever holds the code), until it is
    closed. Of an anonymous feedback nothing of the actor is kept, as for the post."""
    fb = _by_code(session, code)
    if fb.status == FeedbackStatus.closed:
        raise Conflict(N_("The feedback is closed."), feedback_id=fb.id)
    if session.exec(select(FeedbackAttachment.id).where(FeedbackAttachment.feedback_id == fb.id)).first():
        raise Conflict(N_("The feedback has a file already: one file per feedback."))
    accepted = attachments.accept(file.data, file.name, anonymous=fb.anonymous, max_bytes=max_attachment_bytes())
    return _store(session, fb, accepted, actor)


def attachment_reads(session: Session, ids: list[int]) -> dict[int, AttachmentRead]:
    """The files' descriptions by feedback id (their bytes are not read)."""
    if not ids:
        return {}
    a = FeedbackAttachment
    rows = session.exec(select(a.feedback_id, a.name, a.media_type, a.size, a.sha256)
                        .where(col(a.feedback_id).in_(ids)))
    return {fid: AttachmentRead(name=name, media_type=media, size=size, sha256=sha)
            for fid, name, media, size, sha in rows}


def _attachment_of(session: Session, fb: Feedback) -> FeedbackAttachment:
    att = session.exec(select(FeedbackAttachment).where(FeedbackAttachment.feedback_id == fb.id)).first()
    if att is None:
        raise NotFound(N_("The feedback has no file."))
    return att


def attachment_for_triage(session: Session, feedback_id: int, actor: User) -> FeedbackAttachment:
    """The file, for the process's triagers."""
    fb = get_feedback(session, feedback_id)
    _triager(session, fb, actor)
    return _attachment_of(session, fb)


def attachment_by_code(session: Session, code: str) -> FeedbackAttachment:
    """The file, for its sender by the receipt code (no login)."""
    return _attachment_of(session, _by_code(session, code))


def _throttle(session: Session, actor: User) -> None:
    """At most FEEDBACK_ANONYMOUS_PER_HOUR anonymous posts per account and hour. Ended windows are deleted first:
    no key outlives its hour by more than the time to the next anonymous post."""
    now = utcnow()
    start = now.replace(minute=0, second=0, microsecond=0)
    session.exec(sa.delete(FeedbackThrottle).where(col(FeedbackThrottle.window_start) < start))
    secret = get_settings().secret_key.encode()
    key = hmac.new(secret, f"feedback-throttle:{actor.id}:{start.isoformat()}".encode(), hashlib.sha256).hexdigest()
    row = session.get(FeedbackThrottle, key, with_for_update=True)
    limit = get_settings().feedback_anonymous_per_hour
    if row is not None and row.count >= limit:
        retry = int((start + WINDOW - now).total_seconds()) + 1
        raise TooManyRequests(N_("Too many anonymous posts this hour: try again later."), retry_after=retry)
    if row is None:
        row = FeedbackThrottle(key=key, window_start=start, count=0)
    row.count += 1
    session.add(row)
    session.flush()


def snapshot(fb: Feedback) -> dict[str, Any]:
    """What the audit trail keeps of a feedback: never a sender (an anonymous one has none to keep)."""
    return {"id": fb.id, "process_id": fb.process_id, "category": fb.category.value, "status": fb.status.value,
            "close_reason": fb.close_reason, "issue_id": fb.issue_id, "version": fb.version}


def get_feedback(session: Session, feedback_id: int) -> Feedback:
    fb = session.get(Feedback, feedback_id)
    if fb is None:
        raise NotFound(N_("No such feedback."))
    return fb


def may_triage(session: Session, process: Process, actor: User) -> bool:
    """The process's owner, administrators, and the team (not viewers) of an initiative on the process."""
    return works_on_process(session, actor, process)


def _triager(session: Session, fb: Feedback, actor: User) -> Process:
    process = get_process(session, fb.process_id)
    if not may_triage(session, process, actor):
        raise Forbidden(N_("The process's owner and the team of an initiative on it triage its feedback."))
    return process


def list_feedback(session: Session, process_id: int, actor: User, *, status: FeedbackStatus | None = None,
                  limit: int = 50, after_id: int | None = None) -> list[Feedback]:
    """The process's feedback, newest first (the triagers only)."""
    process = get_process(session, process_id)
    if not may_triage(session, process, actor):
        raise Forbidden(N_("The process's owner and the team of an initiative on it triage its feedback."))
    stmt = select(Feedback).where(Feedback.process_id == process.id)
    if status is not None:
        stmt = stmt.where(Feedback.status == status)
    if after_id is not None:
        stmt = stmt.where(col(Feedback.id) < after_id)
    return list(session.exec(stmt.order_by(col(Feedback.id).desc()).limit(limit)))


def read_one(session: Session, feedback_id: int, actor: User) -> Feedback:
    fb = get_feedback(session, feedback_id)
    _triager(session, fb, actor)
    return fb


def _replies(session: Session, ids: list[int]) -> dict[int, list[FeedbackReply]]:
    out: dict[int, list[FeedbackReply]] = {i: [] for i in ids}
    if ids:
        for r in session.exec(select(FeedbackReply).where(col(FeedbackReply.feedback_id).in_(ids))
                              .order_by(col(FeedbackReply.id))):
            out[r.feedback_id].append(r)
    return out


def overdue(fb: Feedback, on: datetime | None = None) -> bool:
    day = (on.date() if on else today())
    return fb.status == FeedbackStatus.new and day > add_working_days(fb.received_on, get_settings()
                                                                      .feedback_ack_working_days)


def to_reads(session: Session, items: list[Feedback]) -> list[FeedbackRead]:
    replies = _replies(session, [f.id for f in items])
    users = user_refs(session, {f.author_id for f in items} | {f.acknowledged_by_id for f in items}
                      | {r.author_id for rs in replies.values() for r in rs})
    versions = {v.id: v for v in session.exec(select(SopVersion).where(
        col(SopVersion.id).in_({f.sop_version_id for f in items if f.sop_version_id})))}
    files = attachment_reads(session, [f.id for f in items])
    return [FeedbackRead(
        id=f.id, process_id=f.process_id, sop_version_id=f.sop_version_id, step_id=f.step_id,
        step_name=_step_name(versions.get(f.sop_version_id), f.step_id), category=f.category, text=f.text,
        anonymous=f.anonymous, author=users.get(f.author_id) if f.author_id else None, received_on=f.received_on,
        status=f.status, overdue=overdue(f), acknowledged_at=f.acknowledged_at,
        acknowledged_by=users.get(f.acknowledged_by_id) if f.acknowledged_by_id else None, closed_at=f.closed_at,
        close_reason=f.close_reason, issue_id=f.issue_id,
        replies=[_reply_read(r, users) for r in replies[f.id]], attachment=files.get(f.id), version=f.version)
        for f in items]


def reply_read(session: Session, r: FeedbackReply) -> ReplyRead:
    return _reply_read(r, user_refs(session, {r.author_id}))


def _reply_read(r: FeedbackReply, users: dict[int, Any]) -> ReplyRead:
    return ReplyRead(id=r.id, text=r.text, author=users.get(r.author_id) if r.author_id else None,
                     created_at=r.created_at)


def receipt(session: Session, code: str) -> ReceiptRead:
    """The sender's view, by the receipt code (no login)."""
    fb = _by_code(session, code)
    replies = _replies(session, [fb.id])[fb.id]
    users = user_refs(session, {r.author_id for r in replies})
    return ReceiptRead(process_id=fb.process_id, category=fb.category, text=fb.text, received_on=fb.received_on,
                       status=fb.status, close_reason=fb.close_reason, promoted=fb.issue_id is not None,
                       replies=[_reply_read(r, users) for r in replies],
                       attachment=attachment_reads(session, [fb.id]).get(fb.id))


def _changing(session: Session, feedback_id: int, actor: User, expected_version: int | None) -> Feedback:
    """The feedback a triager changes: at the version they saw, not closed."""
    fb = get_feedback(session, feedback_id)
    _triager(session, fb, actor)
    check_version(fb, expected_version, "feedback")
    if fb.status == FeedbackStatus.closed:
        raise Conflict(N_("The feedback is closed."), feedback_id=fb.id)
    return fb


def _acknowledged(fb: Feedback, actor: User, status: FeedbackStatus = FeedbackStatus.acknowledged) -> dict[str, Any]:
    """The changes that acknowledge it (the response target is met), unless it was already; and its new status
    (acknowledging keeps a promoted one promoted)."""
    changes: dict[str, Any] = {} if fb.acknowledged_at else {"acknowledged_at": utcnow(), "acknowledged_by_id": actor.id}
    if status != FeedbackStatus.acknowledged or fb.status == FeedbackStatus.new:
        changes["status"] = status
    return changes


def _published(session: Session, fb: Feedback, actor: User) -> Feedback:
    """After a triage action (named): the process's feedback counts, anonymous posts included, as KPIs."""
    kpis.refresh(session, get_process(session, fb.process_id), actor, create=True)
    return fb


def acknowledge(session: Session, feedback_id: int, actor: User, *, expected_version: int | None) -> Feedback:
    fb = _changing(session, feedback_id, actor, expected_version)
    changes = _acknowledged(fb, actor)
    if changes:
        save_update(session, actor, fb, "feedback", snapshot(fb), snapshot, changes=changes)
    return _published(session, fb, actor)


def reply(session: Session, feedback_id: int, data: ReplyCreate, actor: User) -> FeedbackReply:
    """A reply the sender reads with the receipt code (also once closed: "you said, we did"); the first one
    acknowledges."""
    fb = get_feedback(session, feedback_id)
    _triager(session, fb, actor)
    r = FeedbackReply(feedback_id=fb.id, author_id=actor.id, text=data.text)
    session.add(r)
    if fb.status != FeedbackStatus.closed and (changes := _acknowledged(fb, actor)):
        save_update(session, actor, fb, "feedback", snapshot(fb), snapshot, changes=changes)
    session.flush()
    record(session, actor, "create", "feedback_reply", r.id, None, {"feedback_id": fb.id, "text": r.text})
    _published(session, fb, actor)
    return r


def close(session: Session, feedback_id: int, data: CloseRequest, actor: User, *,
          expected_version: int | None) -> Feedback:
    fb = _changing(session, feedback_id, actor, expected_version)
    save_update(session, actor, fb, "feedback", snapshot(fb), snapshot, changes={
        **_acknowledged(fb, actor, FeedbackStatus.closed), "close_reason": data.reason, "closed_at": utcnow()})
    return _published(session, fb, actor)


def promote(session: Session, feedback_id: int, data: PromoteRequest, actor: User, *,
            expected_version: int | None) -> Feedback:
    """Make it a problem (source: feedback) of an initiative on the same process, keeping the link."""
    fb = _changing(session, feedback_id, actor, expected_version)
    if fb.issue_id is not None:
        raise Conflict(N_("The feedback is a problem of an initiative already."), issue_id=fb.issue_id)
    ini = session.get(Initiative, data.initiative_id)
    if ini is None or ini.process_id != fb.process_id:
        raise rule("Choose an initiative on the feedback's process.", "initiative_id", "unknown_initiative")
    category = data.category or (None if fb.category == FeedbackCategory.suggestion else fb.category.value)
    if category is None:
        raise rule("Choose the problem's category: a suggestion has none.", "category", "missing")
    issue = create_issue(session, ini.id, IssueCreate(
        title=data.title or fb.text[:200], description=fb.text, category=category, source=IssueSource.feedback),
        actor)  # the team's rule: create_issue refuses anyone not on the initiative's team
    save_update(session, actor, fb, "feedback", snapshot(fb), snapshot, changes={
        **_acknowledged(fb, actor, FeedbackStatus.promoted), "issue_id": issue.id})
    return _published(session, fb, actor)


def publish_kpis(session: Session, process_id: int, actor: User) -> FeedbackKpis:
    """Publish the process's weekly feedback counts per category as KPI observations now (the triagers, not
    viewers); see `app.feedback.kpis`."""
    process = get_process(session, process_id)
    if not may_triage(session, process, actor) or actor.role == Role.viewer:
        raise Forbidden(N_("The process's owner and the team of an initiative on it publish its feedback counts."))
    return kpis.publish(session, process, actor)


def publish_all_kpis(session: Session, actor: User, codes: list[str] | None = None) -> dict[str, FeedbackKpis]:
    """Publish the counts of every process with feedback (or of the processes `codes` names), as `actor`: what
    the daily `procopt publish-feedback-kpis` does, so that anonymous posts reach the KPIs without a named action."""
    stmt = select(Process).where(col(Process.id).in_(select(Feedback.process_id).distinct()))
    if codes is not None:
        wanted = {c.strip().upper() for c in codes}
        stmt = select(Process).where(col(Process.code_norm).in_(wanted))
        unknown = wanted - set(session.exec(select(Process.code_norm).where(col(Process.code_norm).in_(wanted))))
        if unknown:
            raise NotFound(N_("No process has the code {code}."), params={"code": ", ".join(sorted(unknown))})
    return {p.code: publish_kpis(session, p.id, actor) for p in session.exec(stmt.order_by(col(Process.code_norm)))}
