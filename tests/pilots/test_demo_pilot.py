"""The demo's pilot is Table 3's own row: YH-LC01 on 运营A组, 30 -> 8 min (-73 %), satisfaction 4.5, the SMS
problem unmet, decided adopt, so the initiative's pilot gate holds."""

from __future__ import annotations

import pytest
from sqlmodel import select

from app import demo
from app.pilots import service
from app.pilots.models import Decision, Pilot


def test_the_demo_pilot_is_the_methods_row(session):
    demo.load(session)
    session.flush()
    pilot = session.exec(select(Pilot)).one()
    rows = service.table3(session, pilot.id, "zh_CN")
    activation = rows[0]
    assert activation.kpi == "平均激活时长" and activation.scope.startswith("运营A组")
    assert activation.before == pytest.approx(30, abs=1.5) and activation.after == pytest.approx(8, abs=0.7)
    assert round(activation.diff_rate * 100) in range(-77, -70)
    assert activation.satisfaction == 4.5
    assert activation.unmet == ["部分用户反馈手机号验证码收不到 → 短信通道需优化"]
    assert pilot.decision == Decision.adopt and pilot.anonymous_survey
    assert all(k.during.count >= service.MIN_OBSERVATIONS for k in service.evaluate(session, pilot.id).kpis)
    assert service.adopted(session, pilot.initiative_id)  # the pilot gate held: the demo rolled V1.1 out since
