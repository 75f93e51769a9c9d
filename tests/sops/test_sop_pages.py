"""SOP pages: the draft from the initiative, the editor (section forms, moves, a stale save, inline errors), the
review on the version page (comments, votes, sign-off, publishing, the next version), the SOP of a process,
Table 4, the comparison; both languages; refusals for the wrong role and another team."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.sops import service
from app.sops.models import SopComment, SopState, SopVersion
from app.sops.pages import _section_hash
from app.users.models import User
from tests.factories import Factory
from tests.sops.helpers import Story, design_story, ok, review_and_sign, send

HX = {"HX-Request": "true"}
ZH = {"Accept-Language": "zh-CN"}


def _h(user: User, **extra: str) -> dict[str, str]:
    return {**Factory.bearer(user), **extra}


def _draft(client: TestClient, story: Story) -> int:
    ini = story.team.initiative
    r = client.post(f"/initiatives/{ini.id}/sop/draft", headers=_h(story.team.leader), follow_redirects=False)
    assert r.status_code == 303, r.text
    vid = int(re.fullmatch(r"/sop-versions/(\d+)/edit", r.headers["location"]).group(1))
    return vid


def _published_v1(client: TestClient, story: Story, note: str = "") -> int:
    """V1.0 drafted from the initiative, reviewed, signed and published today through the API."""
    team = story.team
    vid = _draft(client, story)
    ok(send(client, "PATCH", f"/sop-versions/{vid}/sections/scope", team.member, f'"sop-version-{vid}-v1"',
            json={"departments": ["operations", "technology"]}))
    review_and_sign(client, story, vid, team.member)
    ok(send(client, "POST", f"/sop-versions/{vid}/publish", team.leader,
            json={"effective_date": service.today().isoformat(), "note": note}))
    return vid


def _version(session: Session, vid: int) -> SopVersion:
    v = session.get(SopVersion, vid)
    session.refresh(v)
    return v


def _step_form(v: SopVersion, **changes: Any) -> dict[str, Any]:
    """The steps section's form as the editor renders it (the stored steps), with `changes` applied."""
    steps = v.content["steps"]
    form: dict[str, Any] = {f: [str(s.get(f) or "") for s in steps] for f in
                            ("id", "name", "department", "role", "inputs", "outputs", "instructions", "system_path")}
    form["minutes"] = [str(s["minutes"]) for s in steps]
    form["version"] = str(v.version)
    form["base"] = ""
    for key, value in changes.items():
        form[key] = value
    return form


def test_draft_from_the_initiative_and_the_editor(client, factory, team, session):
    story = design_story(session, factory, team)
    ini = team.initiative
    page = client.get(f"/initiatives/{ini.id}", headers=_h(team.member)).text
    assert f'action="/initiatives/{ini.id}/sop/draft"' in page and "Draft the SOP" in page
    assert "Draft the SOP" not in client.get(f"/initiatives/{ini.id}", headers=_h(team.viewer)).text
    vid = _draft(client, story)
    page = client.get(f"/sop-versions/{vid}/edit", headers=_h(team.member))
    assert page.status_code == 200
    for name in [s.name for s in story.steps]:
        assert name in page.text
    assert page.text.count('hx-post="/sop-versions/') == 8  # the seven sections and the rules' attributes
    # The initiative page now leads to the draft and offers no second one.
    page = client.get(f"/initiatives/{ini.id}", headers=_h(team.member)).text
    assert f'href="/sop-versions/{vid}/edit"' in page and "Draft the SOP" not in page
    assert client.get(f"/sop-versions/{vid}/edit", headers=_h(team.member), params={}).status_code == 200
    zh = client.get(f"/sop-versions/{vid}/edit", headers=_h(team.member, **ZH)).text
    assert "详细步骤" in zh and "保存本节" in zh


def test_the_to_be_flow_beside_the_as_is_map(client, factory, team, session):
    story = design_story(session, factory, team)
    vid = _draft(client, story)
    page = client.get(f"/sop-versions/{vid}", headers=_h(team.member)).text
    assert f'src="/sop-versions/{vid}/flow.svg"' in page and f'src="/initiatives/{team.initiative.id}/map.svg"' in page
    svg = client.get(f"/sop-versions/{vid}/flow.svg", headers=_h(team.member))
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    for s in story.steps:
        assert s.name in svg.text
    assert svg.text.count('class="node node-activity') == len(story.steps)
    assert client.get(f"/sop-versions/{vid}/flow.svg", headers=_h(team.outsider)).status_code == 403


def test_save_a_section_with_htmx_and_move_a_step(client, factory, team, session):
    story = design_story(session, factory, team)
    vid = _draft(client, story)
    v = _version(session, vid)
    names = [s["name"] for s in v.content["steps"]]
    form = _step_form(v, op="down:0")
    form["instructions"] = ["Fill in the form in the app", *form["instructions"][1:]]
    r = client.post(f"/sop-versions/{vid}/sections/steps", data=form, headers=_h(team.member, **HX))
    assert r.status_code == 200, r.text
    assert "<html" not in r.text and 'id="sec-steps"' in r.text
    # The other sections' forms get the new record version out of band.
    assert r.text.count('hx-swap-oob="true"') == 7 and 'id="version-steps" hx-swap-oob="true"' not in r.text
    assert re.search(r'value="2" id="version-purpose"', r.text)
    v = _version(session, vid)
    assert [s["name"] for s in v.content["steps"]] == [names[1], names[0], *names[2:]]
    assert v.content["steps"][1]["instructions"] == "Fill in the form in the app"
    assert v.content["steps"][0]["issue_ids"] or v.content["steps"][1]["issue_ids"]  # links kept
    # The purpose's form still carries version 1 (a page without htmx): only another section changed, so it saves.
    r = client.post(f"/sop-versions/{vid}/sections/purpose",
                    data={"text": "Activate users in 5 minutes", "target": "5", "baseline": "30", "unit": "min",
                          "version": "1", "base": _base(v, "purpose")}, headers=_h(team.member, **HX))
    assert r.status_code == 200, r.text
    assert _version(session, vid).content["purpose"]["text"] == "Activate users in 5 minutes"


def _base(v: SopVersion, section: str) -> str:
    """What the editor puts in a section's form: the section as it was shown."""
    return _section_hash(v.content[section])


def test_a_stale_save_keeps_what_was_typed_and_shows_what_changed(client, factory, team, session):
    story = design_story(session, factory, team)
    vid = _draft(client, story)
    v = _version(session, vid)
    mine = _step_form(v)
    mine["base"] = _base(v, "steps")
    mine["instructions"] = ["My own careful instructions", *mine["instructions"][1:]]
    theirs = _step_form(v)
    theirs["base"] = mine["base"]
    theirs["name"] = ["Their renamed first step", *theirs["name"][1:]]
    assert client.post(f"/sop-versions/{vid}/sections/steps", data=theirs,
                       headers=_h(team.it, **HX)).status_code == 200
    r = client.post(f"/sop-versions/{vid}/sections/steps", data=mine, headers=_h(team.member, **HX))
    assert r.status_code == 422
    assert "Someone else saved this section" in r.text
    assert "My own careful instructions" in r.text  # what I typed is kept in the form
    assert "Their renamed first step" in r.text  # what is saved now is shown beside it
    saved = _version(session, vid)
    assert saved.content["steps"][0]["name"] == "Their renamed first step"
    assert saved.content["steps"][0]["instructions"] == ""
    # The form now carries the current version: saving again replaces theirs, on purpose.
    assert f'value="{saved.version}" id="version-steps"' in r.text
    zh = client.post(f"/sop-versions/{vid}/sections/steps", data=mine, headers=_h(team.member, **HX, **ZH))
    assert zh.status_code == 422 and "其他人" in zh.text


def test_a_step_without_a_name_is_refused_inline_and_writes_nothing(client, factory, team, session):
    story = design_story(session, factory, team)
    vid = _draft(client, story)
    v = _version(session, vid)
    form = _step_form(v)
    form["name"] = ["", *form["name"][1:]]
    form["minutes"] = ["soon", *form["minutes"][1:]]
    r = client.post(f"/sop-versions/{vid}/sections/steps", data=form, headers=_h(team.member, **HX))
    assert r.status_code == 422
    assert 'id="steps.0.name-error"' in r.text and "This field is required." in r.text
    assert _version(session, vid).version == v.version
    r = client.post(f"/sop-versions/{vid}/sections/steps", data=form, headers=_h(team.member, **HX, **ZH))
    assert r.status_code == 422 and "此项为必填项" in r.text
    # Without htmx: the whole editor, the error at its field.
    r = client.post(f"/sop-versions/{vid}/sections/steps", data=form, headers=_h(team.member))
    assert r.status_code == 422 and "<html" in r.text and 'id="steps.0.name-error"' in r.text


def test_editor_and_saves_refused_to_others(client, factory, team, session):
    story = design_story(session, factory, team)
    vid = _draft(client, story)
    v = _version(session, vid)
    for user in (team.viewer, team.outsider, team.other_lead):
        assert client.get(f"/sop-versions/{vid}", headers=_h(user)).status_code == 403
        assert client.get(f"/sop-versions/{vid}/edit", headers=_h(user)).status_code == 403
        r = client.post(f"/sop-versions/{vid}/sections/steps", data=_step_form(v), headers=_h(user))
        assert r.status_code == 403
    assert client.post(f"/initiatives/{team.initiative.id}/sop/draft", headers=_h(team.viewer)).status_code == 403
    zh = client.get(f"/sop-versions/{vid}", headers=_h(team.outsider, **ZH))
    assert zh.status_code == 403 and "<html" in zh.text
    assert _version(session, vid).version == v.version


def test_review_sign_publish_and_next_on_the_version_page(client, factory, team, session):
    story = design_story(session, factory, team)
    leader, member, it, ops = team.leader, team.member, team.it, story.ops_reviewer
    vid = _draft(client, story)
    scope = {"departments": ["operations", "technology"], "scenarios": "New user registration", "roles": "",
             "version": str(_version(session, vid).version), "base": ""}
    assert client.post(f"/sop-versions/{vid}/sections/scope", data=scope, headers=_h(member),
                       follow_redirects=False).status_code == 303
    page = client.get(f"/sop-versions/{vid}", headers=_h(member)).text
    assert 'id="submit-form"' in page and 'id="vote-form"' not in page
    # Without a reviewer for technology: refused inline, nothing changes.
    v = _version(session, vid)
    r = client.post(f"/sop-versions/{vid}/submit", headers=_h(member),
                    data={"reviewer": str(ops.id), "version": str(v.version)})
    assert r.status_code == 422 and "Name a reviewer for every department" in r.text
    assert _version(session, vid).state == SopState.draft
    r = client.post(f"/sop-versions/{vid}/submit", headers=_h(member), data={"reviewer": [str(ops.id), str(it.id)]})
    assert r.status_code == 422 and "The version changed since you opened the page" in r.text  # no version: stale
    r = client.post(f"/sop-versions/{vid}/submit", headers=_h(member), follow_redirects=False,
                    data={"reviewer": [str(ops.id), str(it.id)], "version": str(v.version)})
    assert r.status_code == 303
    assert _version(session, vid).state == SopState.in_review

    # A reviewer comments on a step and requests changes; the team replies and resolves.
    step_id = _version(session, vid).content["steps"][1]["id"]
    page = client.get(f"/sop-versions/{vid}", headers=_h(ops)).text
    assert 'id="vote-form"' in page and 'id="sign-form"' not in page and 'id="submit-form"' not in page
    r = client.post(f"/sop-versions/{vid}/comments", headers=_h(ops), follow_redirects=False,
                    data={"section": "steps", "step_id": step_id, "text": "Name the three systems checked"})
    assert r.status_code == 303 and r.headers["location"].endswith("#section-steps")
    r = client.post(f"/sop-versions/{vid}/comments", headers=_h(ops), data={"section": "steps", "text": ""})
    assert r.status_code == 422 and 'id="text-error"' in r.text
    v = _version(session, vid)
    assert client.post(f"/sop-versions/{vid}/vote", headers=_h(ops), follow_redirects=False,
                       data={"vote": "request_changes", "version": str(v.version)}).status_code == 303
    comment = session.exec(select(SopComment).where(SopComment.version_id == vid)).one()
    page = client.get(f"/sop-versions/{vid}", headers=_h(member)).text
    assert "Name the three systems checked" in page and "Changes requested" in page
    assert client.post(f"/sop-versions/{vid}/comments", headers=_h(member), follow_redirects=False, data={
        "section": "steps", "parent_id": str(comment.id), "text": "Done: CRM, KYC, Billing"}).status_code == 303
    # The leader cannot sign yet: the comment is open and the votes are missing.
    r = client.post(f"/sop-versions/{vid}/sign", headers=_h(leader), data={"version": str(v.version)})
    assert r.status_code == 422 and "Every reviewer must approve" in r.text
    assert client.post(f"/sop-versions/{vid}/comments/{comment.id}", headers=_h(member), follow_redirects=False,
                       data={"resolved": "true", "version": str(comment.version)}).status_code == 303
    # A change to the draft starts round 2.
    v = _version(session, vid)
    form = _step_form(v)
    form["instructions"] = [x if i != 1 else "Check CRM, KYC and Billing" for i, x in enumerate(form["instructions"])]
    assert client.post(f"/sop-versions/{vid}/sections/steps", data=form, headers=_h(member),
                       follow_redirects=False).status_code == 303
    assert _version(session, vid).review_round == 2
    # A viewer or an outsider cannot vote; a reviewer cannot sign.
    for user in (team.viewer, team.outsider):
        assert client.post(f"/sop-versions/{vid}/vote", headers=_h(user), data={"vote": "approve"}).status_code == 403
    assert client.post(f"/sop-versions/{vid}/sign", headers=_h(ops), data={}).status_code == 403
    for reviewer in (ops, it):
        v = _version(session, vid)
        assert client.post(f"/sop-versions/{vid}/vote", headers=_h(reviewer), follow_redirects=False,
                           data={"vote": "approve", "version": str(v.version)}).status_code == 303
    v = _version(session, vid)
    assert client.post(f"/sop-versions/{vid}/sign", headers=_h(leader), follow_redirects=False,
                       data={"version": str(v.version)}).status_code == 303
    page = client.get(f"/sop-versions/{vid}", headers=_h(leader)).text
    v = _version(session, vid)
    assert v.signed_hash in page and 'id="publish-form"' in page
    assert client.post(f"/sop-versions/{vid}/publish", headers=_h(member), data={
        "effective_date": "2030-01-01"}).status_code == 403  # the team does not publish
    r = client.post(f"/sop-versions/{vid}/publish", headers=_h(leader, **ZH),
                    data={"effective_date": "someday", "version": str(v.version)})
    assert r.status_code == 422 and 'id="effective_date-error"' in r.text and "请输入日期" in r.text
    r = client.post(f"/sop-versions/{vid}/publish", headers=_h(leader), follow_redirects=False,
                    data={"effective_date": service.today().isoformat(), "version": str(v.version)})
    assert r.status_code == 303
    v = _version(session, vid)
    assert (v.state, service.number(v)) == (SopState.published, "V1.0")

    # The SOP page leads with V1.0; everyone reads it, nobody edits it.
    page = client.get(f"/sops/{v.sop_id}", headers=_h(team.viewer)).text
    assert "V1.0" in page and "Effective" in page and f"/api/v1/sop-versions/{vid}/docx?lang=zh_CN" in page
    assert "Check CRM, KYC and Billing" in page
    assert "Edit the draft" not in client.get(f"/sop-versions/{vid}", headers=_h(member)).text
    r = client.post(f"/sop-versions/{vid}/sections/steps", data=_step_form(v), headers=_h(member, **HX))
    assert r.status_code == 422 and "published and can no longer change" in r.text

    # The next version, with the initiative; then change a step and the V1.0 page shows the next draft nowhere.
    page = client.get(f"/sop-versions/{vid}", headers=_h(member)).text
    assert 'id="next-form"' in page
    assert client.post(f"/sop-versions/{vid}/next", headers=_h(team.viewer), data={}).status_code == 403
    r = client.post(f"/sop-versions/{vid}/next", headers=_h(member), follow_redirects=False,
                    data={"initiative_id": str(team.initiative.id)})
    assert r.status_code == 303
    nid = int(re.fullmatch(r"/sop-versions/(\d+)/edit", r.headers["location"]).group(1))
    page = client.get(f"/sop-versions/{vid}", headers=_h(member)).text
    assert 'id="next-form"' not in page and f'href="/sop-versions/{nid}/edit"' in page
    assert 'id="actions"' not in client.get(f"/sop-versions/{vid}", headers=_h(team.viewer)).text
    assert _version(session, nid).content == _version(session, vid).content
    assert f'/sop-versions/{nid}"' not in client.get(f"/sops/{v.sop_id}", headers=_h(team.viewer)).text
    assert f'/sop-versions/{nid}"' in client.get(f"/sops/{v.sop_id}", headers=_h(member)).text


def test_table4_page_and_the_process_page(client, factory, team, session):
    vid = _published_v1(client, design_story(session, factory, team), note="首次发布")
    sop_id = _version(session, vid).sop_id
    for headers, words in ((_h(team.viewer), ("Process ID", "Change summary", "V1.0", "首次发布")),
                           (_h(team.viewer, **ZH), ("流程ID", "修改内容摘要", "审核人", "V1.0"))):
        page = client.get(f"/sops/{sop_id}/table4", headers=headers)
        assert page.status_code == 200
        for w in words:
            assert w in page.text
    page = client.get(f"/sops/{sop_id}/table4", headers=_h(team.viewer)).text
    for fmt in ("xlsx", "csv"):
        for lang in ("zh_CN", "en"):
            assert f"/api/v1/sops/{sop_id}/table4/export?format={fmt}&amp;lang={lang}" in page
    process = client.get(f"/processes/{team.initiative.process_id}", headers=_h(team.viewer)).text
    assert f'href="/sops/{sop_id}"' in process and "V1.0" in process
    assert client.get("/sops/999999/table4", headers=_h(team.viewer)).status_code == 404


def test_the_comparison_marks_insertions_and_deletions(client, factory, team, session):
    vid = _published_v1(client, design_story(session, factory, team))
    nxt = ok(send(client, "POST", f"/sop-versions/{vid}/next", team.member,
                  json={"initiative_id": team.initiative.id}), 201)
    steps = nxt["content"]["steps"]
    steps[1]["instructions"] = "人工审核三个系统"
    steps.append({"name": "短信通道优化", "department": "technology", "minutes": 1})
    ok(send(client, "PATCH", f"/sop-versions/{nxt['id']}/sections/steps", team.member,
            f'"sop-version-{nxt["id"]}-v1"', json=steps))
    sop_id = nxt["sop_id"]
    url = f"/sops/{sop_id}/diff?from={vid}&to={nxt['id']}"
    page = client.get(url, headers=_h(team.member))
    assert page.status_code == 200
    assert '<ins class="sop-ins">人工审核三个系统</ins>' in page.text
    assert "短信通道优化" in page.text and "Added" in page.text and 'id="diff-steps"' in page.text
    zh = client.get(url, headers=_h(team.member, **ZH)).text
    assert "新增" in zh and "详细步骤" in zh
    # The draft is the team's: a viewer compares published versions only.
    assert client.get(url, headers=_h(team.viewer)).status_code == 403
    assert client.get(f"/sops/{sop_id}/diff?from={vid}&to={vid}", headers=_h(team.viewer)).status_code == 200


def test_withdraw_and_drafting_outside_the_design_phase(client, factory, team, session):
    story = design_story(session, factory, team)
    vid = _draft(client, story)
    v = _version(session, vid)
    assert client.post(f"/sop-versions/{vid}/withdraw", headers=_h(team.outsider),
                       data={"version": str(v.version)}).status_code == 403
    r = client.post(f"/sop-versions/{vid}/withdraw", headers=_h(team.member), follow_redirects=False,
                    data={"version": str(v.version), "reason": "Started over"})
    assert r.status_code == 303 and _version(session, vid).state == SopState.withdrawn
    page = client.get(f"/sop-versions/{vid}", headers=_h(team.member)).text
    assert "This version was withdrawn." in page and "Edit the draft" not in page
    # Back in root-cause analysis: no draft, the page says why in the reader's language.
    team.initiative.current_phase = "root_cause"
    session.add(team.initiative)
    session.flush()
    page = client.get(f"/initiatives/{team.initiative.id}", headers=_h(team.member)).text
    assert f'action="/initiatives/{team.initiative.id}/sop/draft"' not in page
    r = client.post(f"/initiatives/{team.initiative.id}/sop/draft", headers=_h(team.member, **ZH))
    assert r.status_code == 409 and "请在方案设计阶段起草 SOP" in r.text
