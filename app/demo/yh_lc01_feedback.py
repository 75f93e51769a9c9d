"""Demo feedback on YH-LC01 (反馈渠道), after its rollout: five posts, named and anonymous, spread over the last
three weeks. 周强's, on the manual review step, with a screenshot, is acknowledged and replied to by 王丽; an
anonymous one about accounts activated unchecked became a problem of the initiative; another anonymous one, six
working days old, is overdue; 经理's was closed with its reason; 赵敏's suggestion is new. The counts are published
as the KPIs YH-LC01-FB-<CATEGORY>. Everything goes through the services; only the day each came is set back
afterwards (the service stamps today), as the counts are published."""

from __future__ import annotations

import io
from datetime import timedelta

from PIL import Image, ImageDraw
from sqlmodel import Session, col, select

from app.core.calendar import today
from app.feedback import service as feedback
from app.feedback.models import Feedback
from app.feedback.schemas import CloseRequest, FeedbackCreate, PromoteRequest, ReplyCreate
from app.initiatives.models import Initiative
from app.processes.models import Process
from app.users.models import User

# (sender, anonymous, working days ago, category, on the manual review step, text)
POSTS = [
    ("manager@example.com", False, 15, "quality", False,
     "部分用户反映收到了两条激活短信，第二条比第一条晚十分钟左右，用户以为账号被盗。"),
    ("finance@example.com", False, 8, "efficiency", True,
     "人工审核时资料核验还要在三个系统之间来回切换，高峰期一单要等二十分钟，截图是我们这边看到的页面。"),
    ("member@example.com", True, 7, "risk", True,
     "有同事为了赶时效，没有核对身份证照片就直接点了激活，审核记录里也看不出来。"),
    ("it@example.com", True, 6, "collaboration", False,
     "短信发送失败时客服不知道该找谁，技术部和运营部互相推，用户要等一两天才有人回复。"),
    ("viewer@example.com", False, 0, "suggestion", False, "建议在激活成功的短信里附上客服电话，方便用户遇到问题时直接联系。"),
]


def _screenshot() -> bytes:
    """A small picture of a page with three panes (the three systems checked by hand)."""
    im = Image.new("RGB", (480, 270), (246, 248, 251))
    draw = ImageDraw.Draw(im)
    for i, color in enumerate(((37, 99, 235), (22, 163, 74), (217, 119, 6))):
        x = 16 + i * 156
        draw.rectangle((x, 16, x + 140, 254), outline=color, width=3)
        for row in range(5):
            draw.rectangle((x + 12, 40 + row * 40, x + 128, 56 + row * 40), fill=(226, 232, 240))
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


def _working_days_ago(n: int):  # noqa: ANN202
    day = today()
    while n > 0:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def load_feedback(session: Session) -> None:
    process = session.exec(select(Process).where(Process.code_norm == "YH-LC01")).first()
    if process is None:
        return
    ini = session.exec(select(Initiative).where(Initiative.process_id == process.id)
                       .order_by(col(Initiative.id))).first()
    people = {u.email: u for u in session.exec(select(User))}
    lead = people["lead@example.com"]
    steps = feedback.steps_of(feedback.version_in_force(session, process.id))
    review_step = str(steps[1].id) if len(steps) > 1 else None
    posted: list[Feedback] = []
    for email, anonymous, _, category, on_step, text in POSTS:
        file = feedback.Upload("核验页面截图.png", _screenshot()) if email == "finance@example.com" else None
        fb, _ = feedback.post(session, FeedbackCreate(process_id=process.id, category=category, text=text,
                                                      step_id=review_step if on_step else None),
                              people[email], anonymous=anonymous, file=file)
        posted.append(fb)
    quality, efficiency, risk, _, _ = posted

    feedback.close(session, quality.id, CloseRequest(
        reason="已查明是短信重试机制重复发送，V1.1 上线备用通道后已修复：失败 60 秒后只切换一次。"), lead,
        expected_version=None)
    feedback.reply(session, efficiency.id, ReplyCreate(
        text="收到，谢谢截图。V1.2 会把三个系统的核验合到一个页面，预计下月上线，上线前会请财务部一起试用。"), lead)
    if ini is not None:
        feedback.promote(session, risk.id, PromoteRequest(
            initiative_id=ini.id, title="激活前未核对身份证照片 Accounts activated without checking the ID photo"),
            lead, expected_version=None)

    # The days they came (the service stamps today): the collaboration one, not acknowledged, is overdue.
    for fb, (_, _, back, _, _, _) in zip(posted, POSTS, strict=True):
        fb.received_on = _working_days_ago(back)
    session.add_all(posted)
    session.flush()
    feedback.publish_kpis(session, process.id, lead)
