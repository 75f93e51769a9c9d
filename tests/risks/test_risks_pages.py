"""Risk register pages: the register in both languages with its heat map (a cell filters the list) and badges, the
seeded risks shown in the reader's language, create and edit with inline field errors and nothing written, the
control points as checkboxes of the SOP in force, delete, the stale form, the cards on the process's and the
initiative's page, and who is refused."""

from __future__ import annotations

import re
from html import unescape

from sqlmodel import func, select

from app.core.audit import AuditRecord
from app.risks.models import Risk, RiskControlPoint
from app.users.models import Role
from tests.factories import Factory
from tests.helpers import field_errors
from tests.mining.test_compliance import CP1, CP2
from tests.risks.test_risks_api import measured  # noqa: F401 - the fixture

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}


def _h(user, lang=EN) -> dict[str, str]:  # noqa: ANN001
    return {**Factory.bearer(user), **lang}


def _count(session, model) -> int:  # noqa: ANN001
    return session.exec(select(func.count()).select_from(model)).one()


def _form(**fields) -> dict:  # noqa: ANN003
    return {"description": "大额订单未经财务审批即发货", "signs": "", "likelihood": "4", "impact": "5", "status": "open",
            "owner_id": "", "initiative_id": "", "review_date": "", "response": "", "compliance_threshold": "90",
            **fields}


def test_the_register_in_both_languages_with_the_heat_map_and_the_seeded_risks(client, session, team):  # noqa: ANN001
    pid, ini = team.initiative.process_id, team.initiative
    r = client.get(f"/processes/{pid}/risks", headers=_h(team.member))
    assert r.status_code == 200, r.text
    html = r.text
    assert "Weak executive support" in html and "Heat map" in html
    assert not re.search(r"\sstyle=|<script>", html)  # CSP: no inline styles or scripts
    assert html.count('class="rk-cell') == 25 and "/static/css/risks.css" in html
    # 3 x 5 (weak executive support) is one risk: its cell says 1 and links to its filter
    cell = re.search(r'<a role="cell" class="rk-cell rk-high" id="cell-3-5"\s+href="([^"]+)"[^>]*>1<', html)
    assert cell, html[html.find('id="cell-3-5"') - 100:html.find('id="cell-3-5"') + 300]
    r = client.get(unescape(cell.group(1)), headers=_h(team.member))
    assert r.status_code == 200 and r.text.count('<tr id="risk-') == 1 and "Weak executive support" in r.text
    assert 'aria-current="true"' in r.text and "Show every cell" in r.text
    r = client.get(f"/processes/{pid}/risks", headers=_h(team.member, ZH))
    assert r.status_code == 200 and 'lang="zh-CN"' in r.text
    r = client.get(f"/initiatives/{ini.id}/risks", headers=_h(team.leader))
    assert r.status_code == 200 and r.text.count('<tr id="risk-') == 5 and ini.title in r.text
    assert f"/api/v1/processes/{pid}/risks/export?format=xlsx&amp;lang=en&amp;initiative_id={ini.id}" in r.text
    # the cards on the process's and the initiative's page, for the keepers only
    r = client.get(f"/processes/{pid}", headers=_h(team.member))
    assert 'id="related-risks"' in r.text and f'href="/processes/{pid}/risks"' in r.text
    r = client.get(f"/initiatives/{ini.id}", headers=_h(team.member))
    assert 'id="related-risks"' in r.text and f'href="/initiatives/{ini.id}/risks"' in r.text
    r = client.get(f"/processes/{pid}", headers=_h(team.viewer))
    assert r.status_code == 200 and 'id="related-risks"' not in r.text
    for user in (team.viewer, team.outsider, team.other_lead):
        for path in (f"/processes/{pid}/risks", f"/initiatives/{ini.id}/risks", f"/processes/{pid}/risks/new"):
            assert client.get(path, headers=_h(user)).status_code == 403, (user.role, path)


def test_create_with_errors_at_the_fields_and_nothing_written_then_edit_and_delete(client, session, team):  # noqa: ANN001
    pid = team.initiative.process_id
    h = _h(team.leader)
    before, audits = _count(session, Risk), _count(session, AuditRecord)
    r = client.get(f"/processes/{pid}/risks/new?initiative={team.initiative.id}", headers=h)
    assert r.status_code == 200 and 'name="control_point_ids"' not in r.text  # no SOP in force: no points
    for form, field in ((_form(description=""), "description"), (_form(likelihood="9"), "likelihood"),
                        (_form(impact="x"), "impact"), (_form(review_date="31/12/2026"), "review_date"),
                        (_form(compliance_threshold="120"), "compliance_threshold"),
                        (_form(owner_id=str(team.outsider.id)), "owner_id"),
                        (_form(initiative_id=str(team.other.id)), "initiative_id"),
                        (_form(control_point_ids=str(CP1)), "control_point_ids")):
        r = client.post(f"/processes/{pid}/risks", data=form, headers=h)
        assert r.status_code == 422, (form, r.text[:500])
        assert field in field_errors(r.text), (field, field_errors(r.text))
        assert 'aria-invalid="true"' in r.text
    r = client.post(f"/processes/{pid}/risks", data=_form(owner_id=str(team.outsider.id)), headers=h)
    assert field_errors(r.text)["owner_id"].startswith("Choose someone who keeps the register")
    r = client.post(f"/processes/{pid}/risks", data=_form(description=""), headers=_h(team.leader, ZH))
    assert r.status_code == 422 and "description" in field_errors(r.text)
    assert (_count(session, Risk), _count(session, AuditRecord)) == (before, audits)

    back = f"/initiatives/{team.initiative.id}/risks"
    r = client.post(f"/processes/{pid}/risks", data=_form(owner_id=str(team.it.id), back=back,
                                                        initiative_id=str(team.initiative.id)),
                    headers=h, follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    risk = session.exec(select(Risk).where(Risk.description == "大额订单未经财务审批即发货")).one()
    assert r.headers["location"] == f"{back}#risk-{risk.id}"
    assert (risk.likelihood, risk.impact, risk.owner_id, risk.initiative_id) == (4, 5, team.it.id,
                                                                                  team.initiative.id)
    r = client.post(f"/processes/{pid}/risks", data=_form(back="https://evil.example/"), headers=h,
                    follow_redirects=False)
    assert r.headers["location"].startswith(f"/processes/{pid}/risks#risk-")  # only our own pages

    r = client.get(f"/risks/{risk.id}/edit?back={back}", headers=h)
    assert r.status_code == 200 and 'name="version" value="1"' in r.text
    edit = _form(likelihood="2", status="mitigating", response="系统强制校验", version="1", back=back,
                 owner_id=str(team.it.id), initiative_id=str(team.initiative.id))
    r = client.post(f"/risks/{risk.id}/edit", data={**edit, "impact": "0"}, headers=h)
    assert r.status_code == 422 and "impact" in field_errors(r.text)
    session.refresh(risk)
    assert risk.version == 1
    r = client.post(f"/risks/{risk.id}/edit", data=edit, headers=h, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{back}#risk-{risk.id}"
    session.refresh(risk)
    assert (risk.likelihood, risk.status, risk.response, risk.version) == (2, "mitigating", "系统强制校验", 2)
    r = client.post(f"/risks/{risk.id}/edit", data=edit, headers=h)  # version 1 again: someone else's change won
    assert r.status_code == 409 and "Someone else changed this risk" in r.text
    r = client.post(f"/risks/{risk.id}/delete", data={"version": "1"}, headers=h)
    assert r.status_code == 409 and session.get(Risk, risk.id) is not None
    for user in (team.viewer, team.outsider):
        assert client.post(f"/risks/{risk.id}/edit", data={**edit, "version": "2"}, headers=_h(user)).status_code == 403
        assert client.post(f"/risks/{risk.id}/delete", data={"version": "2"}, headers=_h(user)).status_code == 403
    r = client.post(f"/risks/{risk.id}/delete", data={"version": "2", "back": back}, headers=h,
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == back
    rid = risk.id
    session.expire_all()
    assert session.get(Risk, rid) is None


def test_an_edited_seeded_risk_keeps_the_method_s_text_unless_changed(client, session, team):  # noqa: ANN001
    from app.core.i18n import gettext_for

    seeded = session.exec(select(Risk).where(Risk.initiative_id == team.initiative.id,
                                             Risk.seed == "frontline_resistance")).one()
    zh = gettext_for("zh_CN")
    h = _h(team.leader, ZH)
    r = client.get(f"/risks/{seeded.id}/edit", headers=h)
    assert r.status_code == 200 and zh(seeded.description) in r.text
    form = _form(description=zh(seeded.description), signs=zh(seeded.signs), response=zh(seeded.response),
                 likelihood="5", impact="3", owner_id=str(team.leader.id), initiative_id=str(team.initiative.id),
                 review_date=seeded.review_date.isoformat(), version="1")
    r = client.post(f"/risks/{seeded.id}/edit", data=form, headers=h, follow_redirects=False)
    assert r.status_code == 303, r.text[:400]
    session.refresh(seeded)
    assert (seeded.description, seeded.likelihood) == ("Front-line resistance", 5)  # still the msgid
    r = client.post(f"/risks/{seeded.id}/edit", data={**form, "description": "一线抵触：老员工不愿改", "version": "2"},
                    headers=h, follow_redirects=False)
    session.refresh(seeded)
    assert seeded.description == "一线抵触：老员工不愿改" and seeded.seed == "frontline_resistance"


def test_control_points_are_checkboxes_of_the_sop_in_force_and_flags_show(client, session, measured):  # noqa: ANN001, F811
    process, owner, v = measured
    h = _h(owner)
    r = client.get(f"/processes/{process.id}/risks/new", headers=h)
    boxes = re.findall(r'name="control_point_ids" value="([^"]+)"', r.text)
    assert set(map(str, (CP1, CP2))) <= set(boxes) and len(boxes) == 3
    assert "no rule: not measured" in r.text
    r = client.post(f"/processes/{process.id}/risks", data={**_form(owner_id=str(owner.id)),
                                                           "control_point_ids": [str(CP1), str(CP2)]},
                    headers=h, follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    risk = session.exec(select(Risk).where(Risk.process_id == process.id)).one()
    assert {str(x.control_point_id) for x in session.exec(select(RiskControlPoint))} == {str(CP1), str(CP2)}
    r = client.get(f"/processes/{process.id}/risks", headers=h)
    assert "rk-flag" in r.text and "50.0% compliant in the week of 2026-03-09, below 90%" in r.text
    r = client.get(f"/processes/{process.id}/risks?flagged=1", headers=h)
    assert f'id="risk-{risk.id}"' in r.text
    r = client.get("/my-work", headers=h)
    assert f"/processes/{process.id}/risks#risk-{risk.id}" in r.text and "Risks to review" in r.text
    # unchecking every box unlinks them
    edit = {**_form(owner_id=str(owner.id)), "version": "1"}
    r = client.post(f"/risks/{risk.id}/edit", data=edit, headers=h, follow_redirects=False)
    assert r.status_code == 303 and _count(session, RiskControlPoint) == 0
    viewer = Factory(session).user(Role.viewer)
    assert client.get(f"/risks/{risk.id}/edit", headers=_h(viewer)).status_code == 403
