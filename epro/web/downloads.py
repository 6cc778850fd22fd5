"""CSV downloads: every CSV answer goes through :func:`csv_download`, which writes it with
the one safe writer (:mod:`epro.base.csvfile`); the ``no-store`` header comes from
``hooks.security_headers`` for every ``text/csv`` answer."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote

from flask import Response

from epro.base import csvfile


def csv_download(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    safe_name = quote(filename, safe="-_.")
    return Response(
        csvfile.to_text(header, rows), mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={safe_name}"},
    )
