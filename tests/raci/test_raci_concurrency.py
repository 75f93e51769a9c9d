"""Two people clicking letters of the same cell at the same moment: both clicks count."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from app.core.audit import AuditRecord
from app.initiatives.models import Initiative
from app.processes.models import Process
from app.raci.models import RaciCell
from app.raci.schemas import ActivityCreate, RoleCreate
from app.raci.service import create_activity, create_role, toggle
from app.users.models import Role, User
from tests.factories import Factory
from tests.helpers import wait_until_blocked
from tests.initiatives.factories import InitiativeFactory


@pytest.mark.usefixtures("committed_departments_removed")
def test_concurrent_clicks_on_one_cell_are_both_kept(backend, engine):
    if backend != "postgresql":
        pytest.skip("needs concurrent transactions (SQLite has a single writer)")
    with Session(engine, expire_on_commit=False) as s:
        base = Factory(s)
        leader = base.user(Role.lead)
        ini = InitiativeFactory(s, base).initiative(leader)
        role = create_role(s, ini.id, RoleCreate(name="Reviewer"), leader)
        act = create_activity(s, ini.id, ActivityCreate(name="Manual review"), leader)
        s.commit()
    ids = {"ini": ini.id, "act": act.id, "role": role.id, "leader": leader.id, "process": ini.process_id}
    errors: list[BaseException] = []
    try:
        with Session(engine, expire_on_commit=False) as first:
            toggle(first, ids["ini"], ids["act"], ids["role"], "R", first.get(User, ids["leader"]))

            def second_click() -> None:
                try:
                    with Session(engine, expire_on_commit=False) as second:
                        toggle(second, ids["ini"], ids["act"], ids["role"], "A", second.get(User, ids["leader"]))
                        second.commit()
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)

            thread = threading.Thread(target=second_click)
            thread.start()
            wait_until_blocked(engine, thread, "raci_activities")
            first.commit()
        thread.join(10)
        assert not errors, errors
        with Session(engine) as s:
            cell = s.exec(select(RaciCell).where(RaciCell.activity_id == ids["act"])).one()
            assert cell.letters == "RA"  # neither click lost
    finally:
        with engine.begin() as conn:
            conn.execute(sa.delete(AuditRecord).where(AuditRecord.actor_id == ids["leader"]))
            conn.execute(sa.delete(Initiative).where(Initiative.id == ids["ini"]))
            conn.execute(sa.text("DELETE FROM process_departments WHERE process_id = :p"), {"p": ids["process"]})
            conn.execute(sa.delete(Process).where(Process.id == ids["process"]))
            conn.execute(sa.delete(User).where(User.id == ids["leader"]))
