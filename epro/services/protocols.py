"""The protocols this app runs: the shipped ones plus those in ``PROTOCOL_DIRS``.

Why a setting: a trial team adds a protocol by dropping its JSON file in a
directory the app searches, without a code change.  ``PROTOCOL_DIRS`` (env
``EPRO_PROTOCOL_DIRS``, directories separated by ``os.pathsep`` or a JSON list)
is searched after the shipped ``epro/core/protocols/data``; the pure core takes
the directories as an argument and caches each protocol it reads.
"""
from __future__ import annotations

import os

from flask import current_app

from epro.core import protocols
from epro.core.schedule import VisitDef


def directories() -> tuple[str, ...]:
    """The extra protocol directories of the running app, in search order."""
    value = current_app.config.get("PROTOCOL_DIRS") or ()
    if isinstance(value, str):
        value = value.split(os.pathsep)
    return tuple(str(d) for d in value if str(d).strip())


def load(code: str) -> protocols.Protocol:
    """Protocol *code* (cached); :class:`protocols.UnknownProtocol` if no directory has it."""
    return protocols.load(code, directories())


def codes() -> tuple[str, ...]:
    return protocols.codes(directories())


def all_protocols() -> tuple[protocols.Protocol, ...]:
    return protocols.all_protocols(directories=directories())


def visit_defs(code: str) -> tuple[VisitDef, ...]:
    """The visits of protocol *code*, ready for ``schedule.plan``."""
    return load(code).visit_defs()
