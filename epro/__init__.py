"""epro: bilingual electronic patient-reported outcomes for stroke stem-cell trials.

Importing ``epro`` loads nothing heavy: the domain core (instruments,
schedule, timeline) stays free of Flask; the app lives in ``epro.factory``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: dict[str, Any] | None = None) -> "Flask":
    from epro.factory import create_app as factory

    return factory(test_config)
