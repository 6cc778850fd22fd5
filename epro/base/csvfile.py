"""The one CSV writer: every CSV that leaves epro is written here.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
read by spreadsheet programs as a formula (OWASP, "CSV Injection"): a reason typed
as ``=cmd|' /C calc'!A0`` would run on the reader's machine.  Such text cells get a
leading apostrophe, which spreadsheets show as text; numbers are written as they
are, so a change of -5 stays a number.  Files are UTF-8 with a byte-order mark so
Excel opens Chinese text correctly.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import IO, Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def safe_cell(value: Any) -> Any:
    """The value as a spreadsheet will read it safely: text that looks like a formula is quoted."""
    convert = _BY_TYPE.get(type(value))  # the common types at once (exports write millions of cells)
    if convert is not None:
        return convert(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return _safe_text(str(value))


def _safe_text(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _same(value: Any) -> Any:
    return value


_BY_TYPE: dict[type, Any] = {
    type(None): lambda _value: "",
    bool: lambda value: "true" if value else "false",
    int: _same,
    float: _same,
    str: _safe_text,
    datetime: datetime.isoformat,
    date: date.isoformat,
}


def write(stream: IO[str], header: Sequence[str], rows: Iterable[Sequence[Any]], *, bom: bool = True) -> int:
    """Write *header* and *rows* to *stream*; returns the number of data rows."""
    if bom:
        stream.write(BOM)
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(list(map(safe_cell, header)))
    count = 0
    for row in rows:
        writer.writerow(list(map(safe_cell, row)))
        count += 1
    return count


def to_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """The whole CSV as one string (for small files such as one patient's audit trail)."""
    buffer = io.StringIO()
    write(buffer, header, rows)
    return buffer.getvalue()
