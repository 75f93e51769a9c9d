"""schemathesis over the whole OpenAPI: every operation, as an administrator, with generated input.

A bounded run (a fixed seed, a few examples per operation, the examples and fuzzing phases) against the
app as deployed, each operation in the test's rolled-back transaction like every other test. What must
hold: no server error (5xx) and every answer as the OpenAPI says (status code, content type, headers,
body schema).

Checks not run, each with its reason:
- `negative_data_rejection`, `positive_data_acceptance`, `missing_required_header`, `unsupported_method`,
  `ignored_auth`, `use_after_free`, `ensure_resource_availability`: they judge what the API accepts
  (a 404 for a generated id that names no record is right, but reads to them as positive data refused;
  a Bearer token in the header is sent with every case, so auth is never missing), and their findings
  are covered by the suite's own validation, authorization and id tests (tests/test_ids.py, the
  authorization tests of every domain).
- the coverage and stateful phases: they multiply the cases past the few minutes this run may take.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.main import create_app
from app.users.models import Role

CONFIG = {
    "seed": 20261202,
    "generation": {"max-examples": 4},
    "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


@pytest.fixture
def admin_headers(factory) -> dict[str, str]:  # noqa: ANN001
    return factory.bearer(factory.user(Role.admin))


# The app as deployed; the `client` fixture binds its sessions to the test's transaction.
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(), config=SchemathesisConfig.from_dict(CONFIG))


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case, client, admin_headers) -> None:  # noqa: ANN001
    case.call_and_validate(headers=admin_headers, checks=CHECKS)
