"""Turning domain error codes into sentences in the reader's language."""
from __future__ import annotations

from datetime import date

from flask_babel import format_date, gettext

from epro.responses import FieldError


def field_message(error: FieldError) -> str:
    params = {k: format_date(v, "long") if isinstance(v, date) else v for k, v in error.params.items()}
    return gettext(error.message, **params)


def field_errors(errors: list[FieldError]) -> dict[str, str]:
    """{item key or field: message}, with "answers." stripped for form fields."""
    return {e.field.removeprefix("answers."): field_message(e) for e in errors}
