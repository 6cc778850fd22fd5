"""epro: bilingual electronic patient-reported outcomes for stroke stem-cell trials.

The package is layered, each layer importing only those below it
(``import-linter`` checks it, see pyproject.toml)::

    app       the factory, the CLI, the demo, backups: what starts and wires the rest
    web       HTTP: blueprints, forms, the JSON API, the PWA endpoints
    services  everything that reads or writes the database (one unit of work, audit by the session)
    models    SQLAlchemy typed models
    core      pure rules: instruments, protocols, schedule, timeline, charts, trial rules
    base      settings, extension objects, engine settings, the locale chain

Importing ``epro`` loads nothing heavy: only the pure instrument registry, which
the contract names ``epro.instruments`` (CONTRACT.md, "Codes").
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from epro.core import instruments

# The contract's public name for the instrument registry: ``epro.instruments.get(code)``.
sys.modules[__name__ + ".instruments"] = instruments

__version__ = "0.1.0"

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    from epro.app.factory import create_app as factory

    return factory(test_config)
