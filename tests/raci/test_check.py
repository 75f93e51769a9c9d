"""The check's rules, each shown to fire and not to fire."""

from __future__ import annotations

import pytest

from app.core.i18n import gettext_for
from app.raci.models import RaciActivity, RaciRole
from app.raci.service import Matrix, check, load


def _matrix(rows: list[list[str]], n_roles: int | None = None) -> Matrix:
    n = n_roles if n_roles is not None else (len(rows[0]) if rows else 0)
    roles = [RaciRole(id=10 + j, initiative_id=1, name=f"Role {j}", position=j + 1) for j in range(n)]
    acts = [RaciActivity(id=100 + i, initiative_id=1, name=f"Step {i}", position=i + 1) for i in range(len(rows))]
    cells = {(100 + i, 10 + j): v for i, row in enumerate(rows) for j, v in enumerate(row) if v}
    return Matrix(roles, acts, cells)


def _rules(m: Matrix) -> list[tuple[str, str, int | None, int | None]]:
    return [(v.rule, v.severity, v.activity_id, v.role_id) for v in check(m)]


def test_a_clean_matrix_has_no_violations():
    assert _rules(_matrix([["RA", "C", ""], ["R", "A", ""], ["", "A", "R"]])) == []


@pytest.mark.parametrize(("rows", "rule", "severity", "activity", "role"), [
    ([["R", "C", ""], ["RA", "R", ""]], "no_accountable", "error", 100, None),
    ([["RA", "A", ""], ["R", "A", ""]], "multiple_accountable", "error", 100, None),
    ([["A", "C", ""], ["R", "A", ""]], "no_responsible", "error", 100, None),
    ([["RA", "C", "C", "C", "C", ""], ["R", "A", "", "", "", ""]], "too_many_consulted", "warning", 100, None),
    ([["RA", "C", "I"], ["R", "A", ""]], "everyone_involved", "warning", 100, None),
    ([["RA", "C", ""], ["RA", "", "I"]], "role_idle", "warning", None, 11),
])
def test_each_rule_fires(rows, rule, severity, activity, role):  # noqa: ANN001
    found = _rules(_matrix(rows))
    assert (rule, severity, activity, role) in found, found
    # The other activity breaks no rule.
    assert not [f for f in found if f[2] == 101], found


def _names(rows: list[list[str]]) -> set[str]:
    return {f[0] for f in _rules(_matrix(rows))}


def test_rule_boundaries():
    assert "too_many_consulted" not in _names([["RA", "C", "C", "C", "", ""]])  # 3 C is fine
    assert "everyone_involved" not in _names([["RA", "I"]])  # with two roles, both may be involved
    assert "everyone_involved" not in _names([["RA", "I", ""]])
    assert _rules(_matrix([["RA", "A"]])) == [("multiple_accountable", "error", 100, None)]
    assert _rules(_matrix([["RA", "R"]])) == []  # A and R together, two R: fine
    assert _rules(_matrix([], n_roles=1)) == [("role_idle", "warning", None, 10)]
    # Errors come before warnings; messages name the activity.
    m = _matrix([["C", "C", "C", "C"]])
    assert [v.severity for v in check(m)][:2] == ["error", "error"]
    assert "Step 0" in check(m)[0].message


def test_messages_in_chinese():
    m = _matrix([["RA", "A", ""]])
    (v, *_) = check(m, gettext_for("zh_CN"))
    assert "Step 0" in v.message and "A" in v.message and "exactly one" not in v.message


def test_load_counts_letters_per_role():
    m = _matrix([["RA", "C"], ["R", "AI"]])
    assert load(m) == {10: {"R": 2, "A": 1, "C": 0, "I": 0}, 11: {"R": 0, "A": 1, "C": 1, "I": 1}}
