"""Ids in URLs: one converter, so a number the database cannot hold is "not found".

Every table's primary key is a 32-bit integer (SQLite would take more, PostgreSQL's
``integer`` does not), so ``/clinic/trial/studies/99999999999999999999/safety`` must
answer 404 before any query runs, not a 500 from the driver.  The converter
replaces Flask's ``int`` converter, so a route written the ordinary way
(``<int:patient_id>``) cannot forget it.
"""
from __future__ import annotations

from werkzeug.routing import IntegerConverter

from epro.models.types import MAX_ID


class DatabaseIdConverter(IntegerConverter):
    """Positive integers up to :data:`MAX_ID`; anything else does not match (404)."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def id_or_none(raw: str | None) -> int | None:
    """A query-string id (``?report=12``), or None if it is not one the database could hold."""
    if raw is None or not raw.isascii() or not raw.isdigit():
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None


def page_number(raw: str | None, *, per_page: int) -> int:
    """A list page (``?page=3``): 1 for anything missing or silly, and never past what an offset can hold."""
    value = id_or_none(raw) or 1
    return min(value, MAX_ID // per_page)


def register(app) -> None:
    app.url_map.converters["int"] = DatabaseIdConverter
