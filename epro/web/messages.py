"""Turning domain error codes into sentences in the reader's language."""
from __future__ import annotations

from datetime import date

from flask_babel import format_date, gettext

from epro.core.i18n_marker import N_
from epro.services.responses import FieldError

#: Plainer words for a form than the instrument's technical messages.
FORM_MESSAGES = {"missing": N_("Please choose an answer.")}


def field_message(error: FieldError) -> str:
    params = {k: format_date(v, "long") if isinstance(v, date) else v for k, v in error.params.items()}
    return gettext(error.message, **params)


def field_errors(errors: list[FieldError]) -> dict[str, str]:
    """{item key or field: message} for a form, with "answers." stripped."""
    return {
        e.field.removeprefix("answers."): gettext(FORM_MESSAGES[e.code]) if e.code in FORM_MESSAGES
        else field_message(e)
        for e in errors
    }
