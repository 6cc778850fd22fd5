"""The OpenAPI 3.1 description of /api/v1, generated, so it cannot drift.

Paths come from the app's URL map (every ``api.`` route, with its methods and
path parameters); each view declares its summary, body and answers with
:func:`documented`; schemas are the pydantic models of
:mod:`epro.web.api.schemas` (JSON Schema 2020-12, which OpenAPI 3.1 uses);
apispec assembles the document.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from apispec import APISpec
from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from werkzeug.routing.converters import NumberConverter

from epro import __version__
from epro.web.api import schemas

F = TypeVar("F", bound=Callable[..., Any])
REF_TEMPLATE = "#/components/schemas/{model}"
PROBLEM_RESPONSE = "Problem"
_PARAMETER = re.compile(r"<(?:[^<>:]+:)?([^<>:]+)>")


@dataclass(frozen=True)
class Operation:
    """What the document says about one view (see :func:`documented`)."""

    summary: str
    answers: dict[int, tuple[type[BaseModel] | None, str]]
    problems: tuple[int, ...] = ()
    body: type[BaseModel] | None = None
    public: bool = False
    headers: tuple[str, ...] = field(default=())


def documented(summary: str, answers: dict[int, tuple[type[BaseModel] | None, str]], *, problems: tuple[int, ...] = (),
               body: type[BaseModel] | None = None, public: bool = False,
               headers: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Attach the operation's description to a view; ``answers`` maps a status to (model, description)."""

    def attach(view: F) -> F:
        view.__openapi__ = Operation(summary, answers, problems, body, public, headers)  # type: ignore[attr-defined]
        return view

    return attach


def _components(spec: APISpec) -> None:
    _, definitions = models_json_schema([(m, "validation") for m in schemas.MODELS], ref_template=REF_TEMPLATE)
    for name, schema in sorted(definitions.get("$defs", {}).items()):
        spec.components.schema(name, schema)
    spec.components.response(PROBLEM_RESPONSE, {
        "description": "Problem details (RFC 9457)",
        "content": {"application/problem+json": {"schema": {"$ref": REF_TEMPLATE.format(model="Problem")}}},
    })
    spec.components.security_scheme("session", {"type": "apiKey", "in": "cookie", "name": "session"})


def _parameter(name: str, converter: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if isinstance(converter, NumberConverter):
        schema = {"type": "integer" if converter.num_convert is int else "number"}
        if not converter.signed:
            schema["minimum"] = converter.min if converter.min is not None else 0
        if converter.max is not None:
            schema["maximum"] = converter.max
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _operation(op: Operation, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, (model, description) in sorted(op.answers.items()):
        answer: dict[str, Any] = {"description": description}
        if model is not None:
            answer["content"] = {"application/json": {"schema": {"$ref": REF_TEMPLATE.format(model=model.__name__)}}}
        responses[str(status)] = answer
    problems = op.problems if op.public else (401, *op.problems)
    for status in sorted(set(problems)):
        responses[str(status)] = PROBLEM_RESPONSE
    header_params = [{"name": h, "in": "header", "required": True, "schema": {"type": "string"}}
                     for h in op.headers]
    out: dict[str, Any] = {"summary": op.summary, "responses": responses}
    if parameters or header_params:
        out["parameters"] = parameters + header_params
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": {"$ref": REF_TEMPLATE.format(model=op.body.__name__)}}}}
    if op.public:
        out["security"] = []
    return out


def api_rules(app: Flask) -> list[Any]:
    """The URL rules of the JSON API blueprint, in a stable order."""
    return sorted((r for r in app.url_map.iter_rules() if r.endpoint.startswith("api.")), key=lambda r: r.rule)


def openapi_path(rule: str) -> str:
    """``/patients/<int(max=9):patient_id>`` → ``/patients/{patient_id}``."""
    return _PARAMETER.sub(r"{\1}", rule)


def spec(app: Flask) -> dict[str, Any]:
    document = APISpec(
        title="epro API", version=__version__, openapi_version="3.1.0",
        info={"description": "Patient-reported and clinician-rated outcomes on one follow-up timeline. "
                             "Uses the web session cookie; state-changing calls send X-CSRFToken."},
        servers=[{"url": "/"}], security=[{"session": []}],
    )
    _components(document)
    for rule in api_rules(app):
        view = app.view_functions[rule.endpoint]
        op: Operation | None = getattr(view, "__openapi__", None)
        if op is None:
            raise LookupError(f"{rule.endpoint} has no @documented description")
        parameters = [_parameter(name, conv) for name, conv in rule._converters.items()]
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        document.path(path=openapi_path(rule.rule),
                      operations={m.lower(): _operation(op, parameters) for m in methods})
    return document.to_dict()
