"""Rules' conditions as polars expressions: every rule over every case of an event log at once.

A control point's condition is CEL over a case's typed attributes (`app.sops.rules`). cel-rust evaluates one
case a call, which is too slow for an event log (100k cases x 20 rules), so `to_polars` translates the checked
cel-python tree into one vectorised polars expression over the attribute columns, with cel-rust's semantics
for every row whose attributes are all present: true, false, or null where cel-rust raises an error.
`tests/mining/test_conditions.py` holds it to that: a differential test against cel-rust, row by row, over
edge values. What the translation does not cover gives None, and the caller evaluates with cel per distinct
value tuple.

cel-rust's semantics, as the differential test pins them (some differ from the CEL specification):
`size` counts UTF-8 bytes, not code points; texts compare byte-wise (that is, by code point); int
arithmetic raises on overflow except negation, which wraps; `/` and `%` on ints truncate toward zero and
raise on a zero divisor and on MIN / -1 and MIN % -1; an int beside a double is compared as a double;
`==` with NaN is false and `<` `<=` `>` `>=` raise; `x in [...]` raises when an element does; `matches` is
the Rust `regex` crate's unanchored search (polars uses the same crate); the date methods read UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import Any

import cel
import lark
import polars as pl

from app.sops.rules import (
    ATTRIBUTE_TYPES,
    BOOL,
    DATE,
    INT,
    LITERALS,
    NULL,
    NUMBER,
    OPERATORS,
    PARSER,
    TEXT,
    UINT,
    WRAPPERS,
    _Checker,
    compile_condition,
)
from app.sops.schemas import AttributeType

DATETIME = pl.Datetime("us", "UTC")
DTYPES = {NUMBER: pl.Float64, INT: pl.Int64, UINT: pl.UInt64, TEXT: pl.String, BOOL: pl.Boolean, DATE: DATETIME}
# Whole-number arithmetic runs one size up and is then checked against the range of the CEL type.
WIDE = {INT: (pl.Int128, -(2**63), 2**63 - 1), UINT: (pl.UInt128, 0, 2**64 - 1)}
# What `==`, `!=` and the orderings give when an operand is NaN (None: cel-rust raises).
WITH_NAN = {"==": False, "!=": True}
DATE_METHODS = {
    "getFullYear": lambda e: e.dt.year(), "getMonth": lambda e: e.dt.month() - 1,
    "getDayOfMonth": lambda e: e.dt.day() - 1, "getDayOfWeek": lambda e: e.dt.weekday() % 7,  # Sunday is 0
    "getHours": lambda e: e.dt.hour(),
}
TEXT_METHODS = {
    "startsWith": lambda e, a: e.str.starts_with(a), "endsWith": lambda e, a: e.str.ends_with(a),
    "contains": lambda e, a: e.str.contains(a, literal=True),
}
CEL_ERRORS = (RuntimeError, ValueError, TypeError, ArithmeticError)
_args = _Checker._args  # a call's argument nodes


class _Untranslated(Exception):
    """The condition uses something the translation does not cover."""


_ABSENT = object()


@dataclass(frozen=True)
class _Value:
    """A translated node: its polars expression and CEL type; `nan` when a double may be NaN (it is computed),
    `literal` the Python value of a literal."""

    expr: pl.Expr
    type: str
    nan: bool = False
    literal: Any = _ABSENT


def to_polars(text: str, types: dict[str, AttributeType]) -> pl.Expr | None:
    """The condition as a polars expression over columns named by the attributes (number: Float64,
    text: String, boolean: Boolean, date: Datetime("us", "UTC")), or None when it uses something the
    translation does not cover (the caller then evaluates with cel per distinct value tuple).

    The expression is Boolean: null where cel-rust raises an error, and anything on a row where an attribute
    the condition reads is null. A condition that reads no attribute gives a literal (one value, broadcast
    by `with_columns` or beside other columns). `RuleError` when the condition does not compile."""
    compile_condition(text, types)
    translator = _Translator({name: ATTRIBUTE_TYPES[kind] for name, kind in types.items()})
    try:
        value = translator.value(PARSER.parse(text))
    except _Untranslated:
        return None
    return value.expr


def _unwrap(node: lark.Tree) -> lark.Tree:
    """The node below the one-child wrappers and parentheses."""
    while (node.data in WRAPPERS and len(node.children) == 1) or node.data == "paren_expr":
        node = node.children[0]
    return node


def _null(kind: str) -> pl.Expr:
    return pl.lit(None, dtype=DTYPES[kind])


class _Translator:
    """Walks cel-python's tree as `rules._Checker` does (which has checked it), node by node into polars."""

    def __init__(self, types: dict[str, str]) -> None:
        self.types = types

    def value(self, node: lark.Tree) -> _Value:
        kids = node.children
        if node.data in WRAPPERS and len(kids) == 1:
            return self.value(kids[0])
        method = getattr(self, "_" + str(node.data), None)
        if method is None:
            raise _Untranslated(node.data)
        return method(node, kids)

    def _expr(self, node: lark.Tree, kids: list) -> _Value:  # cond ? a : b
        cond, a, b = (self.value(k) for k in kids)
        if a.type != b.type:  # an int and a double: which one is known only at run time
            raise _Untranslated("?: with an int and a double")
        # No `otherwise`: an error in the condition is an error of the whole (polars would take the else).
        return _Value(pl.when(cond.expr).then(a.expr).when(~cond.expr).then(b.expr), a.type, a.nan or b.nan)

    def _conditionalor(self, node: lark.Tree, kids: list) -> _Value:
        # Polars' Kleene logic is CEL's: `true || error` is true, `false || error` an error.
        return _Value(self.value(kids[0]).expr | self.value(kids[1]).expr, BOOL)

    def _conditionaland(self, node: lark.Tree, kids: list) -> _Value:
        return _Value(self.value(kids[0]).expr & self.value(kids[1]).expr, BOOL)

    def _relation(self, node: lark.Tree, kids: list) -> _Value:
        op_node, right = kids
        op, left = OPERATORS[op_node.data], self.value(op_node.children[0])
        if op == "in":
            return self._in(left, _unwrap(right))
        return _compare(op, left, self.value(right))

    def _in(self, left: _Value, right: lark.Tree) -> _Value:
        if right.data != "list_lit" or left.type not in DTYPES:
            raise _Untranslated("in")
        items = [self.value(i) for i in _args(right.children)]
        literal = all(i.literal is not _ABSENT for i in items)
        if literal and left.type in (TEXT, INT, BOOL, DATE) and all(i.type == left.type for i in items):
            values = pl.Series([i.literal for i in items], dtype=DTYPES[left.type])
            return _Value(left.expr.is_in(values.implode()), BOOL)
        found = pl.any_horizontal([_compare("==", left, i).expr for i in items])
        if literal:
            return _Value(found, BOOL)
        # A list whose element raises raises, even when another element is found.
        return _Value(pl.when(~pl.any_horizontal([i.expr.is_null() for i in items])).then(found), BOOL)

    def _arithmetic(self, kids: list) -> _Value:
        op_node, right = kids
        op, a, b = OPERATORS[op_node.data], self.value(op_node.children[0]), self.value(right)
        if a.type == TEXT:  # the checker allows + only
            return _Value(pl.concat_str([a.expr, b.expr]), TEXT)
        if a.type == NUMBER:  # IEEE 754, as cel-rust: x / 0.0 is ±inf or NaN
            expr = {"+": a.expr + b.expr, "-": a.expr - b.expr, "*": a.expr * b.expr, "/": a.expr / b.expr}[op]
            return _Value(expr, NUMBER, nan=True)
        if a.type in WIDE:
            return _Value(_whole(op, a.expr, b.expr, a.type), a.type)
        raise _Untranslated(op)

    def _addition(self, node: lark.Tree, kids: list) -> _Value:
        return self._arithmetic(kids)

    def _multiplication(self, node: lark.Tree, kids: list) -> _Value:
        return self._arithmetic(kids)

    def _unary(self, node: lark.Tree, kids: list) -> _Value:
        if kids[0].data == "unary_not":
            return _Value(~self.value(kids[1]).expr, BOOL)
        target = _unwrap(kids[1])
        token = target.children[0] if target.data == "literal" else None
        if token is not None and token.type == "INT_LIT" and not token.startswith("-"):  # - 9223372036854775808
            return self._literal(target, [f"-{token}"], INT)
        value = self.value(kids[1])
        if value.type not in (NUMBER, INT):
            raise _Untranslated("-")
        return _Value(-value.expr, value.type, value.nan)  # cel-rust's int negation wraps, as polars' does

    def _member_dot_arg(self, node: lark.Tree, kids: list) -> _Value:  # target.method(args)
        name, target = str(kids[1]), self.value(kids[0])
        args = [self.value(a) for a in _args(kids[2:])]
        if name == "size" and not args:
            return _size(target)
        if name in DATE_METHODS and not args and target.type == DATE:
            return _Value(DATE_METHODS[name](target.expr).cast(pl.Int64), INT)
        if name in TEXT_METHODS and len(args) == 1:
            return _Value(TEXT_METHODS[name](target.expr, args[0].expr), BOOL)
        if name == "matches" and len(args) == 1 and isinstance(args[0].literal, str):
            return _Value(_matches(target.expr, args[0].literal), BOOL)
        raise _Untranslated(name)

    def _ident_arg(self, node: lark.Tree, kids: list) -> _Value:  # function(args)
        name, args = str(kids[0]), [self.value(a) for a in _args(kids[1:])]
        if name == "size" and len(args) == 1:
            return _size(args[0])
        if name == "timestamp" and len(args) == 1 and isinstance(args[0].literal, str):
            return _timestamp(args[0].literal)
        raise _Untranslated(name)  # string(), double(), int(): conversions left to cel

    def _ident(self, node: lark.Tree, kids: list) -> _Value:
        kind = self.types[str(kids[0])]
        # A number column should hold finite values (`rules.case_values`); NaN is handled all the same.
        return _Value(pl.col(str(kids[0])), kind, nan=kind == NUMBER)

    def _paren_expr(self, node: lark.Tree, kids: list) -> _Value:
        return self.value(kids[0])

    def _literal(self, node: lark.Tree, kids: list, kind: str | None = None) -> _Value:
        token = kids[0]
        kind = kind or LITERALS[token.type]
        if kind == NULL:  # a null is compared with null only: stands here as "a value, no error"
            return _Value(pl.lit(True), NULL)
        try:  # cel-rust reads the literal (escapes, raw and triple-quoted strings, hex, exponents)
            value = cel.evaluate(str(token))
        except CEL_ERRORS as exc:
            raise _Untranslated(str(token)) from exc
        return _Value(pl.lit(value, dtype=DTYPES[kind]), kind, literal=value)


def _compare(op: str, a: _Value, b: _Value) -> _Value:
    if a.type == NULL:  # null == null (the checker allows nothing else)
        both = a.expr & b.expr
        return _Value(both if op == "==" else ~both, BOOL)
    if a.type not in DTYPES or b.type not in DTYPES:
        raise _Untranslated(op)
    x, y = a.expr, b.expr
    if NUMBER in (a.type, b.type):  # cel-rust compares an int beside a double as a double
        x, y = x.cast(pl.Float64), y.cast(pl.Float64)
    elif a.type != b.type:  # int beside uint: exactly
        x, y = x.cast(pl.Int128), y.cast(pl.Int128)
    result = {"==": x == y, "!=": x != y, "<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]
    nans = [v for v, value in ((x, a), (y, b)) if value.nan]
    if not nans:
        return _Value(result, BOOL)
    # Polars has NaN == NaN and NaN above every number; cel-rust has NaN != NaN and no order.
    nan = pl.any_horizontal([v.is_nan() for v in nans])
    if op not in WITH_NAN:
        return _Value(pl.when(~nan).then(result), BOOL)
    return _Value(pl.when(x.is_null() | y.is_null()).then(None).when(nan).then(WITH_NAN[op]).otherwise(result),
                  BOOL)


def _whole(op: str, a: pl.Expr, b: pl.Expr, kind: str) -> pl.Expr:
    """Int or uint arithmetic: null where cel-rust raises (overflow, a zero divisor)."""
    wide, low, high = WIDE[kind]
    x, y = a.cast(wide), b.cast(wide)
    if op == "+":
        result = x + y
    elif op == "-":
        result = x - y
    elif op == "*":
        result = x * y
    else:  # truncated toward zero (polars' `//` floors); MIN / -1 overflows below
        quotient = x.abs() // y.abs() if kind == INT else x // y
        if kind == INT:
            quotient = pl.when((x < 0) != (y < 0)).then(0 - quotient).otherwise(quotient)  # no neg on Int128
        quotient = pl.when(y != 0).then(quotient)
        result = quotient if op == "/" else x - y * quotient
        if op == "%" and kind == INT:  # cel-rust's checked remainder raises on MIN % -1 (which is 0)
            result = pl.when(~((x == low) & (y == -1))).then(result)
    return pl.when(result.is_between(low, high)).then(result).cast(DTYPES[kind])


def _size(value: _Value) -> _Value:
    if value.type != TEXT:
        raise _Untranslated("size")
    return _Value(value.expr.str.len_bytes().cast(pl.Int64), INT)  # cel-rust's size() counts UTF-8 bytes


def _matches(target: pl.Expr, pattern: str) -> pl.Expr:
    try:  # a pattern the regex crate refuses: cel-rust raises on each evaluation
        pl.select(pl.lit("").str.contains(pattern))
    except pl.exceptions.PolarsError:
        return _null(BOOL)
    return target.str.contains(pattern)


def _timestamp(text: str) -> _Value:
    try:
        cel.evaluate("timestamp(s) == timestamp(s)", {"s": text})
    except CEL_ERRORS:  # not RFC 3339: every evaluation raises
        return _Value(_null(DATE), DATE)
    try:
        when = cel.evaluate("timestamp(s)", {"s": text})
        exact = cel.evaluate("timestamp(s) == t", {"s": text, "t": when})
    except CEL_ERRORS as exc:  # e.g. year 0, which cel-rust takes and Python's datetime does not
        raise _Untranslated(text) from exc
    if exact is not True:  # nanoseconds or a leap second, lost in Python's datetime
        raise _Untranslated(text)
    when = when.astimezone(UTC)
    return _Value(pl.lit(when, dtype=DATETIME), DATE, literal=when)
