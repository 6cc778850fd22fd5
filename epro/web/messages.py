"""Turning domain error codes into sentences in the reader's language."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from flask_babel import format_date, gettext

from epro.core.i18n_marker import N_
from epro.services.errors import FieldError, Refused

#: Plainer words for a form than the instrument's technical messages.
FORM_MESSAGES = {"missing": N_("Please choose an answer.")}


def say(message: str, params: Mapping[str, Any] | None = None) -> str:
    """A service's message id with its parameters, translated (dates in the locale's format)."""
    params = {k: format_date(v, "long") if isinstance(v, date) else v for k, v in (params or {}).items()}
    return gettext(message, **params)


def field_message(error: FieldError) -> str:
    return say(error.message, error.params)


def refusal_message(refused: Refused) -> str:
    return say(refused.message, refused.params)


def field_errors(errors: list[FieldError]) -> dict[str, str]:
    """{item key or field: message} for a form, with "answers." stripped."""
    return {
        e.field.removeprefix("answers."): gettext(FORM_MESSAGES[e.code]) if e.code in FORM_MESSAGES
        else field_message(e)
        for e in errors
    }
