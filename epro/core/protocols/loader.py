"""Reading a protocol JSON file into a :class:`~epro.core.protocols.model.Protocol`, strictly.

The shape and the cross-field rules live on the model (pydantic dataclasses,
:mod:`epro.core.protocols.model`); this module reads the file and reports the
first problem as a :class:`ProtocolError` naming the file and the field path
(``bmsc.json: arms[1].infusion.infusions[0].day: …``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from .model import Protocol, describe

_PROTOCOL = TypeAdapter(Protocol)


class ProtocolError(ValueError):
    """A protocol file that cannot be used; names the file and the bad field."""

    def __init__(self, file: str, field: str | None, problem: str) -> None:
        self.file, self.field, self.problem = file, field, problem
        where = f"{file}: {field}" if field else file
        super().__init__(f"{where}: {problem}")

    def __reduce__(self) -> tuple[type[Exception], tuple[str, str | None, str]]:
        # keep it picklable with its three arguments
        return (type(self), (self.file, self.field, self.problem))


def parse(data: Any, file: str, expected_code: str | None = None) -> Protocol:
    """Validate already-decoded JSON *data*; *file* names it in errors."""
    try:
        protocol = _PROTOCOL.validate_python(data)
    except ValidationError as exc:
        field, problem = describe(exc.errors()[0])
        raise ProtocolError(file, field or None, problem) from exc
    if expected_code is not None and protocol.code != expected_code:
        raise ProtocolError(file, "code", f"{protocol.code!r} must match the file name {expected_code!r}")
    return protocol


def load_path(path: str | Path) -> Protocol:
    """Read and validate one protocol file; its ``code`` must equal the file's stem."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProtocolError(path.name, None, f"cannot be read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise ProtocolError(path.name, None, "is not UTF-8 text") from exc
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ProtocolError(
            path.name, None, f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    return parse(data, path.name, expected_code=path.stem)
