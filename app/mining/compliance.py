"""Checking what happened: every control-point rule of an SOP version over every case of an event log.

For each case and each control point with a rule (numbered from 1 in the version's order of control points),
one status and reason:

- `out_of_scope`: its condition is false for the case's attributes;
- `not_evaluable`: an attribute the condition reads is missing (`missing_attribute`), cannot be read as its
  declared type (`invalid_attribute`), the condition fails on it (`error`, e.g. a division by zero), or the
  requirement names a role and the log records no roles (`roles_missing`);
- `special_case`: the condition holds and a special case that is an exception of the control point holds too
  (its requirement gives way; the back-fill is not checked here);
- `compliant`, or `violating` with the first reason the live check (`app.sops.rules.met`) would give:
  `missing_activity` (never done, or the activity the time limit counts from never done), `wrong_role` (done,
  but never by the role), `wrong_order` (the activity it must precede came first), `too_late` (done later
  than `within_minutes` after `after`, or after the case's first event).

The events of a case are taken in time order (file order for equal times), as the analysis does. Conditions
are evaluated column-wise with polars (`conditions.to_polars`, verified against cel-rust); a condition the
translation does not cover is evaluated by cel-rust once per distinct tuple of the attribute values it reads.
The compliance rate of a control point is compliant / (compliant + violating): special cases, cases it does
not apply to and cases that cannot be evaluated are counted beside it, not in it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

from app.mining import conditions, readers
from app.mining.analysis import week_start
from app.sops.rules import Compiled
from app.sops.schemas import AttributeType, ControlPoint, Requirement

COMPLIANT, VIOLATING, SPECIAL, NOT_EVALUABLE, OUT_OF_SCOPE = (
    "compliant", "violating", "special_case", "not_evaluable", "out_of_scope")
STATUSES = (COMPLIANT, VIOLATING, SPECIAL, NOT_EVALUABLE, OUT_OF_SCOPE)
VIOLATIONS = ("missing_activity", "wrong_role", "wrong_order", "too_late")
UNEVALUABLE = ("missing_attribute", "invalid_attribute", "error", "roles_missing")
_TRUE = ("true", "1", "yes", "y", "t")
_FALSE = ("false", "0", "no", "n", "f")
_POLARS_TYPES = {AttributeType.number: pl.Float64, AttributeType.text: pl.String,
                 AttributeType.boolean: pl.Boolean, AttributeType.date: readers.UTC_US}
RESULT_SCHEMA = {"case_id": pl.String, "point": pl.Int32, "status": pl.String, "reason": pl.String,
                 "week": pl.Date}


def _key(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


@dataclass(frozen=True)
class AttributeMatch:
    """A declared attribute and the log's attribute read for it (`column`, None when the log has none), with
    how many cases have a value and how many of those cannot be read as its type."""

    name: str
    type: AttributeType
    column: str | None
    cases_with_value: int
    invalid: int


def match_attributes(declared: dict[str, AttributeType], names: list[str]) -> dict[str, str | None]:
    """The log attribute read for each declared one: the same name, else the same name ignoring case, spaces
    and punctuation (`Order Amount` for `order_amount`)."""
    by_key: dict[str, str] = {}
    for name in names:
        by_key.setdefault(_key(name), name)
    return {d: d if d in names else by_key.get(_key(d)) for d in declared}


def _typed(raw: pl.Series, kind: AttributeType) -> pl.Series:
    """A text column as its declared type; what cannot be read as it is null."""
    if kind == AttributeType.date:
        return readers.parse_instants(raw, "UTC")
    if kind == AttributeType.text:
        return raw
    text = pl.col("v").str.strip_chars()
    if kind == AttributeType.number:
        number = text.str.replace_all(r"^\+", "").cast(pl.Float64, strict=False)
        expr = pl.when(number.is_finite()).then(number)
    else:
        low = text.str.to_lowercase()
        expr = pl.when(low.is_in(_TRUE)).then(True).when(low.is_in(_FALSE)).then(False).otherwise(None)
    return raw.to_frame("v").select(expr).to_series()


def typed_attributes(cases: pl.DataFrame | None, case_ids: pl.Series,
                     declared: dict[str, AttributeType]) -> tuple[pl.DataFrame, list[AttributeMatch]]:
    """One row per case of `case_ids`: the declared attributes converted to their types (number: Float64, text,
    boolean: true/false/yes/no/1/0, date: ISO 8601, a time without offset in UTC as in the live check) and, for
    each, `<name>#state`: 0 has a value, 1 missing, 2 cannot be read as its type."""
    base = pl.DataFrame({"case_id": case_ids.unique(maintain_order=True)})
    if cases is not None:
        base = base.join(cases, on="case_id", how="left")
    found = match_attributes(declared, [c for c in base.columns if c != "case_id"])
    columns: list[pl.Series] = [base["case_id"]]
    matches: list[AttributeMatch] = []
    for name, kind in declared.items():
        column = found[name]
        if column is None:
            raw = pl.Series(name, [None] * base.height, pl.String)
        else:
            raw = base[column].cast(pl.String)
            raw = raw.set(raw.str.strip_chars() == "", None)  # type: ignore[arg-type]
        value = _typed(raw, kind).cast(_POLARS_TYPES[kind]).alias(name)
        state = (pl.select(pl.when(pl.lit(raw).is_null()).then(1).when(pl.lit(value).is_null()).then(2)
                           .otherwise(0).cast(pl.Int8).alias(name + "#state")).to_series())
        columns += [value, state]
        matches.append(AttributeMatch(name, kind, column, int(raw.is_not_null().sum()),
                                      int((state == 2).sum())))
    return pl.DataFrame(columns), matches


def _condition(frame: pl.DataFrame, text: str, program: Any, names: frozenset[str],
               types: dict[str, AttributeType]) -> pl.Series:
    """The condition per row of `frame` (true / false / null on an error), for rows whose attributes are all
    present (others: anything)."""
    expr = conditions.to_polars(text, types)
    if expr is not None:
        return frame.select(expr.alias("c")).to_series().cast(pl.Boolean)
    wanted = sorted(names)
    if not wanted:
        return pl.repeat(_execute(program, {}), frame.height, dtype=pl.Boolean, eager=True)
    distinct = frame.select(wanted).unique()
    results = [_execute(program, row) for row in distinct.iter_rows(named=True)]
    distinct = distinct.with_columns(pl.Series("c", results, pl.Boolean))
    return frame.select(wanted).join(distinct, on=wanted, how="left", nulls_equal=True,
                                     maintain_order="left")["c"]


def _execute(program: Any, values: dict[str, Any]) -> bool | None:
    if any(v is None for v in values.values()):
        return None
    values = {k: (v.replace(tzinfo=UTC) if isinstance(v, datetime) and v.tzinfo is None else v)
              for k, v in values.items()}
    try:
        return bool(program.execute(values))
    except (RuntimeError, ValueError, TypeError, ArithmeticError):  # cel-rust's errors (overflow: OverflowError)
        return None


def _state(names: frozenset[str]) -> pl.Expr:
    """Why a case cannot be evaluated for attributes `names`: missing before invalid; null when it can."""
    if not names:
        return pl.lit(None, pl.String)
    states = [pl.col(n + "#state") for n in sorted(names)]
    return (pl.when(pl.any_horizontal(s == 1 for s in states)).then(pl.lit("missing_attribute"))
            .when(pl.any_horizontal(s == 2 for s in states)).then(pl.lit("invalid_attribute")))


def _requirement_aggs(n: int, req: Requirement, has_roles: bool) -> list[pl.Expr]:
    """Per case, over its events in time order (`row`: a global position that orders the case's events)."""
    activity = pl.col("activity") == req.activity
    done = activity & (pl.col("role") == req.role) if req.role is not None and has_roles else activity
    aggs = [pl.col("row").filter(activity).min().alias(f"any{n}"),
            pl.col("row").filter(done).min().alias(f"ok{n}"),
            pl.col("timestamp").filter(done).first().alias(f"at{n}")]
    if req.before is not None:
        aggs.append(pl.col("row").filter(pl.col("activity") == req.before).min().alias(f"before{n}"))
    if req.within_minutes is not None:
        start = (pl.col("timestamp").filter(pl.col("activity") == req.after).first() if req.after is not None
                 else pl.col("timestamp").first())
        aggs.append(start.alias(f"start{n}"))
    return aggs


def _requirement_status(n: int, req: Requirement, has_roles: bool) -> tuple[pl.Expr, pl.Expr]:
    """(status, reason) of a case in scope, from its `_requirement_aggs`; the order of `rules.met`."""
    missing_role = req.role is not None and not has_roles
    first = pl.col(f"ok{n}")
    cases: list[tuple[pl.Expr, str, str]] = [
        (pl.col(f"any{n}").is_null(), VIOLATING, "missing_activity"),
    ]
    if missing_role:
        cases.append((pl.lit(True), NOT_EVALUABLE, "roles_missing"))
    cases.append((first.is_null(), VIOLATING, "wrong_role"))
    if req.before is not None:
        cases.append((pl.col(f"before{n}").is_not_null() & (pl.col(f"before{n}") < first), VIOLATING,
                      "wrong_order"))
    if req.within_minutes is not None:
        limit = pl.duration(minutes=req.within_minutes)
        cases.append((pl.col(f"start{n}").is_null(), VIOLATING, "missing_activity"))
        cases.append(((pl.col(f"at{n}") - pl.col(f"start{n}")) > limit, VIOLATING, "too_late"))
    status, reason = pl.when(pl.lit(False)).then(pl.lit(None, pl.String)), pl.when(pl.lit(False)).then(
        pl.lit(None, pl.String))
    for test, s, r in cases:
        status, reason = status.when(test).then(pl.lit(s)), reason.when(test).then(pl.lit(r))
    return status.otherwise(pl.lit(COMPLIANT)), reason.otherwise(pl.lit(None, pl.String))


@dataclass(frozen=True)
class Outcome:
    """Per case and control point (`point`: its number in the version), the status and reason, and the ISO
    week (Monday, business time zone) of the case's completion (its last event)."""

    results: pl.DataFrame
    points: list[tuple[int, ControlPoint]]  # the control points with a rule, by number
    attributes: list[AttributeMatch]
    cases: int
    roles: bool  # the log records the resources' roles


def evaluate(events: pl.DataFrame, cases: pl.DataFrame | None, rules: Compiled, tz: str) -> Outcome:
    """Every rule of `rules` over every case of `events` (a normalised log, see `readers`) with the cases'
    attributes `cases` (None: the log has none)."""
    points = [(n, cp, cond) for n, (cp, cond) in enumerate(rules.points, start=1)
              if cp.rule is not None and cond is not None]
    ordered = events.sort(["case_id", "timestamp", "idx"]).with_row_index("row")
    has_roles = "role" in ordered.columns and ordered["role"].is_not_null().any()
    if "role" not in ordered.columns:
        ordered = ordered.with_columns(pl.lit(None, pl.String).alias("role"))
    aggs: list[pl.Expr] = [pl.col("timestamp").last().alias("last")]
    for n, cp, _ in points:
        aggs += _requirement_aggs(n, cp.rule.requirement, has_roles)  # type: ignore[union-attr]
    per_case = ordered.group_by("case_id", maintain_order=True).agg(aggs)
    typed, matches = typed_attributes(cases, per_case["case_id"], rules.types)
    frame = per_case.join(typed, on="case_id", how="left", maintain_order="left").with_columns(
        week=week_start(pl.col("last"), tz))
    parts = []
    for n, cp, cond in points:
        req = cp.rule.requirement  # type: ignore[union-attr]
        applies = _condition(frame, cp.rule.condition, cond.program, cond.names, rules.types)  # type: ignore[union-attr]
        special = pl.repeat(False, frame.height, dtype=pl.Boolean, eager=True)
        for read, exc in rules.exceptions.get(cp.id, []) if cp.id is not None else []:
            evaluable = frame.select(_state(exc.names).is_null()).to_series() if exc.names else ~special
            holds = _condition(frame, read.condition, exc.program, exc.names, rules.types)
            special = special | (evaluable & holds.fill_null(False))
        status, reason = _requirement_status(n, req, has_roles)
        unevaluable = _state(cond.names)
        part = frame.with_columns(applies=applies, special=special).select(
            "case_id", pl.lit(n, pl.Int32).alias("point"),
            pl.when(unevaluable.is_not_null()).then(pl.lit(NOT_EVALUABLE))
            .when(pl.col("applies").is_null()).then(pl.lit(NOT_EVALUABLE))
            .when(~pl.col("applies")).then(pl.lit(OUT_OF_SCOPE))
            .when(pl.col("special")).then(pl.lit(SPECIAL))
            .otherwise(status).alias("status"),
            pl.when(unevaluable.is_not_null()).then(unevaluable)
            .when(pl.col("applies").is_null()).then(pl.lit("error"))
            .when(~pl.col("applies") | pl.col("special")).then(pl.lit(None, pl.String))
            .otherwise(reason).alias("reason"),
            "week",
        )
        parts.append(part)
    results = pl.concat(parts) if parts else pl.DataFrame(schema=RESULT_SCHEMA)
    return Outcome(results.cast(RESULT_SCHEMA), [(n, cp) for n, cp, _ in points], matches, per_case.height,
                   bool(has_roles))
