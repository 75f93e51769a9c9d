from __future__ import annotations

from functools import cache

import pytest

from app.core.security import hash_password
from tests.factories import PASSWORD
from tests.initiatives.factories import InitiativeFactory, Team


@cache
def _known_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture(autouse=True)
def _fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests make many accounts and log in by token: one real argon2 hash, reused (PASSWORD still works)."""
    known = _known_hash()
    monkeypatch.setattr("app.users.service.hash_password",
                        lambda password: known if password == PASSWORD else hash_password(password))


@pytest.fixture
def ifactory(session, factory) -> InitiativeFactory:  # noqa: ANN001
    return InitiativeFactory(session, factory)


@pytest.fixture
def team(ifactory: InitiativeFactory) -> Team:
    return ifactory.team()

