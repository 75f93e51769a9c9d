"""Problems (issues), the priority matrix, fishbone causes and 5-Whys chains through the API."""

from __future__ import annotations

from app.initiatives.models import Phase
from tests.initiatives.factories import YH_STEPS, add_issue, add_raci, add_record, add_steps
from tests.sops.factories import add_approved_sop

API = "/api/v1"


def _etag(client, h, url):  # noqa: ANN001, ANN202
    return client.get(url, headers=h).headers["ETag"]


def test_create_read_update_delete_issue(client, factory, team, session):
    steps = add_steps(session, team.initiative, team.leader, YH_STEPS)
    h = factory.bearer(team.member)
    url = f"{API}/initiatives/{team.initiative.id}/issues"
    body = {"title": "Manual review takes 30 minutes", "description": "3 systems checked by hand",
            "category": "efficiency", "source": "observation", "step_ids": [steps[1].id],
            "owner_id": team.it.id, "impact": 5, "urgency": 4}
    r = client.post(url, json=body, headers=h)
    assert r.status_code == 201, r.text
    issue = r.json()
    assert r.headers["Location"] == f"{API}/issues/{issue['id']}"
    assert issue["status"] == "open" and issue["score"] == 20 and issue["quadrant"] == "do_first"
    assert issue["owner"]["id"] == team.it.id and issue["step_ids"] == [steps[1].id]
    iurl = f"{API}/issues/{issue['id']}"
    etag = _etag(client, h, iurl)
    assert client.patch(iurl, json={"urgency": 2}, headers=h).status_code == 428
    r = client.patch(iurl, json={"urgency": 2, "status": "analysing"}, headers={**h, "If-Match": etag})
    assert r.status_code == 200 and r.json()["quadrant"] == "schedule" and r.json()["status"] == "analysing"
    assert client.patch(iurl, json={"urgency": 3}, headers={**h, "If-Match": etag}).status_code == 412
    r = client.patch(iurl, json={"impact": None}, headers={**h, "If-Match": r.headers["ETag"]})
    assert r.status_code == 200 and r.json()["quadrant"] is None and r.json()["score"] is None
    assert client.delete(iurl, headers=h).status_code == 204
    assert client.get(iurl, headers=h).status_code == 404


def test_bad_issue_input_is_refused_and_changes_nothing(client, factory, team, session):
    other_step = add_steps(session, team.other, team.other_lead, YH_STEPS[:1])[0]
    h = factory.bearer(team.member)
    url = f"{API}/initiatives/{team.initiative.id}/issues"
    ok = {"title": "Slow", "category": "efficiency", "source": "data"}
    for bad in ({"impact": 0}, {"impact": 6}, {"urgency": 0}, {"urgency": 6}, {"impact": "3"}, {"impact": True},
                {"impact": 2.5}, {"category": "morale"}, {"source": "rumour"}, {"status": "done"},
                {"step_ids": [other_step.id]}, {"owner_id": 999999}, {"title": ""}, {"initiative_id": 1},
                {"version": 3}):
        r = client.post(url, json={**ok, **bad}, headers=h)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["errors"], bad
    assert client.get(url, headers=h).json()["items"] == []
    issue = add_issue(session, team.initiative, team.leader, impact=3, urgency=3)
    iurl = f"{API}/issues/{issue.id}"
    etag = _etag(client, h, iurl)
    for bad in ({"impact": 0}, {"urgency": 6}, {"category": "x"}, {"step_ids": [other_step.id]},
                {"title": None}, {"status": None}):
        assert client.patch(iurl, json=bad, headers={**h, "If-Match": etag}).status_code == 422, bad
    got = client.get(iurl, headers=h).json()
    assert got["version"] == 1 and got["impact"] == 3 and got["step_ids"] == []


def test_list_filters_and_keyset_pages(client, factory, team, session):
    ini = team.initiative
    a = add_issue(session, ini, team.leader, title="A", category="quality", impact=5, urgency=5)
    b = add_issue(session, ini, team.leader, title="B", category="risk", impact=5, urgency=1)
    c = add_issue(session, ini, team.leader, title="C", category="quality", impact=1, urgency=4,
                  status="resolved")
    d = add_issue(session, ini, team.leader, title="D", category="collaboration")
    e = add_issue(session, ini, team.leader, title="E", category="efficiency", impact=4, urgency=5)
    add_issue(session, team.other, team.other_lead, title="elsewhere")
    h = factory.bearer(team.viewer)
    url = f"{API}/initiatives/{ini.id}/issues"

    def ids(**params):  # noqa: ANN003, ANN202
        r = client.get(url, params=params, headers=h)
        assert r.status_code == 200, r.text
        return [i["id"] for i in r.json()["items"]]

    assert ids() == [a.id, b.id, c.id, d.id, e.id]
    assert ids(sort="-created") == [e.id, d.id, c.id, b.id, a.id]
    assert ids(category="quality") == [a.id, c.id]
    assert ids(status="resolved") == [c.id]
    assert ids(quadrant="do_first") == [a.id, e.id]
    assert ids(quadrant="schedule") == [b.id]
    assert ids(quadrant="quick_fix") == [c.id]
    assert ids(quadrant="defer") == []
    assert ids(quadrant="unscored") == [d.id]
    assert ids(sort="priority") == [a.id, e.id, b.id, c.id, d.id]
    for sort in ("created", "-created", "priority"):
        seen, cursor = [], None
        while True:
            params = {"sort": sort, "limit": 2, **({"cursor": cursor} if cursor else {})}
            r = client.get(url, params=params, headers=h)
            seen += [i["id"] for i in r.json()["items"]]
            cursor = r.json()["next_cursor"]
            if not cursor:
                break
            assert 'rel="next"' in r.headers["Link"]
        assert seen == ids(sort=sort), sort
    assert client.get(url, params={"quadrant": "top"}, headers=h).status_code == 422
    assert client.get(url, params={"category": "morale"}, headers=h).status_code == 422


def test_priority_matrix_quadrants_and_order(client, factory, team, session):
    ini = team.initiative
    mk = lambda title, i, u, **kw: add_issue(session, ini, team.leader, title=title, impact=i, urgency=u, **kw)  # noqa: E731
    late_fulfilment = mk("Late fulfilment causes complaints", 5, 5)
    review = mk("Manual review 30 min", 4, 5)
    dup = mk("Duplicate entry", 5, 4)  # same score as review, higher impact
    older_tie = mk("Tie older", 3, 4)
    newer_tie = mk("Tie newer", 3, 4)
    archive = mk("Archive rules", 5, 2)
    sms = mk("SMS template typo", 1, 5)
    report = mk("Report format tweak", 1, 1)
    unscored = add_issue(session, ini, team.leader, title="Not yet scored", impact=4)
    mk("Resolved already", 5, 5, status="resolved")
    r = client.get(f"{API}/initiatives/{ini.id}/priority-matrix", headers=factory.bearer(team.viewer))
    assert r.status_code == 200
    m = r.json()
    assert m["threshold"] == 3
    q = {k: [(e["id"], e["rank"]) for e in v] for k, v in m["quadrants"].items()}
    assert q["do_first"] == [(late_fulfilment.id, 1), (dup.id, 2), (review.id, 3), (older_tie.id, 4),
                             (newer_tie.id, 5)]
    assert q["schedule"] == [(archive.id, 1)]
    assert q["quick_fix"] == [(sms.id, 1)]
    assert q["defer"] == [(report.id, 1)]
    assert [e["id"] for e in m["unscored"]] == [unscored.id]
    entry = m["quadrants"]["do_first"][0]
    assert {"id", "title", "category", "impact", "urgency", "rank"} <= set(entry)
    assert entry["impact"] == 5 and entry["urgency"] == 5 and entry["category"] == "efficiency"
    everything = client.get(f"{API}/initiatives/{ini.id}/priority-matrix", params={"include_resolved": "true"},
                            headers=factory.bearer(team.viewer)).json()
    assert len(everything["quadrants"]["do_first"]) == 6
    # A stricter threshold moves problems between quadrants.
    h = factory.bearer(team.leader)
    iurl = f"{API}/initiatives/{ini.id}"
    client.patch(iurl, json={"priority_threshold": 5}, headers={**h, "If-Match": _etag(client, h, iurl)})
    m = client.get(f"{API}/initiatives/{ini.id}/priority-matrix", headers=h).json()
    assert [e["id"] for e in m["quadrants"]["do_first"]] == [late_fulfilment.id]
    assert [e["id"] for e in m["quadrants"]["schedule"]] == [dup.id, archive.id]
    # Changing a score moves the problem at once.
    url = f"{API}/issues/{report.id}"
    client.patch(url, json={"impact": 5, "urgency": 5}, headers={**h, "If-Match": _etag(client, h, url)})
    m = client.get(f"{API}/initiatives/{ini.id}/priority-matrix", headers=h).json()
    assert [e["id"] for e in m["quadrants"]["do_first"]] == [late_fulfilment.id, report.id]


def test_fishbone_causes(client, factory, team, session):
    issue = add_issue(session, team.initiative, team.leader, title="Duplicate entry")
    other = add_issue(session, team.initiative, team.leader, title="Other problem")
    h = factory.bearer(team.member)
    url = f"{API}/issues/{issue.id}/causes"

    def add(**body):  # noqa: ANN003, ANN202
        r = client.post(url, json=body, headers=h)
        assert r.status_code == 201, r.text
        return r.json()

    method = add(category="method", text="No interface between systems A and B")
    sub = add(parent_id=method["id"], text="Interface never budgeted")
    subsub = add(parent_id=sub["id"], text="IT roadmap set without operations", is_root=True)
    man = add(category="man", text="Reviewers not trained on the KYC system")
    add(category="environment", text="Peak hours: 3x volume")
    assert sub["category"] == "method" and sub["depth"] == 1 and subsub["depth"] == 2
    tree = client.get(url, headers=h).json()
    assert [(c["category"], c["depth"], c["text"][:10]) for c in tree] == [
        ("man", 0, "Reviewers "), ("method", 0, "No interfa"), ("method", 1, "Interface "),
        ("method", 2, "IT roadmap"), ("environment", 0, "Peak hours")]
    assert client.get(f"{API}/issues/{issue.id}", headers=h).json()["root_causes"] == 1
    # Bad input: unknown bone, a parent of another problem, a mismatching bone, no bone at all.
    other_cause = client.post(f"{API}/issues/{other.id}/causes", json={"category": "man", "text": "x"},
                              headers=h).json()
    for body in ({"category": "money", "text": "x"}, {"parent_id": other_cause["id"], "text": "x"},
                 {"parent_id": method["id"], "category": "man", "text": "x"}, {"text": "no bone"},
                 {"category": "man", "text": ""}):
        assert client.post(url, json=body, headers=h).status_code == 422, body
    # A cycle: the method cause under its own grandchild.
    curl = f"{url}/{method['id']}"
    etag = _etag(client, h, curl)
    r = client.patch(curl, json={"parent_id": subsub["id"]}, headers={**h, "If-Match": etag})
    assert r.status_code == 422 and r.json()["errors"][0]["type"] == "cycle"
    r = client.patch(curl, json={"parent_id": method["id"]}, headers={**h, "If-Match": etag})
    assert r.status_code == 422
    assert client.get(url, headers=h).json() == tree  # nothing changed
    # Moving the man cause under the method branch puts it on the method bone.
    murl = f"{url}/{man['id']}"
    r = client.patch(murl, json={"parent_id": sub["id"]}, headers={**h, "If-Match": _etag(client, h, murl)})
    assert r.status_code == 200 and r.json()["category"] == "method" and r.json()["depth"] == 2
    # A top-level cause moves to another bone with its whole branch.
    r = client.patch(curl, json={"category": "machine"}, headers={**h, "If-Match": etag})
    assert r.status_code == 200
    assert {c["category"] for c in client.get(url, headers=h).json() if c["text"] != "Peak hours: 3x volume"} \
        == {"machine"}
    # Deleting a cause deletes its sub-causes.
    assert client.delete(curl, headers=h).status_code == 204
    assert [c["text"] for c in client.get(url, headers=h).json()] == ["Peak hours: 3x volume"]
    assert client.get(f"{API}/issues/{issue.id}", headers=h).json()["root_causes"] == 0


def test_fishbone_depth_is_limited(client, factory, team, session):
    issue = add_issue(session, team.initiative, team.leader)
    h = factory.bearer(team.member)
    url = f"{API}/issues/{issue.id}/causes"
    parent = client.post(url, json={"category": "machine", "text": "level 0"}, headers=h).json()
    for level in range(1, 5):
        parent = client.post(url, json={"parent_id": parent["id"], "text": f"level {level}"}, headers=h).json()
        assert parent["depth"] == level
    r = client.post(url, json={"parent_id": parent["id"], "text": "level 5"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["type"] == "too_deep"


def test_five_whys_chain(client, factory, team, session):
    issue = add_issue(session, team.initiative, team.leader, title="Duplicate entry")
    h = factory.bearer(team.it)
    url = f"{API}/issues/{issue.id}/whys"
    w1 = client.post(url, json={"question": "Why is data entered twice?",
                                "answer": "Systems A and B are not synced"}, headers=h).json()
    w2 = client.post(url, json={"question": "Why are they not synced?", "answer": "There is no interface"},
                     headers=h).json()
    assert (w1["position"], w2["position"]) == (1, 2)
    # Only the last answer can be the root cause.
    r = client.patch(f"{url}/{w1['id']}", json={"is_root": True},
                     headers={**h, "If-Match": _etag(client, h, f"{url}/{w1['id']}")})
    assert r.status_code == 422
    r = client.patch(f"{url}/{w2['id']}", json={"is_root": True},
                     headers={**h, "If-Match": _etag(client, h, f"{url}/{w2['id']}")})
    assert r.status_code == 200 and r.json()["is_root"] is True
    r = client.post(url, json={"question": "Why?", "answer": "Because"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["type"] == "chain_closed"
    assert client.get(f"{API}/issues/{issue.id}", headers=h).json()["root_causes"] == 1
    for bad in ({"question": "", "answer": "x"}, {"question": "x"}, {"question": "x", "answer": "y", "position": 1}):
        assert client.post(url, json=bad, headers=h).status_code == 422
    assert client.delete(f"{url}/{w1['id']}", headers=h).status_code == 204
    chain = client.get(url, headers=h).json()
    assert [(w["position"], w["answer"]) for w in chain] == [(1, "There is no interface")]
    assert client.get(f"{url}/{w1['id']}", headers=h).status_code == 404


def test_root_cause_gate(client, factory, team, session):
    """From root cause to design: every open problem scored and at least one root cause."""
    add_steps(session, team.initiative, team.leader, YH_STEPS)
    add_record(session, team.initiative, team.leader)
    h = factory.bearer(team.leader)
    iurl = f"{API}/initiatives/{team.initiative.id}"
    r = client.post(f"{iurl}/advance", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["current_phase"] == Phase.root_cause
    r = client.post(f"{iurl}/advance", headers=h)
    assert r.status_code == 422
    assert {e["type"] for e in r.json()["errors"]} == {"problems_recorded", "root_cause_found"}
    scored = add_issue(session, team.initiative, team.leader, impact=5, urgency=5)
    add_issue(session, team.initiative, team.leader)  # unscored
    add_issue(session, team.initiative, team.leader, status="deferred")  # deferred: need not be scored
    r = client.post(f"{iurl}/advance", headers=h)
    errors = {e["type"]: e for e in r.json()["errors"]}
    assert set(errors) == {"problems_scored", "root_cause_found"}
    assert errors["problems_scored"]["params"] == {"n": 1} and "(1 not scored)" in errors["problems_scored"]["message"]
    client.post(f"{API}/issues/{scored.id}/whys", json={"question": "Why?", "answer": "No interface",
                                                        "is_root": True}, headers=h)
    gate = client.get(f"{iurl}/gate", headers=h).json()
    assert [c["code"] for c in gate["criteria"] if not c["met"]] == ["problems_scored"]
    unscored = client.get(f"{iurl}/issues", params={"quadrant": "unscored"}, headers=h).json()["items"]
    open_unscored = [i for i in unscored if i["status"] == "open"][0]
    iu = f"{API}/issues/{open_unscored['id']}"
    client.patch(iu, json={"impact": 2, "urgency": 2}, headers={**h, "If-Match": _etag(client, h, iu)})
    r = client.post(f"{iurl}/advance", headers=h)
    assert r.status_code == 200 and r.json()["current_phase"] == "design"
    # Design -> pilot: the do-first problem needs a countermeasure planned.
    r = client.post(f"{iurl}/advance", headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["type"] == "do_first_planned"
    su = f"{API}/issues/{scored.id}"
    client.patch(su, json={"status": "countermeasure_planned"}, headers={**h, "If-Match": _etag(client, h, su)})
    r = client.post(f"{iurl}/advance", headers=h)  # the status alone plans nothing: a countermeasure does
    assert r.status_code == 422 and r.json()["errors"][0]["type"] == "do_first_planned"
    client.post(f"{iurl}/measures", json={"goal": "Activation <= 5 min", "issue_ids": [scored.id],
                                          "description": "Automatic check", "type": "automate"}, headers=h)
    add_approved_sop(session, team.initiative, team.leader)  # and a signed SOP
    r = client.post(f"{iurl}/advance", headers=h)  # and a RACI matrix without errors
    assert r.status_code == 422 and [e["type"] for e in r.json()["errors"]] == ["raci_defined"]
    add_raci(session, team.initiative, team.leader)
    assert client.post(f"{iurl}/advance", headers=h).json()["current_phase"] == "pilot"
