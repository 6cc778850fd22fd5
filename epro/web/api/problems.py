"""RFC 9457 problem details, in the request's language."""
from __future__ import annotations

from typing import Any

from flask import jsonify


def problem(status: int, title: Any, detail: Any, errors: list[dict[str, str]] | None = None, **extra: Any):
    body: dict[str, Any] = {"type": "about:blank", "status": status, "title": str(title), "detail": str(detail)}
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response
