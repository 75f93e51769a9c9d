"""The demo's feedback on YH-LC01: named and anonymous (the anonymous ones name no one), one acknowledged and
replied to with a screenshot, one a problem of the initiative, one overdue; the counts published as KPIs; and the
daily `procopt publish-feedback-kpis` in a fresh process, on a fresh database."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import select

from app import demo
from app.core.work import work_for
from app.feedback import kpis, service
from app.feedback.models import Feedback, FeedbackAttachment, FeedbackStatus
from app.issues.models import Issue, IssueSource
from app.metrics.models import Kpi, Observation
from app.processes.models import Process
from app.users.models import User
from tests.test_cli import procopt


def test_the_demo_feedback(session):  # noqa: ANN001
    demo.load(session)
    session.flush()
    process = session.exec(select(Process).where(Process.code_norm == "YH-LC01")).one()
    rows = session.exec(select(Feedback).where(Feedback.process_id == process.id).order_by(Feedback.id)).all()
    assert len(rows) == 5 and all("\u4e00" <= r.text[0] <= "\u9fff" for r in rows)  # in Chinese
    assert [r.anonymous for r in rows] == [False, False, True, True, False]
    assert all(r.author_id is None for r in rows if r.anonymous)
    statuses = {r.category.value: r.status for r in rows}
    assert statuses == {"quality": FeedbackStatus.closed, "efficiency": FeedbackStatus.acknowledged,
                        "risk": FeedbackStatus.promoted, "collaboration": FeedbackStatus.new,
                        "suggestion": FeedbackStatus.new}
    reads = {r.category.value: r for r in service.to_reads(session, rows)}
    assert reads["efficiency"].replies and reads["efficiency"].attachment.name == "核验页面截图.png"
    assert reads["efficiency"].step_name is not None
    assert [c for c, r in reads.items() if r.overdue] == ["collaboration"]
    issue = session.get(Issue, reads["risk"].issue_id)
    assert issue.source == IssueSource.feedback and issue.initiative_id is not None
    assert session.exec(select(FeedbackAttachment)).one().feedback_id == reads["efficiency"].id

    published = {code: sum(session.exec(select(Observation.value).join(Kpi, Kpi.id == Observation.kpi_id)
                                                      .where(Kpi.code == code)))
                 for code in session.exec(select(Kpi.code).where(Kpi.code.like("YH-LC01-FB-%")))}
    assert published == {kpis.kpi_code(process.code, r.category): 1.0 for r in rows}

    lead = session.exec(select(User).where(User.email_norm == "lead@example.com")).one()
    waiting = [i for i in work_for(session, lead).items if i.kind == "feedback_new"]
    assert [i.urgency.value for i in waiting] == ["overdue", "normal"]


def test_the_daily_command_publishes_what_anonymous_posts_left_unpublished(tmp_path):  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'cron.db'}"
    assert procopt("migrate", url=url).returncode == 0
    assert procopt("demo", "--quiet", url=url).returncode == 0
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # as if an anonymous post came since: the feedback row only
        conn.execute(sa.text("INSERT INTO feedback (process_id, category, text, anonymous, received_on, receipt_hash, "
                             "status, version) SELECT process_id, 'risk', 'x', 1, received_on, :h, 'new', 1 FROM "
                             "feedback WHERE id = 5"), {"h": "f" * 64})
    done = procopt("publish-feedback-kpis", "--as", "admin@example.com", url=url)
    assert done.returncode == 0, done.stderr
    assert "YH-LC01:" in done.stdout and "1 batch(es) written" in done.stdout
    again = procopt("publish-feedback-kpis", "--as", "admin@example.com", "--process", "YH-LC01", url=url)
    assert again.returncode == 0 and "unchanged" in again.stdout
    refused = procopt("publish-feedback-kpis", "--as", "viewer@example.com", url=url)
    assert refused.returncode != 0 and "publish its feedback counts" in refused.stderr
    with engine.connect() as conn:
        risk = conn.execute(sa.text("SELECT sum(o.value) FROM observations o JOIN kpis k ON k.id = o.kpi_id "
                                    "WHERE k.code = 'YH-LC01-FB-RISK'")).scalar()
    engine.dispose()
    assert risk == 2.0
