"""The control points' rules: CEL conditions over a case's typed attributes, checked when they are written and
evaluated when a system asks about a case.

Two maintained CEL libraries, each for what it does well: `cel` (common-expression-language, the cel-rust
engine) compiles and evaluates (a few microseconds a condition); `celpy` (cel-python) parses into a syntax
tree with positions. Neither checks types against declared variables from Python (cel-rust's bindings expose
no tree and no checker, cel-python has no checker), so `_Checker` walks cel-python's tree with the version's
declared attribute types: it knows the operators and the few functions a rule needs, and refuses the rest
with the position, so what passes here is what cel-rust runs without a type error. Number attributes are
CEL doubles (cel-rust does not mix int and double in arithmetic: `amount * 2.0`, not `amount * 2`), dates are
timestamps (`order_date < timestamp("2026-07-01T00:00:00Z")`).
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import cel
import lark
from celpy.celparser import CELParseError, CELParser

from app.core.errors import RuleViolation, field_error
from app.core.labels import N_, NC_
from app.sops.schemas import (
    ActivityDone,
    AttributeType,
    CheckResult,
    ControlPoint,
    ControlPointCheck,
    Requirement,
    SopContent,
    SpecialCaseRead,
)

NUMBER, INT, UINT, TEXT, BOOL, DATE, NULL = "number", "int", "uint", "text", "boolean", "date", "null"
NUMERIC = frozenset({NUMBER, INT, UINT})
ORDERED = NUMERIC | {TEXT, DATE}
ATTRIBUTE_TYPES = {AttributeType.number: NUMBER, AttributeType.text: TEXT, AttributeType.boolean: BOOL,
                   AttributeType.date: DATE}
LITERALS = {"INT_LIT": INT, "UINT_LIT": UINT, "FLOAT_LIT": NUMBER, "STRING_LIT": TEXT, "MLSTRING_LIT": TEXT,
            "BOOL_LIT": BOOL, "NULL_LIT": NULL}
# Functions and methods a rule may call: argument types -> result.
FUNCTIONS: dict[str, dict[tuple[str, ...], str]] = {
    "size": {(TEXT,): INT}, "timestamp": {(TEXT,): DATE}, "string": {(t,): TEXT for t in (NUMBER, INT, TEXT, BOOL)},
    "double": {(t,): NUMBER for t in (NUMBER, INT, TEXT)}, "int": {(t,): INT for t in (NUMBER, INT, TEXT, DATE)},
}
METHODS: dict[str, dict[tuple[str, ...], str]] = {
    **{m: {(TEXT, TEXT): BOOL} for m in ("startsWith", "endsWith", "contains", "matches")},
    "size": {(TEXT,): INT},
    **{m: {(DATE,): INT} for m in ("getFullYear", "getMonth", "getDayOfMonth", "getDayOfWeek", "getHours")},
}
# The tree's one-child wrappers (`expr` over `conditionalor` over ... over `primary`).
WRAPPERS = frozenset({"expr", "conditionalor", "conditionaland", "relation", "addition", "multiplication", "unary",
                      "member", "primary"})
OPERATORS = {"relation_lt": "<", "relation_le": "<=", "relation_gt": ">", "relation_ge": ">=", "relation_eq": "==",
             "relation_ne": "!=", "relation_in": "in", "addition_add": "+", "addition_sub": "-",
             "multiplication_mul": "*", "multiplication_div": "/", "multiplication_mod": "%"}
PARSER = CELParser()


# Why a condition cannot be used: one msgid each, with named placeholders. `{type}`, `{left}`, `{right}` and
# `{element}` are types (TYPE_NAMES), `{args}` a list of types, `{declared}` a list of attribute names; the
# others are shown as they are (an operator, a function's or attribute's name, a token, cel-rust's words).
MESSAGES = {
    "not_allowed": N_("This is not allowed in a rule: use attributes, literals, comparisons, && || !, arithmetic "
                      "and size, timestamp, string, double, int, startsWith, endsWith, contains, matches."),
    "not_boolean": N_("Expected true or false here, found {type}."),
    "branch_types": N_("Both branches of ?: must have one type: {left} and {right}."),
    "in_not_list": N_('`in` looks in a list, e.g. ["a", "b"]; found {type}.'),
    "in_element": N_("The list holds {element}, compared with {type}."),
    "compare_types": N_("`{op}` compares values of one type: {left} and {right}."),
    "compare_ordered": N_("`{op}` compares numbers, texts or dates, not {type}."),
    "arithmetic_types": N_("`{op}` does not apply to {left} and {right}."),
    "int_beside_number": N_("Number attributes are decimals: write 2.0, not 2, beside them."),
    "join_types": N_("`{op}` joins values of one type: {left} and {right}."),
    "modulo_number": N_("`%` applies to whole numbers only."),
    "negate_type": N_("`-` negates a number, not {type}."),
    "unknown_function": N_("{name}() is not a function rules may use."),
    "function_args": N_("{name}() does not take {args}."),
    "unknown_attribute": N_("Unknown attribute '{name}': declare it in the version's attributes (declared: "
                            "{declared})."),
    "list_types": N_("A list holds values of one type."),
    "empty_list": N_("An empty list is never useful here."),
    "bytes": N_("Bytes are not used in rules."),
    "unexpected": N_("The expression does not parse: `{token}` is unexpected here."),
    "ends_early": N_("The expression does not parse: it ends too early."),
    "not_condition": N_("A condition is true or false; this one is {type}."),
    "cel": N_("The expression does not parse: {detail}"),
}
# The types as messages name them; another (`null`, `list<int>`) is shown as it is.
TYPE_NAMES = {INT: N_("a whole number"), UINT: N_("a whole number"), NUMBER: N_("a number"), TEXT: N_("a text"),
              BOOL: N_("true or false"), DATE: N_("a date")}
TYPE_PARAMS = frozenset({"type", "left", "right", "element"})
LIST_SEPARATOR = NC_("list separator", ", ")
NO_ARGUMENTS = N_("nothing")
NO_ATTRIBUTES = N_("none yet")
# A case's attribute of the wrong type (`case_values`); `{kind}` is the attribute's declared type as the API
# names it (number, text, boolean, date), `{value}` the value sent.
WRONG_VALUE = N_("Attribute '{name}' is {kind}: {value} is not.")
EXPECTED_KIND = N_("Expected {kind}.")


def words(reason: str, params: dict[str, Any], gettext: Callable[[str], str] = str) -> str:
    """The message `reason` (a key of MESSAGES) with its `params`, in the language of `gettext` (English
    without one): the types named in that language too."""

    def named(t: str) -> str:
        msgid = TYPE_NAMES.get(t)
        return gettext(msgid) if msgid else t

    values: dict[str, Any] = {}
    for key, value in params.items():
        if key in TYPE_PARAMS:
            values[key] = named(value)
        elif key == "args":
            values[key] = gettext(LIST_SEPARATOR).join(map(named, value)) or gettext(NO_ARGUMENTS)
        elif key == "declared":
            values[key] = ", ".join(value) or gettext(NO_ATTRIBUTES)
        else:
            values[key] = value
    return gettext(MESSAGES[reason]).format(**values)


class RuleError(Exception):
    """A condition that cannot be used: why (`reason`, a key of MESSAGES, with its `params`; `message` says it
    in English), and where in it (line and column from 1, offset from 0)."""

    def __init__(self, reason: str, params: dict[str, Any] | None = None, line: int = 1, column: int = 1,
                 offset: int = 0) -> None:
        self.reason, self.params = reason, params or {}
        self.message = words(reason, self.params)
        super().__init__(self.message)
        self.line, self.column, self.offset = line, column, offset


def _at(node: lark.Tree | lark.Token, reason: str, **params: Any) -> RuleError:
    if isinstance(node, lark.Token):
        return RuleError(reason, params, node.line or 1, node.column or 1, node.start_pos or 0)
    meta = node.meta
    return RuleError(reason, params, getattr(meta, "line", 1), getattr(meta, "column", 1),
                     getattr(meta, "start_pos", 0))


class _Checker:
    """The type of each node of cel-python's tree, from the declared attribute types (see the module's text)."""

    def __init__(self, types: dict[str, str]) -> None:
        self.types = types

    def type(self, node: lark.Tree) -> str:
        kids = node.children
        if node.data in WRAPPERS and len(kids) == 1:
            return self.type(kids[0])
        method = getattr(self, "_" + str(node.data), None)
        if method is None:
            raise _at(node, "not_allowed")
        return method(node, kids)

    def _bool(self, node: lark.Tree) -> None:
        t = self.type(node)
        if t != BOOL:
            raise _at(node, "not_boolean", type=t)

    def _expr(self, node: lark.Tree, kids: list) -> str:  # cond ? a : b
        self._bool(kids[0])
        a, b = self.type(kids[1]), self.type(kids[2])
        if a != b and not {a, b} <= NUMERIC:
            raise _at(kids[2], "branch_types", left=a, right=b)
        return a

    def _conditionalor(self, node: lark.Tree, kids: list) -> str:
        self._bool(kids[0])
        self._bool(kids[1])
        return BOOL

    _conditionaland = _conditionalor

    def _operands(self, kids: list) -> tuple[str, lark.Tree, str, str]:
        """A binary node: (operator, right operand, left type, right type); the tree keeps the left operand
        inside the operator's node."""
        op_node, right = kids
        return OPERATORS[op_node.data], right, self.type(op_node.children[0]), self.type(right)

    def _relation(self, node: lark.Tree, kids: list) -> str:
        op, right, a, b = self._operands(kids)
        if op == "in":
            if not b.startswith("list<"):
                raise _at(right, "in_not_list", type=b)
            element = b[5:-1]
            if element != a and not {a, element} <= NUMERIC:
                raise _at(right, "in_element", element=element, type=a)
        elif a != b and not {a, b} <= NUMERIC:
            raise _at(right, "compare_types", op=op, left=a, right=b)
        elif op not in ("==", "!=") and a not in ORDERED:
            raise _at(right, "compare_ordered", op=op, type=a)
        return BOOL

    def _arithmetic(self, kids: list, allowed: frozenset[str]) -> str:
        op, right, a, b = self._operands(kids)
        if a not in allowed or b not in allowed:
            raise _at(right, "arithmetic_types", op=op, left=a, right=b)
        if a != b:
            if {a, b} <= NUMERIC:
                raise _at(right, "int_beside_number")
            raise _at(right, "join_types", op=op, left=a, right=b)
        if op == "%" and a == NUMBER:
            raise _at(right, "modulo_number")
        return a

    def _addition(self, node: lark.Tree, kids: list) -> str:
        return self._arithmetic(kids, NUMERIC | {TEXT} if kids[0].data == "addition_add" else NUMERIC)

    def _multiplication(self, node: lark.Tree, kids: list) -> str:
        return self._arithmetic(kids, NUMERIC)

    def _unary(self, node: lark.Tree, kids: list) -> str:
        if kids[0].data == "unary_not":
            self._bool(kids[1])
            return BOOL
        t = self.type(kids[1])
        if t not in (NUMBER, INT):
            raise _at(kids[1], "negate_type", type=t)
        return t

    def _call(self, node: lark.Tree | lark.Token, name: str, table: dict, args: list[lark.Tree]) -> str:
        signatures = table.get(name)
        if signatures is None:
            raise _at(node, "unknown_function", name=name)
        types = tuple(self.type(a) for a in args)
        if types not in signatures:
            raise _at(node, "function_args", name=name, args=list(types))
        return signatures[types]

    @staticmethod
    def _args(kids: list) -> list[lark.Tree]:
        return list(kids[-1].children) if kids and isinstance(kids[-1], lark.Tree) else []

    def _member_dot_arg(self, node: lark.Tree, kids: list) -> str:  # target.method(args)
        return self._call(kids[1], str(kids[1]), METHODS, [kids[0], *self._args(kids[2:])])

    def _ident_arg(self, node: lark.Tree, kids: list) -> str:  # function(args)
        return self._call(kids[0], str(kids[0]), FUNCTIONS, self._args(kids[1:]))

    def _ident(self, node: lark.Tree, kids: list) -> str:
        name = str(kids[0])
        if name not in self.types:
            raise _at(kids[0], "unknown_attribute", name=name, declared=sorted(self.types))
        return self.types[name]

    def _paren_expr(self, node: lark.Tree, kids: list) -> str:
        return self.type(kids[0])

    def _list_lit(self, node: lark.Tree, kids: list) -> str:
        items = self._args(kids)
        types = {self.type(i) for i in items}
        if len(types) != 1:
            raise _at(node, "list_types" if types else "empty_list")
        return f"list<{types.pop()}>"

    def _literal(self, node: lark.Tree, kids: list) -> str:
        token = kids[0]
        if token.type not in LITERALS:
            raise _at(token, "bytes")
        return LITERALS[token.type]


# ---------------------------------------------------------------- compiling

def _syntax(exc: CELParseError, text: str, offset: int) -> tuple[str, dict[str, Any]]:
    """Why the text does not parse: a reason of MESSAGES and its params."""
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, lark.UnexpectedToken) and cause.token.type != "$END":
        return "unexpected", {"token": str(cause.token)}
    if offset >= len(text.rstrip()) or isinstance(cause, lark.UnexpectedEOF | lark.UnexpectedToken):
        return "ends_early", {}
    return "unexpected", {"token": text[offset]}


def compile_condition(text: str, types: dict[str, AttributeType]) -> cel.Program:
    """A condition checked (syntax, attributes, types, true or false) and compiled; `RuleError` says where not."""
    try:
        tree = PARSER.parse(text)
    except CELParseError as exc:
        line, column = exc.line or 1, exc.column or 1
        offset = sum(len(row) + 1 for row in text.split("\n")[:line - 1]) + column - 1
        raise RuleError(*_syntax(exc, text, offset), line, column, offset) from None
    result = _Checker({n: ATTRIBUTE_TYPES[t] for n, t in types.items()}).type(tree)
    if result != BOOL:
        raise _at(tree, "not_condition", type=result)
    try:
        return cel.compile(text)
    except ValueError as exc:  # the two parsers disagree: say cel-rust's own words
        raise RuleError("cel", {"detail": str(exc)}) from None


def _violation(field: str, what: str, exc: RuleError) -> RuleViolation:
    """The 422 of a condition that cannot be used: in English, and in its error the reason and params that say it
    in the reader's language (`words`; the editor page does)."""
    message = f"{exc.message} (line {exc.line}, column {exc.column})"
    error = {**field_error(field, message, "invalid_rule"), "line": exc.line, "column": exc.column,
             "offset": exc.offset, "reason": exc.reason, "params": exc.params}
    return RuleViolation(f"{what}: the condition at line {exc.line}, column {exc.column}: {exc.message}",
                         errors=[error])


def _types(content: SopContent) -> dict[str, AttributeType]:
    return {a.name: a.type for a in content.attributes}


def validate(content: SopContent) -> None:
    """Every rule of the version compiles against its attributes, and every exception names one of its control
    points; a 422 names the first that does not (field, line, column, offset)."""
    types = _types(content)
    for i, cp in enumerate(content.control_points):
        if cp.rule is not None:
            try:
                compile_condition(cp.rule.condition, types)
            except RuleError as exc:
                raise _violation(f"control_points.{i}.rule.condition",
                                 f"Control point {i + 1} ({cp.description[:60]})", exc) from None
    ids = {cp.id for cp in content.control_points}
    for j, c in enumerate(content.contingencies):
        if c.control_point_id is None:
            continue
        if c.control_point_id not in ids:
            raise RuleViolation(f"Special case {j + 1} is an exception of a control point the SOP does not have.",
                                errors=[field_error(f"contingencies.{j}.control_point_id", "Choose a control point "
                                                    "of this SOP.", "unknown_control_point")])
        try:
            compile_condition(c.condition or "", types)
        except RuleError as exc:
            raise _violation(f"contingencies.{j}.condition", f"Special case {j + 1} ({c.situation[:60]})",
                             exc) from None


@dataclass(frozen=True)
class _Condition:
    program: cel.Program
    names: frozenset[str]  # the attributes it reads


@dataclass(frozen=True)
class Compiled:
    """A version's rules, compiled once: the attribute types, each control point with its condition, and the
    special cases that are exceptions of each."""

    types: dict[str, AttributeType]
    points: list[tuple[ControlPoint, _Condition | None]]
    exceptions: dict[UUID, list[tuple[SpecialCaseRead, _Condition]]]


def _condition(text: str, types: dict[str, AttributeType]) -> _Condition:
    program = compile_condition(text, types)
    return _Condition(program, frozenset(program.variables()))


def compile_content(content: SopContent) -> Compiled:
    types = _types(content)
    exceptions: dict[UUID, list[tuple[SpecialCaseRead, _Condition]]] = {}
    for j, c in enumerate(content.contingencies):
        if c.control_point_id is not None:  # a special case (the schema's rule)
            read = SpecialCaseRead(index=j + 1, situation=c.situation, instead=c.instead, approver=c.approver,
                                   backfill_hours=c.backfill_hours, condition=c.condition or "")
            exceptions.setdefault(c.control_point_id, []).append((read, _condition(c.condition or "", types)))
    points = [(cp, _condition(cp.rule.condition, types) if cp.rule else None) for cp in content.control_points]
    return Compiled(types, points, exceptions)


CACHE_SIZE = 256
_cache: dict[str, Compiled] = {}
_cache_lock = threading.Lock()


def compiled(key: str, content: Callable[[], SopContent]) -> Compiled:
    """The rules of the content whose hash is `key`, compiled on first use (`content` is only called then):
    a live check does not parse again."""
    found = _cache.get(key)
    if found is not None:
        return found
    with _cache_lock:
        if key not in _cache:
            if len(_cache) >= CACHE_SIZE:
                _cache.pop(next(iter(_cache)))
            _cache[key] = compile_content(content())
        return _cache[key]


# ---------------------------------------------------------------- checking a case

def case_values(types: dict[str, AttributeType], attributes: dict[str, Any]) -> dict[str, Any]:
    """The case's declared attributes as CEL values (others are ignored); a value of the wrong type is a 422
    naming `attributes.<name>`."""
    values: dict[str, Any] = {}
    for name, value in attributes.items():
        kind = types.get(name)
        if kind is None or value is None:
            continue
        converted = _convert(kind, value)
        if converted is None:
            raise RuleViolation(WRONG_VALUE, params={"name": name, "kind": kind.value, "value": repr(value)},
                                errors=[field_error(f"attributes.{name}", EXPECTED_KIND.format(kind=kind.value),
                                                    "attribute_type")])
        values[name] = converted
    return values


def _convert(kind: AttributeType, value: Any) -> Any:
    if kind == AttributeType.boolean:
        return value if isinstance(value, bool) else None
    if kind == AttributeType.number:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        try:
            number = float(value)
        except OverflowError:
            return None
        return number if math.isfinite(number) else None
    if kind == AttributeType.text:
        return value if isinstance(value, str) else None
    if isinstance(value, str):  # date: "2026-07-01" or a timestamp
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        value = parsed if "T" in value or " " in value else parsed.date()
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    return None


def _applies(condition: _Condition, values: dict[str, Any]) -> tuple[bool | None, str]:
    missing = sorted(condition.names - values.keys())
    if missing:
        return None, "missing_attributes:" + ",".join(missing)
    try:
        result = condition.program.execute(values)
    except (RuntimeError, ValueError, TypeError, ArithmeticError) as exc:  # overflow: OverflowError
        return None, f"error:{exc}"
    return bool(result), "condition_true" if result else "condition_false"


def met(req: Requirement, done: list[ActivityDone]) -> tuple[bool | None, str]:
    """Whether the activities done so far (in the order done) meet the requirement, and why not: the activity
    missing, done by another role, after `before`, or later than `within_minutes` after `after` (the first
    activity's time when `after` is not named)."""
    occurrences = [i for i, a in enumerate(done) if a.activity == req.activity]
    by_role = [i for i in occurrences if req.role is None or done[i].role == req.role]
    if not by_role:
        return False, "wrong_role" if occurrences else "missing_activity"
    first = by_role[0]
    if req.before is not None:
        later = next((i for i, a in enumerate(done) if a.activity == req.before), None)
        if later is not None and later < first:
            return False, "wrong_order"
    if req.within_minutes is None:
        return True, "met"
    start = done[0] if req.after is None else next((a for a in done if a.activity == req.after), None)
    if start is None:
        return False, "missing_activity"
    if start.at is None or done[first].at is None:
        return None, "times_missing"
    late = done[first].at - start.at > timedelta(minutes=req.within_minutes)
    return (False, "too_late") if late else (True, "met")


def check_case(content: SopContent, attributes: dict[str, Any], done: list[ActivityDone] | None) -> CheckResult:
    """`check` with the content's rules, compiled once per content (by its hash)."""
    key = hashlib.sha256(content.model_dump_json().encode()).hexdigest()
    return check(compiled(key, lambda: content), attributes, done)


def check(rules: Compiled, attributes: dict[str, Any], done: list[ActivityDone] | None) -> CheckResult:
    """For each control point: whether its condition holds for the case's attributes (none when an attribute it
    reads is missing), what it requires, the special case that applies instead (the first whose condition
    holds), and, when activities are given, whether they meet the requirement. `reason` says which."""
    values = case_values(rules.types, attributes)
    out = []
    for cp, condition in rules.points:
        if condition is None or cp.rule is None:
            out.append(ControlPointCheck(id=cp.id, description=cp.description, applies=None, reason="no_rule"))
            continue
        applies, reason = _applies(condition, values)
        special = next((read for read, cond in rules.exceptions.get(cp.id, []) if _applies(cond, values)[0]),
                       None) if applies else None
        result = None
        if special is not None:
            reason = "special_case"
        elif applies and done is not None:
            result, reason = met(cp.rule.requirement, done)
        out.append(ControlPointCheck(id=cp.id, description=cp.description, applies=applies, reason=reason,
                                     requirement=cp.rule.requirement, special_case=special, met=result))
    return CheckResult(control_points=out)
