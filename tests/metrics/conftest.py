"""Metrics tests: cheap password hashing (still argon2id) for the many users they create."""

from __future__ import annotations

import pytest

from tests.helpers import fast_hashing  # noqa: F401 - the fixture, used below


@pytest.fixture(autouse=True)
def _cheap_hashing(fast_hashing) -> None:  # noqa: ANN001, F811
    return None
