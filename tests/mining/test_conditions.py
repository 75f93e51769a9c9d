"""The polars translation of rules' conditions against cel-rust, row by row: for each condition and each row of
a seeded frame of edge values, `to_polars` gives what `compile_condition(...).execute(row)` gives, and null
where it raises."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from app.mining.conditions import to_polars
from app.sops.rules import RuleError, compile_condition
from app.sops.schemas import AttributeType

TYPES = {"amount": AttributeType.number, "rate": AttributeType.number, "channel": AttributeType.text,
         "note": AttributeType.text, "urgent": AttributeType.boolean, "ordered": AttributeType.date,
         "due": AttributeType.date}
NUMBERS = [0.0, -0.0, 1.0, -1.0, 2.5, -3.5, 1000.0, 12000.0, 12000.5, 1e308, -1e308, 1.7976931348623157e308,
           5e-324, 9007199254740992.0, 9007199254740994.0, 0.1, 100.0]
TEXTS = ["", "web", "shop", "Web", "WEB", "web-shop", "中文", "中", "😀", "a😀", "é", "e\u0301", "a\nb", "abc123",
         "١٢٣", "12", "ab", "b", "\uffff", "a\\d", "web\\d", "webé", "high", "mid", " "]
DATES = [datetime(2023, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC),
         datetime(2024, 2, 28, 23, 0, tzinfo=UTC), datetime(2024, 2, 29, 12, 30, tzinfo=UTC),
         datetime(2024, 2, 28, 23, 0, tzinfo=UTC) + timedelta(hours=1), datetime(2024, 3, 31, 1, 30, tzinfo=UTC),
         datetime(2024, 10, 27, 1, 30, tzinfo=UTC), datetime(1970, 1, 1, tzinfo=UTC),
         datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(2025, 1, 5, tzinfo=UTC)]  # a Sunday


def _rows(count: int = 260) -> list[dict]:
    rng = random.Random(20240229)

    def number() -> float:
        return rng.choice(NUMBERS) if rng.random() < 0.6 else round(rng.uniform(-20000, 20000), rng.randint(0, 3))

    def text() -> str:
        return rng.choice(TEXTS) if rng.random() < 0.8 else rng.choice(TEXTS) + rng.choice(TEXTS)

    def date() -> datetime:
        if rng.random() < 0.6:
            return rng.choice(DATES)
        return datetime(2020, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 7 * 365 * 86400),
                                                            microseconds=rng.randint(0, 999999))

    rows = [{"amount": number(), "rate": number(), "channel": text(), "note": text(), "urgent": rng.random() < 0.5,
             "ordered": date(), "due": date()} for _ in range(count)]
    rows[0].update(amount=0.0, rate=0.0, channel="", note="")  # 0 / 0 and empty texts on one row
    rows[1].update(amount=-0.0, rate=-0.0, ordered=DATES[0], due=DATES[0])
    return rows


ROWS = _rows()
FRAME = pl.DataFrame(ROWS, schema={"amount": pl.Float64, "rate": pl.Float64, "channel": pl.String,
                                   "note": pl.String, "urgent": pl.Boolean, "ordered": pl.Datetime("us", "UTC"),
                                   "due": pl.Datetime("us", "UTC")})

COVERED = [
    # numbers: doubles, ints beside them, IEEE division, NaN
    "amount > 1000.0",
    "amount >= 1000 && urgent",
    "amount == 0 || amount == -0.0",
    "amount > 9007199254740993",
    "amount / rate > 1.0",
    "amount / rate == amount / rate",
    "amount / rate != amount / rate",
    "(amount - amount) / rate < 0.5",
    "rate / 0.0 > 0.0 || -rate / 0.0 <= -1e308",
    "amount * 1e300 > 1e300",
    "amount * 2.0 - rate <= amount + rate * -1.5",
    "-amount < -12000.5",
    "-(-amount) == amount && amount != -amount",
    "!(amount < rate)",
    # texts: code-point order, unicode, escapes, concatenation
    'channel == "web"',
    'channel != ""',
    "channel < note",
    'channel >= "中文"',
    '"😀" > channel',
    "channel + note < note + channel",
    'note == "a\\nb" || channel == "\\U0001F600" || channel == \'\'\'中文\'\'\'',
    'channel + r"\\d" == "web\\\\d"',
    'channel + "\\u00e9" == "web\\xe9"',
    # in lists
    'channel in ["web", "shop", "中文", ""]',
    "amount in [0.0, 12000.0, -3.5]",
    "amount in [0, 1]",
    "size(channel) in [0, 3, 4]",
    'channel in [note, "web"]',
    "amount in [amount / rate, 1.0]",
    "size(channel) in [3, 4, size(note) / (size(note) - 3)]",  # an element that raises: the whole raises
    "urgent in [true]",
    'ordered in [timestamp("2024-01-01T00:00:00Z"), due]',
    # size, startsWith, endsWith, contains, matches
    "size(channel) > 3",
    "channel.size() == 4",
    "size(channel + note) >= 6 && size(channel) == size(note)",
    'channel.startsWith("we") && !channel.endsWith("b")',
    "channel.endsWith(note) || note.startsWith(channel)",
    'note.contains(channel) && channel.contains("")',
    'channel.matches("^[a-z]+$")',
    'note.matches("\\\\d")',
    'channel.matches("(?i)^WEB")',
    'note.matches(r"^\\w+\\s?\\d*$")',
    'channel.matches("^.$") || note.matches("a.b")',
    'urgent && channel.matches("(")',
    '!urgent || note.matches("[")',
    # dates (UTC)
    'ordered < timestamp("2024-01-01T00:00:00Z")',
    'ordered >= timestamp("2024-02-29T00:00:00+01:00") && ordered <= due',
    "ordered == due || ordered > due",
    "ordered.getFullYear() == 2024 && ordered.getMonth() == 0",
    "ordered.getDayOfMonth() == 28 || ordered.getDayOfMonth() == 0",
    "ordered.getDayOfWeek() == 0 || due.getDayOfWeek() == 6",
    "ordered.getHours() >= 23 || ordered.getMonth() == 11",
    'timestamp("not a date") < ordered || urgent',
    # ?: (an erroring condition is an error, not the else branch), error absorption
    "(urgent ? amount : rate) > 100.0",
    'urgent ? channel == "web" : amount > 0.0',
    '(amount > 1000.0 ? (urgent ? "high" : "mid") : "low") == "mid"',
    "(amount / rate > 1.0 ? 1 : 2) == 2",
    "urgent || size(channel) / (size(note) - size(note)) == 1",
    "!urgent && size(channel) / (size(note) - size(note)) == 1",
    # whole-number arithmetic: truncation, zero divisors, overflow, uint
    "size(channel) - size(note) * 2 < -3",
    "size(channel) / (size(note) - 3) == 1 || size(channel) / (size(note) - 3) == -1",
    "size(note) % (size(channel) - 2) == 1",
    "(size(channel) - 5) % (size(note) - 2) == -1",
    "(size(channel) - 5) / 2 == -2 || (size(channel) - 5) / -2 == 1",
    "size(channel) + 9223372036854775807 > 0",
    "size(channel) * 4611686018427387904 > 0",
    "-(size(channel) - 9223372036854775807 - 1) < 0",
    "- 9223372036854775808 < size(channel)",
    "-(-9223372036854775808) + size(channel) < 0 && -(-5) + size(channel) > 4",
    "(-9223372036854775807 - 1 + size(channel)) / -1 > 0",
    "(-9223372036854775807 - 1 + size(channel)) % -1 == 0",
    "(urgent ? 1u : 18446744073709551615u) + 1u > 1u",
    "(urgent ? 2u : 0u) - 1u == 1u",
    "size(channel) < 3u && amount > 1u",
    "(urgent ? 3u : 7u) * 2u / (urgent ? 0u : 3u) == 4u",
    # booleans, null, constants
    "urgent == (amount > 0.0)",
    "urgent != true",
    "!!urgent",
    "null == null && urgent",
    "urgent ? null == null : null != null",
    "1 < 2",
    "1 / 0 == 0 || urgent",
]

UNTRANSLATED = [
    'string(amount) == "1.0"',
    "double(channel) > 1.0",
    "int(amount) > 1",
    "channel.matches(note)",
    "timestamp(channel) < ordered",
    "(urgent ? 1 : 2.0) == 1",
    'ordered > timestamp("2024-01-01T00:00:00.000000001Z")',
    "[1, 2] == [1, 2]",
]


def _cel(text: str) -> list[bool | None]:
    program = compile_condition(text, TYPES)
    out: list[bool | None] = []
    for row in ROWS:
        try:
            result = program.execute(row)
        except Exception:  # any error cel-rust raises: null in polars
            out.append(None)
            continue
        assert isinstance(result, bool), (text, row, result)
        out.append(result)
    return out


@pytest.mark.parametrize("text", COVERED)
def test_the_translation_gives_what_cel_rust_gives_on_every_row(text: str) -> None:
    expr = to_polars(text, TYPES)
    assert expr is not None, f"{text!r} is meant to be translated"
    got = FRAME.with_columns(result=expr)["result"]
    assert got.dtype == pl.Boolean
    expected = _cel(text)
    wrong = [(ROWS[i], want, have) for i, (want, have) in enumerate(zip(expected, got.to_list(), strict=True))
             if want is not have]
    assert not wrong, f"{text!r}: {len(wrong)} rows differ, e.g. (row, cel-rust, polars) {wrong[:3]}"


def test_the_frame_holds_the_edges() -> None:
    assert FRAME.height >= 200
    results = {text: _cel(text) for text in ("amount / rate == amount / rate", 'channel.matches("^[a-z]+$")')}
    assert None not in results['channel.matches("^[a-z]+$")']
    assert False in results["amount / rate == amount / rate"]  # 0 / 0 is there
    assert {True, False, None} <= set(_cel("size(channel) / (size(note) - 3) == 1"))


@pytest.mark.parametrize("text", UNTRANSLATED)
def test_what_the_translation_does_not_cover_gives_none(text: str) -> None:
    assert to_polars(text, TYPES) is None


def test_a_condition_that_does_not_compile_is_a_rule_error() -> None:
    with pytest.raises(RuleError):
        to_polars("amount >", TYPES)
    with pytest.raises(RuleError):
        to_polars("amount + 1", TYPES)
