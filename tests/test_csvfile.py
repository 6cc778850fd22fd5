"""The one CSV writer: formula text neutralised, numbers and dates as they are, for every type it meets."""
from __future__ import annotations

import enum
from datetime import UTC, date, datetime

import pytest

from epro.base import csvfile


class Level(enum.StrEnum):
    LOW = "-low"


class Count(enum.IntEnum):
    ONE = 1


@pytest.mark.parametrize("value, cell", [
    (None, ""),
    (True, "true"),
    (False, "false"),
    (-5, -5),
    (2.5, 2.5),
    ("plain", "plain"),
    ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
    ("+1", "'+1"),
    ("-1", "'-1"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"),
    ("\rx", "'\rx"),
    ("头晕", "头晕"),
    (date(2026, 3, 1), "2026-03-01"),
    (datetime(2026, 3, 1, 8, 30, tzinfo=UTC), "2026-03-01T08:30:00+00:00"),
    (Level.LOW, "'-low"),  # a str subclass takes the general path, still quoted
    (Count.ONE, Count.ONE),
    (("a", "b"), "('a', 'b')"),
])
def test_safe_cell(value, cell):
    assert csvfile.safe_cell(value) == cell


def test_write_counts_rows_and_quotes_formulas():
    text = csvfile.to_text(["a", "b"], [[1, "=x"], [None, "ok"]])
    assert text == "\ufeffa,b\r\n1,'=x\r\n,ok\r\n"
