"""A body that is not valid UTF-8 is a 422 problem naming the body, like a body that is not valid JSON.

Not done yet: FastAPI answers it with a 400 ("There was an error parsing the body", an HTTPException whose
cause is the UnicodeDecodeError), and the place to turn that into the 422 is the HTTPException handler in
app/core/http_errors.py, outside the auth work (#12 item 9). Strict: once fixed, drop the mark."""

from __future__ import annotations

import pytest

from app.users.models import Role
from tests.factories import PASSWORD
from tests.helpers import assert_problem, bearer_for, fast_hashing, sqlite_transaction  # noqa: F401

pytestmark = pytest.mark.usefixtures("fast_hashing", "sqlite_transaction")


@pytest.mark.parametrize("body", [b"\xff", b'{"code": "\xc3\x28", "name": "x"}'])
def test_a_body_of_invalid_utf8_is_a_422(client, factory, body):
    headers = {**bearer_for(client, factory.user(Role.member).email, PASSWORD), "Content-Type": "application/json"}
    problem = assert_problem(client.post("/api/v1/processes", content=body, headers=headers), 422)
    assert problem["errors"] and problem["errors"][0]["loc"][0] == "body"


@pytest.mark.parametrize("body", [b"{nope", b'{"code": "\xed\xa0\x80", "name": "x"}'])
def test_a_body_that_is_not_json_is_a_422(client, factory, body):
    """The controls: what the undecodable body should be answered like (an encoded lone surrogate already
    is: the JSON decoder lets it through and the field refuses it)."""
    headers = {**bearer_for(client, factory.user(Role.member).email, PASSWORD), "Content-Type": "application/json"}
    problem = assert_problem(client.post("/api/v1/processes", content=body, headers=headers), 422)
    assert problem["errors"][0]["loc"][0] == "body"
