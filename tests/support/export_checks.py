"""Checks every export format's tests can share: what a masked export must never contain."""
from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Column names and JSON keys that would carry an arm or a dose.
ARM_KEYS = frozenset({"arm", "arm_code", "arm_label", "arms", "dose", "cells", "volume_ml", "weight_kg", "lot",
                      "dose_cells_per_kg"})


def _json_strings(value: Any, key: str | None = None) -> Iterator[tuple[str | None, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield None, k
            yield from _json_strings(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _json_strings(v, key)
    elif value is not None:
        yield key, str(value)


def values_of(path: Path) -> Iterator[tuple[str | None, str]]:
    """(key or column, text) of every value in an output file; other files as one text."""
    if path.suffix == ".json":
        yield from _json_strings(json.loads(path.read_text(encoding="utf-8")))
    elif path.suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f))
        for name in rows[0]:
            yield None, name
        for row in rows[1:]:
            yield from zip(rows[0], row, strict=True)
    else:
        yield None, path.read_bytes().decode("latin-1")


def arm_leaks(out: Path, codes: set[str], texts: set[str], *, allowed_keys: frozenset[str] = frozenset()) -> list:
    """Every place in the files of *out* where an arm code stands alone as a value, an arm or dose text
    (label, lot) appears, or a key/column names an arm or a dose.  *allowed_keys*: keys whose value may
    equal an arm code by coincidence (a protocol named like its arm)."""
    found = []
    for path in sorted(out.iterdir()):
        for key, text in values_of(path):
            if key is None and text in ARM_KEYS:
                found.append((path.name, "key", text))
            if text in codes and key not in allowed_keys:
                found.append((path.name, key, text))
            found += [(path.name, key, t) for t in texts if t in text]
    return found
