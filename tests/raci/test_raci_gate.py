"""The design gate needs a RACI matrix without errors (20.5), or the leader's override with a reason."""

from __future__ import annotations

from app.initiatives.models import Phase
from app.raci.service import toggle
from tests.initiatives.factories import add_raci
from tests.sops.factories import add_approved_sop

API = "/api/v1/initiatives"


def _unmet(client, h, ini_id):  # noqa: ANN001, ANN202
    gate = client.get(f"{API}/{ini_id}/gate", headers=h).json()
    assert gate["phase"] == "design"
    return {c["code"]: c for c in gate["criteria"] if not c["met"]}


def test_design_gate_reads_the_raci_matrix(client, factory, team, session):
    ini = team.initiative
    ini.current_phase = Phase.design
    session.add(ini)
    session.flush()
    add_approved_sop(session, ini, team.leader)  # the SOP's criterion met
    h = factory.bearer(team.leader)
    assert set(_unmet(client, h, ini.id)) == {"raci_defined"}  # no problems: do-first is met
    act, (first, second) = add_raci(session, ini, team.leader, ("A", "A"))  # two A, no R
    unmet = _unmet(client, h, ini.id)
    assert set(unmet) == {"raci_valid"} and unmet["raci_valid"]["params"] == {"n": 2}
    r = client.post(f"{API}/{ini.id}/advance", headers=h)
    assert r.status_code == 422 and [e["type"] for e in r.json()["errors"]] == ["raci_valid"]
    r = client.put(f"{API}/{ini.id}/raci/cells", json={"activity_id": act.id, "role_id": second.id, "letters": "R"},
                   headers=h)
    assert r.status_code == 200, r.text
    assert _unmet(client, h, ini.id) == {}
    r = client.post(f"{API}/{ini.id}/advance", headers=h)
    assert r.status_code == 200 and r.json()["current_phase"] == "pilot"


def test_the_leader_may_override_a_raci_with_errors(client, factory, team, session):
    ini = team.initiative
    ini.current_phase = Phase.design
    session.add(ini)
    session.flush()
    add_raci(session, ini, team.leader, ("C",))
    h = factory.bearer(team.leader)
    r = client.post(f"{API}/{ini.id}/advance", json={"override_reason": "RACI agreed in the kick-off, entered later"},
                    headers=h)
    assert r.status_code == 200 and r.json()["current_phase"] == "pilot"


def test_a_click_never_makes_a_cell_the_rule_refuses(team, session):
    """R and A add up to RA; another letter replaces what the cell held (one role held A and C before)."""
    act, (role,) = add_raci(session, team.initiative, team.leader, ("",))
    seen = []
    for letter in ("A", "R", "C", "I", "I"):
        m = toggle(session, team.initiative.id, act.id, role.id, letter, team.leader)
        seen.append(m.letters(act.id, role.id))
    assert seen == ["A", "RA", "C", "I", ""]
